package worker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/hookd/hookd/internal/redistest"
	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/egress"
	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/retry"
	"github.com/hookd/hookd/pkg/signature"
	"github.com/hookd/hookd/pkg/webhook"
	"github.com/hookd/hookd/worker"
)

// bundle is hookd's delivery on asynq: workers serving their own queue on
// the test Redis, attempters on their own database, and one app.
type bundle struct {
	t         *testing.T
	ctx       context.Context
	db        *postgres.DB
	redis     asynq.RedisConnOpt
	queues    worker.Queues
	enqueuer  *worker.Enqueuer
	publisher *delivery.Publisher
	app       *webhook.Application
}

type bundleOptions struct {
	// workers is how many worker processes to run (0: 1), each with its
	// own Throttle from newThrottle (nil: none).
	workers     int
	newThrottle func() *delivery.Throttle
	wrapStore   func(delivery.AttemptStore) delivery.AttemptStore
	// shards is HOOKD_QUEUE_SHARDS (0: 1).
	shards int
	// recordTimeout is the Attempter's RecordTimeout (0: a minute).
	recordTimeout time.Duration
}

func setup(t *testing.T, opt bundleOptions) *bundle {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	db := postgrestest.NewDBWith(t, postgres.Options{ReconcileGrace: 50 * time.Millisecond})
	redisOpt, err := worker.ParseRedisDSN(redistest.DSN())
	if err != nil {
		t.Fatal(err)
	}
	queues := worker.NewQueues("test-"+randomHex(), opt.shards)
	b := &bundle{t: t, ctx: ctx, db: db, redis: redisOpt, queues: queues,
		enqueuer: worker.NewEnqueuer(redisOpt, queues, worker.HandlerTimeout(5*time.Second, time.Minute))}
	b.publisher = &delivery.Publisher{Store: db, Queue: b.enqueuer}
	var store delivery.AttemptStore = db
	if opt.wrapStore != nil {
		store = opt.wrapStore(db)
	}
	var wg sync.WaitGroup
	for range max(1, opt.workers) {
		var throttle *delivery.Throttle
		if opt.newThrottle != nil {
			throttle = opt.newThrottle()
		}
		recordTimeout := opt.recordTimeout
		if recordTimeout == 0 {
			recordTimeout = time.Minute
		}
		w := worker.New(worker.Config{Redis: redisOpt, Queues: queues, Concurrency: 20,
			ShutdownTimeout: 5 * time.Second, DelayedCheckInterval: 50 * time.Millisecond})
		w.Mux().Handle(worker.TypeDeliveryAttempt, &worker.Handler{Attempter: &delivery.Attempter{
			Store: store, Queue: b.enqueuer, Schedule: retry.Schedule{10 * time.Millisecond, 10 * time.Millisecond},
			Headers: signature.WebhookHeaders, Throttle: throttle, RecordTimeout: recordTimeout,
			Send: egress.New(egress.Config{AllowedSubnets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Timeout: 5 * time.Second}),
		}})
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
		for _, q := range queues.All() {
			_ = insp.DeleteQueue(q, true)
		}
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

// publish publishes a message through the asynq queue, as the API does.
func (b *bundle) publish(payload string) *webhook.Message {
	b.t.Helper()
	msg := &webhook.Message{OrgID: b.app.OrgID, AppID: b.app.ID, EventType: "user.signup",
		Payload: json.RawMessage(payload), RetentionDays: webhook.DefaultRetentionDays}
	if _, err := b.publisher.Publish(b.ctx, msg, ""); err != nil {
		b.t.Fatal(err)
	}
	return msg
}

// waitStatus waits until the delivery of msg to ep has status want and
// returns its attempts.
func (b *bundle) waitStatus(msg *webhook.Message, ep *webhook.Endpoint, want webhook.MessageStatus) []webhook.Attempt {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		page, err := b.db.ListMessageEndpoints(b.ctx, msg, webhook.ListOptions{Limit: 50})
		if err != nil {
			b.t.Fatal(err)
		}
		for _, me := range page.Items {
			if me.Delivery.EndpointID == ep.ID && me.Delivery.Status == want {
				attempts, err := b.db.ListAttempts(b.ctx, b.app, nil, msg, webhook.MessageFilter{},
					webhook.ListOptions{Limit: webhook.MaxLimit, Ascending: true})
				if err != nil {
					b.t.Fatal(err)
				}
				return attempts.Items
			}
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out waiting for delivery status %s", want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// receiver records the time of each request and answers with respond's
// status (n counts from 1).
type receiver struct {
	*httptest.Server
	mu  sync.Mutex
	at  []time.Time
	ids []string
}

func newReceiver(t *testing.T, respond func(n int) int) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.ReadAll(req.Body)
		r.mu.Lock()
		r.at = append(r.at, time.Now())
		r.ids = append(r.ids, req.Header.Get("webhook-id"))
		n := len(r.at)
		r.mu.Unlock()
		w.WriteHeader(respond(n))
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) times() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.at...)
}

// Through asynq: the first attempt on the fresh queue of the endpoint's
// shard, retries on that shard's retry queue, each recorded once.
func TestDeliveryThroughAsynq(t *testing.T) {
	t.Parallel()
	for _, shards := range []int{1, 3} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			t.Parallel()
			b := setup(t, bundleOptions{shards: shards})
			rcv := newReceiver(t, func(n int) int {
				if n <= 2 {
					return http.StatusInternalServerError
				}
				return http.StatusOK
			})
			ep := b.endpoint(rcv.URL)
			msg := b.publish(`{"a":1}`)
			attempts := b.waitStatus(msg, ep, webhook.StatusSuccess)
			if len(attempts) != 3 || len(rcv.times()) != 3 {
				t.Fatalf("%d attempts, %d requests; want 3 and 3", len(attempts), len(rcv.times()))
			}
			// One shard did all the work: one first attempt, two retries.
			var busy []string
			for i := range b.queues.Len() {
				fresh, retries := b.queues.Shard(i)
				nf, nr := b.processed(fresh), b.processed(retries)
				if nf+nr == 0 {
					continue
				}
				busy = append(busy, fresh)
				if nf != 1 || nr != 2 {
					t.Errorf("shard %s processed %d first attempts and %d retries, want 1 and 2", fresh, nf, nr)
				}
			}
			if len(busy) != 1 {
				t.Errorf("shards that worked: %v, want one", busy)
			}
		})
	}
}

// Endpoints spread over the shards, and every shard is served.
func TestShardsSpreadEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{shards: 4})
	rcv := newReceiver(t, func(int) int { return http.StatusOK })
	var eps []*webhook.Endpoint
	for range 16 {
		eps = append(eps, b.endpoint(rcv.URL))
	}
	msg := b.publish(`{}`)
	for _, ep := range eps {
		b.waitStatus(msg, ep, webhook.StatusSuccess)
	}
	total, used := 0, 0
	for i := range b.queues.Len() {
		fresh, _ := b.queues.Shard(i)
		n := b.processed(fresh)
		total += n
		if n > 0 {
			used++
		}
	}
	if total != len(eps) || used < 3 {
		t.Fatalf("%d first attempts over %d of 4 shards; want %d over at least 3", total, used, len(eps))
	}
}

// Tasks queued under another number of shards are served by a worker that
// drains the leftovers it finds at start.
func TestLeftoverShardsAreDrained(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{shards: 3})
	fresh, _ := b.queues.Shard(0)
	six := worker.NewQueues(fresh, 6)
	enq6 := worker.NewEnqueuer(b.redis, six, worker.HandlerTimeout(5*time.Second, time.Minute))
	t.Cleanup(func() {
		insp := asynq.NewInspector(b.redis)
		for _, q := range six.All() {
			_ = insp.DeleteQueue(q, true)
		}
		_ = insp.Close()
		_ = enq6.Close()
	})
	rcv := newReceiver(t, func(int) int { return http.StatusOK })
	var eps []*webhook.Endpoint
	for range 12 {
		eps = append(eps, b.endpoint(rcv.URL))
	}
	// Published by an API with six shards: the running workers (three
	// shards) serve shard 0 only.
	msg := &webhook.Message{OrgID: b.app.OrgID, AppID: b.app.ID, EventType: "a", Payload: json.RawMessage(`{}`),
		RetentionDays: webhook.DefaultRetentionDays}
	if _, err := (&delivery.Publisher{Store: b.db, Queue: enq6}).Publish(b.ctx, msg, ""); err != nil {
		t.Fatal(err)
	}
	rdb := worker.NewRedisClient(b.redis)
	t.Cleanup(func() { _ = rdb.Close() })
	drain, err := worker.LeftoverQueues(rdb, b.queues)
	if err != nil {
		t.Fatal(err)
	}
	if len(drain) == 0 {
		t.Fatal("no leftover queue holds tasks; the test's endpoints all hashed to shard 0")
	}
	for _, q := range drain {
		if slices.Contains(b.queues.All(), q) {
			t.Fatalf("leftover %s is one of the current shards", q)
		}
	}
	w := worker.New(worker.Config{Redis: b.redis, Queues: b.queues, Drain: drain, Concurrency: 10,
		ShutdownTimeout: 5 * time.Second, DelayedCheckInterval: 50 * time.Millisecond})
	w.Mux().Handle(worker.TypeDeliveryAttempt, &worker.Handler{Attempter: &delivery.Attempter{
		Store: b.db, Queue: b.enqueuer, Headers: signature.WebhookHeaders, RecordTimeout: time.Minute,
		Send: egress.New(egress.Config{AllowedSubnets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Timeout: 5 * time.Second}),
	}})
	ctx, cancel := context.WithCancel(b.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = w.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	for _, ep := range eps {
		b.waitStatus(msg, ep, webhook.StatusSuccess)
	}
}

// processed returns how many tasks queue has processed ("" queues never
// used count 0).
func (b *bundle) processed(queue string) int {
	b.t.Helper()
	insp := asynq.NewInspector(b.redis)
	defer insp.Close()
	info, err := insp.GetQueueInfo(queue)
	if err != nil {
		return 0
	}
	return info.ProcessedTotal
}

// failingLoads fails LoadDelivery a number of times, as a database outage
// before the request would.
type failingLoads struct {
	delivery.AttemptStore
	failures atomic.Int32
}

func (f *failingLoads) LoadDelivery(ctx context.Context, id string) (*webhook.DeliveryJob, error) {
	if f.failures.Add(-1) >= 0 {
		return nil, errors.New("injected: database unavailable")
	}
	return f.AttemptStore.LoadDelivery(ctx, id)
}

// An infrastructure error goes back to asynq, which runs the task again:
// no attempt of the schedule is used.
func TestInfrastructureErrorIsRetriedByAsynq(t *testing.T) {
	t.Parallel()
	flaky := &failingLoads{}
	flaky.failures.Store(2)
	b := setup(t, bundleOptions{wrapStore: func(s delivery.AttemptStore) delivery.AttemptStore {
		flaky.AttemptStore = s
		return flaky
	}})
	rcv := newReceiver(t, func(int) int { return http.StatusOK })
	ep := b.endpoint(rcv.URL)
	// A payload over the inline limit makes the first attempt load the delivery.
	big := `{"pad":"` + strings.Repeat("x", delivery.MaxInlinePayload) + `"}`
	msg := b.publish(big)
	attempts := b.waitStatus(msg, ep, webhook.StatusSuccess)
	if len(attempts) != 1 || len(rcv.times()) != 1 || flaky.failures.Load() >= 0 {
		t.Fatalf("%d attempts, %d requests, %d failures left; want 1, 1 and none",
			len(attempts), len(rcv.times()), max(0, flaky.failures.Load()))
	}
}

// lostCommits records the first attempt but answers with an error, as a
// connection lost after the commit would, and fails every record for the
// next three seconds, so that the Attempter gives up (after its
// RecordTimeout) and asynq runs the task again.
type lostCommits struct {
	delivery.AttemptStore
	mu    sync.Mutex
	first time.Time
}

func (l *lostCommits) RecordAttempt(ctx context.Context, rec *webhook.AttemptRecord) (bool, error) {
	l.mu.Lock()
	first := l.first
	if first.IsZero() {
		l.first = time.Now()
	}
	l.mu.Unlock()
	switch {
	case first.IsZero():
		if _, err := l.AttemptStore.RecordAttempt(ctx, rec); err != nil {
			return false, err
		}
		return false, errors.New("injected: connection lost after the commit")
	case time.Since(first) < 3*time.Second:
		return false, errors.New("injected: database unavailable")
	}
	return l.AttemptStore.RecordAttempt(ctx, rec)
}

// A first attempt whose task runs again after its outcome was recorded
// (the worker gave up waiting for the store) reads the delivery afresh and
// does not send the request again.
func TestRetriedTaskReadsTheDeliveryAfresh(t *testing.T) {
	t.Parallel()
	store := &lostCommits{}
	b := setup(t, bundleOptions{recordTimeout: time.Second, wrapStore: func(s delivery.AttemptStore) delivery.AttemptStore {
		store.AttemptStore = s
		return store
	}})
	rcv := newReceiver(t, func(int) int { return http.StatusOK })
	ep := b.endpoint(rcv.URL)
	msg := b.publish(`{"a":1}`)
	b.waitStatus(msg, ep, webhook.StatusSuccess)
	// The task failed once (the lost commit) and ran again.
	fresh, _ := b.queues.Shard(0)
	deadline := time.Now().Add(10 * time.Second)
	for b.processed(fresh) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the task ran %d times, want 2", b.processed(fresh))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(rcv.times()); n != 1 {
		t.Fatalf("the receiver got %d requests, want 1", n)
	}
}

func TestAttemptTaskRoundTrip(t *testing.T) {
	eventID := "evt-1"
	for _, job := range []delivery.Job{
		{Ref: delivery.Ref{DeliveryID: "dlv_1", Round: 2, Number: 3}},
		{Ref: delivery.Ref{DeliveryID: "dlv_1", Manual: "m1"}},
		{Ref: delivery.Ref{DeliveryID: "dlv_1", Number: 1}, Fresh: &delivery.Fresh{
			OrgID: "org_1", AppID: "app_1", MessageID: "msg_1", EndpointID: "ep_1", EventType: "a.b",
			EventID: &eventID, Payload: json.RawMessage(`{"a":1}`),
		}},
		// With the message's trace context (tracing on).
		{Ref: delivery.Ref{DeliveryID: "dlv_1", Number: 1}, Fresh: &delivery.Fresh{
			OrgID: "org_1", AppID: "app_1", MessageID: "msg_1", EndpointID: "ep_1", EventType: "a.b",
			Payload: json.RawMessage(`{"a":1}`), Trace: webhook.TraceContext{
				Parent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", State: "congo=t61rcWkgMzE",
			},
		}},
		// With the time its round began (to the millisecond).
		{Ref: delivery.Ref{DeliveryID: "dlv_1", Number: 1}, Fresh: &delivery.Fresh{
			OrgID: "org_1", AppID: "app_1", MessageID: "msg_1", EndpointID: "ep_1", EventType: "a.b",
			Payload: json.RawMessage(`{"a":1}`), Due: time.UnixMilli(1796000000123),
		}},
	} {
		task, err := worker.NewAttemptTask(job, "q", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		got, err := worker.DecodeAttemptTask(task)
		if err != nil {
			t.Fatal(err)
		}
		gotJSON, _ := json.Marshal(got)
		wantJSON, _ := json.Marshal(job)
		if string(gotJSON) != string(wantJSON) {
			t.Errorf("round trip: %s, want %s", gotJSON, wantJSON)
		}
	}
	// A task queued by an earlier version (no eventId) still decodes.
	old := asynq.NewTask(worker.TypeDeliveryAttempt, []byte(`{"d":"dlv_1","r":0,"n":1,"f":{"o":"org_1","a":"app_1","m":"msg_1","e":"ep_1","t":"a","p":{}}}`))
	if job, err := worker.DecodeAttemptTask(old); err != nil || job.Fresh == nil || job.Fresh.MessageID != "msg_1" || !job.Fresh.Trace.IsZero() || !job.Fresh.Due.IsZero() {
		t.Fatalf("old task = %+v, %v", job, err)
	}
	// An undecodable one is dropped, not retried.
	h := &worker.Handler{}
	if err := h.ProcessTask(context.Background(), asynq.NewTask(worker.TypeDeliveryAttempt, []byte("{"))); !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("undecodable payload: err = %v, want SkipRetry", err)
	}
}

// A task asynq archived (too many infrastructure errors) is replaced when
// the attempt is queued again; one still queued is left alone.
func TestEnqueueReplacesArchivedTask(t *testing.T) {
	t.Parallel()
	redisOpt, err := worker.ParseRedisDSN(redistest.DSN())
	if err != nil {
		t.Fatal(err)
	}
	queue := "test-" + randomHex()
	enq := worker.NewEnqueuer(redisOpt, worker.NewQueues(queue, 1), time.Minute)
	insp := asynq.NewInspector(redisOpt)
	t.Cleanup(func() {
		_ = insp.DeleteQueue(queue, true)
		_ = insp.Close()
		_ = enq.Close()
	})
	job := delivery.Job{Ref: delivery.Ref{DeliveryID: "dlv_1", Number: 1}, At: time.Now().Add(time.Hour)}
	for range 2 {
		if err := enq.Enqueue(context.Background(), job); err != nil {
			t.Fatal(err)
		}
	}
	if info, err := insp.GetTaskInfo(queue, job.Ref.ID()); err != nil || info.State != asynq.TaskStateScheduled {
		t.Fatalf("task = %+v, %v; want one scheduled", info, err)
	}
	if err := insp.ArchiveTask(queue, job.Ref.ID()); err != nil {
		t.Fatal(err)
	}
	job.At = time.Time{}
	if err := enq.Enqueue(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	if info, err := insp.GetTaskInfo(queue, job.Ref.ID()); err != nil || info.State != asynq.TaskStatePending {
		t.Fatalf("task after re-enqueue = %+v, %v; want pending", info, err)
	}
}

// The rate limit holds across worker processes sharing Redis, and a
// throttled attempt goes back to the queue without counting.
func TestRateLimitAcrossWorkers(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	b := setup(t, bundleOptions{workers: 2, newThrottle: func() *delivery.Throttle {
		return &delivery.Throttle{Limiter: worker.NewRedisRateLimiter(rdb)}
	}})
	rcv := newReceiver(t, func(int) int { return http.StatusNoContent })
	rate := 5
	ep := b.endpoint(rcv.URL, func(e *webhook.Endpoint) { e.ThrottleRate = &rate })
	const n = 20
	var msgs []*webhook.Message
	for range n {
		msgs = append(msgs, b.publish(`{}`))
	}
	for _, m := range msgs {
		if a := b.waitStatus(m, ep, webhook.StatusSuccess); len(a) != 1 {
			t.Fatalf("%d attempts of one message, want 1: throttling is not an attempt", len(a))
		}
	}
	got := rcv.times()
	span := got[len(got)-1].Sub(got[0])
	perSecond := float64(len(got)-1) / span.Seconds()
	t.Logf("rateLimit 5 with 2 workers: %d requests in %v = %.1f/s", len(got), span.Round(time.Millisecond), perSecond)
	if len(got) != n || perSecond > 6.5 || perSecond < 3 {
		t.Fatalf("%d requests at %.1f/s, want %d at about 5/s", len(got), perSecond, n)
	}
	// No one-second window holds more than the rate plus the burst allowance.
	for i := range got {
		in := 0
		for j := i; j < len(got) && got[j].Sub(got[i]) < time.Second; j++ {
			in++
		}
		if in > rate+1 {
			t.Fatalf("%d requests within one second from request %d", in, i)
		}
	}
}
