package delivery

import (
	"log/slog"
	"time"
)

// Attempt outcomes reported to an Observer.
const (
	OutcomeSuccess   = "success"   // 2xx: the delivery succeeded
	OutcomeRetry     = "retry"     // failed, another attempt is scheduled
	OutcomeExhausted = "exhausted" // failed, no attempt left: dead letter
	OutcomeFailed    = "failed"    // a failed manual attempt (the schedule is untouched)
	OutcomeCancelled = "cancelled" // the endpoint's transformation cancelled it: no request
)

// Observer is told what deliveries do, for metrics. Its methods must be
// cheap and safe for concurrent use.
type Observer interface {
	// AttemptDone reports one recorded attempt: its outcome, the response's
	// status code (0 without one) and how long the request took.
	AttemptDone(outcome string, statusCode int, took time.Duration)
	// Reenqueued reports attempts the reconciler enqueued again.
	Reenqueued(n int)
	// Throttled reports an attempt put back because its endpoint was at
	// its rate limit or in-flight cap (it is not an attempt).
	Throttled()
	// EndpointDisabled reports an endpoint disabled by hookd (reason
	// "failing" or "gone").
	EndpointDisabled(reason string)
}

// nopObserver is the Observer of a worker without metrics.
type nopObserver struct{}

func (nopObserver) AttemptDone(string, int, time.Duration) {}
func (nopObserver) Reenqueued(int)                         {}
func (nopObserver) Throttled()                             {}
func (nopObserver) EndpointDisabled(string)                {}

// observerOr returns o, or an Observer that does nothing for nil.
func observerOr(o Observer) Observer {
	if o == nil {
		return nopObserver{}
	}
	return o
}

// discardLogger is the logger of a component given none.
var discardLogger = slog.New(slog.DiscardHandler)

// loggerOr returns l, or a logger that discards everything for nil.
func loggerOr(l *slog.Logger) *slog.Logger {
	if l == nil {
		return discardLogger
	}
	return l
}
