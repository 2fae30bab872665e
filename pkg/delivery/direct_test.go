package delivery_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/webhook"
)

// directSetup is a bundle whose publisher and attempter queue through a
// Direct of capacity, in front of the bundle's queue, left unserved: what
// reaches it stays there for the test to see.
func directSetup(t *testing.T, capacity int) (*bundle, *delivery.Direct) {
	t.Helper()
	b := setup(t, bundleOptions{noWorker: true})
	d := &delivery.Direct{Next: b.queue, Attempter: b.attempter, Capacity: capacity}
	b.publisher.Queue, b.attempter.Queue = d, d
	t.Cleanup(func() { d.Close(context.Background()) })
	return b, d
}

// Fresh first attempts run in the process, once each, without the queue.
func TestDirectRunsFreshAttemptsWithoutTheQueue(t *testing.T) {
	t.Parallel()
	b, _ := directSetup(t, 100)
	rcv := newReceiver(t, nil)
	ep := b.endpoint(rcv.URL)
	var msgs []*webhook.Message
	for range 20 {
		msg, _ := b.publish("user.created", `{"a":1}`)
		msgs = append(msgs, msg)
	}
	for _, msg := range msgs {
		b.waitStatus(msg, ep, webhook.StatusSuccess)
		if n := len(b.attempts(msg)); n != 1 {
			t.Errorf("message %s: %d attempts, want 1", msg.ID, n)
		}
	}
	if n := len(rcv.got()); n != 20 {
		t.Errorf("receiver got %d requests, want 20", n)
	}
	if n := b.queue.Len(); n != 0 {
		t.Errorf("%d jobs reached the queue, want none", n)
	}
}

// Beyond its capacity, jobs go to the queue; so does the retry of a
// failed attempt (not due yet).
func TestDirectPassesOnWhatItCannotRun(t *testing.T) {
	t.Parallel()
	b, d := directSetup(t, 1)
	release := make(chan struct{})
	rcv := newReceiver(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			<-release // holds the one slot
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	ep := b.endpoint(rcv.URL)
	first, _ := b.publish("user.created", `{"a":1}`)
	b.waitFor("the first request", func() bool { return len(rcv.got()) == 1 })
	b.publish("user.created", `{"a":2}`)
	b.publish("user.created", `{"a":3}`)
	if n := b.queue.Len(); n != 2 {
		t.Fatalf("%d jobs queued while the one slot was busy, want 2", n)
	}
	close(release)
	d.Close(context.Background()) // waits for the first attempt
	if got := b.delivery(first, ep); got.Status != webhook.StatusSending {
		t.Errorf("first delivery: status %v, want sending (a retry scheduled)", got.Status)
	}
	jobs := b.queue.Take()
	if len(jobs) != 3 {
		t.Fatalf("%d jobs queued, want 3 (two beyond capacity, one retry)", len(jobs))
	}
	var retries int
	for _, j := range jobs {
		if j.Ref.Number == 2 && j.At.After(time.Now().Add(-time.Second)) {
			retries++
		}
	}
	if retries != 1 {
		t.Errorf("queued jobs %+v: want one retry (attempt 2)", jobs)
	}
	// Closed, it runs nothing itself.
	b.publish("user.created", `{"a":4}`)
	if n := b.queue.Len(); n != 1 {
		t.Errorf("after Close: %d jobs queued, want 1", n)
	}
}

// slotHeld is a bundle whose publisher queues through a Direct of one
// slot, whose first message's request holds that slot: the receiver keeps
// its first held requests until release gets a value or is closed.
type slotHeld struct {
	*bundle
	d       *delivery.Direct
	rcv     *receiver
	ep      *webhook.Endpoint
	first   *webhook.Message
	release chan struct{}
}

func holdTheSlot(t *testing.T, backlogBytes int, maxWait time.Duration, held int) *slotHeld {
	t.Helper()
	b := setup(t, bundleOptions{noWorker: true})
	d := &delivery.Direct{Next: b.queue, Attempter: b.attempter, Capacity: 1, BacklogBytes: backlogBytes, MaxWait: maxWait}
	b.publisher.Queue, b.attempter.Queue = d, d
	release := make(chan struct{})
	rcv := newReceiver(t, func(n int, w http.ResponseWriter) {
		if n <= held {
			<-release
		}
		w.WriteHeader(http.StatusNoContent)
	})
	ep := b.endpoint(rcv.URL)
	first, _ := b.publish("user.created", `{"n":0}`)
	b.waitFor("the first request", func() bool { return len(rcv.got()) == 1 })
	return &slotHeld{bundle: b, d: d, rcv: rcv, ep: ep, first: first, release: release}
}

// With every slot busy, fresh attempts wait for one, in order, up to the
// backlog's weight: a burst is run in the process as slots free up, not
// queued.
func TestDirectBacklogWaitsForASlot(t *testing.T) {
	t.Parallel()
	// Room for three jobs of 7-byte payloads.
	h := holdTheSlot(t, 3*(delivery.DirectJobOverhead+7), time.Minute, 1)
	b, rcv, ep := h.bundle, h.rcv, h.ep
	t.Cleanup(func() { h.d.Close(context.Background()) })
	msgs := []*webhook.Message{h.first}
	for i := 1; i <= 4; i++ {
		msg, _ := b.publish("user.created", fmt.Sprintf(`{"n":%d}`, i))
		msgs = append(msgs, msg)
	}
	if n := b.queue.Len(); n != 1 {
		t.Fatalf("%d jobs queued with one slot busy and 3 waiting, want 1 (the fourth)", n)
	}
	close(h.release)
	for _, msg := range msgs[:4] {
		b.waitStatus(msg, ep, webhook.StatusSuccess)
	}
	got := rcv.got()
	if len(got) != 4 {
		t.Fatalf("receiver got %d requests, want 4", len(got))
	}
	for i, r := range got {
		if want := fmt.Sprintf(`{"n":%d}`, i); string(r.body) != want {
			t.Errorf("request %d: body %s, want %s (the waiting jobs in their order)", i, r.body, want)
		}
	}
	if jobs := b.queue.Take(); len(jobs) != 1 || jobs[0].Fresh.MessageID != msgs[4].ID {
		t.Errorf("queued %+v, want only the job of the message beyond the backlog", jobs)
	}
}

// A job that waited past MaxWait, and those waiting when Direct closes,
// go to the queue instead.
func TestDirectBacklogPassesOnLateAndLeftJobs(t *testing.T) {
	t.Parallel()
	// Long enough for two publishes and an attempt on a loaded machine: the
	// second job must not wait past it.
	const maxWait = 2 * time.Second
	h := holdTheSlot(t, 1<<20, maxWait, 2)
	b, d, rcv, release := h.bundle, h.d, h.rcv, h.release
	late, _ := b.publish("user.created", `{"n":1}`)
	b.waitFor("the late job passed on", func() bool { return b.queue.Len() == 1 })
	b.publish("user.created", `{"n":2}`)
	left, _ := b.publish("user.created", `{"n":3}`)
	release <- struct{}{} // the first request ends: the fresh job waiting runs
	b.waitFor("the second request", func() bool { return len(rcv.got()) == 2 })
	if got := rcv.got()[1].body; string(got) != `{"n":2}` {
		t.Errorf("second request: body %s, want the job that had not waited past MaxWait", got)
	}
	jobs := b.queue.Take()
	if len(jobs) != 1 || jobs[0].Fresh.MessageID != late.ID {
		t.Fatalf("queued %+v, want the late job of %s", jobs, late.ID)
	}
	closed := make(chan struct{})
	go func() { d.Close(context.Background()); close(closed) }()
	b.waitFor("the left job queued at Close", func() bool { return b.queue.Len() == 1 })
	close(release)
	<-closed
	if jobs := b.queue.Take(); len(jobs) != 1 || jobs[0].Fresh.MessageID != left.ID {
		t.Errorf("queued %+v at Close, want the job of %s", jobs, left.ID)
	}
}

// A job waiting past MaxWait goes to the queue even while every slot
// stays busy: its attempt must start well within the reconciler's grace.
func TestDirectBacklogPassesOnLateJobsWhileSlotsStayBusy(t *testing.T) {
	t.Parallel()
	h := holdTheSlot(t, 1<<20, 50*time.Millisecond, 1)
	b, d, release := h.bundle, h.d, h.release
	late, _ := b.publish("user.created", `{"n":1}`)
	b.waitFor("the late job queued with the slot still busy", func() bool { return b.queue.Len() == 1 })
	close(release)
	d.Close(context.Background())
	if jobs := b.queue.Take(); len(jobs) != 1 || jobs[0].Fresh.MessageID != late.ID {
		t.Errorf("queued %+v, want the late job of %s", jobs, late.ID)
	}
}

// Without slots, nothing waits: a backlog would never be taken from.
func TestDirectWithoutCapacityHoldsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{noWorker: true})
	d := &delivery.Direct{Next: b.queue, Attempter: b.attempter, BacklogBytes: 1 << 20, MaxWait: time.Hour}
	b.publisher.Queue, b.attempter.Queue = d, d
	t.Cleanup(func() { d.Close(context.Background()) })
	b.endpoint("http://127.0.0.1:9/hook")
	b.publish("user.created", `{"n":0}`)
	if n := b.queue.Len(); n != 1 {
		t.Errorf("%d jobs queued, want the one Direct cannot run", n)
	}
}
