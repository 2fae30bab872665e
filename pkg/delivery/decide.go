package delivery

import (
	"net/http"
	"time"

	"github.com/hookd/hookd/pkg/retry"
	"github.com/hookd/hookd/pkg/webhook"
)

// Outcome is what one attempt gave, as Decide needs it.
type Outcome struct {
	// NotSent is set when no request could be made: the endpoint is
	// disabled (for a scheduled attempt) or the payload is gone.
	NotSent bool
	// StatusCode is the response's status, 0 when none arrived.
	StatusCode int
	// RetryAfter is the response's Retry-After header, if any.
	RetryAfter string
	// Err is set when the request failed: no response, or a response
	// whose body could not be read.
	Err error
	// Cancelled is set when the endpoint's transformation cancelled the
	// attempt: no request was made, and none is to be.
	Cancelled bool
}

// succeeded reports a complete 2xx answer.
func (o Outcome) succeeded() bool {
	return !o.NotSent && !o.Cancelled && o.Err == nil && o.StatusCode >= 200 && o.StatusCode < 300
}

// Decision is what an attempt does to its delivery.
type Decision struct {
	Transition webhook.Transition
	// NextAttemptAt is when the next attempt is due, for webhook.Retry.
	NextAttemptAt time.Time
}

// Decide is the delivery state machine. Given the outcome of attempt ref,
// the retry schedule in force and the time, it returns the transition:
//
//   - a 2xx answer: Succeeded, for scheduled and manual attempts alike;
//   - cancelled by the transformation: Cancelled, or for a manual attempt
//     ManualFailed (the delivery is left as it was);
//   - a failed manual attempt: ManualFailed (the schedule goes on);
//   - 410 Gone to a scheduled attempt: EndpointGone (no retry);
//   - no request possible: Exhausted;
//   - any other failure of the Number-th scheduled attempt: Retry at now +
//     the schedule's delay for it (jittered by rnd, nil for math/rand; a
//     Retry-After on 429 and 503 is clamped to the delay), or Exhausted
//     when the schedule has no attempt left.
func Decide(o Outcome, ref Ref, schedule retry.Schedule, now time.Time, rnd func() float64) Decision {
	switch {
	case o.succeeded():
		return Decision{Transition: webhook.Succeeded}
	case o.Cancelled && !ref.IsManual():
		return Decision{Transition: webhook.Cancelled}
	case ref.IsManual():
		return Decision{Transition: webhook.ManualFailed}
	case o.NotSent:
		return Decision{Transition: webhook.Exhausted}
	case o.StatusCode == http.StatusGone:
		return Decision{Transition: webhook.EndpointGone}
	}
	delay, ok := retry.NextDelay(schedule, ref.Number, o.StatusCode, o.RetryAfter, now, rnd)
	if !ok {
		return Decision{Transition: webhook.Exhausted}
	}
	return Decision{Transition: webhook.Retry, NextAttemptAt: now.Add(delay)}
}
