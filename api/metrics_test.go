package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/api"
	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
)

// setupConfigured is setup with the API's Config adjusted by configure
// (metrics, rate limit, logger...).
func setupConfigured(t *testing.T, configure func(*api.Config)) *bundle {
	t.Helper()
	dsn := postgrestest.NewDSN(t)
	db, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxOpenConns: 5})
	if err != nil {
		t.Fatalf("opening test database: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	dispatched := &recordingQueue{db: db}
	cfg := api.Config{
		Store:     db,
		Publisher: &delivery.Publisher{Store: db, Queue: dispatched},
		Replayer:  &delivery.Replayer{Store: db, Queue: dispatched},
		Logger:    slog.New(slog.DiscardHandler),
	}
	configure(&cfg)
	ts := httptest.NewServer(api.New(cfg))
	t.Cleanup(ts.Close)
	b := &bundle{t: t, db: db, dsn: dsn, url: ts.URL, dispatched: dispatched}
	b.key = b.newKey("acme")
	return b
}

// recordingMetrics is an api.Metrics that remembers its calls.
type recordingMetrics struct {
	mu        sync.Mutex
	requests  []string // "METHOD route status"
	published int
}

func (m *recordingMetrics) ObserveRequest(route, method string, status int, took time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests = append(m.requests, method+" "+route+" "+http.StatusText(status))
}

func (m *recordingMetrics) MessagePublished() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.published++
}

func (m *recordingMetrics) seen() ([]string, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.requests...), m.published
}

func TestMetricsObserveRequests(t *testing.T) {
	t.Parallel()
	rec := &recordingMetrics{}
	b := setupConfigured(t, func(c *api.Config) { c.Metrics = rec })
	app := b.createApp(map[string]any{"uid": "shop"})
	msg := map[string]any{"eventType": "order.paid", "payload": map[string]any{"n": 1}}
	idem := http.Header{"Idempotency-Key": {"k1"}}
	b.doWith(b.key, http.MethodPost, "/api/v1/app/shop/msg", msg, idem).must(t, http.StatusAccepted)
	// A replay answers 202 again but publishes nothing.
	r := b.doWith(b.key, http.MethodPost, "/api/v1/app/shop/msg/", msg, idem).must(t, http.StatusAccepted)
	if r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("second POST was not a replay: %v", r.header)
	}
	b.do(http.MethodPost, "/api/v1/app/shop/msg", map[string]any{"eventType": "order.paid", "payload": map[string]any{}}).must(t, http.StatusAccepted)
	b.do(http.MethodGet, "/api/v1/app/"+app.ID+"/msg", nil).must(t, http.StatusOK)
	b.do(http.MethodGet, "/api/v1/nothing/here/12345", nil).must(t, http.StatusNotFound)
	b.doWith("", http.MethodGet, "/api/v1/app", nil, nil).must(t, http.StatusUnauthorized)

	requests, published := rec.seen()
	if published != 2 {
		t.Errorf("MessagePublished called %d times, want 2 (the replay is not a new message)", published)
	}
	// Routes are patterns, never raw paths: ids do not make new series.
	want := []string{
		"POST /api/v1/app Created",
		"POST /api/v1/app/:app_id/msg Accepted",
		"POST /api/v1/app/:app_id/msg Accepted",
		"POST /api/v1/app/:app_id/msg Accepted",
		"GET /api/v1/app/:app_id/msg OK",
		"GET unmatched Not Found",
		"GET /api/v1/app Unauthorized",
	}
	if strings.Join(requests, "\n") != strings.Join(want, "\n") {
		t.Errorf("observed requests:\n%s\nwant:\n%s", strings.Join(requests, "\n"), strings.Join(want, "\n"))
	}
}

func TestMetricsRoute(t *testing.T) {
	t.Parallel()
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte("hookd_messages_published_total 0\n"))
	})

	t.Run("Open", func(t *testing.T) {
		t.Parallel()
		b := setupConfigured(t, func(c *api.Config) { c.MetricsHandler = handler })
		r := b.doWith("", http.MethodGet, "/metrics", nil, nil).must(t, http.StatusOK)
		if !bytes.Contains(r.body, []byte("hookd_messages_published_total")) {
			t.Errorf("body %s", r.body)
		}
	})

	t.Run("Token", func(t *testing.T) {
		t.Parallel()
		b := setupConfigured(t, func(c *api.Config) {
			c.MetricsHandler = handler
			c.MetricsToken = "scrape-token-0123456789"
		})
		mustError(t, b.doWith("", http.MethodGet, "/metrics", nil, nil), http.StatusUnauthorized, "unauthorized")
		// An API key is not the metrics token.
		mustError(t, b.doWith(b.key, http.MethodGet, "/metrics", nil, nil), http.StatusUnauthorized, "unauthorized")
		b.doWith("scrape-token-0123456789", http.MethodGet, "/metrics", nil, nil).must(t, http.StatusOK)
	})

	t.Run("None", func(t *testing.T) {
		t.Parallel()
		b := setupConfigured(t, func(*api.Config) {})
		mustError(t, b.doWith("", http.MethodGet, "/metrics", nil, nil), http.StatusNotFound, "not_found")
	})
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func TestRequestLogAndID(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	b := setupConfigured(t, func(c *api.Config) { c.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })
	b.createApp(map[string]any{"uid": "shop"})

	// Without an id of its own, a request gets a new one.
	r := b.do(http.MethodGet, "/api/v1/app/shop?limit=5&token=not-logged", nil).must(t, http.StatusOK)
	generated := r.header.Get("X-Request-Id")
	if generated == "" {
		t.Fatal("no X-Request-Id in the response")
	}
	// The Svix SDKs' svix-req-id is used, then X-Request-Id; an unusable
	// one is replaced.
	for _, tc := range []struct {
		header http.Header
		want   string
	}{
		{http.Header{"Svix-Req-Id": {"1234567"}}, "1234567"},
		{http.Header{"X-Request-Id": {"lb-abc-123"}}, "lb-abc-123"},
		{http.Header{"Svix-Req-Id": {"9"}, "X-Request-Id": {"lb-1"}}, "9"},
		{http.Header{"X-Request-Id": {"has space"}}, ""},
		{http.Header{"X-Request-Id": {strings.Repeat("x", 129)}}, ""},
	} {
		r := b.doWith(b.key, http.MethodGet, "/api/v1/app/shop", nil, tc.header).must(t, http.StatusOK)
		got := r.header.Get("X-Request-Id")
		if tc.want != "" && got != tc.want || tc.want == "" && (got == "" || got == tc.header.Get("X-Request-Id")) {
			t.Errorf("request with %v: X-Request-Id %q, want %q", tc.header, got, tc.want)
		}
	}

	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["request_id"] == generated {
			line = m
		}
	}
	if line == nil {
		t.Fatalf("no log line with request_id %s; logs:\n%s", generated, logs.String())
	}
	for k, want := range map[string]any{
		"msg": "request", "method": "GET", "route": "/api/v1/app/:app_id",
		"path": "/api/v1/app/shop", "status": float64(200),
	} {
		if line[k] != want {
			t.Errorf("log line %s = %v, want %v", k, line[k], want)
		}
	}
	if _, ok := line["duration"]; !ok {
		t.Errorf("log line has no duration: %v", line)
	}
	if all := logs.String(); strings.Contains(all, "not-logged") || strings.Contains(all, b.key) {
		t.Errorf("the query string or the API key was logged:\n%s", all)
	}
}
