package worker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/hookd/hookd/pkg/egress"
	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/retry"
	"github.com/hookd/hookd/pkg/signature"
	"github.com/hookd/hookd/pkg/webhook"
	"github.com/hookd/hookd/worker"
)

// testRedis is the Redis the tests share; each bundle has its own queue.
const testRedis = "redis://127.0.0.1:6379/0"

// bundle is a running worker on its own database and queue, with one app.
type bundle struct {
	t        *testing.T
	ctx      context.Context
	db       *postgres.DB
	store    webhook.DeliveryStore // what the deliverer uses; may wrap db
	enqueuer *worker.Enqueuer
	queue    string
	app      *webhook.Application
}

type bundleOptions struct {
	schedule  retry.Schedule
	allowed   []netip.Prefix // nil: 127.0.0.0/8 and ::1
	timeout   time.Duration
	wrapStore func(webhook.DeliveryStore) webhook.DeliveryStore
	noWorker  bool
	// workers is how many worker processes to run (0: 1), each with its
	// own throttle from newThrottle (nil: none).
	workers     int
	newThrottle func() *worker.Throttle
	concurrency int // per worker; 0: 20
	events      webhook.OperationalEmitter
}

func setup(t *testing.T, opt bundleOptions) *bundle {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	db := postgrestest.NewDBWith(t, postgres.Options{ReconcileGrace: 50 * time.Millisecond})
	redisOpt, err := worker.ParseRedisDSN(testRedis)
	if err != nil {
		t.Fatal(err)
	}
	queue := "test-" + randomHex()
	b := &bundle{t: t, ctx: ctx, db: db, store: db, queue: queue,
		enqueuer: worker.NewEnqueuer(redisOpt, queue, time.Second)}
	if opt.wrapStore != nil {
		b.store = opt.wrapStore(db)
	}
	if opt.schedule == nil {
		opt.schedule = retry.Schedule{10 * time.Millisecond, 10 * time.Millisecond}
	}
	if opt.allowed == nil {
		opt.allowed = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	if opt.timeout == 0 {
		opt.timeout = 5 * time.Second
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var wg sync.WaitGroup
	if opt.concurrency == 0 {
		opt.concurrency = 20
	}
	for i := 0; i < max(1, opt.workers) && !opt.noWorker; i++ {
		var throttle *worker.Throttle
		if opt.newThrottle != nil {
			throttle = opt.newThrottle()
		}
		w := worker.New(worker.Config{Redis: redisOpt, Queue: queue, Concurrency: opt.concurrency,
			ShutdownTimeout: 5 * time.Second, DelayedCheckInterval: 50 * time.Millisecond, Logger: logger})
		w.Mux().Handle(worker.TypeDeliveryAttempt, &worker.Deliverer{
			Store: b.store, Enqueuer: b.enqueuer, Schedule: opt.schedule,
			Headers: signature.WebhookHeaders, Logger: logger, Throttle: throttle, Events: opt.events,
			Client: egress.New(egress.Config{AllowedSubnets: opt.allowed, Timeout: opt.timeout}),
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(ctx); err != nil {
				t.Errorf("worker: %v", err)
			}
		}()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		insp := asynq.NewInspector(redisOpt)
		_ = insp.DeleteQueue(queue, true)
		_ = insp.DeleteQueue(worker.RetryQueue(queue), true)
		_ = insp.Close()
		_ = b.enqueuer.Close()
	})
	org, err := db.EnsureOrg(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	b.app = &webhook.Application{OrgID: org.ID, Name: "app"}
	if err := db.CreateApp(ctx, b.app); err != nil {
		t.Fatal(err)
	}
	return b
}

func randomHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// endpoint creates an endpoint of the bundle's app at url.
func (b *bundle) endpoint(url string, edit ...func(*webhook.Endpoint)) *webhook.Endpoint {
	b.t.Helper()
	secret, err := signature.GenerateSecret()
	if err != nil {
		b.t.Fatal(err)
	}
	ep := &webhook.Endpoint{OrgID: b.app.OrgID, AppID: b.app.ID, URL: url, Version: 1, Secret: secret.String()}
	for _, f := range edit {
		f(ep)
	}
	if err := b.db.CreateEndpoint(b.ctx, ep); err != nil {
		b.t.Fatal(err)
	}
	return ep
}

// publish stores a message and enqueues its deliveries, as the API does.
func (b *bundle) publish(eventType, payload string, edit ...func(*webhook.Message)) (*webhook.Message, []webhook.Delivery) {
	b.t.Helper()
	msg := &webhook.Message{
		OrgID: b.app.OrgID, AppID: b.app.ID, EventType: eventType,
		Payload: json.RawMessage(payload), RetentionDays: webhook.DefaultRetentionDays,
	}
	for _, f := range edit {
		f(msg)
	}
	deliveries, err := b.db.CreateMessage(b.ctx, msg, "")
	if err != nil {
		b.t.Fatal(err)
	}
	if err := b.enqueuer.Dispatch(b.ctx, msg, deliveries); err != nil {
		b.t.Fatal(err)
	}
	return msg, deliveries
}

// attempts returns the attempts of msg, oldest first.
func (b *bundle) attempts(msg *webhook.Message) []webhook.Attempt {
	b.t.Helper()
	page, err := b.db.ListAttempts(b.ctx, b.app, nil, msg, webhook.MessageFilter{},
		webhook.ListOptions{Limit: webhook.MaxLimit, Ascending: true})
	if err != nil {
		b.t.Fatal(err)
	}
	return page.Items
}

// delivery returns the current state of the delivery of msg to ep.
func (b *bundle) delivery(msg *webhook.Message, ep *webhook.Endpoint) webhook.Delivery {
	b.t.Helper()
	page, err := b.db.ListMessageEndpoints(b.ctx, msg, webhook.ListOptions{Limit: webhook.MaxLimit, Ascending: true})
	if err != nil {
		b.t.Fatal(err)
	}
	for _, me := range page.Items {
		if me.Delivery.EndpointID == ep.ID {
			return me.Delivery
		}
	}
	b.t.Fatalf("no delivery of %s to %s", msg.ID, ep.ID)
	return webhook.Delivery{}
}

// waitFor polls cond until it holds or the deadline passes.
func (b *bundle) waitFor(what string, cond func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitStatus waits until the delivery of msg to ep has status want.
func (b *bundle) waitStatus(msg *webhook.Message, ep *webhook.Endpoint, want webhook.MessageStatus) webhook.Delivery {
	b.t.Helper()
	var d webhook.Delivery
	b.waitFor("delivery status "+want.String(), func() bool {
		d = b.delivery(msg, ep)
		return d.Status == want
	})
	return d
}

// receiver is a local webhook receiver that records requests and answers
// with the status its respond function returns.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []received
	respond  func(n int, w http.ResponseWriter) // n counts from 1
}

type received struct {
	header http.Header
	body   []byte
	at     time.Time
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter)) *receiver {
	t.Helper()
	r := &receiver{respond: respond}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.requests = append(r.requests, received{header: req.Header.Clone(), body: body, at: time.Now()})
		n := len(r.requests)
		r.mu.Unlock()
		if r.respond == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		r.respond(n, w)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) got() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.requests...)
}

// status answers every request with code.
func status(code int) func(int, http.ResponseWriter) {
	return func(_ int, w http.ResponseWriter) { w.WriteHeader(code) }
}
