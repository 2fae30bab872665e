package delivery

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// RateLimiter enforces endpoints' rate limits across every worker process
// (worker.RedisRateLimiter does it in Redis).
type RateLimiter interface {
	// Allow takes one request of key's budget of perSecond requests per
	// second, spread evenly (no burst), and returns 0; or it takes nothing
	// and returns how long to wait for the next free request.
	Allow(ctx context.Context, key string, perSecond int) (wait time.Duration, err error)
}

// Throttle enforces, per endpoint, its rateLimit (messages per second)
// across every worker process through a RateLimiter, and
// a cap on requests in flight within this process, so that one slow or
// hanging endpoint cannot hold every worker slot.
type Throttle struct {
	// Limiter enforces rate limits; nil disables them.
	Limiter RateLimiter
	// MaxInFlight caps one endpoint's requests in flight in this process;
	// 0 means no cap.
	MaxInFlight int
	// Wait is how long an attempt waits in the worker for a slot under the
	// in-flight cap before it is put back; 0 means 100 ms. A busy but fast
	// endpoint gets slots back within it; a hanging one sends its attempts
	// back to the queue and frees the worker.
	Wait time.Duration
	// Backoff is how long an attempt put back by the in-flight cap waits in
	// the queue; 0 means one second.
	Backoff time.Duration

	mu       sync.Mutex
	inFlight map[string]int
	// active is when each endpoint last started or finished a request: a
	// full endpoint with no such activity within Wait is slow or hanging,
	// and is not waited for.
	active map[string]time.Time
}

// Acquire lets an attempt to endpointID proceed: it returns a release
// func to call when the request is done. Or the endpoint is at its rate
// limit or in-flight cap: release is nil and retryIn is how long the attempt
// should wait in the queue (it is not an attempt). A nil Throttle lets
// everything through.
func (t *Throttle) Acquire(ctx context.Context, endpointID string, ratePerSecond *int) (release func(), retryIn time.Duration, err error) {
	if t == nil {
		return func() {}, 0, nil
	}
	if t.MaxInFlight > 0 && !t.takeSlot(ctx, endpointID) {
		return nil, t.backoff(), nil
	}
	release = func() {
		if t.MaxInFlight == 0 {
			return
		}
		t.mu.Lock()
		if t.inFlight[endpointID]--; t.inFlight[endpointID] <= 0 {
			delete(t.inFlight, endpointID)
			delete(t.active, endpointID)
		} else {
			t.active[endpointID] = time.Now()
		}
		t.mu.Unlock()
	}
	if t.Limiter != nil && ratePerSecond != nil && *ratePerSecond > 0 {
		wait, err := t.Limiter.Allow(ctx, "hookd:rate:"+endpointID, *ratePerSecond)
		if err != nil {
			release()
			return nil, 0, fmt.Errorf("rate limiter: %w", err)
		}
		if wait > 0 {
			release()
			return nil, max(wait, 10*time.Millisecond), nil
		}
	}
	return release, 0, nil
}

// takeSlot takes one of the endpoint's in-flight slots, waiting up to Wait
// for one to free up when the endpoint is busy but fast (it started or
// finished a request within Wait); a slow or hanging endpoint is not waited for, so
// its attempts go back to the queue at once and free the worker. It
// reports whether it got a slot.
func (t *Throttle) takeSlot(ctx context.Context, endpointID string) bool {
	wait := t.Wait
	if wait == 0 {
		wait = 100 * time.Millisecond
	}
	deadline := time.Now().Add(wait)
	for {
		t.mu.Lock()
		if t.inFlight == nil {
			t.inFlight, t.active = map[string]int{}, map[string]time.Time{}
		}
		if t.inFlight[endpointID] < t.MaxInFlight {
			t.inFlight[endpointID]++
			t.active[endpointID] = time.Now()
			t.mu.Unlock()
			return true
		}
		progressing := time.Since(t.active[endpointID]) < wait
		t.mu.Unlock()
		if !progressing || time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// backoff is Backoff (default one second) with ±50 % jitter, so the
// attempts waiting for one endpoint do not come back all at once.
func (t *Throttle) backoff() time.Duration {
	d := t.Backoff
	if d == 0 {
		d = time.Second
	}
	return d/2 + time.Duration(rand.Int64N(int64(d)+1))
}
