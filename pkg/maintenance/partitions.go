package maintenance

import (
	"context"
	"log/slog"
	"time"

	"github.com/hookd/hookd/pkg/loop"
)

// PartitionStore creates the time partitions of the big tables (implemented
// by *postgres.DB).
type PartitionStore interface {
	// EnsurePartitions creates the missing partitions from the day of from
	// to a few days ahead and returns how many it created.
	EnsurePartitions(ctx context.Context, from time.Time) (int, error)
}

// Partitioner keeps the partitions of the coming days created ahead of the
// rows that go in them (docs/scaling.md, "PostgreSQL partitions"), so that
// publishing never waits for one. Every worker runs one; the store
// serialises them with an advisory lock. Retention drops the old ones.
type Partitioner struct {
	Store  PartitionStore
	Logger *slog.Logger
	// Interval between runs; 0 means ten minutes. The first run is at
	// once.
	Interval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Run creates what is missing now, then every Interval, until ctx is done.
func (p *Partitioner) Run(ctx context.Context) {
	p.RunOnce(ctx)
	loop.Every(ctx, p.Interval, 10*time.Minute, func(ctx context.Context) { p.RunOnce(ctx) })
}

// RunOnce creates the missing partitions (bounded by one minute) and logs
// what it did; it returns how many it created.
func (p *Partitioner) RunOnce(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	n, err := p.Store.EnsurePartitions(ctx, now())
	switch {
	case err != nil && ctx.Err() == nil:
		p.Logger.WarnContext(ctx, "creating partitions failed", slog.String("error", err.Error()))
	case n > 0:
		p.Logger.InfoContext(ctx, "partitions created", slog.Int("count", n))
	}
	return n
}
