package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hookd/hookd/pkg/webhook"
)

// ReplayStore is what a Replayer reads and writes (postgres.DB).
type ReplayStore interface {
	// EnsureDelivery returns the delivery of msg to ep, creating a finished
	// one (status fail, nothing scheduled) if none exists.
	EnsureDelivery(ctx context.Context, msg *webhook.Message, ep *webhook.Endpoint) (*webhook.Delivery, error)
	// RecoverDeliveries restarts, in a new round, the retry schedule of
	// ep's failed deliveries whose message was created in [since, until),
	// and returns them.
	RecoverDeliveries(ctx context.Context, ep *webhook.Endpoint, since, until time.Time) ([]webhook.Delivery, error)
}

// Replayer sends again what was sent, or failed, before.
type Replayer struct {
	Store ReplayStore // required
	Queue Queue       // required
	// Logger receives a warning when queueing recovered deliveries fails;
	// nil: nothing is logged.
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

// Recover restarts the retry schedule, in a new round, of ep's failed
// deliveries whose message was created in [since, until), queues their
// first attempts and returns how many there were. A queue failure is
// logged: the deliveries are due and the Reconciler queues them.
func (r *Replayer) Recover(ctx context.Context, ep *webhook.Endpoint, since, until time.Time) (int, error) {
	deliveries, err := r.Store.RecoverDeliveries(ctx, ep, since, until)
	if err != nil {
		return 0, fmt.Errorf("recovering deliveries of endpoint %s: %w", ep.ID, err)
	}
	if err := r.Queue.Enqueue(ctx, JobsFor(nil, deliveries)...); err != nil {
		loggerOr(r.Logger).WarnContext(ctx, "queueing recovered deliveries failed; the reconciler will retry",
			slog.String("endpoint_id", ep.ID), slog.String("error", err.Error()))
	}
	return len(deliveries), nil
}
