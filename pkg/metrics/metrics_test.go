package metrics_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/metrics"
)

// scrape returns what m serves at /metrics; the status must be 200.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: status %d, body:\n%s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// wantLines fails t for every line of want missing from the scrape.
func wantLines(t *testing.T, scraped string, want ...string) {
	t.Helper()
	lines := map[string]bool{}
	for _, l := range strings.Split(scraped, "\n") {
		lines[l] = true
	}
	for _, w := range want {
		if !lines[w] {
			t.Errorf("missing line %q", w)
		}
	}
	if t.Failed() {
		t.Logf("scraped:\n%s", scraped)
	}
}

func TestMetricsCount(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Config{})

	// Every series of a fixed label set exists before anything happened,
	// so that rate() and alerts work from the first scrape.
	wantLines(t, scrape(t, m),
		"hookd_messages_published_total 0",
		`hookd_deliveries_total{outcome="exhausted"} 0`,
		`hookd_attempt_responses_total{class="none"} 0`,
		`hookd_endpoints_disabled_total{reason="gone"} 0`,
		"hookd_reconciler_reenqueued_total 0",
		"hookd_throttled_total 0",
		"hookd_attempt_duration_seconds_count 0",
	)

	m.MessagePublished()
	m.MessagePublished()
	m.AttemptDone("success", 204, 20*time.Millisecond)
	m.AttemptDone("retry", 503, 3*time.Second)
	m.AttemptDone("retry", 0, 0) // no response: not a duration
	m.AttemptDone("exhausted", 404, time.Millisecond)
	m.Reenqueued(7)
	m.Throttled()
	m.EndpointDisabled("failing")
	m.ObserveRequest("/api/v1/app/:app_id/msg", "POST", 202, 3*time.Millisecond)
	m.ObserveRequest("/api/v1/app/:app_id/msg", "POST", 202, 4*time.Millisecond)
	m.ObserveRequest("/api/v1/app", "GET", 401, time.Millisecond)

	wantLines(t, scrape(t, m),
		"hookd_messages_published_total 2",
		`hookd_deliveries_total{outcome="success"} 1`,
		`hookd_deliveries_total{outcome="retry"} 2`,
		`hookd_deliveries_total{outcome="exhausted"} 1`,
		`hookd_deliveries_total{outcome="failed"} 0`,
		`hookd_attempt_responses_total{class="2xx"} 1`,
		`hookd_attempt_responses_total{class="4xx"} 1`,
		`hookd_attempt_responses_total{class="5xx"} 1`,
		`hookd_attempt_responses_total{class="none"} 1`,
		"hookd_attempt_duration_seconds_count 3",
		`hookd_attempt_duration_seconds_bucket{le="0.005"} 1`,
		`hookd_attempt_duration_seconds_bucket{le="0.025"} 2`,
		`hookd_attempt_duration_seconds_bucket{le="2.5"} 2`,
		`hookd_attempt_duration_seconds_bucket{le="5"} 3`,
		"hookd_reconciler_reenqueued_total 7",
		"hookd_throttled_total 1",
		`hookd_endpoints_disabled_total{reason="failing"} 1`,
		`hookd_api_requests_total{method="POST",route="/api/v1/app/:app_id/msg",status="202"} 2`,
		`hookd_api_requests_total{method="GET",route="/api/v1/app",status="401"} 1`,
		`hookd_api_request_duration_seconds_count{route="/api/v1/app/:app_id/msg"} 2`,
	)
}

func TestMetricsRuntimeCollectors(t *testing.T) {
	t.Parallel()
	got := scrape(t, metrics.New(metrics.Config{}))
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if !strings.Contains(got, "\n"+name+" ") {
			t.Errorf("no %s in the scrape", name)
		}
	}
}

// Two Metrics share nothing: each has its own registry.
func TestMetricsIndependent(t *testing.T) {
	t.Parallel()
	a, b := metrics.New(metrics.Config{}), metrics.New(metrics.Config{})
	a.MessagePublished()
	wantLines(t, scrape(t, a), "hookd_messages_published_total 1")
	wantLines(t, scrape(t, b), "hookd_messages_published_total 0")
}

func TestQueueDepth(t *testing.T) {
	t.Parallel()
	calls := 0
	m := metrics.New(metrics.Config{QueueDepth: func() ([]metrics.QueueDepth, error) {
		calls++
		return []metrics.QueueDepth{
			{Queue: "deliveries", Pending: 3, Scheduled: 4, Retry: 1, Active: 2, Archived: 5, Latency: 1500 * time.Millisecond},
			{Queue: "deliveries-retries"},
		}, nil
	}})
	wantLines(t, scrape(t, m),
		`hookd_queue_depth{queue="deliveries",state="pending"} 3`,
		`hookd_queue_depth{queue="deliveries",state="scheduled"} 4`,
		`hookd_queue_depth{queue="deliveries",state="retry"} 1`,
		`hookd_queue_depth{queue="deliveries",state="active"} 2`,
		`hookd_queue_depth{queue="deliveries",state="archived"} 5`,
		`hookd_queue_depth{queue="deliveries-retries",state="pending"} 0`,
		`hookd_queue_latency_seconds{queue="deliveries"} 1.5`,
		`hookd_queue_latency_seconds{queue="deliveries-retries"} 0`,
	)
	// Read at scrape time, every time.
	scrape(t, m)
	if calls != 2 {
		t.Errorf("QueueDepth called %d times for 2 scrapes", calls)
	}
}

// Redis being down loses the queue depth, not the whole scrape, and the
// error is logged.
func TestQueueDepthError(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	m := metrics.New(metrics.Config{
		Logger:     slog.New(slog.NewTextHandler(&logs, nil)),
		QueueDepth: func() ([]metrics.QueueDepth, error) { return nil, errors.New("redis: connection refused") },
	})
	m.MessagePublished()
	got := scrape(t, m)
	wantLines(t, got, "hookd_messages_published_total 1")
	if strings.Contains(got, "hookd_queue_depth{") {
		t.Errorf("queue depth reported despite the error:\n%s", got)
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("the error was not logged; logs:\n%s", logs.String())
	}
}

func TestHandlerContentType(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(metrics.New(metrics.Config{}).Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want the text format", ct)
	}
}
