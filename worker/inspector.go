package worker

import (
	"fmt"
	"slices"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/hookd/hookd/pkg/metrics"
)

// QueueDepth returns a metrics.QueueDepthFunc that reads the task counts of
// every delivery queue of every shard (fresh attempts and retries) through
// rdb. A queue that does not exist yet (nothing was ever queued) counts as
// empty.
func QueueDepth(rdb redis.UniversalClient, q Queues) metrics.QueueDepthFunc {
	insp := asynq.NewInspectorFromRedisClient(rdb)
	queues := q.All()
	return func() ([]metrics.QueueDepth, error) {
		existing, err := insp.Queues()
		if err != nil {
			return nil, fmt.Errorf("listing queues: %w", err)
		}
		depths := make([]metrics.QueueDepth, 0, len(queues))
		for _, q := range queues {
			d := metrics.QueueDepth{Queue: q}
			if slices.Contains(existing, q) {
				info, err := insp.GetQueueInfo(q)
				if err != nil {
					return nil, fmt.Errorf("reading queue %s: %w", q, err)
				}
				d.Pending, d.Scheduled, d.Retry = info.Pending, info.Scheduled, info.Retry
				d.Active, d.Archived, d.Latency = info.Active, info.Archived, info.Latency
			}
			depths = append(depths, d)
		}
		return depths, nil
	}
}

// LeftoverQueues returns the queues named as shards of q's base queue that
// are not q's shards and still hold tasks to run: what the shards of
// another HOOKD_QUEUE_SHARDS left behind. A worker serves them too (Config's
// Drain), so that changing the number of shards strands no task.
func LeftoverQueues(rdb redis.UniversalClient, q Queues) ([]string, error) {
	insp := asynq.NewInspectorFromRedisClient(rdb)
	existing, err := insp.Queues()
	if err != nil {
		return nil, fmt.Errorf("listing queues: %w", err)
	}
	var busy []string
	for _, name := range q.leftovers(existing) {
		info, err := insp.GetQueueInfo(name)
		if err != nil {
			return nil, fmt.Errorf("reading queue %s: %w", name, err)
		}
		if info.Pending+info.Active+info.Scheduled+info.Retry > 0 {
			busy = append(busy, name)
		}
	}
	return busy, nil
}
