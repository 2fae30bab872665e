package delivery_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/retry"
	"github.com/hookd/hookd/pkg/webhook"
)

// orderedMessage is the payload of the ordering tests.
type orderedMessage struct {
	Key string `json:"key"`
	Seq int    `json:"seq"`
}

// orderChecker is a receiver that fails at random and checks that no
// message of a key arrives before every earlier one of the key is done:
// answered 2xx once, or failed as often as the schedule allows.
type orderChecker struct {
	t        *testing.T
	attempts int // the schedule's attempts
	mu       sync.Mutex
	rnd      *rand.Rand
	failRate float64
	// per key, per seq: how often it arrived, and whether it is done
	seen map[string]map[int]int
	done map[string]map[int]bool
	bad  []string
}

func newOrderChecker(t *testing.T, attempts int, failRate float64, seed uint64) (*orderChecker, *httptest.Server) {
	c := &orderChecker{t: t, attempts: attempts, failRate: failRate, rnd: rand.New(rand.NewPCG(seed, 1)),
		seen: map[string]map[int]int{}, done: map[string]map[int]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(srv.Close)
	return c, srv
}

func (c *orderChecker) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var m orderedMessage
	if err := json.Unmarshal(body, &m); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[m.Key] == nil {
		c.seen[m.Key], c.done[m.Key] = map[int]int{}, map[int]bool{}
	}
	for j := 0; j < m.Seq; j++ {
		if !c.done[m.Key][j] {
			c.bad = append(c.bad, fmt.Sprintf("key %s: message %d arrived before message %d was done", m.Key, m.Seq, j))
			break
		}
	}
	c.seen[m.Key][m.Seq]++
	n := c.seen[m.Key][m.Seq]
	if c.rnd.Float64() < c.failRate {
		if n >= c.attempts {
			c.done[m.Key][m.Seq] = true // exhausted: the dead letter lets the next one go
		}
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	c.done[m.Key][m.Seq] = true
	w.WriteHeader(http.StatusNoContent)
}

// allDone reports whether every message of every key is done.
func (c *orderChecker) allDone(keys, perKey int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, d := range c.done {
		n += len(d)
	}
	return n == keys*perKey
}

func (c *orderChecker) violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.bad...)
}

// For each (endpoint, key), messages are attempted strictly in publish
// order, through failures, retries and dead letters; keys do not wait for
// each other.
func TestOrderingPerKey(t *testing.T) {
	t.Parallel()
	const keys, perKey = 20, 15
	schedule := retry.Schedule{5 * time.Millisecond, 5 * time.Millisecond}
	b := setup(t, bundleOptions{schedule: schedule, workers: 20})
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	checker, rcv := newOrderChecker(t, schedule.Attempts(), 0.3, seed)
	ep := b.endpoint(rcv.URL)
	var wg sync.WaitGroup
	for k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("key-%d", k)
			for i := range perKey {
				payload, _ := json.Marshal(orderedMessage{Key: key, Seq: i})
				b.publish("order.placed", string(payload), func(m *webhook.Message) { m.OrderingKey = &key })
			}
		}()
	}
	wg.Wait()
	b.waitFor("every message done", func() bool { return checker.allDone(keys, perKey) })
	for _, v := range checker.violations() {
		t.Error(v)
	}
	// Every key went idle: nothing is held.
	b.waitFor("no delivery held", func() bool { return b.heldCount(ep) == 0 })
}

// heldCount counts ep's held deliveries.
func (b *bundle) heldCount(ep *webhook.Endpoint) int {
	b.t.Helper()
	page, err := b.db.ListEndpointMessages(b.ctx, ep, webhook.MessageFilter{}, webhook.ListOptions{Limit: webhook.MaxLimit})
	if err != nil {
		b.t.Fatal(err)
	}
	n := 0
	for _, em := range page.Items {
		if em.Delivery.Held {
			n++
		}
	}
	return n
}

// A key blocked behind a failing head holds only its own messages: other
// keys, unordered messages and other endpoints go on. The held ones show
// what they wait for, and go once the head is done (here: resent).
func TestOrderingBlockedKeyHoldsOnlyItself(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{schedule: retry.Schedule{time.Hour}})
	var mu sync.Mutex
	failing := true
	got := map[string][]int{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m orderedMessage
		_ = json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		defer mu.Unlock()
		got[m.Key] = append(got[m.Key], m.Seq)
		if m.Key == "a" && failing {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(rcv.Close)
	ep := b.endpoint(rcv.URL)
	received := func(key string) []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), got[key]...)
	}
	publish := func(key string, seq int) *webhook.Message {
		payload, _ := json.Marshal(orderedMessage{Key: key, Seq: seq})
		msg, _ := b.publish("order.placed", string(payload), func(m *webhook.Message) {
			if key != "" {
				m.OrderingKey = &key
			}
		})
		return msg
	}
	head := publish("a", 0)
	b.waitStatus(head, ep, webhook.StatusSending) // failed once, next try in an hour
	held := []*webhook.Message{publish("a", 1), publish("a", 2)}
	others := []*webhook.Message{publish("b", 0), publish("b", 1), publish("", 0)}
	for _, m := range others {
		b.waitStatus(m, ep, webhook.StatusSuccess)
	}
	if a := received("a"); len(a) != 1 {
		t.Fatalf("key a: received %v, want only the head's first attempt", a)
	}
	page, err := b.db.ListMessageEndpoints(b.ctx, held[0], webhook.ListOptions{Limit: 10})
	if err != nil || len(page.Items) != 1 {
		t.Fatal(page, err)
	}
	me := page.Items[0]
	if !me.Delivery.Held || me.Delivery.Status != webhook.StatusPending || me.WaitingFor == nil ||
		me.WaitingFor.MessageID != head.ID || me.WaitingFor.Attempts != 1 || me.WaitingFor.LastStatusCode != 503 ||
		me.WaitingFor.NextAttemptAt == nil {
		t.Fatalf("held delivery = %+v waiting for %+v", me.Delivery, me.WaitingFor)
	}
	// The head is resent and succeeds: the key's next ones go, in order.
	mu.Lock()
	failing = false
	mu.Unlock()
	if err := b.replayer.Resend(b.ctx, head, ep); err != nil {
		t.Fatal(err)
	}
	for _, m := range held {
		b.waitStatus(m, ep, webhook.StatusSuccess)
	}
	if a := received("a"); fmt.Sprint(a) != "[0 0 1 2]" {
		t.Fatalf("key a received %v, want [0 0 1 2]", a)
	}
}

// A strict endpoint orders every message, keyed or not, first in first out;
// a dead letter lets the next one go.
func TestOrderingStrictEndpoint(t *testing.T) {
	t.Parallel()
	schedule := retry.Schedule{5 * time.Millisecond}
	b := setup(t, bundleOptions{schedule: schedule, workers: 20})
	checker, rcv := newOrderChecker(t, schedule.Attempts(), 0.4, uint64(time.Now().UnixNano()))
	b.endpoint(rcv.URL, func(e *webhook.Endpoint) { e.Ordering = webhook.OrderingStrict })
	const n = 40
	for i := range n {
		payload, _ := json.Marshal(orderedMessage{Key: "all", Seq: i})
		other := fmt.Sprint("k", i%3)
		b.publish("order.placed", string(payload), func(m *webhook.Message) {
			if i%2 == 0 {
				m.OrderingKey = &other // a key of its own does not matter here
			}
		})
	}
	b.waitFor("every message done", func() bool { return checker.allDone(1, n) })
	for _, v := range checker.violations() {
		t.Error(v)
	}
}

// A key blocked for longer than the alert threshold is reported once per
// head, with how many wait behind it.
func TestOrderingBlockedAlert(t *testing.T) {
	t.Parallel()
	events := &recordingEmitter{}
	b := setup(t, bundleOptions{schedule: retry.Schedule{time.Hour}, events: events})
	ep := b.endpoint(newReceiver(t, status(http.StatusInternalServerError)).URL)
	key := "order-42"
	head, _ := b.publish("order.placed", `{}`, func(m *webhook.Message) { m.OrderingKey = &key })
	b.waitStatus(head, ep, webhook.StatusSending)
	for range 2 {
		b.publish("order.placed", `{}`, func(m *webhook.Message) { m.OrderingKey = &key })
	}
	later := time.Now().Add(11 * time.Minute)
	w := &delivery.OrderingWatch{Store: b.db, Queue: b.queue, Events: events, Now: func() time.Time { return later }}
	for range 2 {
		if err := w.RunOnce(b.ctx); err != nil {
			t.Fatal(err)
		}
	}
	blocked := events.ofType(webhook.EventMessageOrderingBlocked)
	if len(blocked) != 1 {
		t.Fatalf("%d message.ordering.blocked events, want 1", len(blocked))
	}
	data := blocked[0].Data.(webhook.OrderingBlockedEventData)
	if data.MsgID != head.ID || data.OrderingKey != key || data.Waiting != 2 || data.EndpointID != ep.ID || data.AppID != b.app.ID {
		t.Fatalf("event data = %+v", data)
	}
	// Not yet past the threshold: nothing.
	events2 := &recordingEmitter{}
	w2 := &delivery.OrderingWatch{Store: b.db, Queue: b.queue, Events: events2}
	if err := w2.RunOnce(b.ctx); err != nil || len(events2.ofType(webhook.EventMessageOrderingBlocked)) != 0 {
		t.Fatalf("early run: %v, %d events", err, len(events2.ofType(webhook.EventMessageOrderingBlocked)))
	}
}
