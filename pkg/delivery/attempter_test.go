package delivery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/retry"
	"github.com/hookd/hookd/pkg/webhook"
)

// verifyBoth checks one request against every secret with the Standard
// Webhooks and the Svix reference verifiers.
func verifyBoth(t *testing.T, r received, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		std, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := std.Verify(r.body, r.header); err != nil {
			t.Errorf("standard-webhooks verify with %s…: %v", s[:10], err)
		}
		sv, err := svix.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := sv.Verify(r.body, r.header); err != nil {
			t.Errorf("svix verify with %s…: %v", s[:10], err)
		}
	}
}

func TestDeliverySignedAsPublished(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{})
	rcv := newReceiver(t, nil)
	ep := b.endpoint(rcv.URL+"/hook?x=1", func(e *webhook.Endpoint) {
		e.Headers = map[string]string{"X-Custom": "yes"}
	})
	const payload = `{"z":1,"a":{"b":[1,2,"\u003c"]},"m":"ü"}`
	msg, _ := b.publish("user.signup", payload)
	b.waitStatus(msg, ep, webhook.StatusSuccess)

	got := rcv.got()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(got))
	}
	r := got[0]
	if string(r.body) != payload {
		t.Errorf("body = %s, want the payload's bytes %s", r.body, payload)
	}
	if id := r.header.Get("webhook-id"); id != msg.ID {
		t.Errorf("webhook-id = %q, want %q", id, msg.ID)
	}
	for name, want := range map[string]string{"Content-Type": "application/json", "X-Custom": "yes"} {
		if v := r.header.Get(name); v != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
	if ua := r.header.Get("User-Agent"); !strings.HasPrefix(ua, "hookd") {
		t.Errorf("User-Agent = %q, want hookd…", ua)
	}
	verifyBoth(t, r, ep.Secret)

	attempts := b.attempts(msg)
	if len(attempts) != 1 || attempts[0].StatusCode != http.StatusNoContent || attempts[0].Status != webhook.StatusSuccess ||
		attempts[0].TriggerType != webhook.TriggerScheduled || attempts[0].URL != ep.URL {
		t.Fatalf("attempts = %+v", attempts)
	}
}

func TestDeliveryRotatedSecretsBothSign(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{})
	rcv := newReceiver(t, nil)
	ep := b.endpoint(rcv.URL)
	old := ep.Secret
	rotate := func(ep *webhook.Endpoint) error {
		return ep.RotateSecret("whsec_"+strings.Repeat("QUJD", 8), time.Hour, time.Now())
	}
	if err := b.db.UpdateEndpoint(b.ctx, ep, rotate); err != nil {
		t.Fatal(err)
	}
	msg, _ := b.publish("user.signup", `{"a":1}`)
	b.waitStatus(msg, ep, webhook.StatusSuccess)
	r := rcv.got()[0]
	if sigs := strings.Fields(r.header.Get("webhook-signature")); len(sigs) != 2 {
		t.Fatalf("webhook-signature = %q, want two signatures", r.header.Get("webhook-signature"))
	}
	verifyBoth(t, r, old, ep.Secret)
}

func TestDeliveryRetriesUntilSuccess(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{})
	rcv := newReceiver(t, func(n int, w http.ResponseWriter) {
		if n <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("boom"))
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	ep := b.endpoint(rcv.URL)
	msg, _ := b.publish("user.signup", `{"a":1}`)
	d := b.waitStatus(msg, ep, webhook.StatusSuccess)
	if d.NextAttemptAt != nil {
		t.Errorf("succeeded delivery still has a next attempt at %v", d.NextAttemptAt)
	}
	attempts := b.attempts(msg)
	if len(attempts) != 3 {
		t.Fatalf("%d attempts, want 3", len(attempts))
	}
	for i, want := range []int{500, 500, 200} {
		if attempts[i].StatusCode != want {
			t.Errorf("attempt %d status code = %d, want %d", i+1, attempts[i].StatusCode, want)
		}
	}
	if attempts[0].Response != "boom" {
		t.Errorf("recorded response = %q, want boom", attempts[0].Response)
	}
	got := rcv.got()
	for _, r := range got {
		if r.header.Get("webhook-id") != msg.ID {
			t.Errorf("webhook-id changed across retries: %q", r.header.Get("webhook-id"))
		}
	}
}

func TestDeliveryDeadLetterThenResendAndRecover(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{})
	var healthy atomic.Bool
	rcv := newReceiver(t, func(_ int, w http.ResponseWriter) {
		if healthy.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	ep := b.endpoint(rcv.URL)
	msg1, _ := b.publish("user.signup", `{"n":1}`)
	msg2, _ := b.publish("user.signup", `{"n":2}`)
	b.waitStatus(msg1, ep, webhook.StatusFail)
	b.waitStatus(msg2, ep, webhook.StatusFail)
	// The schedule has 2 delays: 3 attempts, then the dead letter.
	if n := len(b.attempts(msg1)); n != 3 {
		t.Fatalf("%d attempts before failing, want 3", n)
	}
	healthy.Store(true)

	// Resend: one manual attempt.
	if err := b.replayer.Resend(b.ctx, msg1, ep); err != nil {
		t.Fatal(err)
	}
	b.waitStatus(msg1, ep, webhook.StatusSuccess)
	attempts := b.attempts(msg1)
	if last := attempts[len(attempts)-1]; len(attempts) != 4 || last.TriggerType != webhook.TriggerManual || last.StatusCode != 200 {
		t.Fatalf("after resend: %d attempts, last %+v", len(attempts), last)
	}

	// Recover: every failed delivery since a time starts its schedule anew.
	recovered, err := b.db.RecoverDeliveries(b.ctx, ep.ID, time.Now().Add(-time.Hour), time.Now(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(recovered) != 1 || recovered[0].MessageID != msg2.ID {
		t.Fatalf("recovered %+v, want only the delivery of %s", recovered, msg2.ID)
	}
	if err := b.queue.Enqueue(b.ctx, delivery.JobsFor(nil, recovered)...); err != nil {
		t.Fatal(err)
	}
	b.waitStatus(msg2, ep, webhook.StatusSuccess)
	if n := len(b.attempts(msg2)); n != 4 {
		t.Fatalf("%d attempts of the recovered message, want 4", n)
	}
}

func TestDeliveryRedirectIsAFailure(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{})
	target := newReceiver(t, nil)
	redirect := newReceiver(t, func(_ int, w http.ResponseWriter) {
		w.Header().Set("Location", target.URL)
		w.WriteHeader(http.StatusFound)
	})
	ep := b.endpoint(redirect.URL)
	msg, _ := b.publish("user.signup", `{"a":1}`)
	b.waitStatus(msg, ep, webhook.StatusFail)
	if n := len(target.got()); n != 0 {
		t.Fatalf("redirect target got %d requests", n)
	}
	for _, a := range b.attempts(msg) {
		if a.StatusCode != http.StatusFound || a.Status != webhook.StatusFail {
			t.Fatalf("attempt %+v, want a failed 302", a)
		}
	}
}

func TestDeliveryRefusedByEgressGuard(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{allowed: []netip.Prefix{}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	ep := b.endpoint("http://" + ln.Addr().String() + "/hook")
	msg, _ := b.publish("user.signup", `{"a":1}`)
	b.waitStatus(msg, ep, webhook.StatusFail)
	attempts := b.attempts(msg)
	if attempts[0].Response != "blocked: address 127.0.0.1 is not allowed: loopback address" || attempts[0].StatusCode != 0 {
		t.Fatalf("attempt response = %q (code %d), want the guard's refusal", attempts[0].Response, attempts[0].StatusCode)
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("listener accepted %d connections", n)
	}
}

func TestDeliveryFilteredByTypeAndChannel(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{noWorker: true})
	if err := b.db.CreateEventType(b.ctx, &webhook.EventType{OrgID: b.app.OrgID, Name: "a.b"}); err != nil {
		t.Fatal(err)
	}
	all := b.endpoint("http://127.0.0.1:1/all")
	typed := b.endpoint("http://127.0.0.1:1/typed", func(e *webhook.Endpoint) { e.FilterTypes = []string{"a.b"} })
	chan1 := b.endpoint("http://127.0.0.1:1/chan", func(e *webhook.Endpoint) { e.Channels = []string{"c1"} })
	b.endpoint("http://127.0.0.1:1/disabled", func(e *webhook.Endpoint) { e.Disabled = true })

	for _, tc := range []struct {
		eventType string
		channels  []string
		want      []*webhook.Endpoint
	}{
		{"a.b", nil, []*webhook.Endpoint{all, typed}},
		{"x.y", nil, []*webhook.Endpoint{all}},
		{"x.y", []string{"c2", "c1"}, []*webhook.Endpoint{all, chan1}},
		{"a.b", []string{"c1"}, []*webhook.Endpoint{all, typed, chan1}},
	} {
		_, ds := b.publish(tc.eventType, `{}`, func(m *webhook.Message) { m.Channels = tc.channels })
		got := map[string]bool{}
		for _, d := range ds {
			got[d.EndpointID] = true
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s %v: delivered to %d endpoints, want %d", tc.eventType, tc.channels, len(got), len(tc.want))
		}
		for _, ep := range tc.want {
			if !got[ep.ID] {
				t.Errorf("%s %v: no delivery to %s", tc.eventType, tc.channels, ep.URL)
			}
		}
	}
}

func TestDeliverySameJobTwiceRecordsOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{noWorker: true})
	rcv := newReceiver(t, nil)
	ep := b.endpoint(rcv.URL)
	msg, ds := b.publish("user.signup", `{"a":1}`)
	job := delivery.Job{Ref: delivery.FirstRef(&ds[0])}
	for i := 0; i < 2; i++ {
		if _, err := b.attempter.Attempt(b.ctx, job); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(b.attempts(msg)); n != 1 {
		t.Fatalf("%d attempts recorded, want 1", n)
	}
	if b.delivery(msg, ep).Status != webhook.StatusSuccess {
		t.Fatal("delivery not succeeded")
	}
}

func TestDeliveryToDeletedEndpointStops(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{noWorker: true})
	rcv := newReceiver(t, nil)
	ep := b.endpoint(rcv.URL)
	_, ds := b.publish("user.signup", `{"a":1}`)
	if err := b.db.DeleteEndpoint(b.ctx, ep); err != nil {
		t.Fatal(err)
	}
	if _, err := b.attempter.Attempt(b.ctx, delivery.Job{Ref: delivery.FirstRef(&ds[0])}); err != nil {
		t.Fatal(err)
	}
	if n := len(rcv.got()); n != 0 {
		t.Fatalf("deleted endpoint received %d requests", n)
	}
}

// flakyStore fails RecordAttempt a number of times, as a database outage would.
type flakyStore struct {
	delivery.AttemptStore
	failures atomic.Int32
	calls    atomic.Int32
}

func (f *flakyStore) RecordAttempt(ctx context.Context, rec *webhook.AttemptRecord) (bool, error) {
	f.calls.Add(1)
	if f.failures.Add(-1) >= 0 {
		return false, errors.New("injected: database unavailable")
	}
	return f.AttemptStore.RecordAttempt(ctx, rec)
}

// A store outage after a request was sent does not make hookd send it
// again: the outcome is kept and retried for recording until it is stored,
// and no attempt of the schedule is used up.
func TestStoreOutageNeitherResendsNorUsesTheSchedule(t *testing.T) {
	t.Parallel()
	flaky := &flakyStore{}
	flaky.failures.Store(4)
	b := setup(t, bundleOptions{wrapStore: func(s delivery.AttemptStore) delivery.AttemptStore {
		flaky.AttemptStore = s
		return flaky
	}})
	rcv := newReceiver(t, status(http.StatusInternalServerError))
	ep := b.endpoint(rcv.URL)
	msg, _ := b.publish("user.signup", `{"a":1}`)
	b.waitStatus(msg, ep, webhook.StatusFail)
	if n := len(b.attempts(msg)); n != 3 {
		t.Fatalf("%d attempts recorded, want 3", n)
	}
	if n := len(rcv.got()); n != 3 {
		t.Fatalf("receiver got %d requests, want 3: one per attempt, none again for the outage", n)
	}
	if n := flaky.calls.Load(); n != 3+4 {
		t.Fatalf("RecordAttempt called %d times, want 7 (4 failed tries)", n)
	}
	if _, errs := b.queue.Stats(); errs != 0 {
		t.Fatalf("%d jobs failed back to the queue, want 0", errs)
	}
}

func TestReconcilerEnqueuesLostAttempts(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{})
	rcv := newReceiver(t, nil)
	ep := b.endpoint(rcv.URL)
	// Stored but never enqueued, as when Redis is down at publish time or flushed.
	msg := &webhook.Message{OrgID: b.app.OrgID, AppID: b.app.ID, EventType: "a", Payload: json.RawMessage(`{}`), RetentionDays: 90}
	if _, err := b.db.CreateMessage(b.ctx, msg, ""); err != nil {
		t.Fatal(err)
	}
	r := &delivery.Reconciler{Store: b.db, Queue: b.queue}
	b.waitFor("the reconciler to enqueue", func() bool {
		n, err := r.RunOnce(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	})
	b.waitStatus(msg, ep, webhook.StatusSuccess)
	if n := len(rcv.got()); n != 1 {
		t.Fatalf("receiver got %d requests, want 1", n)
	}
	// Nothing is due any more: later runs enqueue nothing.
	time.Sleep(100 * time.Millisecond) // past the grace period
	if n, err := r.RunOnce(b.ctx); err != nil || n != 0 {
		t.Fatalf("reconciler after delivery: %d, %v", n, err)
	}
}

func TestDeliveryRetryAfterIsClampedToTheSchedule(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{schedule: retry.Schedule{time.Hour}})
	for _, tc := range []struct {
		name         string
		respond      func(int, http.ResponseWriter)
		minGap, maxG time.Duration
	}{
		// Retry-After beyond 2× the scheduled delay is clamped to 2×.
		{"429 retry-after 5h", func(_ int, w http.ResponseWriter) {
			w.Header().Set("Retry-After", "18000")
			w.WriteHeader(http.StatusTooManyRequests)
		}, 2*time.Hour - time.Minute, 2*time.Hour + time.Minute},
		// Retry-After below the scheduled delay is raised to it.
		{"503 retry-after 1s", func(_ int, w http.ResponseWriter) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
		}, time.Hour - time.Minute, time.Hour + time.Minute},
		// Without Retry-After the scheduled delay gets ±20 % jitter.
		{"500", status(http.StatusInternalServerError), 48 * time.Minute, 72 * time.Minute},
	} {
		rcv := newReceiver(t, tc.respond)
		ep := b.endpoint(rcv.URL)
		msg, _ := b.publish("user.signup", `{}`)
		d := b.waitStatus(msg, ep, webhook.StatusSending)
		gap := d.NextAttemptAt.Sub(b.attempts(msg)[0].CreatedAt)
		if gap < tc.minGap || gap > tc.maxG {
			t.Errorf("%s: next attempt in %v, want within [%v, %v]", tc.name, gap, tc.minGap, tc.maxG)
		}
	}
}

// A receiver that hangs is given up on at the timeout; a huge answer is
// recorded up to 20 KiB. Each has a bundle of its own: the huge answer
// gets the default timeout, which a loaded machine needs for it.
func TestDeliveryTimeoutAndHugeResponse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		respond func(int, http.ResponseWriter)
		check   func(webhook.Attempt) bool
		want    string
	}{
		{"hanging receiver", 300 * time.Millisecond, func(int, http.ResponseWriter) { time.Sleep(time.Second) },
			func(a webhook.Attempt) bool {
				return strings.Contains(a.Response, "timed out") && a.StatusCode == 0 && a.DurationMs < 2000
			}, "a timeout after about 300ms"},
		{"huge response", 0, func(_ int, w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write(bytes.Repeat([]byte("x"), 5<<20))
		}, func(a webhook.Attempt) bool {
			return a.StatusCode == http.StatusBadRequest && len(a.Response) <= 20<<10 && len(a.Response) >= 1000
		}, "code 400 and at most 20 KiB of the answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, bundleOptions{timeout: tc.timeout, schedule: retry.Schedule{}})
			ep := b.endpoint(newReceiver(t, tc.respond).URL)
			msg, _ := b.publish("user.signup", `{}`)
			b.waitStatus(msg, ep, webhook.StatusFail)
			if a := b.attempts(msg); len(a) != 1 || !tc.check(a[0]) {
				t.Errorf("attempts %+v, want one with %s", a, tc.want)
			}
		})
	}
}

// A fresh first attempt that runs long after its round began (its publish
// queued it late) reads its delivery, as any other attempt: when the
// Reconciler has made the attempt meanwhile, it sends nothing. One that
// runs in time trusts what it carries.
func TestLateFreshAttemptReadsItsDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{noWorker: true})
	b.attempter.FreshFor = time.Minute
	now := time.Now()
	b.attempter.Now = func() time.Time { return now }
	rcv := newReceiver(t, nil)
	ep := b.endpoint(rcv.URL)
	msg, ds := b.publish("user.signup", `{"a":1}`)
	fresh := delivery.JobsFor(msg, ds)[0]
	if fresh.Fresh == nil || !fresh.Fresh.Due.Equal(*ds[0].NextAttemptAt) {
		t.Fatalf("fresh job %+v, want one due when its delivery was", fresh)
	}
	// The Reconciler's job for the same attempt runs first.
	if _, err := b.attempter.Attempt(b.ctx, delivery.Job{Ref: fresh.Ref, Requeue: true}); err != nil {
		t.Fatal(err)
	}
	if n := len(rcv.got()); n != 1 {
		t.Fatalf("receiver got %d requests, want 1", n)
	}
	now = fresh.Fresh.Due.Add(time.Minute + time.Second)
	if _, err := b.attempter.Attempt(b.ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if n := len(rcv.got()); n != 1 {
		t.Fatalf("receiver got %d requests after the late fresh job, want 1", n)
	}
	// In time, the fresh job does not look (the record's guard keeps the
	// delivery's state).
	now = fresh.Fresh.Due.Add(time.Second)
	if _, err := b.attempter.Attempt(b.ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if n := len(rcv.got()); n != 2 {
		t.Fatalf("receiver got %d requests after the fresh job in time, want 2", n)
	}
	if dl := b.delivery(msg, ep); dl.Status != webhook.StatusSuccess || len(b.attempts(msg)) != 1 {
		t.Fatalf("delivery %+v with %d attempts, want success with 1", dl, len(b.attempts(msg)))
	}
}

// A first attempt carrying its message (the publish fast path) skips
// reading the delivery, but still stops for a deleted endpoint, and the
// attempt it records is the same as the slow path's.
func TestFreshAttemptFastPath(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{noWorker: true})
	rcv := newReceiver(t, nil)
	kept := b.endpoint(rcv.URL + "/kept")
	gone := b.endpoint(rcv.URL + "/gone")
	msg, ds := b.publish("user.signup", `{"a":1}`)
	if err := b.db.DeleteEndpoint(b.ctx, gone); err != nil {
		t.Fatal(err)
	}
	for _, job := range delivery.JobsFor(msg, ds) {
		if job.Fresh == nil {
			t.Fatal("a first attempt of a small message carries no message")
		}
		if _, err := b.attempter.Attempt(b.ctx, job); err != nil {
			t.Fatal(err)
		}
	}
	got := rcv.got()
	if len(got) != 1 || got[0].header.Get("webhook-id") != msg.ID || string(got[0].body) != `{"a":1}` {
		t.Fatalf("receiver got %d requests (%+v), want one to the kept endpoint", len(got), got)
	}
	verifyBoth(t, got[0], kept.Secret)
	if dl := b.delivery(msg, kept); dl.Status != webhook.StatusSuccess || len(b.attempts(msg)) != 1 {
		t.Fatalf("delivery %+v with %d attempts, want success with 1", dl, len(b.attempts(msg)))
	}
}
