package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/webhook"
)

const day = 24 * time.Hour

// retentionBundle is an application with one endpoint, so that every
// message gets a delivery its attempts can be recorded on.
type retentionBundle struct {
	t   *testing.T
	ctx context.Context
	db  *postgres.DB
	app *webhook.Application
	ep  *webhook.Endpoint
}

func setupRetention(t *testing.T) *retentionBundle {
	t.Helper()
	t.Parallel()
	ctx := context.Background()
	db := postgrestest.NewDB(t, nil)
	app, ep := postgrestest.NewAppWithEndpoint(t, db)
	return &retentionBundle{t: t, ctx: ctx, db: db, app: app, ep: ep}
}

// publish creates a message kept for days, with one attempt whose response
// is "ok", and returns them with the message's delivery.
func (b *retentionBundle) publish(days int) (*webhook.Message, *webhook.Attempt, webhook.Delivery) {
	b.t.Helper()
	msg := &webhook.Message{OrgID: b.app.OrgID, AppID: b.app.ID, EventType: "a",
		Payload: json.RawMessage(`{"secret":1}`), RetentionDays: days}
	ds, err := b.db.CreateMessage(b.ctx, msg, "")
	if err != nil || len(ds) != 1 {
		b.t.Fatalf("CreateMessage = %v, %v", ds, err)
	}
	return msg, b.attempt(msg, ds[0]), ds[0]
}

// attempt records an attempt of d whose response is "ok".
func (b *retentionBundle) attempt(msg *webhook.Message, d webhook.Delivery) *webhook.Attempt {
	b.t.Helper()
	rec := &webhook.AttemptRecord{
		Attempt: webhook.Attempt{DeliveryID: d.ID, OrgID: msg.OrgID, AppID: msg.AppID, MessageID: msg.ID,
			EndpointID: b.ep.ID, URL: b.ep.URL, Status: webhook.StatusSuccess, StatusCode: 200,
			Response: "ok", TriggerType: webhook.TriggerManual},
		TaskKey: webhook.NewID("k_"), Transition: webhook.Succeeded,
	}
	if ok, err := b.db.RecordAttempt(b.ctx, rec); err != nil || !ok {
		b.t.Fatalf("RecordAttempt = %v, %v", ok, err)
	}
	return &rec.Attempt
}

// payload returns msg's payload as read back ("" once cleared).
func (b *retentionBundle) payload(msg *webhook.Message) string {
	b.t.Helper()
	m, err := b.db.FindMessage(b.ctx, b.app, msg.ID)
	if err != nil {
		b.t.Fatal(err)
	}
	return string(m.Payload)
}

// response returns a's response as read back ("EXPUNGED" once cleared).
func (b *retentionBundle) response(msg *webhook.Message, a *webhook.Attempt) string {
	b.t.Helper()
	got, err := b.db.FindAttempt(b.ctx, msg, a.ID)
	if err != nil {
		b.t.Fatal(err)
	}
	return got.Response
}

// expirePayloads calls ExpirePayloads over the messages older than five
// days at now and checks what it reports.
func (b *retentionBundle) expirePayloads(now time.Time, wantPayloads, wantResponses int64, wantKept []int) {
	b.t.Helper()
	before := webhook.TimeID(webhook.PrefixMessage, now.Add(-webhook.MinRetentionDays*day))
	_, p, r, kept, err := b.db.ExpirePayloads(b.ctx, now, "", before, 1000)
	slices.Sort(kept)
	if err != nil || p != wantPayloads || r != wantResponses || !slices.Equal(kept, wantKept) {
		b.t.Fatalf("ExpirePayloads(now %s) = %d payloads, %d responses, kept %v, %v; want %d, %d, %v",
			now.Format(time.DateOnly), p, r, kept, err, wantPayloads, wantResponses, wantKept)
	}
}

// Each message keeps its payload for its own period; its attempts'
// responses go with it. Cleared content reads back as expunged, and the
// rows stay.
func TestExpirePayloadsPerMessagePeriod(t *testing.T) {
	b := setupRetention(t)
	short, shortAttempt, _ := b.publish(5)
	long, longAttempt, _ := b.publish(90)
	month, _, _ := b.publish(30)
	// An expunged message is skipped, with its attempts (they go with the
	// global period).
	expunged, expungedAttempt, _ := b.publish(5)
	if err := b.db.ExpungeMessage(b.ctx, expunged); err != nil {
		t.Fatal(err)
	}
	now := time.Now()

	// Nothing is five days old yet.
	b.expirePayloads(now.Add(4*day), 0, 0, nil)

	// Six days on: the 5-day message is expired, the others are kept and
	// reported so that the caller comes back for them.
	b.expirePayloads(now.Add(6*day), 1, 1, []int{30, 90})
	if got := b.payload(short); got != "" {
		t.Errorf("5-day message after 6 days: payload %q, want none", got)
	}
	if got := b.response(short, shortAttempt); got != "EXPUNGED" {
		t.Errorf("its attempt's response = %q, want EXPUNGED", got)
	}
	if got := b.payload(long); got != `{"secret":1}` {
		t.Errorf("90-day message after 6 days: payload %q, want it kept", got)
	}
	if got := b.response(long, longAttempt); got != "ok" {
		t.Errorf("its attempt's response = %q, want ok", got)
	}
	if got := b.response(expunged, expungedAttempt); got != "ok" {
		t.Errorf("expunged message's attempt = %q, want it left to the global period", got)
	}
	// A second pass has nothing left to do.
	b.expirePayloads(now.Add(6*day), 0, 0, []int{30, 90})

	b.expirePayloads(now.Add(31*day), 1, 1, []int{90})
	if got := b.payload(month); got != "" {
		t.Errorf("30-day message after 31 days: payload %q, want none", got)
	}
	b.expirePayloads(now.Add(91*day), 1, 1, nil)
	if got := b.payload(long); got != "" {
		t.Errorf("90-day message after 91 days: payload %q, want none", got)
	}
	if got := b.response(long, longAttempt); got != "EXPUNGED" {
		t.Errorf("its attempt's response = %q, want EXPUNGED", got)
	}
	// The rows stay listable.
	page, err := b.db.ListMessages(b.ctx, b.app, webhook.MessageFilter{}, webhook.ListOptions{Limit: 10})
	if err != nil || len(page.Items) != 4 {
		t.Fatalf("ListMessages = %d messages, %v; want all 4", len(page.Items), err)
	}
}

// A range larger than a batch is cleared over several calls, each going on
// after the last id the previous one examined; ids at or past before are
// not touched.
func TestExpirePayloadsInBatches(t *testing.T) {
	b := setupRetention(t)
	var msgs []*webhook.Message
	for range 7 {
		m, _, _ := b.publish(5)
		msgs = append(msgs, m)
	}
	cut := time.Now()
	later, _, _ := b.publish(5)
	before := webhook.TimeID(webhook.PrefixMessage, cut)
	now := time.Now().Add(30 * day)

	after, calls, total := "", 0, int64(0)
	for {
		last, p, r, _, err := b.db.ExpirePayloads(b.ctx, now, after, before, 3)
		if err != nil {
			t.Fatal(err)
		}
		calls++
		if p > 3 || r != p {
			t.Fatalf("call %d cleared %d payloads, %d responses; want at most the batch, one response each", calls, p, r)
		}
		total += p
		if last == "" {
			break
		}
		after = last
	}
	if total != 7 || calls != 4 {
		t.Errorf("cleared %d payloads in %d calls, want 7 in 4 (3+3+1, then an empty range)", total, calls)
	}
	for i, m := range msgs {
		if got := b.payload(m); got != "" {
			t.Errorf("message %d: payload %q, want none", i, got)
		}
	}
	if got := b.payload(later); got == "" {
		t.Error("a message past before was cleared")
	}
}

// Attempts past the global period lose their response whatever their
// message's period; the walk is batched like the messages'.
func TestExpireResponses(t *testing.T) {
	b := setupRetention(t)
	msg, first, d := b.publish(90)
	second := b.attempt(msg, d)
	cut := time.Now()
	third := b.attempt(msg, d)

	var cleared []int64
	for after := ""; ; {
		last, n, err := b.db.ExpireResponses(b.ctx, cut, after, 1)
		if err != nil {
			t.Fatal(err)
		}
		if last == "" {
			break
		}
		cleared, after = append(cleared, n), last
	}
	if fmt.Sprint(cleared) != "[1 1]" {
		t.Errorf("responses cleared per call = %v, want [1 1]", cleared)
	}
	for _, a := range []*webhook.Attempt{first, second} {
		if got := b.response(msg, a); got != "EXPUNGED" {
			t.Errorf("attempt before the cut: response %q, want EXPUNGED", got)
		}
	}
	if got := b.response(msg, third); got != "ok" {
		t.Errorf("attempt after the cut: response %q, want ok", got)
	}
	if got := b.payload(msg); got == "" {
		t.Error("the message's payload went with its attempts' responses")
	}
}
