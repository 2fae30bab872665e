package worker

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hibiken/asynq"
)

// Config configures a worker process.
type Config struct {
	Redis asynq.RedisConnOpt
	// Queues are the asynq queues to process, every shard's; the zero
	// value is DefaultQueue in one shard.
	Queues Queues
	// Drain are more queues to serve, at the weight of a retry queue: the
	// leftovers of another number of shards (LeftoverQueues).
	Drain []string
	// Concurrency is how many tasks run at once; 0 means 100.
	Concurrency int
	// Processors is how many asynq servers share Concurrency. Each dequeues
	// tasks one at a time in its own loop, so one loop caps throughput at
	// one Redis round trip per task; 0 means 4.
	Processors int
	// DelayedCheckInterval is how often scheduled retries are moved to the
	// queue when due; 0 means 1s.
	DelayedCheckInterval time.Duration
	// ShutdownTimeout bounds how long in-flight tasks may finish on stop; 0 means 30s.
	ShutdownTimeout time.Duration
	// Logger receives asynq's warnings and the tasks that failed; nil:
	// nothing is logged.
	Logger *slog.Logger
}

// Worker runs asynq handlers until its context ends: the asynq servers
// that dequeue delivery attempts (Handler).
type Worker struct {
	cfg     Config
	servers []*asynq.Server
	mux     *asynq.ServeMux
}

// New builds a worker. Handlers are registered on Mux before Run.
func New(cfg Config) *Worker {
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 100
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DelayedCheckInterval == 0 {
		cfg.DelayedCheckInterval = time.Second
	}
	if cfg.Processors == 0 {
		cfg.Processors = 4
	}
	cfg.Processors = max(1, min(cfg.Processors, cfg.Concurrency))
	w := &Worker{cfg: cfg, mux: asynq.NewServeMux()}
	for i := 0; i < cfg.Processors; i++ {
		share := cfg.Concurrency / cfg.Processors
		if i < cfg.Concurrency%cfg.Processors {
			share++
		}
		w.servers = append(w.servers, newServer(cfg, share))
	}
	return w
}

func newServer(cfg Config, concurrency int) *asynq.Server {
	return asynq.NewServer(cfg.Redis, asynq.Config{
		Concurrency:     concurrency,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Queues:          weights(cfg.Queues, cfg.Drain),
		// Fresh attempts are enqueued for immediate processing; an idle
		// worker checks for them this often.
		TaskCheckInterval: 50 * time.Millisecond,
		// Scheduled retries move to the queue within this much of their time.
		DelayedTaskCheckInterval: cfg.DelayedCheckInterval,
		RetryDelayFunc:           retryDelay,
		// A throttled attempt is put back, not failed: asynq does not count it.
		IsFailure: func(err error) bool { _, throttled := isThrottled(err); return !throttled },
		// A failed delivery is not an error for asynq: handlers return errors
		// only for our own infrastructure (logged here once) or throttling.
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			if _, throttled := isThrottled(err); throttled {
				return
			}
			cfg.Logger.WarnContext(ctx, "task failed; asynq will retry it", slog.String("type", t.Type()), slog.String("error", err.Error()))
		}),
		Logger:   newAsynqLogger(cfg.Logger),
		LogLevel: asynq.WarnLevel,
	})
}

// weights returns asynq's queue weights: every shard alike, and in each,
// fresh attempts served three times as often as retries, so a backlog of
// retries (a receiver back from an outage) never starves new messages;
// queues to drain weigh as much as retries.
func weights(q Queues, drain []string) map[string]int {
	w := make(map[string]int, 2*q.Len()+len(drain))
	for _, name := range drain {
		w[name] = 1
	}
	for i := range q.Len() {
		fresh, retries := q.Shard(i)
		w[fresh], w[retries] = 3, 1
	}
	return w
}

// Mux is where task handlers are registered.
func (w *Worker) Mux() *asynq.ServeMux { return w.mux }

// Run processes tasks until ctx is done, then lets in-flight tasks finish
// (bounded by ShutdownTimeout) and returns.
func (w *Worker) Run(ctx context.Context) error {
	for i, srv := range w.servers {
		if err := srv.Start(w.mux); err != nil {
			for _, started := range w.servers[:i] {
				started.Shutdown()
			}
			return fmt.Errorf("starting worker: %w", err)
		}
	}
	<-ctx.Done()
	var wg sync.WaitGroup
	for _, srv := range w.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			srv.Shutdown()
		}()
	}
	wg.Wait()
	return nil
}

// retryDelay is asynq's delay before running a task again: a throttled
// attempt's own delay, or the back-off of infrastructure errors.
func retryDelay(n int, err error, t *asynq.Task) time.Duration {
	if th, ok := isThrottled(err); ok {
		return th.delay
	}
	return infraRetryDelay(n, err, t)
}

// infraRetryDelay backs off retries of tasks that failed on our own
// infrastructure: 1s, 2s, 4s ... capped at one minute, with jitter.
func infraRetryDelay(n int, _ error, _ *asynq.Task) time.Duration {
	d := time.Second << min(n, 6)
	d = min(d, time.Minute)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}
