package worker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

// ThrottledError puts an attempt back on the queue for Delay without it
// counting as an attempt or as an asynq failure: its endpoint is at its
// rate limit or its in-flight cap.
type ThrottledError struct {
	EndpointID string
	Delay      time.Duration
	Reason     string
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("endpoint %s throttled (%s), retrying in %v", e.EndpointID, e.Reason, e.Delay)
}

// isThrottled reports whether err is a ThrottledError.
func isThrottled(err error) (*ThrottledError, bool) {
	var t *ThrottledError
	ok := errors.As(err, &t)
	return t, ok
}

// Throttle enforces, per endpoint, its rateLimit (messages per second)
// across every worker process through Redis (GCRA, go-redis/redis_rate), and
// a cap on requests in flight within this process, so that one slow or
// hanging endpoint cannot hold every worker slot.
type Throttle struct {
	// Limiter enforces rate limits; nil disables them.
	Limiter *redis_rate.Limiter
	// MaxInFlight caps one endpoint's requests in flight in this process;
	// 0 means no cap.
	MaxInFlight int
	// Backoff is how long an attempt waits when the in-flight cap is
	// reached; 0 means one second.
	Backoff time.Duration

	mu       sync.Mutex
	inFlight map[string]int
}

// Acquire lets an attempt to endpointID proceed, or returns a
// *ThrottledError. A nil release is returned with the error; otherwise
// release must be called when the request is done.
func (t *Throttle) Acquire(ctx context.Context, endpointID string, ratePerSecond *int) (release func(), err error) {
	if t == nil {
		return func() {}, nil
	}
	if t.MaxInFlight > 0 {
		t.mu.Lock()
		if t.inFlight == nil {
			t.inFlight = map[string]int{}
		}
		if t.inFlight[endpointID] >= t.MaxInFlight {
			t.mu.Unlock()
			return nil, &ThrottledError{EndpointID: endpointID, Delay: t.backoff(), Reason: "in-flight cap"}
		}
		t.inFlight[endpointID]++
		t.mu.Unlock()
	}
	release = func() {
		if t.MaxInFlight == 0 {
			return
		}
		t.mu.Lock()
		if t.inFlight[endpointID]--; t.inFlight[endpointID] <= 0 {
			delete(t.inFlight, endpointID)
		}
		t.mu.Unlock()
	}
	if t.Limiter != nil && ratePerSecond != nil && *ratePerSecond > 0 {
		// Burst 1: requests are spread evenly over each second.
		limit := redis_rate.Limit{Rate: *ratePerSecond, Period: time.Second, Burst: 1}
		res, err := t.Limiter.Allow(ctx, "hookd:rate:"+endpointID, limit)
		if err != nil {
			release()
			return nil, fmt.Errorf("rate limiter: %w", err)
		}
		if res.Allowed == 0 {
			release()
			return nil, &ThrottledError{EndpointID: endpointID, Delay: max(res.RetryAfter, 10*time.Millisecond), Reason: "rate limit"}
		}
	}
	return release, nil
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
