package maintenance

import (
	"context"
	"log/slog"
	"time"

	"github.com/hookd/hookd/pkg/loop"
)

// Sweep deletes up to limit expired rows of one kind and returns how many went.
type Sweep struct {
	Name   string
	Delete func(ctx context.Context, limit int) (int64, error)
}

// Janitor deletes expired rows (idempotency records, portal tokens) in
// small batches, so no run holds long locks.
type Janitor struct {
	Sweeps []Sweep
	Logger *slog.Logger
	// Interval between runs; 0 means one minute.
	Interval time.Duration
}

// janitorBatch is how many rows one statement deletes.
const janitorBatch = 1000

// Run loops until ctx is done.
func (j *Janitor) Run(ctx context.Context) {
	loop.Every(ctx, j.Interval, time.Minute, func(ctx context.Context) {
		for _, sw := range j.Sweeps {
			n, err := j.RunOnce(ctx, sw)
			switch {
			case err != nil && ctx.Err() == nil:
				j.Logger.WarnContext(ctx, "janitor sweep failed", slog.String("sweep", sw.Name), slog.String("error", err.Error()))
			case n > 0:
				j.Logger.InfoContext(ctx, "janitor deleted expired rows", slog.String("sweep", sw.Name), slog.Int64("count", n))
			}
		}
	})
}

// RunOnce runs one sweep batch by batch (bounded by one minute) and returns
// how many rows went.
func (j *Janitor) RunOnce(ctx context.Context, sw Sweep) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var total int64
	for {
		n, err := sw.Delete(ctx, janitorBatch)
		total += n
		if err != nil || n < janitorBatch {
			return total, err
		}
	}
}
