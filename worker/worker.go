package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
)

// Config configures a worker process.
type Config struct {
	Redis asynq.RedisConnOpt
	// Concurrency is how many tasks run at once; 0 means 100.
	Concurrency int
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
	srv := asynq.NewServer(cfg.Redis, asynq.Config{
		Concurrency:     cfg.Concurrency,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Logger:          newAsynqLogger(cfg.Logger),
		LogLevel:        asynq.WarnLevel,
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
