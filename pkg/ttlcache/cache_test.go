package ttlcache

import (
	"errors"
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
