package worker

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
)

// Config configures a worker process.
type Config struct {
	Redis asynq.RedisConnOpt
	// Queue is the asynq queue to process; "" means DefaultQueue.
	Queue string
	// Concurrency is how many tasks run at once; 0 means 100.
	Concurrency int
	// DelayedCheckInterval is how often scheduled retries are moved to the
	// queue when due; 0 means 1s.
	DelayedCheckInterval time.Duration
	// ShutdownTimeout bounds how long in-flight tasks may finish on stop; 0 means 30s.
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
}

// Worker runs asynq handlers until its context ends.
type Worker struct {
	cfg    Config
	server *asynq.Server
	mux    *asynq.ServeMux
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
		cfg.Logger = slog.Default()
	}
	if cfg.DelayedCheckInterval == 0 {
		cfg.DelayedCheckInterval = time.Second
	}
	if cfg.Queue == "" {
		cfg.Queue = DefaultQueue
	}
	srv := asynq.NewServer(cfg.Redis, asynq.Config{
		Concurrency:     cfg.Concurrency,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Queues:          map[string]int{cfg.Queue: 1},
		// Fresh attempts are enqueued for immediate processing; an idle
		// worker checks for them this often.
		TaskCheckInterval: 50 * time.Millisecond,
		// Scheduled retries move to the queue within this much of their time.
		DelayedTaskCheckInterval: cfg.DelayedCheckInterval,
		RetryDelayFunc:           infraRetryDelay,
		// A failed delivery is not an error for asynq: handlers return errors
		// only for our own infrastructure, logged here once.
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			cfg.Logger.WarnContext(ctx, "task failed; asynq will retry it", slog.String("type", t.Type()), slog.String("error", err.Error()))
		}),
		Logger:   newAsynqLogger(cfg.Logger),
		LogLevel: asynq.WarnLevel,
	})
	return &Worker{cfg: cfg, server: srv, mux: asynq.NewServeMux()}
}

// Mux is where task handlers are registered.
func (w *Worker) Mux() *asynq.ServeMux { return w.mux }

// Run processes tasks until ctx is done, then lets in-flight tasks finish
// (bounded by ShutdownTimeout) and returns.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.server.Start(w.mux); err != nil {
		return fmt.Errorf("starting worker: %w", err)
	}
	<-ctx.Done()
	w.server.Shutdown()
	return nil
}

// infraRetryDelay backs off retries of tasks that failed on our own
// infrastructure: 1s, 2s, 4s ... capped at one minute, with jitter.
func infraRetryDelay(n int, _ error, _ *asynq.Task) time.Duration {
	d := time.Second << min(n, 6)
	d = min(d, time.Minute)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}
