package delivery_test

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/delivery/memqueue"
	"github.com/hookd/hookd/pkg/egress"
	"github.com/hookd/hookd/pkg/filter"
	"github.com/hookd/hookd/pkg/jsonschema"
	"github.com/hookd/hookd/pkg/oauth"
	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/retry"
	"github.com/hookd/hookd/pkg/signature"
	"github.com/hookd/hookd/pkg/transform"
	"github.com/hookd/hookd/pkg/webhook"
)

// bundle is an Attempter working through an in-memory queue on its own
// database, with one app.
type bundle struct {
	t         *testing.T
	ctx       context.Context
	db        *postgres.DB
	queue     *memqueue.Queue
	publisher *delivery.Publisher
	replayer  *delivery.Replayer
	attempter *delivery.Attempter
	app       *webhook.Application
}

type bundleOptions struct {
	schedule  retry.Schedule
	allowed   []netip.Prefix // nil: 127.0.0.0/8 and ::1
	timeout   time.Duration
	wrapStore func(delivery.AttemptStore) delivery.AttemptStore
	// noWorker leaves the queue unserved: tests run jobs themselves.
	noWorker bool
	throttle *delivery.Throttle
	workers  int // goroutines serving the queue; 0: 20
	// endpointTTL is the Attempter's EndpointTTL: tests that change an
	// endpoint between messages make it tiny.
	endpointTTL time.Duration
	events      webhook.OperationalEmitter
	// transformTimeout is the transformations' timeout; 0: 1 s, which a
	// script that ends finishes within on a loaded machine.
	transformTimeout time.Duration
	// scheduleTTL is the Attempter's ScheduleTTL.
	scheduleTTL time.Duration
	// tracer is the Publisher's and the Attempter's; nil: no tracing.
	tracer delivery.Tracer
}

func setup(t *testing.T, opt bundleOptions) *bundle {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	db := postgrestest.NewDBWith(t, postgres.Options{ReconcileGrace: 50 * time.Millisecond})
	b := &bundle{t: t, ctx: ctx, db: db, queue: memqueue.New()}
	var store delivery.AttemptStore = db
	if opt.wrapStore != nil {
		store = opt.wrapStore(db)
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
	if opt.transformTimeout == 0 {
		opt.transformTimeout = time.Second
	}
	env, err := filter.NewEnv(filter.Config{})
	if err != nil {
		t.Fatal(err)
	}
	b.publisher = &delivery.Publisher{Store: db, Queue: b.queue, Filters: env, Schemas: jsonschema.New(), Tracer: opt.tracer}
	b.replayer = &delivery.Replayer{Store: db, Queue: b.queue}
	client := egress.New(egress.Config{AllowedSubnets: opt.allowed, Timeout: opt.timeout})
	b.attempter = &delivery.Attempter{
		Store: store, Queue: b.queue, Schedule: opt.schedule, Headers: signature.WebhookHeaders,
		Throttle: opt.throttle, Events: opt.events, Send: client, EndpointTTL: opt.endpointTTL, ScheduleTTL: opt.scheduleTTL,
		Tracer:    opt.tracer,
		Transform: testTransformer{transform.New(transform.Config{Timeout: opt.transformTimeout, PoolSize: 4})},
		OAuth: oauth.NewEndpoints(client, oauth.PoolConfig{OnRefreshToken: func(id, old, new string) {
			if _, err := db.SaveRefreshToken(context.Background(), id, old, new); err != nil {
				t.Errorf("saving a rotated refresh token: %v", err)
			}
		}}),
	}
	var wg sync.WaitGroup
	if !opt.noWorker {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.queue.Run(ctx, b.attempter, cmp.Or(opt.workers, 20))
		}()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
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

// publish publishes a message, as the API does.
func (b *bundle) publish(eventType, payload string, edit ...func(*webhook.Message)) (*webhook.Message, []webhook.Delivery) {
	b.t.Helper()
	msg := &webhook.Message{
		OrgID: b.app.OrgID, AppID: b.app.ID, EventType: eventType,
		Payload: json.RawMessage(payload), RetentionDays: webhook.DefaultRetentionDays,
	}
	for _, f := range edit {
		f(msg)
	}
	deliveries, err := b.publisher.Publish(b.ctx, msg, "")
	if err != nil {
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
	method string
	url    string // the request URI: path and query
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
		r.requests = append(r.requests, received{method: req.Method, url: req.URL.RequestURI(), header: req.Header.Clone(), body: body, at: time.Now()})
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
