package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Outcomes of a recorded delivery attempt, as worker.Observer reports them;
// listed so that every series exists (at 0) from the start.
var outcomes = []string{"success", "retry", "exhausted", "failed", "cancelled"}

// Response classes of an attempt: the status code's hundreds, or "none"
// when no response came back (connection refused, timeout, refused by the
// SSRF guard, not attempted).
var classes = []string{"2xx", "3xx", "4xx", "5xx", "none"}

// Reasons hookd disables an endpoint for.
var disableReasons = []string{"failing", "gone"}

// Config configures Metrics. The zero value is usable: no queue depth.
type Config struct {
	// QueueDepth reads task counts by queue at scrape time; nil: the
	// hookd_queue_depth gauge is not reported.
	QueueDepth QueueDepthFunc
	// Logger receives scrape errors (e.g. Redis unreachable while reading
	// queue depth); nil: nothing is logged.
	Logger *slog.Logger
}

// Metrics records what hookd does. Its methods are cheap and safe for
// concurrent use; a nil *Metrics must not be used (callers hold an
// interface that is nil when metrics are off).
type Metrics struct {
	registry *prometheus.Registry
	logger   *slog.Logger

	published       prometheus.Counter
	deliveries      *prometheus.CounterVec
	attemptDuration prometheus.Histogram
	responses       *prometheus.CounterVec
	reenqueued      prometheus.Counter
	throttled       prometheus.Counter
	disabled        *prometheus.CounterVec
	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
}

// New returns Metrics registered on a registry of their own, with the Go
// runtime and process collectors.
func New(cfg Config) *Metrics {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		logger:   cfg.Logger,
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookd_messages_published_total",
			Help: "Messages accepted by POST /api/v1/app/{app_id}/msg (202; idempotent replays not counted).",
		}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_deliveries_total",
			Help: "Recorded delivery attempts by outcome: success, retry (another attempt scheduled), exhausted (no attempt left: dead letter), failed (a failed manual attempt), cancelled (the endpoint's transformation cancelled it: no request).",
		}, []string{"outcome"}),
		attemptDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hookd_attempt_duration_seconds",
			Help: "Duration of delivery requests that got a response, from sending to reading the body.",
			// 5 ms to 30 s: fast receivers on a LAN up to the longest
			// HOOKD_WORKER_REQUEST_TIMEOUT worth allowing.
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30},
		}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_attempt_responses_total",
			Help: "Recorded delivery attempts by response status class (2xx, 3xx, 4xx, 5xx; none: no response).",
		}, []string{"class"}),
		reenqueued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookd_reconciler_reenqueued_total",
			Help: "Overdue delivery attempts the reconciler queued again (their task was lost or late).",
		}),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookd_throttled_total",
			Help: "Attempts put back because their endpoint was at its rate limit or in-flight cap (not counted as attempts).",
		}),
		disabled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_endpoints_disabled_total",
			Help: "Endpoints disabled by hookd, by reason: failing (only failures for HOOKD_ENDPOINT_FAILURE_DISABLE_AFTER) or gone (answered 410).",
		}, []string{"reason"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_api_requests_total",
			Help: "API requests by route pattern, method and status code.",
		}, []string{"route", "method", "status"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hookd_api_request_duration_seconds",
			Help:    "API request duration by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
	}
	for _, o := range outcomes {
		m.deliveries.WithLabelValues(o)
	}
	for _, c := range classes {
		m.responses.WithLabelValues(c)
	}
	for _, r := range disableReasons {
		m.disabled.WithLabelValues(r)
	}
	m.registry.MustRegister(
		m.published, m.deliveries, m.attemptDuration, m.responses, m.reenqueued,
		m.throttled, m.disabled, m.requests, m.requestDuration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if cfg.QueueDepth != nil {
		m.registry.MustRegister(&queueCollector{depth: cfg.QueueDepth})
	}
	return m
}

// Handler serves the metrics in the Prometheus text format. A collector
// that fails (Redis unreachable) is logged and left out; the rest is served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorLog:      promLogger{m.logger},
		ErrorHandling: promhttp.ContinueOnError,
		// A slow Redis must not pile up scrapes.
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// Gatherer is the registry, for tests and for embedding in another exporter.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.registry }

// MessagePublished counts one accepted message.
func (m *Metrics) MessagePublished() { m.published.Inc() }

// AttemptDone counts one recorded attempt (worker.Observer): its outcome,
// its response's class (statusCode 0: none) and, when a response came
// back, its duration.
func (m *Metrics) AttemptDone(outcome string, statusCode int, took time.Duration) {
	m.deliveries.WithLabelValues(outcome).Inc()
	m.responses.WithLabelValues(statusClass(statusCode)).Inc()
	if statusCode != 0 {
		m.attemptDuration.Observe(took.Seconds())
	}
}

// Reenqueued counts attempts the reconciler queued again (worker.Observer).
func (m *Metrics) Reenqueued(n int) { m.reenqueued.Add(float64(n)) }

// Throttled counts one attempt put back by a throttle (worker.Observer).
func (m *Metrics) Throttled() { m.throttled.Inc() }

// EndpointDisabled counts one endpoint disabled by hookd (worker.Observer).
func (m *Metrics) EndpointDisabled(reason string) { m.disabled.WithLabelValues(reason).Inc() }

// ObserveRequest counts one API request. route must be a route pattern
// (gin's FullPath), never a raw path, to keep the series bounded.
func (m *Metrics) ObserveRequest(route, method string, status int, took time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.requestDuration.WithLabelValues(route).Observe(took.Seconds())
}

// statusClass returns "2xx" for 204, "none" for 0 (or anything that is not
// a final HTTP status code).
func statusClass(code int) string {
	if code < 200 || code > 599 {
		return "none"
	}
	return classes[code/100-2]
}

// promLogger adapts slog to promhttp.Logger.
type promLogger struct{ l *slog.Logger }

func (p promLogger) Println(v ...any) {
	p.l.LogAttrs(context.Background(), slog.LevelWarn, "metrics scrape error", slog.Any("error", v))
}
