package background_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/background"
	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/webhook"
)

// cancelProcessor runs endpoint.cancel tasks in batches of two.
func (b *bundle) cancelProcessor(queue *recordingQueue) *background.Processor {
	return &background.Processor{Store: b.db, Logger: quiet, Runners: map[webhook.TaskKind]background.Runner{
		webhook.TaskEndpointCancel: &background.Cancel{Store: b.db, Queue: queue, BatchSize: 2},
	}}
}

// cancel-msgs cancels the pending, retrying and held deliveries of
// messages before its time, and no others; a cancelled head hands its
// ordering key on to the first message after the cut, which is queued.
func TestCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key := "k"
	k1, _ := b.publish("a", nil, nil, &key) // the key's head
	k2, _ := b.publish("a", nil, nil, &key) // held
	k3, _ := b.publish("a", nil, nil, &key) // held
	u1, _ := b.publish("a", nil, nil, nil)  // pending
	u2, _ := b.publish("a", nil, nil, nil)
	b.setDelivery(u2, b.ep, webhook.StatusSending, 503)
	u3, _ := b.publish("a", nil, nil, nil)
	b.setDelivery(u3, b.ep, webhook.StatusSuccess, 200)
	u4, _ := b.publish("a", nil, nil, nil)
	b.setDelivery(u4, b.ep, webhook.StatusFail, 500)
	other := b.endpoint()
	time.Sleep(2 * time.Millisecond)
	cut := time.Now()
	time.Sleep(2 * time.Millisecond)
	k4, _ := b.publish("a", nil, nil, &key) // held, after the cut
	u5, _ := b.publish("a", nil, nil, nil)  // pending, after the cut

	task := b.task(webhook.TaskEndpointCancel, background.CancelParams{EndpointID: b.ep.ID, CreatedBefore: cut})
	queue := &recordingQueue{}
	b.runTask(b.cancelProcessor(queue))
	if got := b.reload(task.ID); got.Status != webhook.TaskFinished || !jsonEqual(got.Data, `{"canceled":5}`) {
		t.Fatalf("task = %s %s, want finished with 5 canceled", got.Status, got.Data)
	}
	after := b.deliveries(b.ep)
	for name, tc := range map[string]struct {
		msg    *webhook.Message
		status webhook.MessageStatus
	}{
		"k1": {k1, webhook.StatusCanceled}, "k2": {k2, webhook.StatusCanceled}, "k3": {k3, webhook.StatusCanceled},
		"u1": {u1, webhook.StatusCanceled}, "u2": {u2, webhook.StatusCanceled},
		"u3": {u3, webhook.StatusSuccess}, "u4": {u4, webhook.StatusFail}, "u5": {u5, webhook.StatusPending},
		"k4": {k4, webhook.StatusPending},
	} {
		d := after[tc.msg.ID]
		if d.Status != int(tc.status) {
			t.Errorf("%s: status %d, want %d", name, d.Status, tc.status)
		}
		if tc.status == webhook.StatusCanceled && (d.NextAttemptAt != nil || d.Held) {
			t.Errorf("%s: cancelled but %+v", name, d)
		}
	}
	// The key went on to k4: released, due, queued.
	if d := after[k4.ID]; d.Held || d.NextAttemptAt == nil {
		t.Fatalf("k4 after its key's head was cancelled: %+v, want released and due", d)
	}
	if ids := queue.ids(); !slices.Equal(ids, []string{after[k4.ID].ID}) {
		t.Fatalf("queued %v, want k4's delivery %s", ids, after[k4.ID].ID)
	}
	for _, d := range b.deliveries(other) {
		if d.Status == int(webhook.StatusCanceled) {
			t.Fatalf("another endpoint's delivery was cancelled: %+v", d)
		}
	}
	stats, err := b.db.EndpointStats(b.ctx, b.ep, cut.Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil || stats.Canceled != 5 || stats.Success != 1 || stats.Fail != 1 || stats.Pending != 2 {
		t.Fatalf("stats %+v, %v; want 5 canceled, 1 success, 1 fail, 2 pending", stats, err)
	}

	// Recover sends cancelled deliveries again, with the failed one.
	rec := b.task(webhook.TaskEndpointRecover, background.RecoverParams{EndpointID: b.ep.ID, Since: cut.Add(-time.Hour), Until: cut})
	p := &background.Processor{Store: b.db, Logger: quiet, Runners: map[webhook.TaskKind]background.Runner{
		webhook.TaskEndpointRecover: &background.Recover{Store: b.db, Queue: queue},
	}}
	b.runTask(p)
	if got := b.reload(rec.ID); !jsonEqual(got.Data, `{"recovered":6}`) {
		t.Fatalf("recover after the cancellation: %s, want 6 recovered (5 canceled, 1 failed)", got.Data)
	}
}

// A cancellation only of messages that were published before it: a
// createdBefore in the future is now, and nothing matching is a finished
// task with 0.
func TestCancelNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m, _ := b.publish("a", nil, nil, nil)
	b.setDelivery(m, b.ep, webhook.StatusSuccess, 200)
	task := b.task(webhook.TaskEndpointCancel, background.CancelParams{EndpointID: b.ep.ID, CreatedBefore: time.Now()})
	b.runTask(b.cancelProcessor(&recordingQueue{}))
	if got := b.reload(task.ID); got.Status != webhook.TaskFinished || !jsonEqual(got.Data, `{"canceled":0}`) {
		t.Fatalf("task = %s %s", got.Status, got.Data)
	}
}

// A broadcast publishes the message to every application with an endpoint
// it goes to, once each: its eventId makes a repeat find the same message.
func TestBroadcast(t *testing.T) {
	t.Parallel()
	b := setup(t)
	apps := map[string]*webhook.Application{"shop": b.app}
	for _, name := range []string{"filtered", "other-type", "no-endpoint", "disabled", "channels"} {
		app := &webhook.Application{OrgID: b.org.ID, Name: name}
		if err := b.db.CreateApp(b.ctx, app); err != nil {
			t.Fatal(err)
		}
		apps[name] = app
		if name == "no-endpoint" {
			continue
		}
		ep := &webhook.Endpoint{OrgID: b.org.ID, AppID: app.ID, URL: "https://example.com/" + name, Version: 1,
			Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
		if err := b.db.CreateEndpoint(b.ctx, ep); err != nil {
			t.Fatal(err)
		}
		switch name {
		case "filtered":
			b.exec(`UPDATE endpoints SET filter_types = '["news"]' WHERE id = $1`, ep.ID)
		case "other-type":
			b.exec(`UPDATE endpoints SET filter_types = '["invoice"]' WHERE id = $1`, ep.ID)
		case "disabled":
			b.exec(`UPDATE endpoints SET disabled = true WHERE id = $1`, ep.ID)
		case "channels":
			b.exec(`UPDATE endpoints SET channels = '["eu"]' WHERE id = $1`, ep.ID)
		}
	}
	want := []string{apps["shop"].ID, apps["filtered"].ID}
	slices.Sort(want)
	run := func() map[string]string {
		t.Helper()
		task := b.task(webhook.TaskMessageBroadcast, background.BroadcastParams{
			EventType: "news", EventID: "launch-1", Payload: `{"launch":true}`, RetentionDays: 30,
		})
		b.exec(`UPDATE background_tasks SET app_id = NULL WHERE id = $1`, task.ID)
		queue := &recordingQueue{}
		p := &background.Processor{Store: b.db, Logger: quiet, Runners: map[webhook.TaskKind]background.Runner{
			webhook.TaskMessageBroadcast: &background.Broadcast{Store: b.db, Publisher: &delivery.Publisher{Store: b.db, Queue: queue}, BatchSize: 1},
		}}
		b.runTask(p)
		got := b.reload(task.ID)
		var data background.BroadcastData
		if err := json.Unmarshal(got.Data, &data); err != nil || got.Status != webhook.TaskFinished || data.Total != 2 {
			t.Fatalf("task = %s %s, want finished with 2 messages", got.Status, got.Data)
		}
		out := map[string]string{}
		var appIDs []string
		for _, m := range data.MessagesCreated {
			out[m.AppID] = m.MsgID
			appIDs = append(appIDs, m.AppID)
		}
		if !slices.Equal(appIDs, want) {
			t.Fatalf("messages created in %v, want %v", appIDs, want)
		}
		return out
	}
	first, second := run(), run()
	for app, msg := range first {
		if second[app] != msg {
			t.Fatalf("the repeated broadcast made %s in %s, the first %s", second[app], app, msg)
		}
		m, err := b.db.FindMessage(b.ctx, &webhook.Application{ID: app}, "launch-1")
		if err != nil || m.ID != msg || string(m.Payload) != `{"launch":true}` || m.RetentionDays != 30 {
			t.Fatalf("message of %s by eventId = %+v, %v", app, m, err)
		}
	}
}
