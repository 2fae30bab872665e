package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/hookd/hookd/pkg/webhook"
)

// Reconciler re-enqueues scheduled attempts whose task was lost: enqueue
// failed after the commit, Redis was flushed or lost data, or asynq gave up
// on an infrastructure error. It reads only overdue deliveries (past their
// due time by the store's grace period), so normal traffic is never touched.
type Reconciler struct {
	Store    webhook.DeliveryStore
	Enqueuer *Enqueuer
	Logger   *slog.Logger
	// Interval between runs; 0 means 10s.
	Interval time.Duration
	// BatchSize is how many deliveries one query takes; 0 means 500.
	BatchSize int
	// Observer is told how many attempts were enqueued again; nil: nobody.
	Observer Observer
}

// Run loops until ctx is done.
func (r *Reconciler) Run(ctx context.Context) {
	every(ctx, r.Interval, 10*time.Second, func(ctx context.Context) {
		n, err := r.RunOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			r.Logger.WarnContext(ctx, "reconciler run failed", slog.String("error", err.Error()))
		case n > 0:
			r.Logger.InfoContext(ctx, "reconciler re-enqueued overdue deliveries", slog.Int("count", n))
		}
	})
}

// RunOnce re-enqueues overdue deliveries in batches until none are left
// (bounded by one minute) and returns how many it enqueued.
func (r *Reconciler) RunOnce(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	batch := r.BatchSize
	if batch == 0 {
		batch = 500
	}
	total := 0
	for {
		due, err := r.Store.DueDeliveries(ctx, batch)
		if err != nil {
			return total, err
		}
		if err := r.Enqueuer.Dispatch(ctx, nil, due); err != nil {
			return total, err
		}
		total += len(due)
		observerOr(r.Observer).Reenqueued(len(due))
		if len(due) < batch {
			return total, nil
		}
	}
}
