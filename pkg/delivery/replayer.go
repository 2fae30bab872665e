package delivery

import (
	"context"
	"log/slog"

	"github.com/hookd/hookd/pkg/webhook"
)

// ReplayStore is what a Replayer reads and writes (postgres.DB).
type ReplayStore interface {
	// EnsureDelivery returns the delivery of msg to ep, creating a finished
	// one (status fail, nothing scheduled) if none exists.
	EnsureDelivery(ctx context.Context, msg *webhook.Message, ep *webhook.Endpoint) (*webhook.Delivery, error)
}

// Replayer sends again what was sent, or failed, before. (Recovering an
// endpoint's failures is a background task: background.Recover.)
type Replayer struct {
	Store ReplayStore // required
	Queue Queue       // required
	// Logger receives a warning when queueing a resend fails; nil: nothing
	// is logged.
	Logger *slog.Logger
}

// Resend queues one manual attempt of msg to ep, whether its delivery
// succeeded, failed or never existed. A failed manual attempt leaves the
// delivery's schedule alone. EUNAVAILABLE means the queue refused it and
// nothing will be sent.
func (r *Replayer) Resend(ctx context.Context, msg *webhook.Message, ep *webhook.Endpoint) error {
	d, err := r.Store.EnsureDelivery(ctx, msg, ep)
	if err != nil {
		return err
	}
	if err := r.Queue.Enqueue(ctx, Job{Ref: ManualRef(d.ID), EndpointID: ep.ID}); err != nil {
		loggerOr(r.Logger).WarnContext(ctx, "queueing a resend failed",
			slog.String("delivery_id", d.ID), slog.String("error", err.Error()))
		return webhook.Errorf(webhook.EUNAVAILABLE, "the queue is unavailable, try again")
	}
	return nil
}
