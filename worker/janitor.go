package worker

import (
	"context"
	"log/slog"
	"time"
)

// IdempotencyCleaner deletes expired idempotency records.
type IdempotencyCleaner interface {
	// DeleteExpiredIdempotencyKeys deletes up to limit expired records and
	// returns how many went.
	DeleteExpiredIdempotencyKeys(ctx context.Context, limit int) (int64, error)
}

// Janitor deletes expired idempotency records in small batches, so no run
// holds long locks.
type Janitor struct {
	Store  IdempotencyCleaner
	Logger *slog.Logger
	// Interval between runs; 0 means one minute.
	Interval time.Duration
}

// janitorBatch is how many rows one statement deletes.
const janitorBatch = 1000

// Run loops until ctx is done.
func (j *Janitor) Run(ctx context.Context) {
	interval := j.Interval
	if interval == 0 {
		interval = time.Minute
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		n, err := j.RunOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			j.Logger.WarnContext(ctx, "janitor run failed", slog.String("error", err.Error()))
		case n > 0:
			j.Logger.InfoContext(ctx, "expired idempotency keys deleted", slog.Int64("count", n))
		}
	}
}

// RunOnce deletes expired records batch by batch (bounded by one minute)
// and returns how many went.
func (j *Janitor) RunOnce(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var total int64
	for {
		n, err := j.Store.DeleteExpiredIdempotencyKeys(ctx, janitorBatch)
		total += n
		if err != nil || n < janitorBatch {
			return total, err
		}
	}
}
