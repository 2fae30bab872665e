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

// AttemptRecord is what the worker stores after one HTTP attempt.
type AttemptRecord struct {
	Attempt Attempt
	// TaskKey identifies the task that made the attempt; the same key is
	// recorded once, so a task run twice records one attempt.
	TaskKey string
	// Round and Number identify a scheduled attempt (the Number-th of the
	// Round); the delivery is only moved on if it is still at that point.
	Round, Number int
	// Status and NextAttemptAt are the delivery's new state.
	Status        MessageStatus
	NextAttemptAt *time.Time
	// KeepState leaves the delivery as it is (a failed manual attempt).
	KeepState bool
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
	// same task key was already recorded.
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
