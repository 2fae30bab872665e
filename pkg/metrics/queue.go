package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// QueueDepth is one queue's task counts by state, as asynq's
// Inspector.GetQueueInfo reports them.
type QueueDepth struct {
	Queue     string
	Pending   int // ready to run now
	Scheduled int // waiting for their time (retries of deliveries, delayed attempts)
	Retry     int // failed on hookd's own infrastructure, retried by asynq
	Active    int // being processed
	Archived  int // given up by asynq after too many infrastructure errors
	// Latency is how long the oldest pending task has waited; 0: none pending.
	Latency time.Duration
}

// QueueDepthFunc returns the current depth of every queue to report. It is
// called at each scrape, so it must be bounded in time.
type QueueDepthFunc func() ([]QueueDepth, error)

var queueDepthDesc = prometheus.NewDesc("hookd_queue_depth",
	"Tasks in the asynq queue by state (pending, scheduled, retry, active, archived), read from Redis at scrape time.",
	[]string{"queue", "state"}, nil)

var queueLatencyDesc = prometheus.NewDesc("hookd_queue_latency_seconds",
	"How long the oldest pending task of the asynq queue has waited (0: none pending), read from Redis at scrape time.",
	[]string{"queue"}, nil)

// queueCollector reports QueueDepth as gauges at scrape time.
type queueCollector struct {
	depth QueueDepthFunc
}

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepthDesc
	ch <- queueLatencyDesc
}

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	queues, err := q.depth()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueDepthDesc, err)
		return
	}
	for _, d := range queues {
		for _, s := range []struct {
			state string
			n     int
		}{
			{"pending", d.Pending}, {"scheduled", d.Scheduled}, {"retry", d.Retry},
			{"active", d.Active}, {"archived", d.Archived},
		} {
			ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(s.n), d.Queue, s.state)
		}
		ch <- prometheus.MustNewConstMetric(queueLatencyDesc, prometheus.GaugeValue, d.Latency.Seconds(), d.Queue)
	}
}
