package delivery_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/retry"
	"github.com/hookd/hookd/pkg/webhook"
)

// recordingEmitter remembers the operational events emitted.
type recordingEmitter struct {
	mu     sync.Mutex
	events []webhook.OperationalEvent
}

func (r *recordingEmitter) Emit(_ context.Context, _ string, ev webhook.OperationalEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return nil
}

func (r *recordingEmitter) ofType(typ string) []webhook.OperationalEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []webhook.OperationalEvent
	for _, ev := range r.events {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

func TestEndpointHealth(t *testing.T) {
	t.Parallel()
	events := &recordingEmitter{}
	b := setup(t, bundleOptions{schedule: retry.Schedule{time.Hour}, events: events})
	var flaky atomic.Int32
	failing := b.endpoint(newReceiver(t, status(http.StatusInternalServerError)).URL)
	recovering := b.endpoint(newReceiver(t, func(n int, w http.ResponseWriter) {
		if flaky.Load() == 0 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}).URL)
	gone := b.endpoint(newReceiver(t, status(http.StatusGone)).URL)

	msg, _ := b.publish("user.signup", `{"a":1}`)
	b.waitStatus(msg, failing, webhook.StatusSending)
	b.waitStatus(msg, recovering, webhook.StatusSending)

	// A 410 Gone disables the endpoint at once and fails the delivery.
	b.waitStatus(msg, gone, webhook.StatusFail)
	b.waitFor("endpoint.disabled for the 410", func() bool { return len(events.ofType(webhook.EventEndpointDisabled)) == 1 })
	if ep, _ := b.db.FindEndpointByID(b.ctx, gone.ID); !ep.Disabled {
		t.Fatal("endpoint that answered 410 is still enabled")
	}

	// The recovering endpoint succeeds once inside the window: its clock restarts.
	flaky.Store(1)
	msg2, _ := b.publish("user.signup", `{"a":2}`)
	b.waitStatus(msg2, recovering, webhook.StatusSuccess)

	// 11 s later with a 10 s window: only the endpoint that only failed is disabled.
	h := &delivery.HealthChecker{Store: b.db, Events: events, DisableAfter: 10 * time.Second,
		Now: func() time.Time { return time.Now().Add(11 * time.Second) }}
	if n, err := h.RunOnce(b.ctx); err != nil || n != 1 {
		t.Fatalf("health check disabled %d endpoints (%v), want 1", n, err)
	}
	for _, tc := range []struct {
		ep       *webhook.Endpoint
		disabled bool
	}{{failing, true}, {recovering, false}} {
		if ep, _ := b.db.FindEndpointByID(b.ctx, tc.ep.ID); ep.Disabled != tc.disabled {
			t.Errorf("endpoint %s disabled = %v, want %v", tc.ep.URL, ep.Disabled, tc.disabled)
		}
	}
	// Its scheduled delivery is failed, so it shows up and can be recovered.
	if d := b.delivery(msg, failing); d.Status != webhook.StatusFail || d.NextAttemptAt != nil {
		t.Fatalf("delivery of the disabled endpoint = %+v, want failed", d)
	}
	disabled := events.ofType(webhook.EventEndpointDisabled)
	if len(disabled) != 2 {
		t.Fatalf("%d endpoint.disabled events, want 2", len(disabled))
	}
	data := disabled[1].Data.(webhook.EndpointEventData)
	if data.EndpointID != failing.ID || data.AppID != b.app.ID || data.FailSince == nil || data.Trigger != "automatic" {
		t.Fatalf("endpoint.disabled data = %+v", data)
	}
	raw, _ := json.Marshal(disabled[1])
	var shape map[string]any
	_ = json.Unmarshal(raw, &shape)
	if shape["type"] != "endpoint.disabled" || shape["timestamp"] == nil || shape["data"].(map[string]any)["failSince"] == nil {
		t.Fatalf("event JSON = %s", raw)
	}
	// Enabled again, the endpoint starts a new run: the next check leaves it alone.
	err := b.db.UpdateEndpoint(b.ctx, failing, func(ep *webhook.Endpoint) error { ep.Disabled = false; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if n, err := h.RunOnce(b.ctx); err != nil || n != 0 {
		t.Fatalf("health check after re-enabling disabled %d (%v), want 0", n, err)
	}
}

func TestAttemptEvents(t *testing.T) {
	t.Parallel()
	events := &recordingEmitter{}
	b := setup(t, bundleOptions{schedule: retry.Schedule{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}, events: events})
	var healthy atomic.Bool
	ep := b.endpoint(newReceiver(t, func(_ int, w http.ResponseWriter) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusBadGateway)
		}
	}).URL)
	eventID := "evt-1"
	msg, _ := b.publish("user.signup", `{"a":1}`, func(m *webhook.Message) { m.EventID = &eventID })
	b.waitStatus(msg, ep, webhook.StatusFail)
	// The events follow the recorded state: wait for the last one.
	b.waitFor("message.attempt.exhausted", func() bool { return len(events.ofType(webhook.EventMessageAttemptExhausted)) > 0 })
	// 5 attempts: failing once after the 4th, exhausted after the 5th.
	if n := len(events.ofType(webhook.EventMessageAttemptFailing)); n != 1 {
		t.Fatalf("%d message.attempt.failing events, want 1", n)
	}
	exhausted := events.ofType(webhook.EventMessageAttemptExhausted)
	if len(exhausted) != 1 {
		t.Fatalf("%d message.attempt.exhausted events, want 1", len(exhausted))
	}
	data := exhausted[0].Data.(webhook.AttemptEventData)
	if data.MsgID != msg.ID || *data.MsgEventID != "evt-1" || data.EndpointID != ep.ID ||
		data.LastAttempt.ResponseStatusCode != http.StatusBadGateway || data.LastAttempt.ID == "" {
		t.Fatalf("exhausted data = %+v", data)
	}
	// A resend that succeeds recovers it.
	healthy.Store(true)
	if err := b.replayer.Resend(b.ctx, msg, ep); err != nil {
		t.Fatal(err)
	}
	b.waitFor("message.attempt.recovered", func() bool { return len(events.ofType(webhook.EventMessageAttemptRecovered)) == 1 })
}

func TestNoisyNeighbourIsolation(t *testing.T) {
	if testing.Short() {
		t.Skip("publishes 3,000 messages")
	}
	t.Parallel()
	const maxInFlight = 4
	b := setup(t, bundleOptions{workers: 50, timeout: 5 * time.Second,
		throttle: &delivery.Throttle{MaxInFlight: maxInFlight, Backoff: 2 * time.Second}})
	// Endpoint A hangs every request until the timeout.
	var inFlight, peak atomic.Int32
	var hangRequests atomic.Int32
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // the server notices hookd giving up only once the body is read
		hangRequests.Add(1)
		now := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
		}
		// Hangs for 1.9 s, well within hookd's 5 s timeout, then answers:
		// the slot is counted here until the answer is written, before
		// hookd sees it and frees its slot, so the count never lags behind.
		// (A request hookd gave up on would still be counted here for a
		// moment after hookd freed its slot.)
		select {
		case <-r.Context().Done():
		case <-time.After(1900 * time.Millisecond):
		}
	}))
	t.Cleanup(hang.Close)
	a := b.endpoint(hang.URL, func(e *webhook.Endpoint) { e.FilterTypes = nil; e.Channels = []string{"a"} })
	for i := 0; i < 2000; i++ {
		b.publish("noisy", `{}`, func(m *webhook.Message) { m.Channels = []string{"a"} })
	}
	// 50 other endpoints with fast receivers get 20 messages each.
	fast := newReceiver(t, nil)
	var others []*webhook.Endpoint
	for i := 0; i < 50; i++ {
		ch := []string{"c" + string(rune('A'+i/26)) + string(rune('a'+i%26))}
		others = append(others, b.endpoint(fast.URL, func(e *webhook.Endpoint) { e.Channels = ch }))
	}
	start := time.Now()
	for _, ep := range others {
		for i := 0; i < 20; i++ {
			b.publish("fast", `{}`, func(m *webhook.Message) { m.Channels = ep.Channels })
		}
	}
	published := time.Since(start)
	b.waitFor("1,000 fast deliveries", func() bool { return len(fast.got()) >= 1000 })
	done := time.Since(start)
	t.Logf("noisy neighbour: 1,000 deliveries to 50 fast endpoints published in %v, all delivered %v after the first publish (%v after the last); endpoint A: peak %d in flight (cap %d), %d requests so far",
		published.Round(time.Millisecond), done.Round(time.Millisecond), (done - published).Round(time.Millisecond), peak.Load(), maxInFlight, hangRequests.Load())
	if done-published > 8*time.Second {
		t.Errorf("fast endpoints finished %v after publishing, want within a few seconds", done-published)
	}
	if p := peak.Load(); p > maxInFlight {
		t.Errorf("endpoint A had %d requests in flight, cap %d", p, maxInFlight)
	}
	_ = a
}
