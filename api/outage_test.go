package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/api"
	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
)

// PostgreSQL unreachable: every request that needs it answers 503 with
// Retry-After (it answered 500), the health route names postgres, and no
// message is acknowledged without being stored.
func TestPostgresOutageAnswers503(t *testing.T) {
	t.Parallel()
	dsn := postgrestest.NewDSN(t)
	proxy, viaProxy := postgrestest.NewProxy(t, dsn)
	db, err := postgres.Open(context.Background(), viaProxy, postgres.Options{MaxOpenConns: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	cfg, dispatched := serverConfig(db)
	cfg.IsUnavailable = postgres.IsUnavailable
	ts := httptest.NewServer(api.New(cfg))
	t.Cleanup(ts.Close)
	b := &bundle{t: t, db: db, dsn: dsn, url: ts.URL, dispatched: dispatched}
	b.key = b.newKey("acme")
	unused := b.newKey("acme") // never used: authenticating it needs Postgres
	b.createApp(map[string]any{"uid": "shop"})

	proxy.Cut()
	unavailable := func(r response) {
		t.Helper()
		mustError(t, r, http.StatusServiceUnavailable, "unavailable")
		if r.header.Get("Retry-After") == "" {
			t.Fatalf("503 without Retry-After: %s", r.body)
		}
	}
	publish := `{"eventType":"order.paid","payload":{"n":1}}`
	unavailable(b.do(http.MethodPost, "/api/v1/app/shop/msg", publish))
	unavailable(b.doWith(b.key, http.MethodPost, "/api/v1/app/shop/msg", publish, http.Header{"Idempotency-Key": {"k1"}}))
	unavailable(b.do(http.MethodGet, "/api/v1/app/shop", nil))
	unavailable(b.do(http.MethodPost, "/api/v1/app", map[string]any{"name": "x"}))
	unavailable(b.doWith(unused, http.MethodGet, "/api/v1/app", nil, nil)) // not a 401: the key may be fine

	r := b.doWith("", http.MethodGet, "/api/v1/health", nil, nil)
	mustError(t, r, http.StatusServiceUnavailable, "unhealthy")
	var health struct{ Unavailable []string }
	if err := json.Unmarshal(r.body, &health); err != nil || !slices.Equal(health.Unavailable, []string{"postgres"}) ||
		r.header.Get("Retry-After") == "" {
		t.Fatalf("health during the outage = %s (Retry-After %q), want postgres named", r.body, r.header.Get("Retry-After"))
	}

	// Back up: nothing was stored or queued during the outage, and the
	// same requests work again (the idempotency key too).
	proxy.Restore()
	deadline := time.Now().Add(10 * time.Second)
	for b.do(http.MethodGet, "/api/v1/app/shop", nil).status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("the API did not recover within 10 s of PostgreSQL")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if l := b.listMessages("shop", nil); len(l.Data) != 0 || len(dispatched.dispatchedTo()) != 0 {
		t.Fatalf("%d messages stored and %d queued during the outage, want none", len(l.Data), len(dispatched.dispatchedTo()))
	}
	b.doWith(b.key, http.MethodPost, "/api/v1/app/shop/msg", publish, http.Header{"Idempotency-Key": {"k1"}}).must(t, http.StatusAccepted)
	b.doWith(unused, http.MethodGet, "/api/v1/app", nil, nil).must(t, http.StatusOK)
	b.doWith("", http.MethodGet, "/api/v1/health", nil, nil).must(t, http.StatusNoContent)
}

// serverConfig is the API's configuration on db for tests that build their
// own server, with a dispatcher recording what is queued and a check of db.
func serverConfig(db *postgres.DB) (api.Config, *recordingQueue) {
	dispatched := &recordingQueue{db: db}
	return api.Config{
		Store:     db,
		Publisher: &delivery.Publisher{Store: db, Queue: dispatched},
		Replayer:  &delivery.Replayer{Store: db, Queue: dispatched},
		Checks:    []api.Checker{{Name: "postgres", Check: db.Ping}},
		Logger:    slog.New(slog.DiscardHandler),
	}, dispatched
}
