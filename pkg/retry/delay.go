package retry

import (
	"net/http"
	"time"
)

// NextDelay returns how long to wait before the next attempt of a delivery
// that has made attemptsMade attempts, the last of which got HTTP status
// status (0 when no response arrived) and retryAfterHeader (the raw
// Retry-After value, possibly empty).
//
// ok is false when the schedule is exhausted (attemptsMade >=
// schedule.Attempts()): the delivery has failed for good. attemptsMade <= 0
// returns 0, true: the first attempt is not delayed.
//
// The delay is schedule[attemptsMade-1] with DefaultJitter drawn from rnd
// (nil means math/rand/v2). For status 429 or 503 with a parseable
// Retry-After, it is instead Clamp(Retry-After, schedule[attemptsMade-1]),
// without jitter: the receiver named a time, and jitter must not move the
// attempt before it or beyond the clamp bounds.
func NextDelay(schedule Schedule, attemptsMade int, status int, retryAfterHeader string, now time.Time, rnd func() float64) (delay time.Duration, ok bool) {
	if attemptsMade <= 0 {
		return 0, true
	}
	if attemptsMade >= schedule.Attempts() {
		return 0, false
	}
	scheduled := schedule[attemptsMade-1]
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		if ra, ok := ParseRetryAfter(retryAfterHeader, now); ok {
			return Clamp(ra, scheduled), true
		}
	}
	return Jitter(scheduled, DefaultJitter, rnd), true
}
