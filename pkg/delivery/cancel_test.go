package delivery_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/background"
	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/webhook"
)

// jobList is a delivery.Queue that keeps the jobs, to be run by hand.
type jobList struct {
	mu   sync.Mutex
	jobs []delivery.Job
}

func (q *jobList) Enqueue(_ context.Context, jobs ...delivery.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, jobs...)
	return nil
}

// cancelMsgs does what POST .../cancel-msgs does, and runs the task to its
// end: the deliveries it releases are queued on q.
func (b *bundle) cancelMsgs(ep *webhook.Endpoint, before time.Time, q delivery.Queue) {
	b.t.Helper()
	if err := b.db.MarkEndpointCancelled(b.ctx, ep, time.Now()); err != nil {
		b.t.Fatal(err)
	}
	task, err := webhook.NewBackgroundTask(ep.OrgID, ep.AppID, webhook.TaskEndpointCancel,
		background.CancelParams{EndpointID: ep.ID, CreatedBefore: before})
	if err != nil {
		b.t.Fatal(err)
	}
	if err := b.db.CreateBackgroundTask(b.ctx, task); err != nil {
		b.t.Fatal(err)
	}
	p := &background.Processor{Store: b.db, Logger: slog.New(slog.DiscardHandler), Runners: map[webhook.TaskKind]background.Runner{
		webhook.TaskEndpointCancel: &background.Cancel{Store: b.db, Queue: q},
	}}
	for {
		ran, err := p.RunOnce(b.ctx)
		if err != nil {
			b.t.Fatal(err)
		}
		if !ran {
			return
		}
	}
}

// Attempts queued before a cancellation and run after it send nothing and
// record nothing, first attempts carrying their message included; the
// cancelled head of an ordering key hands the key on; resend still sends
// a cancelled message.
func TestCancelledDeliveriesAreNotSent(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{noWorker: true})
	rcv := newReceiver(t, nil)
	ep := b.endpoint(rcv.URL)
	key := "k"
	ordered := func(m *webhook.Message) { m.OrderingKey = &key }
	var queued []delivery.Job // what the publisher queued, as it queued it
	var cancelled []*webhook.Message
	for _, edit := range []func(*webhook.Message){nil, nil, ordered, ordered} {
		var msg *webhook.Message
		var ds []webhook.Delivery
		if edit == nil {
			msg, ds = b.publish("a", `{"n":1}`)
		} else {
			msg, ds = b.publish("a", `{"n":1}`, edit)
		}
		queued = append(queued, delivery.JobsFor(msg, ds)...)
		cancelled = append(cancelled, msg)
	}
	if len(queued) != 3 || queued[0].Fresh == nil { // the second ordered one is held
		t.Fatalf("publishing queued %d jobs (%+v), want 3 fresh ones", len(queued), queued)
	}
	time.Sleep(2 * time.Millisecond)
	cut := time.Now()
	time.Sleep(2 * time.Millisecond)
	next, _ := b.publish("a", `{"n":2}`, ordered) // held behind the cancelled head, after the cut

	released := &jobList{}
	b.cancelMsgs(ep, cut, released)
	for _, job := range queued {
		if _, err := b.attempter.Attempt(b.ctx, job); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(rcv.got()); n != 0 {
		t.Fatalf("the receiver got %d requests of cancelled deliveries", n)
	}
	for _, msg := range cancelled {
		if n := len(b.attempts(msg)); n != 0 {
			t.Fatalf("%d attempts recorded for a cancelled delivery", n)
		}
		if d := b.delivery(msg, ep); d.Status != webhook.StatusCanceled || d.NextAttemptAt != nil || d.Held {
			t.Fatalf("delivery after the cancellation: %+v", d)
		}
	}

	// The key went on to the message after the cut.
	if len(released.jobs) != 1 || released.jobs[0].Ref.DeliveryID != b.delivery(next, ep).ID {
		t.Fatalf("released %+v, want the next message of the key", released.jobs)
	}
	if _, err := b.attempter.Attempt(b.ctx, released.jobs[0]); err != nil {
		t.Fatal(err)
	}
	if got := rcv.got(); len(got) != 1 || got[0].header.Get("webhook-id") != next.ID {
		t.Fatalf("the receiver got %d requests, want the next message of the key", len(got))
	}
	b.waitStatus(next, ep, webhook.StatusSuccess)

	// A resend sends a cancelled message. (The queue still holds what the
	// publisher queued: served now, it sends nothing more.)
	if err := b.replayer.Resend(b.ctx, cancelled[0], ep); err != nil {
		t.Fatal(err)
	}
	go b.queue.Run(b.ctx, b.attempter, 1)
	b.waitStatus(cancelled[0], ep, webhook.StatusSuccess)
	b.waitFor("the queue to drain", func() bool { return b.queue.Len() == 0 })
	if n := len(rcv.got()); n != 2 {
		t.Fatalf("the receiver got %d requests, want 2 (the key's next message and the resend)", n)
	}
}
