package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/hookd/hookd/api"
	"github.com/hookd/hookd/pkg/background"
	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/egress"
	"github.com/hookd/hookd/pkg/filter"
	"github.com/hookd/hookd/pkg/jsonschema"
	"github.com/hookd/hookd/pkg/maintenance"
	"github.com/hookd/hookd/pkg/metrics"
	"github.com/hookd/hookd/pkg/oauth"
	"github.com/hookd/hookd/pkg/opwebhook"
	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/secretbox"
	"github.com/hookd/hookd/pkg/signature"
	"github.com/hookd/hookd/pkg/tracing"
	"github.com/hookd/hookd/pkg/transform"
	"github.com/hookd/hookd/pkg/webhook"
	"github.com/hookd/hookd/web"
	"github.com/hookd/hookd/worker"
)

// Roles says which parts a process runs.
type Roles struct {
	API    bool
	Worker bool
}

// Main wires configuration to the database, the API and the worker.
// Open prepares everything, Run serves until its context ends, Close frees.
type Main struct {
	Config Config
	Roles  Roles
	Logger *slog.Logger

	db       *postgres.DB
	redis    redis.UniversalClient
	metrics  *metrics.Metrics
	listener net.Listener
	http     *http.Server
	enqueuer *worker.Enqueuer // the delivery.Queue
	// direct runs the first attempts of this process's publishes itself
	// (serve: API and worker in one process); nil otherwise.
	direct     *delivery.Direct
	publisher  *delivery.Publisher
	events     *opwebhook.Emitter // operational webhooks
	worker     *worker.Worker
	reconciler *delivery.Reconciler
	janitor    *maintenance.Janitor
	partitions *maintenance.Partitioner
	retention  *maintenance.Retention
	health     *delivery.HealthChecker
	ordering   *delivery.OrderingWatch
	tasks      *background.Processor
	filters    *filter.Env           // payload filters: the API compiles, the publisher evaluates
	schemas    *jsonschema.Validator // event types' schemas, for the API and the publisher
	tracing    *tracing.Provider     // nil: tracing is off
}

// NewMain returns a Main logging to logOut.
func NewMain(cfg Config, roles Roles, logOut io.Writer) *Main {
	return &Main{Config: cfg, Roles: roles, Logger: newLogger(cfg, logOut)}
}

func newLogger(cfg Config, out io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	format := cfg.LogFormat
	if format == "" {
		format = "json"
		if f, ok := out.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	var h slog.Handler = slog.NewJSONHandler(out, opts)
	if format == "text" {
		h = slog.NewTextHandler(out, opts)
	}
	// Lines logged while serving an API request carry its request_id.
	return slog.New(api.LogHandler(h))
}

// Open connects to Postgres (creating the database if needed), migrates
// unless told not to, ensures the admin key and builds the roles' servers.
func (m *Main) Open(ctx context.Context) error {
	box, err := secretbox.New(m.Config.MainSecret)
	if err != nil {
		return fmt.Errorf("HOOKD_MAIN_SECRET: %w", err)
	}
	m.db, err = postgres.Open(ctx, m.Config.DBDSN, postgres.Options{
		Box: box, ReconcileGrace: m.Config.ReconcilerGrace, Logger: m.Logger,
		MaxOpenConns: m.Config.DBMaxConnections, ReadDSN: m.Config.DBReadDSN,
	})
	if err != nil {
		return err
	}
	if m.Config.MigrateOnStart || (!m.Roles.API && !m.Roles.Worker) {
		if _, err := m.db.Migrate(ctx); err != nil {
			return err
		}
	}
	if m.Config.AdminAPIKey != "" {
		if err := m.ensureAdminKey(ctx); err != nil {
			return err
		}
	}
	if !m.Roles.API && !m.Roles.Worker {
		return nil
	}
	redisOpt, err := worker.ParseRedisDSN(m.Config.RedisDSN)
	if err != nil {
		return fmt.Errorf("HOOKD_REDIS_DSN: %w", err)
	}
	m.redis = worker.NewRedisClient(redisOpt)
	queues := worker.NewQueues(m.Config.Queue, m.Config.QueueShards)
	m.metrics = metrics.New(metrics.Config{
		QueueDepth: worker.QueueDepth(m.redis, queues),
		Logger:     m.Logger,
	})
	m.enqueuer = worker.NewEnqueuer(redisOpt, queues, worker.HandlerTimeout(m.Config.WorkerRequestTimeout, 0))
	m.tracing, err = tracing.Open(ctx, m.Config.Tracing, tracing.Options{ServiceVersion: Version, Logger: m.Logger})
	if err != nil {
		return err
	}
	if m.filters, err = filter.NewEnv(filter.Config{MaxPayloadBytes: uint64(m.Config.MaxRequestBodyBytes)}); err != nil {
		return err
	}
	m.schemas = jsonschema.New()
	m.publisher = &delivery.Publisher{
		Store: m.db, Queue: m.enqueuer, Logger: m.Logger,
		Filters: m.filters, Schemas: m.schemas, Tracer: m.tracer(),
	}
	m.events = opwebhook.New(opwebhook.Config{Store: m.db, Publisher: m.publisher})
	if m.Roles.API {
		if err := m.openAPI(); err != nil {
			return err
		}
	}
	if m.Roles.Worker {
		return m.openWorker(redisOpt, queues)
	}
	return nil
}

func (m *Main) openWorker(redisOpt asynq.RedisConnOpt, queues worker.Queues) error {
	headers, err := signature.HeadersFor(m.Config.HeaderPrefix)
	if err != nil {
		return fmt.Errorf("HOOKD_HEADER_PREFIX: %w", err)
	}
	// Shards of an earlier HOOKD_QUEUE_SHARDS that still hold tasks are
	// served too, until the next start. Without Redis now, they are left to
	// the reconciler.
	drain, err := worker.LeftoverQueues(m.redis, queues)
	if err != nil {
		m.Logger.Warn("could not look for queues left by another HOOKD_QUEUE_SHARDS", slog.String("error", err.Error()))
	}
	if len(drain) > 0 {
		m.Logger.Info("serving queues left by another HOOKD_QUEUE_SHARDS until they are empty", slog.Any("queues", drain))
	}
	if queues.Len() > 1 {
		// On Redis Cluster, where each queue lives is its hash slot's master.
		for i := range queues.Len() {
			fresh, retries := queues.Shard(i)
			m.Logger.Info("queue shard", slog.Int("shard", i),
				slog.String("queue", fresh), slog.Int("slot", worker.Slot(fresh)),
				slog.String("retry_queue", retries), slog.Int("retry_slot", worker.Slot(retries)))
		}
	}
	m.worker = worker.New(worker.Config{
		Redis:           redisOpt,
		Queues:          queues,
		Drain:           drain,
		Concurrency:     m.Config.WorkerConcurrency,
		ShutdownTimeout: m.Config.ShutdownTimeout,
		Logger:          m.Logger,
	})
	// Publishing and delivering in one process, first attempts of its own
	// publishes run here without a round through Redis (delivery.Direct),
	// only when the reconciler leaves them time to finish: a job running
	// here has no task in Redis whose id would stop the reconciler from
	// queueing it again meanwhile, and it would then be sent twice. They
	// get twice the worker's concurrency: the queue's worker, beside them,
	// is mostly idle (retries), and with slow receivers the slots are
	// what limits (docs/benchmarks.md).
	direct := m.Roles.API && m.Config.ReconcilerGrace >= 2*m.Config.WorkerRequestTimeout
	inFlight := m.Config.WorkerConcurrency
	if direct {
		inFlight += directSlots * m.Config.WorkerConcurrency
	}
	// One egress client for deliveries and OAuth token requests alike: the
	// same guard, proxy, limits and connection pools.
	client := egress.New(egress.Config{
		AllowedSubnets: m.Config.WhitelistSubnets,
		Timeout:        m.Config.WorkerRequestTimeout,
		UserAgent:      "hookd/" + Version,
		Proxy:          m.Config.egressProxy(),
		// A connection kept per delivery in flight, so that a receiver
		// taking them all is not dialled again at every request.
		MaxIdleConnsPerHost: inFlight,
	})
	attempter := &delivery.Attempter{
		Store:    m.db,
		Queue:    m.enqueuer,
		Schedule: m.Config.RetrySchedule,
		// Half the grace: a fresh job the reconciler may have run already
		// (its publish queued it that late) reads its delivery first.
		FreshFor: m.Config.ReconcilerGrace / 2,
		Headers:  headers,
		Logger:   m.Logger,
		Events:   m.events,
		Observer: m.metrics,
		Send:     client,
		OAuth:    oauth.NewEndpoints(client, oauth.PoolConfig{OnRefreshToken: m.saveRefreshToken}),
		// One VM per delivery in flight, kept warm, up to maxTransformVMs.
		Transform: gojaTransformer{transform.New(transform.Config{
			Timeout: m.Config.TransformationTimeout, PoolSize: min(m.Config.WorkerConcurrency, maxTransformVMs),
		})},
		HTTPSOnly: m.Config.EndpointHTTPSOnly,
		Tracer:    m.tracer(),
		Throttle: &delivery.Throttle{
			Limiter:     worker.NewRedisRateLimiter(m.redis),
			MaxInFlight: m.Config.EndpointMaxInFlight,
		},
	}
	if direct {
		m.direct = &delivery.Direct{
			Next: m.enqueuer, Attempter: attempter, Capacity: directSlots * m.Config.WorkerConcurrency,
			Timeout: worker.HandlerTimeout(m.Config.WorkerRequestTimeout, 0), Logger: m.Logger,
		}
		if m.Config.ReconcilerGrace >= 2*m.Config.WorkerRequestTimeout+directMaxWait+directMargin {
			// A burst (a fan-out) waits here for slots rather than going
			// through Redis; the grace still covers the wait and the
			// attempt.
			m.direct.BacklogBytes, m.direct.MaxWait = directBacklogBytes, directMaxWait
		}
		attempter.Queue = m.direct
		m.publisher.Queue = m.direct
	}
	m.worker.Mux().Handle(worker.TypeDeliveryAttempt, &worker.Handler{Attempter: attempter})
	m.health = &delivery.HealthChecker{
		Store:        m.db,
		Events:       m.events,
		Logger:       m.Logger,
		Observer:     m.metrics,
		DisableAfter: m.Config.EndpointFailureDisableAfter,
		Interval:     m.Config.EndpointHealthInterval,
	}
	m.reconciler = &delivery.Reconciler{
		Store:    m.db,
		Queue:    m.enqueuer,
		Logger:   m.Logger,
		Observer: m.metrics,
		Interval: m.Config.ReconcilerInterval,
	}
	m.ordering = &delivery.OrderingWatch{
		Store:        m.db,
		Queue:        m.enqueuer,
		Events:       m.events,
		Logger:       m.Logger,
		BlockedAfter: m.Config.OrderingBlockedAlert,
	}
	m.retention = &maintenance.Retention{
		Store:    m.db,
		Logger:   m.Logger,
		Period:   m.Config.RetentionPeriod,
		Interval: m.Config.RetentionInterval,
	}
	m.tasks = &background.Processor{
		Store:  m.db,
		Logger: m.Logger,
		Runners: map[webhook.TaskKind]background.Runner{
			webhook.TaskEndpointRecover:    &background.Recover{Store: m.db, Queue: m.enqueuer, Logger: m.Logger},
			webhook.TaskEndpointBulkReplay: &background.Replay{Store: m.db, Queue: m.enqueuer, Logger: m.Logger},
			webhook.TaskEndpointReplay:     &background.Replay{Store: m.db, Queue: m.enqueuer, Logger: m.Logger, Missing: true, Filters: m.filters},
			webhook.TaskEndpointCancel:     &background.Cancel{Store: m.db, Queue: m.enqueuer, Logger: m.Logger},
			webhook.TaskMessageBroadcast:   &background.Broadcast{Store: m.db, Publisher: m.publisher},
		},
	}
	m.partitions = &maintenance.Partitioner{Store: m.db, Logger: m.Logger}
	m.janitor = &maintenance.Janitor{Logger: m.Logger, Sweeps: []maintenance.Sweep{
		{Name: "idempotency keys", Delete: m.db.DeleteExpiredIdempotencyKeys},
		{Name: "portal tokens", Delete: m.db.DeleteExpiredPortalTokens},
		{Name: "endpoint health hours", Delete: m.db.DeleteOldHealthHours},
	}}
	return nil
}

// saveRefreshToken stores a refresh token that an endpoint's authorization
// server rotated, so that the next process to need a token uses it. A
// failure is logged (never the tokens): this process goes on with the new
// token, and others may fail one token request until it is stored.
func (m *Main) saveRefreshToken(endpointID, oldToken, newToken string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := m.db.SaveRefreshToken(ctx, endpointID, oldToken, newToken); err != nil {
		m.Logger.WarnContext(ctx, "storing a rotated OAuth refresh token failed",
			slog.String("endpoint_id", endpointID), slog.String("error", err.Error()))
	}
}

func (m *Main) openAPI() error {
	ln, err := net.Listen("tcp", m.Config.ListenAddress)
	if err != nil {
		return fmt.Errorf("HOOKD_LISTEN_ADDRESS: %w", err)
	}
	m.listener = ln
	srv := api.New(api.Config{
		Store: m.db,
		Checks: []api.Checker{
			{Name: "postgres", Check: m.db.Ping},
			{Name: "redis", Check: func(ctx context.Context) error { return worker.PingRedis(ctx, m.redis) }},
		},
		IsUnavailable:     postgres.IsUnavailable,
		MaxBodyBytes:      m.Config.MaxRequestBodyBytes,
		HTTPSOnly:         m.Config.EndpointHTTPSOnly,
		Publisher:         m.publisher,
		Replayer:          &delivery.Replayer{Store: m.db, Queue: m.enqueuer, Logger: m.Logger},
		Events:            m.events,
		RetentionPeriod:   m.Config.RetentionPeriod,
		PortalTokenTTL:    m.Config.PortalTokenTTL,
		PublicURL:         m.Config.PublicURL,
		SignatureType:     signature.Type(m.Config.DefaultSignatureType),
		PublishPublicKeys: m.Config.PublishPublicKeys,
		Verification:      webhook.VerificationMode(m.Config.EndpointVerification),
		Schemas:           m.schemas,
		Filters:           m.filters,
		Transforms:        transform.New(transform.Config{Timeout: m.Config.TransformationTimeout}),
		Web:               web.Handler(),
		Logger:            m.Logger,
		Metrics:           m.metrics,
		MetricsHandler:    m.metrics.Handler(),
		MetricsToken:      m.Config.MetricsToken,
		RateLimit:         m.Config.APIRateLimit,
		RateBurst:         m.Config.APIRateBurst,
		TrustedProxies:    m.Config.TrustedProxies,
		Tracer:            m.tracer(),
	})
	m.http = &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	return nil
}

// URL is where the API listens, e.g. http://127.0.0.1:8071.
func (m *Main) URL() string {
	if m.listener == nil {
		return ""
	}
	return "http://" + m.listener.Addr().String()
}

// Run serves until ctx ends, then shuts down gracefully: the HTTP server
// finishes in-flight requests and the worker its in-flight deliveries.
func (m *Main) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	if m.http != nil {
		g.Go(func() error {
			if err := m.http.Serve(m.listener); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
		g.Go(func() error {
			<-ctx.Done()
			shutdownCtx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
			defer cancel()
			return m.http.Shutdown(shutdownCtx)
		})
	}
	if m.Config.DebugAddress != "" {
		g.Go(func() error { return serveDebug(ctx, m.Config.DebugAddress, m.metrics) })
	}
	if m.direct != nil {
		g.Go(func() error {
			<-ctx.Done()
			shutdownCtx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
			defer cancel()
			m.direct.Close(shutdownCtx)
			return nil
		})
	}
	if m.worker != nil {
		g.Go(func() error { return m.worker.Run(ctx) })
		g.Go(func() error { m.reconciler.Run(ctx); return nil })
		g.Go(func() error { m.janitor.Run(ctx); return nil })
		g.Go(func() error { m.partitions.Run(ctx); return nil })
		g.Go(func() error { m.retention.Run(ctx); return nil })
		g.Go(func() error { m.health.Run(ctx); return nil })
		g.Go(func() error { m.ordering.Run(ctx); return nil })
		g.Go(func() error { m.tasks.Run(ctx); return nil })
	}
	return g.Wait()
}

// tracer returns the Tracer of the publish and attempt flows: nil (a nil
// interface, not a nil *tracing.Provider) when tracing is off.
func (m *Main) tracer() delivery.Tracer {
	if m.tracing == nil {
		return nil
	}
	return m.tracing
}

// Close exports the spans still buffered and releases connections.
func (m *Main) Close() error {
	var errs []error
	if m.tracing != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, m.tracing.Shutdown(ctx))
		cancel()
	}
	if m.enqueuer != nil {
		errs = append(errs, m.enqueuer.Close())
	}
	if m.redis != nil {
		errs = append(errs, m.redis.Close())
	}
	if m.db != nil {
		errs = append(errs, m.db.Close())
	}
	return errors.Join(errs...)
}

// CreateKey creates a new API key of the organisation named org (created if
// needed) and returns the token, which is not stored.
func (m *Main) CreateKey(ctx context.Context, org string) (string, error) {
	o, err := m.db.EnsureOrg(ctx, org)
	if err != nil {
		return "", fmt.Errorf("creating organisation: %w", err)
	}
	token, key := webhook.NewAPIKey(o.ID)
	if err := m.db.CreateKey(ctx, key); err != nil {
		return "", fmt.Errorf("storing key: %w", err)
	}
	return token, nil
}

func (m *Main) ensureAdminKey(ctx context.Context) error {
	o, err := m.db.EnsureOrg(ctx, webhook.DefaultOrgName)
	if err != nil {
		return fmt.Errorf("creating default organisation: %w", err)
	}
	if err := m.db.CreateKey(ctx, webhook.APIKeyFor(o.ID, m.Config.AdminAPIKey)); err != nil {
		return fmt.Errorf("storing HOOKD_ADMIN_API_KEY: %w", err)
	}
	return nil
}

// serveDebug serves pprof, and the metrics when there are some (not for
// migrate), on addr until ctx ends: a worker process has no API listener.
// It turns on the mutex and block profiles, sampled (debugMutexFraction,
// debugBlockRate), which the runtime leaves off.
func serveDebug(ctx context.Context, addr string, met *metrics.Metrics) error {
	runtime.SetMutexProfileFraction(debugMutexFraction)
	runtime.SetBlockProfileRate(debugBlockRate)
	mux := http.NewServeMux()
	if met != nil {
		mux.Handle("/metrics", met.Handler())
	}
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("HOOKD_DEBUG_ADDRESS: %w", err)
	}
	return nil
}

// debugMutexFraction samples one in so many contended mutex waits, and
// debugBlockRate one blocking event (channel, select, sync) per so many
// nanoseconds blocked, for /debug/pprof/mutex and /debug/pprof/block:
// rates cheap enough for a process under load.
const (
	debugMutexFraction = 100
	debugBlockRate     = 10_000
)
