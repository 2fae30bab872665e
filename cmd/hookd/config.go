package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/hookd/hookd/pkg/egress"
	"github.com/hookd/hookd/pkg/retry"
	"github.com/hookd/hookd/pkg/signature"
	"github.com/hookd/hookd/pkg/tracing"
	"github.com/hookd/hookd/pkg/webhook"
	"github.com/hookd/hookd/worker"
)

// Config is hookd's whole configuration, read from the environment once at
// start and validated there; a wrong value stops the process with a message
// naming the variable and what it accepts.
type Config struct {
	// ListenAddress is where the API and UI listen.
	ListenAddress string `env:"HOOKD_LISTEN_ADDRESS" envDefault:"127.0.0.1:8071"`
	// DBDSN is the PostgreSQL connection URL; the database is created if missing.
	DBDSN string `env:"HOOKD_DB_DSN" envDefault:"postgres://postgres@127.0.0.1:5432/hookd?sslmode=disable"`
	// DBReadDSN names a read replica of DBDSN for the lists of messages,
	// attempts and deliveries, search and statistics; empty: the primary
	// serves them too.
	DBReadDSN string `env:"HOOKD_DB_READ_DSN"`
	// RedisDSN is asynq's Redis: redis://, rediss://, redis-socket://,
	// redis-sentinel:// or redis-cluster://.
	RedisDSN string `env:"HOOKD_REDIS_DSN" envDefault:"redis://127.0.0.1:6379/0"`
	// AdminAPIKey, when set, is ensured as a key of the default organisation at start.
	AdminAPIKey string `env:"HOOKD_ADMIN_API_KEY"`
	// RetrySchedule holds the delays between delivery attempts; attempts = len + 1.
	RetrySchedule retry.Schedule `env:"HOOKD_RETRY_SCHEDULE" envDefault:"5s,5m,30m,2h,5h,10h,10h"`
	// WorkerRequestTimeout bounds one delivery request, body included.
	WorkerRequestTimeout time.Duration `env:"HOOKD_WORKER_REQUEST_TIMEOUT" envDefault:"15s"`
	// EndpointFailureDisableAfter disables an endpoint that only failed for this long.
	EndpointFailureDisableAfter time.Duration `env:"HOOKD_ENDPOINT_FAILURE_DISABLE_AFTER" envDefault:"120h"`
	// EndpointMaxInFlight caps one endpoint's requests in flight per worker
	// process, so a slow endpoint cannot hold every worker slot; 0 means a
	// quarter of HOOKD_WORKER_CONCURRENCY (at least 4); -1: no cap.
	EndpointMaxInFlight int `env:"HOOKD_ENDPOINT_MAX_IN_FLIGHT" envDefault:"0"`
	// DBMaxConnections caps this process's connections to PostgreSQL.
	DBMaxConnections int `env:"HOOKD_DB_MAX_CONNECTIONS" envDefault:"20"`
	// OrderingBlockedAlert is how long an ordering key may wait behind its
	// head before message.ordering.blocked is sent.
	OrderingBlockedAlert time.Duration `env:"HOOKD_ORDERING_BLOCKED_ALERT" envDefault:"10m"`
	// EndpointHealthInterval is how often failing endpoints are checked.
	EndpointHealthInterval time.Duration `env:"HOOKD_ENDPOINT_HEALTH_INTERVAL" envDefault:"10s"`
	// WhitelistSubnets are CIDRs the SSRF guard lets through; empty: none.
	WhitelistSubnets []netip.Prefix `env:"HOOKD_WHITELIST_SUBNETS" envSeparator:","`
	// EndpointHTTPSOnly refuses http:// endpoint URLs.
	EndpointHTTPSOnly bool `env:"HOOKD_ENDPOINT_HTTPS_ONLY" envDefault:"false"`
	// MainSecret encrypts endpoint secrets at rest; empty stores them in clear.
	MainSecret string `env:"HOOKD_MAIN_SECRET"`
	// HeaderPrefix names the signature headers: "webhook" (Standard Webhooks) or "svix".
	HeaderPrefix string `env:"HOOKD_HEADER_PREFIX" envDefault:"webhook"`
	// WorkerConcurrency is how many deliveries a worker has in flight; 0: 1,000.
	WorkerConcurrency int `env:"HOOKD_WORKER_CONCURRENCY" envDefault:"0"`
	// MaxRequestBodyBytes caps API request bodies (413 above).
	MaxRequestBodyBytes int64 `env:"HOOKD_MAX_REQUEST_BODY_BYTES" envDefault:"1048576"`
	// Queue is the asynq queue name; processes sharing one Redis for
	// separate installations (or tests) use different names.
	Queue string `env:"HOOKD_QUEUE" envDefault:"deliveries"`
	// QueueShards is how many shards the queue is split in, by endpoint,
	// each a pair of asynq queues (see worker.Queues): on Redis Cluster,
	// shards on different masters share the load. 1 is the queue alone.
	QueueShards int `env:"HOOKD_QUEUE_SHARDS" envDefault:"1"`
	// ReconcilerInterval is how often the worker looks for lost attempts.
	ReconcilerInterval time.Duration `env:"HOOKD_RECONCILER_INTERVAL" envDefault:"10s"`
	// ReconcilerGrace is how long past its due time an attempt may wait in
	// the queue before the reconciler enqueues it again.
	ReconcilerGrace time.Duration `env:"HOOKD_RECONCILER_GRACE" envDefault:"1m"`
	// RetentionPeriod is how long attempt response bodies are kept, the
	// payload retention of messages that name none (in days, 5 to 90), and
	// how far back recover may reach.
	RetentionPeriod time.Duration `env:"HOOKD_RETENTION_PERIOD" envDefault:"2160h"`
	// RetentionInterval is how often the worker clears expired content.
	RetentionInterval time.Duration `env:"HOOKD_RETENTION_INTERVAL" envDefault:"1m"`
	// PortalTokenTTL is how long app-portal tokens last unless the request
	// asks for less (1h to 168h).
	PortalTokenTTL time.Duration `env:"HOOKD_PORTAL_TOKEN_TTL" envDefault:"168h"`
	// PublicURL is the base URL browsers reach hookd at, used in portal
	// links; empty uses the host of the request.
	PublicURL string `env:"HOOKD_PUBLIC_URL"`
	// ShutdownTimeout bounds how long in-flight requests and deliveries may
	// finish after SIGTERM.
	ShutdownTimeout time.Duration `env:"HOOKD_SHUTDOWN_TIMEOUT" envDefault:"30s"`
	// DebugAddress, when set, serves Go's pprof profiles (/debug/pprof/)
	// and the metrics (/metrics) there; keep it on a private address.
	DebugAddress string `env:"HOOKD_DEBUG_ADDRESS"`
	// MetricsToken, when set, is the bearer token GET /metrics on the API
	// listener requires; empty: /metrics is open, like the health check.
	MetricsToken string `env:"HOOKD_METRICS_TOKEN"`
	// APIRateLimit is how many API requests per second one API key (or
	// portal token) may send to one API process; 0: no limit.
	APIRateLimit float64 `env:"HOOKD_API_RATE_LIMIT" envDefault:"1000"`
	// APIRateBurst is how many requests a key may send at once; 0: twice
	// APIRateLimit.
	APIRateBurst int `env:"HOOKD_API_RATE_LIMIT_BURST" envDefault:"0"`
	// TrustedProxies are CIDRs of the reverse proxies in front of the API,
	// whose X-Forwarded-For names the client; empty: none, the peer is.
	TrustedProxies []netip.Prefix `env:"HOOKD_TRUSTED_PROXIES" envSeparator:","`
	// MigrateOnStart applies pending migrations when serve, api or worker start.
	MigrateOnStart bool `env:"HOOKD_MIGRATE_ON_START" envDefault:"true"`
	// LogFormat is "json" or "text"; empty: text on a terminal, JSON otherwise.
	LogFormat string `env:"HOOKD_LOG_FORMAT"`
	// LogLevel is debug, info, warn or error.
	LogLevel slog.Level `env:"HOOKD_LOG_LEVEL" envDefault:"info"`

	// DefaultSignatureType is the type of the keys generated for endpoints
	// that name none: "hmac" (whsec_) or "ed25519" (whsk_).
	DefaultSignatureType string `env:"HOOKD_DEFAULT_SIGNATURE_TYPE" envDefault:"hmac"`
	// PublishPublicKeys serves endpoints' Ed25519 public keys without
	// authentication at /.well-known/webhook-keys/{app_id}/{endpoint_id}.
	PublishPublicKeys bool `env:"HOOKD_PUBLISH_PUBLIC_KEYS" envDefault:"false"`
	// EgressProxy, when set, is the proxy every delivery and OAuth token
	// request goes through: http://, https:// or socks5://; empty: direct.
	EgressProxy string `env:"HOOKD_EGRESS_PROXY"`
	// EndpointVerification is how endpoints prove control of their URL:
	// off, optional (each endpoint chooses) or required.
	EndpointVerification string `env:"HOOKD_ENDPOINT_VERIFICATION" envDefault:"off"`

	// TransformationTimeout bounds one run of an endpoint's transformation
	// (wall-clock time; the attempt fails past it).
	TransformationTimeout time.Duration `env:"HOOKD_TRANSFORMATION_TIMEOUT" envDefault:"100ms"`

	// Tracing is OpenTelemetry's, from the standard OTEL_* variables: off
	// unless OTEL_TRACES_EXPORTER or an OTLP endpoint is set (see
	// tracing.Config and docs/configuration.md).
	Tracing tracing.Config
}

var adminKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{24,128}$`)

// egressProxy returns the parsed HOOKD_EGRESS_PROXY; nil when unset.
// validate has checked it.
func (c *Config) egressProxy() *url.URL {
	if c.EgressProxy == "" {
		return nil
	}
	u, _ := egress.ParseProxyURL(c.EgressProxy)
	return u
}

// LoadConfig reads and validates the configuration from environ.
func LoadConfig(environ map[string]string) (Config, error) {
	var cfg Config
	err := env.ParseWithOptions(&cfg, env.Options{
		Environment: environ,
		FuncMap: map[reflect.Type]env.ParserFunc{
			reflect.TypeOf(retry.Schedule{}): func(v string) (any, error) { return retry.ParseSchedule(v) },
			// The whole list, not its items: env would parse items with
			// netip.Prefix's UnmarshalText, which refuses the spaces
			// people put after commas.
			reflect.TypeOf([]netip.Prefix{}): parsePrefixes,
		},
	})
	if err != nil {
		return cfg, explainEnvError(err)
	}
	return cfg, cfg.validate()
}

// parsePrefixes parses comma-separated CIDRs; spaces around items are ignored.
func parsePrefixes(v string) (any, error) {
	var prefixes []netip.Prefix
	for _, item := range strings.Split(v, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(item))
		if err != nil {
			return nil, err
		}
		prefixes = append(prefixes, p)
	}
	return prefixes, nil
}

// explainEnvError rewrites the parser's errors to name the variable and
// what it accepts.
func explainEnvError(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	t := reflect.TypeOf(Config{})
	var msgs []string
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := t.FieldByName(pe.Name); ok {
				name := strings.Split(f.Tag.Get("env"), ",")[0]
				msgs = append(msgs, fmt.Sprintf("%s: %v (accepted: %s)", name, pe.Err, accepted(f.Type)))
				continue
			}
		}
		msgs = append(msgs, e.Error())
	}
	return errors.New(strings.Join(msgs, "; "))
}

func accepted(t reflect.Type) string {
	switch t {
	case reflect.TypeOf(time.Duration(0)):
		return "a Go duration such as 15s or 2h"
	case reflect.TypeOf(retry.Schedule{}):
		return "comma-separated Go durations such as 5s,5m,30m"
	case reflect.TypeOf([]netip.Prefix{}):
		return "comma-separated CIDRs such as 127.0.0.0/8,10.0.0.0/8"
	case reflect.TypeOf(slog.Level(0)):
		return "debug, info, warn or error"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	}
	return t.String()
}

func (c *Config) validate() error {
	var errs []string
	bad := func(name, format string, args ...any) {
		errs = append(errs, name+": "+fmt.Sprintf(format, args...))
	}
	if c.AdminAPIKey != "" && !adminKeyPattern.MatchString(c.AdminAPIKey) {
		bad("HOOKD_ADMIN_API_KEY", "must be 24 to 128 characters from [A-Za-z0-9_-]")
	}
	if _, err := worker.ParseRedisDSN(c.RedisDSN); err != nil {
		bad("HOOKD_REDIS_DSN", "%v (accepted: redis://, rediss://, redis-socket://, redis-sentinel://, redis-cluster:// URLs)", err)
	}
	if !strings.HasPrefix(c.DBDSN, "postgres://") && !strings.HasPrefix(c.DBDSN, "postgresql://") {
		bad("HOOKD_DB_DSN", "must be a postgres:// URL")
	}
	if c.DBReadDSN != "" && !strings.HasPrefix(c.DBReadDSN, "postgres://") && !strings.HasPrefix(c.DBReadDSN, "postgresql://") {
		bad("HOOKD_DB_READ_DSN", "must be a postgres:// URL (or empty)")
	}
	if c.HeaderPrefix != "webhook" && c.HeaderPrefix != "svix" {
		bad("HOOKD_HEADER_PREFIX", "got %q (accepted: webhook or svix)", c.HeaderPrefix)
	}
	if c.WorkerRequestTimeout <= 0 {
		bad("HOOKD_WORKER_REQUEST_TIMEOUT", "must be a positive duration")
	}
	if c.EndpointFailureDisableAfter <= 0 {
		bad("HOOKD_ENDPOINT_FAILURE_DISABLE_AFTER", "must be a positive duration")
	}
	for name, d := range map[string]time.Duration{
		"HOOKD_RECONCILER_INTERVAL": c.ReconcilerInterval, "HOOKD_RECONCILER_GRACE": c.ReconcilerGrace,
		"HOOKD_RETENTION_PERIOD": c.RetentionPeriod, "HOOKD_SHUTDOWN_TIMEOUT": c.ShutdownTimeout,
		"HOOKD_RETENTION_INTERVAL": c.RetentionInterval, "HOOKD_ORDERING_BLOCKED_ALERT": c.OrderingBlockedAlert,
	} {
		if d <= 0 {
			bad(name, "must be a positive duration")
		}
	}
	if c.PortalTokenTTL < time.Hour || c.PortalTokenTTL > 7*24*time.Hour {
		bad("HOOKD_PORTAL_TOKEN_TTL", "must be between 1h and 168h")
	}
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		bad("HOOKD_PUBLIC_URL", "must be an http:// or https:// URL")
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.EndpointMaxInFlight < -1 {
		bad("HOOKD_ENDPOINT_MAX_IN_FLIGHT", "must be -1 (no cap), 0 (a quarter of the worker concurrency) or a positive integer")
	}
	if c.TransformationTimeout < time.Millisecond || c.TransformationTimeout > 10*time.Second {
		bad("HOOKD_TRANSFORMATION_TIMEOUT", "must be between 1ms and 10s")
	}
	if c.DBMaxConnections < 1 {
		bad("HOOKD_DB_MAX_CONNECTIONS", "must be a positive integer")
	}
	if c.EndpointHealthInterval <= 0 {
		bad("HOOKD_ENDPOINT_HEALTH_INTERVAL", "must be a positive duration")
	}
	if c.WorkerConcurrency < 0 {
		bad("HOOKD_WORKER_CONCURRENCY", "must be 0 (automatic) or a positive integer")
	}
	if c.WorkerConcurrency == 0 {
		// Deliveries in flight mostly wait on receivers: a thousand cost
		// little more than a hundred, and let slow receivers through.
		c.WorkerConcurrency = defaultWorkerConcurrency
	}
	switch c.EndpointMaxInFlight {
	case 0:
		c.EndpointMaxInFlight = max(4, c.WorkerConcurrency/4)
	case -1:
		c.EndpointMaxInFlight = 0 // Throttle: no cap
	}
	if c.QueueShards < 1 || c.QueueShards > worker.MaxShards {
		bad("HOOKD_QUEUE_SHARDS", "must be between 1 and %d", worker.MaxShards)
	}
	if c.MaxRequestBodyBytes < 1024 {
		bad("HOOKD_MAX_REQUEST_BODY_BYTES", "must be at least 1024")
	}
	if !(c.APIRateLimit >= 0) { // NaN too
		bad("HOOKD_API_RATE_LIMIT", "must be 0 (no limit) or a positive number of requests per second")
	}
	if c.APIRateBurst < 0 {
		bad("HOOKD_API_RATE_LIMIT_BURST", "must be 0 (twice the rate) or a positive integer")
	}
	if c.LogFormat != "" && c.LogFormat != "json" && c.LogFormat != "text" {
		bad("HOOKD_LOG_FORMAT", "got %q (accepted: json or text)", c.LogFormat)
	}
	if _, err := signature.ParseType(c.DefaultSignatureType); err != nil {
		bad("HOOKD_DEFAULT_SIGNATURE_TYPE", "got %q (accepted: hmac or ed25519)", c.DefaultSignatureType)
	}
	if c.EgressProxy != "" {
		if _, err := egress.ParseProxyURL(c.EgressProxy); err != nil {
			bad("HOOKD_EGRESS_PROXY", "%v", strings.TrimPrefix(err.Error(), "egress proxy: "))
		}
	}
	if _, err := webhook.ParseVerificationMode(c.EndpointVerification); err != nil {
		bad("HOOKD_ENDPOINT_VERIFICATION", "got %q (accepted: off, optional or required)", c.EndpointVerification)
	}
	if err := c.Tracing.Validate(); err != nil {
		errs = append(errs, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// defaultWorkerConcurrency is HOOKD_WORKER_CONCURRENCY's default.
const defaultWorkerConcurrency = 1000

// maxTransformVMs caps the JavaScript VMs kept warm for transformations
// (450 KiB each): runs beyond it at once prepare a VM and drop it.
const maxTransformVMs = 256

// directBacklogBytes and directMaxWait bound the fresh first attempts
// hookd serve holds waiting for a free slot in the process
// (delivery.Direct): as many as weigh 64 MiB (about 40,000 of 1 KiB
// payloads), each for up to directMaxWait, before they go through Redis.
// Measured with hookd bench slow-many (docs/benchmarks.md).
const (
	directBacklogBytes = 64 << 20
	directMaxWait      = 5 * time.Second
	// directMargin is what the reconciler's grace must leave besides the
	// wait and twice the request timeout: the publish's commit, a
	// transformation, a throttle's wait, the record's commit.
	directMargin = 10 * time.Second
)

// directSlots is how many times the worker concurrency hookd serve runs
// first attempts in process (delivery.Direct.Capacity).
const directSlots = 2
