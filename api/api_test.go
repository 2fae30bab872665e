package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/api"
	"github.com/hookd/hookd/pkg/background"
	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/filter"
	"github.com/hookd/hookd/pkg/jsonschema"
	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/secretbox"
	"github.com/hookd/hookd/pkg/transform"
	"github.com/hookd/hookd/pkg/webhook"
)

// bundle is a running API on its own database with one organisation's key.
type bundle struct {
	t   *testing.T
	db  *postgres.DB
	dsn string // the test database, for inspecting what is stored
	url string
	key string // API key of organisation "acme"
	// dispatched records what the API queued (the queue is the boundary
	// here; delivery itself is tested in worker and cmd/hookd).
	dispatched *recordingQueue
}

// recordingQueue is a delivery.Queue that remembers what was queued: the
// deliveries whose scheduled attempt was queued (as stored when queued),
// and the deliveries of manual attempts.
type recordingQueue struct {
	db         *postgres.DB
	mu         sync.Mutex
	deliveries []webhook.Delivery
	resends    []string
	fail       error // returned by every call when set
}

func (r *recordingQueue) Enqueue(ctx context.Context, jobs ...delivery.Job) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, j := range jobs {
		if j.Ref.IsManual() {
			r.resends = append(r.resends, j.Ref.DeliveryID)
			continue
		}
		dj, err := r.db.LoadDelivery(ctx, j.Ref.DeliveryID)
		if err != nil {
			return err
		}
		r.deliveries = append(r.deliveries, dj.Delivery)
	}
	return r.fail
}

func (r *recordingQueue) dispatchedTo() []webhook.Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]webhook.Delivery(nil), r.deliveries...)
}

type setupOptions struct {
	box          *secretbox.Box
	maxBodyBytes int64
	httpsOnly    bool
	events       api.Emitter
	tracer       delivery.Tracer // the API's and its Publisher's
}

func setup(t *testing.T) *bundle {
	t.Helper()
	return setupWith(t, setupOptions{})
}

func setupWith(t *testing.T, opt setupOptions) *bundle {
	t.Helper()
	dsn := postgrestest.NewDSN(t)
	db, err := postgres.Open(context.Background(), dsn, postgres.Options{Box: opt.box, MaxOpenConns: 5})
	if err != nil {
		t.Fatalf("opening test database: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	dispatched := &recordingQueue{db: db}
	filters, err := filter.NewEnv(filter.Config{})
	if err != nil {
		t.Fatal(err)
	}
	schemas := jsonschema.New()
	srv := api.New(api.Config{
		Store:        db,
		Publisher:    &delivery.Publisher{Store: db, Queue: dispatched, Filters: filters, Schemas: schemas, Tracer: opt.tracer},
		Filters:      filters,
		Schemas:      schemas,
		Transforms:   transform.New(transform.Config{Timeout: time.Second}), // short scripts end within it on a loaded machine
		Replayer:     &delivery.Replayer{Store: db, Queue: dispatched},
		Checks:       []api.Checker{{Name: "postgres", Check: db.Ping}},
		Logger:       slog.New(slog.DiscardHandler), // one line per request is noise here
		MaxBodyBytes: opt.maxBodyBytes,
		HTTPSOnly:    opt.httpsOnly,
		Events:       opt.events,
		Tracer:       opt.tracer,
	})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	b := &bundle{t: t, db: db, dsn: dsn, url: ts.URL, dispatched: dispatched}
	b.key = b.newKey("acme")
	return b
}

// runTasks runs the background tasks the API created, as a worker would,
// until none is left to run; their deliveries go to b.dispatched.
func (b *bundle) runTasks() {
	b.t.Helper()
	p := &background.Processor{
		Store:  b.db,
		Logger: slog.New(slog.DiscardHandler),
		Runners: map[webhook.TaskKind]background.Runner{
			webhook.TaskEndpointRecover:    &background.Recover{Store: b.db, Queue: b.dispatched, BatchSize: 2},
			webhook.TaskEndpointBulkReplay: &background.Replay{Store: b.db, Queue: b.dispatched, BatchSize: 2},
			webhook.TaskEndpointReplay:     &background.Replay{Store: b.db, Queue: b.dispatched, BatchSize: 2, Missing: true},
			webhook.TaskEndpointCancel:     &background.Cancel{Store: b.db, Queue: b.dispatched, BatchSize: 2},
			webhook.TaskMessageBroadcast:   &background.Broadcast{Store: b.db, Publisher: &delivery.Publisher{Store: b.db, Queue: b.dispatched}, BatchSize: 2},
		},
	}
	for {
		ran, err := p.RunOnce(context.Background())
		if err != nil {
			b.t.Fatalf("running background tasks: %v", err)
		}
		if !ran {
			return
		}
	}
}

// newKey creates an API key of organisation org.
func (b *bundle) newKey(org string) string {
	b.t.Helper()
	ctx := context.Background()
	o, err := b.db.EnsureOrg(ctx, org)
	if err != nil {
		b.t.Fatal(err)
	}
	token, key := webhook.NewAPIKey(o.ID)
	if err := b.db.CreateKey(ctx, key); err != nil {
		b.t.Fatal(err)
	}
	return token
}

// response is a finished request.
type response struct {
	status int
	header http.Header
	body   []byte
}

// decode unmarshals the body into a fresh T.
func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return v
}

// client never follows redirects: every path must answer without one.
var client = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// do sends body (nil, a string/[]byte sent as is, an io.Reader streamed
// without Content-Length, or a value JSON-encoded) with b's key.
func (b *bundle) do(method, path string, body any) response {
	b.t.Helper()
	return b.doWith(b.key, method, path, body, nil)
}

func (b *bundle) doWith(key, method, path string, body any, header http.Header) response {
	b.t.Helper()
	r, err := b.send(key, method, path, body, header)
	if err != nil {
		b.t.Fatal(err)
	}
	return r
}

// send is doWith returning its error, for use off the test's goroutine.
func (b *bundle) send(key, method, path string, body any, header http.Header) (response, error) {
	var r io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		r = bytes.NewBufferString(v)
	case []byte:
		r = bytes.NewBuffer(v)
	case io.Reader:
		r = io.MultiReader(v) // hides the length: sent chunked
	default:
		raw, err := json.Marshal(v)
		if err != nil {
			return response{}, err
		}
		r = bytes.NewBuffer(raw)
	}
	req, err := http.NewRequest(method, b.url+path, r)
	if err != nil {
		return response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: res.StatusCode, header: res.Header, body: raw}, nil
}

// must fails the test unless r has the wanted status.
func (r response) must(t *testing.T, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.status, status, r.body)
	}
	return r
}

func TestHealth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.doWith("", http.MethodGet, "/api/v1/health", nil, nil).must(t, http.StatusNoContent)
	b.doWith("", http.MethodGet, "/api/v1/health/", nil, nil).must(t, http.StatusNoContent)
	b.doWith("", http.MethodHead, "/api/v1/health/ping", nil, nil).must(t, http.StatusNoContent)
}

func TestHealthUnavailable(t *testing.T) {
	t.Parallel()
	srv := api.New(api.Config{
		Checks: []api.Checker{{Name: "redis", Check: func(context.Context) error { return errors.New("connection refused") }}},
		Logger: slog.New(slog.DiscardHandler),
	})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	b := &bundle{t: t, url: ts.URL}
	for _, path := range []string{"/api/v1/health", "/api/v1/health/"} {
		mustError(t, b.doWith("", http.MethodGet, path, nil, nil), http.StatusServiceUnavailable, "unhealthy")
	}
	// The liveness ping does not depend on anything.
	b.doWith("", http.MethodGet, "/api/v1/health/ping", nil, nil).must(t, http.StatusNoContent)
}

func TestAuthRequired(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, key := range []string{"", "wrong-key-0123456789abcdefghij"} {
		r := b.doWith(key, http.MethodGet, "/api/v1/app", nil, nil).must(t, http.StatusUnauthorized)
		if e := decode[map[string]string](t, r); e["code"] != "unauthorized" || e["detail"] == "" {
			t.Fatalf("401 body = %s", r.body)
		}
	}
}
