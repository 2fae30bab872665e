package delivery

import (
	"context"
	"log/slog"
	"time"

	"github.com/hookd/hookd/pkg/loop"
	"github.com/hookd/hookd/pkg/webhook"
)

// ReconcileStore is what a Reconciler reads (postgres.DB).
type ReconcileStore interface {
	// DueDeliveries returns up to limit deliveries whose scheduled attempt
	// is overdue past the store's grace period (their queue entry was lost)
	// and postpones their next look, so concurrent reconcilers do not
	// return the same ones.
	DueDeliveries(ctx context.Context, limit int) ([]webhook.Delivery, error)
}

// Reconciler queues again the scheduled attempts whose queue entry was
// lost: queueing failed after the commit, the queue lost data, or it gave
// up on an infrastructure error. It reads only overdue deliveries (past
// their due time by the store's grace period), so normal traffic is never
// touched.
type Reconciler struct {
	Store ReconcileStore // required
	Queue Queue          // required
	// Logger receives a line per run that did something; nil: nothing.
	Logger *slog.Logger
	// Interval between runs; 0 means 10s.
	Interval time.Duration
	// BatchSize is how many deliveries one query takes; 0 means 500.
	BatchSize int
	// Observer is told how many attempts were queued again; nil: nobody.
	Observer Observer
}

// Run loops until ctx is done.
func (r *Reconciler) Run(ctx context.Context) {
	loop.Every(ctx, r.Interval, 10*time.Second, func(ctx context.Context) {
		n, err := r.RunOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			loggerOr(r.Logger).WarnContext(ctx, "reconciler run failed", slog.String("error", err.Error()))
		case n > 0:
			loggerOr(r.Logger).InfoContext(ctx, "reconciler re-enqueued overdue deliveries", slog.Int("count", n))
		}
	})
}

// RunOnce queues overdue deliveries in batches until none are left
// (bounded by one minute) and returns how many it queued.
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
		jobs := JobsFor(nil, due)
		for i := range jobs {
			jobs[i].Requeue = true
		}
		if err := r.Queue.Enqueue(ctx, jobs...); err != nil {
			return total, err
		}
		total += len(due)
		observerOr(r.Observer).Reenqueued(len(due))
		if len(due) < batch {
			return total, nil
		}
	}
}
