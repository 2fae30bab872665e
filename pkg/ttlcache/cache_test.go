package ttlcache

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCache(t *testing.T) {
	t.Parallel()
	c := New[string, int](time.Hour, 2)
	if _, ok := c.Get("a"); ok {
		t.Fatal("empty cache has a value")
	}
	loads := 0
	load := func() (int, error) { loads++; return 7, nil }
	for i := 0; i < 3; i++ {
		if v, err := c.Load("a", load); err != nil || v != 7 {
			t.Fatalf("Load = %d, %v", v, err)
		}
	}
	if loads != 1 {
		t.Fatalf("loaded %d times, want once", loads)
	}
	// Errors are not cached.
	if _, err := c.Load("b", func() (int, error) { return 0, errors.New("down") }); err == nil {
		t.Fatal("Load swallowed the error")
	}
	if _, ok := c.Get("b"); ok {
		t.Fatal("a failed load was cached")
	}
	// Deleted and expired entries are gone; a full cache starts over.
	c.Delete("a")
	if _, ok := c.Get("a"); ok {
		t.Fatal("deleted entry still there")
	}
	c.Put("x", 1)
	c.Put("y", 2)
	c.Put("z", 3) // full: emptied first
	if _, ok := c.Get("x"); ok {
		t.Fatal("cache grew past its cap")
	}
	if v, ok := c.Get("z"); !ok || v != 3 {
		t.Fatal("newest entry lost")
	}
	short := New[string, int](time.Nanosecond, 10)
	short.Put("k", 1)
	time.Sleep(time.Millisecond)
	if _, ok := short.Get("k"); ok {
		t.Fatal("expired entry returned")
	}
}

// Concurrent misses of one key share one fetch.
func TestLoadSharesConcurrentMisses(t *testing.T) {
	t.Parallel()
	c := New[string, int](time.Hour, 10)
	var fetches atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := c.Load("k", func() (int, error) {
				fetches.Add(1)
				<-release
				return 7, nil
			})
			if err != nil || v != 7 {
				t.Errorf("Load = %d, %v", v, err)
			}
		}()
	}
	// The first fetch holds until every other Load is waiting for it or
	// finds the value: released once one fetch started.
	for fetches.Load() == 0 {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d fetches for 50 concurrent Loads of one key, want 1", n)
	}
}
