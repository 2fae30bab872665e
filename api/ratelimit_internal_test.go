package api

import (
	"fmt"
	"testing"
	"time"
)

func TestRateLimiterBounded(t *testing.T) {
	t.Parallel()
	now := time.Now()
	l := newRateLimiter(10, 5, func() time.Time { return now })
	for i := 0; i < rateLimiterKeys; i++ {
		l.reserve(fmt.Sprint("key", i))
	}
	if len(l.buckets) != rateLimiterKeys {
		t.Fatalf("%d buckets, want %d", len(l.buckets), rateLimiterKeys)
	}

	// Every key is busy (a token taken just now): a new key makes room
	// by dropping a tenth of the buckets, not one per new key.
	l.reserve("new")
	if n := len(l.buckets); n > rateLimiterKeys*9/10+1 || n < rateLimiterKeys/2 {
		t.Fatalf("%d buckets after eviction of busy keys", n)
	}
	if _, ok := l.buckets["new"]; !ok {
		t.Fatal("the new key has no bucket")
	}

	// Once they refilled (idle for burst/rate), all buckets can go.
	for i := 0; len(l.buckets) < rateLimiterKeys; i++ {
		l.reserve(fmt.Sprint("more", i))
	}
	now = now.Add(time.Second)
	l.reserve("latest")
	if n := len(l.buckets); n != 1 {
		t.Fatalf("%d buckets after evicting idle ones, want 1", n)
	}
}

func TestRateLimiterWait(t *testing.T) {
	t.Parallel()
	now := time.Now()
	l := newRateLimiter(1000, 0, func() time.Time { return now })
	if l.burst != 2000 {
		t.Errorf("default burst %d, want twice the rate", l.burst)
	}
	for i := 0; i < 2000; i++ {
		if d := l.reserve("k"); d != 0 {
			t.Fatalf("request %d of the burst waits %v", i, d)
		}
	}
	if d := l.reserve("k"); d <= 0 || d > 2*time.Millisecond {
		t.Errorf("over the burst: wait %v, want about 1ms", d)
	}
	if newRateLimiter(0, 10, time.Now) != nil {
		t.Error("a rate of 0 is not 'no limit'")
	}
}
