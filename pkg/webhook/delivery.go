package webhook

import (
	"context"
	"time"
)

// DeliveryJob is everything one attempt needs: the delivery's state, its
// message (with payload) and the endpoint.
type DeliveryJob struct {
	Delivery Delivery
	Message  Message
	Endpoint Endpoint
}

// Transition is what one recorded attempt does to its delivery: the named
// steps of the delivery state machine. delivery.Decide chooses one from the
// attempt's result; DeliveryStore.RecordAttempt applies it.
type Transition int

// The transitions. The zero value is not a transition.
const (
	// Succeeded: the receiver answered 2xx. The delivery is done (status
	// success), whatever it was before; nothing more is scheduled.
	Succeeded Transition = iota + 1
	// Retry: a scheduled attempt failed and the schedule has attempts
	// left. The delivery is sending, its next attempt due at the record's
	// NextAttemptAt.
	Retry
	// Exhausted: a scheduled attempt failed with no attempt left, or could
	// not be made (the endpoint is disabled, the payload expired). The
	// delivery fails for good: it is a dead letter, kept and replayable.
	Exhausted
	// EndpointGone: the receiver answered 410 Gone to a scheduled attempt.
	// The delivery fails at once, without retries, and the endpoint is
	// disabled.
	EndpointGone
	// ManualFailed: a manual attempt (resend) failed, or its transformation
	// cancelled it. The delivery is left as it was: its schedule, if any,
	// goes on.
	ManualFailed
	// Cancelled: the endpoint's transformation cancelled a scheduled
	// attempt (webhook.cancel = true): no request was made. The delivery is
	// cancelled for good (StatusCanceled, Reason ReasonTransformCancelled),
	// without retries; for ordering it is done.
	Cancelled
)

// ReasonTransformCancelled is the Reason of a delivery its endpoint's
// transformation cancelled.
const ReasonTransformCancelled = "cancelled by transformation"

// ReasonCancelMsgs is the Reason of a delivery cancel-msgs cancelled.
const ReasonCancelMsgs = "cancelled by cancel-msgs"

// String names the transition as the store's SQL does.
func (t Transition) String() string {
	switch t {
	case Succeeded:
		return "succeeded"
	case Retry:
		return "retry"
	case Exhausted:
		return "exhausted"
	case EndpointGone:
		return "endpoint_gone"
	case ManualFailed:
		return "manual_failed"
	case Cancelled:
		return "cancelled"
	}
	return "none"
}

// AttemptRecord is one attempt as the worker stores it: the attempt and the
// transition it applies to its delivery.
type AttemptRecord struct {
	Attempt Attempt
	// TaskKey identifies the attempt within its delivery (see
	// delivery.Ref.Key); the same key is recorded once, so an attempt run
	// twice records one row.
	TaskKey string
	// Round and Number identify a scheduled attempt (the Number-th of
	// Round); it moves the delivery on only while the delivery still waits
	// for exactly that attempt. Both are 0 for a manual attempt.
	Round, Number int
	// Transition is what the attempt does to its delivery.
	Transition Transition
	// NextAttemptAt is when the next attempt is due, for Retry.
	NextAttemptAt *time.Time
	// Reason is the delivery's Reason, for Cancelled.
	Reason string
	// Released is set by RecordAttempt when the transition ended the head
	// of an ordering key: the key's next delivery, made due now, with its
	// message when the store had it at hand (its Endpoint is not set).
	Released *DeliveryJob
}

// DisabledEndpoint is an endpoint hookd disabled, for the endpoint.disabled event.
type DisabledEndpoint struct {
	ID, OrgID, AppID string
	UID              *string
	FailingSince     *time.Time
}

// DeliveryStore is the worker's side of the storage.
type DeliveryStore interface {
	// LoadDelivery returns the job of a delivery, ENOTFOUND when the
	// delivery (or its message or endpoint) is gone.
	LoadDelivery(ctx context.Context, id string) (*DeliveryJob, error)
	// FindEndpointByID returns an endpoint by id alone, ENOTFOUND if gone.
	FindEndpointByID(ctx context.Context, id string) (*Endpoint, error)
	// RecordAttempt stores an attempt and the delivery's new state in one
	// statement. It returns false, storing nothing, when an attempt with the
	// same task key was already recorded, or when the delivery's endpoint
	// was deleted meanwhile.
	RecordAttempt(ctx context.Context, rec *AttemptRecord) (bool, error)
	// DisableFailingEndpoints disables every enabled endpoint whose
	// attempts have only failed since before failingBefore, fails their
	// scheduled deliveries (so they can be recovered) and returns them.
	DisableFailingEndpoints(ctx context.Context, failingBefore time.Time) ([]DisabledEndpoint, error)
	// DisableEndpoint disables one endpoint (a receiver answered 410 Gone)
	// and fails its scheduled deliveries; ok is false when it was already
	// disabled or is gone.
	DisableEndpoint(ctx context.Context, id string) (d DisabledEndpoint, ok bool, err error)
	// DueDeliveries returns up to limit deliveries whose scheduled attempt is
	// overdue past the grace period (their task was lost) and postpones their
	// next look, so concurrent reconcilers do not return the same ones.
	DueDeliveries(ctx context.Context, limit int) ([]Delivery, error)
}
