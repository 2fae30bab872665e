package maintenance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/maintenance"
	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/webhook"
)

const day = 24 * time.Hour

// retentionFixture is a Retention on its own database, whose clock the test
// moves (nothing sleeps), with an application that has one endpoint.
type retentionFixture struct {
	t         *testing.T
	ctx       context.Context
	db        *postgres.DB
	store     *recordingStore
	retention *maintenance.Retention
	app       *webhook.Application
	ep        *webhook.Endpoint
	start     time.Time
	now       time.Time
}

func setupRetention(t *testing.T) *retentionFixture {
	t.Helper()
	t.Parallel()
	ctx := context.Background()
	db := postgrestest.NewDB(t, nil)
	app, ep := postgrestest.NewAppWithEndpoint(t, db)
	f := &retentionFixture{t: t, ctx: ctx, db: db, store: &recordingStore{DB: db}, app: app, ep: ep,
		start: time.Now(), now: time.Now()}
	f.retention = &maintenance.Retention{Store: f.store, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return f.now }}
	return f
}

// publish creates a message kept for days with one attempt whose response
// is "ok".
func (f *retentionFixture) publish(days int) (*webhook.Message, *webhook.Attempt) {
	f.t.Helper()
	msg := &webhook.Message{OrgID: f.app.OrgID, AppID: f.app.ID, EventType: "a",
		Payload: json.RawMessage(`{"secret":1}`), RetentionDays: days}
	ds, err := f.db.CreateMessage(f.ctx, msg, "")
	if err != nil || len(ds) != 1 {
		f.t.Fatalf("CreateMessage = %v, %v", ds, err)
	}
	rec := &webhook.AttemptRecord{
		Attempt: webhook.Attempt{DeliveryID: ds[0].ID, OrgID: msg.OrgID, AppID: msg.AppID, MessageID: msg.ID,
			EndpointID: f.ep.ID, URL: f.ep.URL, Status: webhook.StatusSuccess, StatusCode: 200,
			Response: "ok", TriggerType: webhook.TriggerScheduled},
		TaskKey: "s:0:1", Number: 1, Transition: webhook.Succeeded,
	}
	if ok, err := f.db.RecordAttempt(f.ctx, rec); err != nil || !ok {
		f.t.Fatalf("RecordAttempt = %v, %v", ok, err)
	}
	return msg, &rec.Attempt
}

// runAt runs the retention once with the clock at start+at and checks what
// it cleared.
func (f *retentionFixture) runAt(at time.Duration, wantPayloads, wantResponses int64) {
	f.t.Helper()
	f.now = f.start.Add(at)
	res, err := f.retention.RunOnce(f.ctx)
	if err != nil || res.Payloads != wantPayloads || res.Responses != wantResponses || res.Unfinished {
		f.t.Fatalf("run at +%s = %+v, %v; want %d payloads and %d responses cleared, finished",
			at, res, err, wantPayloads, wantResponses)
	}
}

// content returns msg's payload and a's response as read back.
func (f *retentionFixture) content(msg *webhook.Message, a *webhook.Attempt) (payload, response string) {
	f.t.Helper()
	m, err := f.db.FindMessage(f.ctx, f.app, msg.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	got, err := f.db.FindAttempt(f.ctx, msg, a.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return string(m.Payload), got.Response
}

func (f *retentionFixture) wantKept(what string, msg *webhook.Message, a *webhook.Attempt) {
	f.t.Helper()
	if p, r := f.content(msg, a); p != `{"secret":1}` || r != "ok" {
		f.t.Errorf("%s: payload %q, response %q; want both kept", what, p, r)
	}
}

func (f *retentionFixture) wantCleared(what string, msg *webhook.Message, a *webhook.Attempt) {
	f.t.Helper()
	if p, r := f.content(msg, a); p != "" || r != "EXPUNGED" {
		f.t.Errorf("%s: payload %q, response %q; want none and EXPUNGED", what, p, r)
	}
}

// recordingStore wraps the real store and counts the calls: all of them,
// those whose range held rows, and those that read from the very beginning.
type recordingStore struct {
	*postgres.DB
	mu                        sync.Mutex
	total, examined, fromZero int
}

func (s *recordingStore) record(after, last string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	if last != "" {
		s.examined++
		if after == "" {
			s.fromZero++
		}
	}
}

func (s *recordingStore) totalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

func (s *recordingStore) ExpirePayloads(ctx context.Context, now time.Time, after, before string, limit int) (string, int64, int64, []int, error) {
	last, p, r, kept, err := s.DB.ExpirePayloads(ctx, now, after, before, limit)
	s.record(after, last)
	return last, p, r, kept, err
}

func (s *recordingStore) ExpireResponses(ctx context.Context, olderThan time.Time, after string, limit int) (string, int64, error) {
	last, n, err := s.DB.ExpireResponses(ctx, olderThan, after, limit)
	s.record(after, last)
	return last, n, err
}

// calls returns the counts and resets them.
func (s *recordingStore) calls() (examined, fromZero int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	examined, fromZero = s.examined, s.fromZero
	s.examined, s.fromZero = 0, 0
	return examined, fromZero
}

// Each message keeps its payload for its own period (5, 30 or 90 days); an
// attempt's response goes with its message's payload. A run right after
// another has nothing to do and reads nothing again.
func TestRetentionClearsEachMessageAtItsOwnPeriod(t *testing.T) {
	f := setupRetention(t)
	short, shortAttempt := f.publish(5)
	month, monthAttempt := f.publish(30)
	long, longAttempt := f.publish(90)

	f.runAt(day, 0, 0)
	f.wantKept("5-day message after a day", short, shortAttempt)

	f.runAt(6*day, 1, 1)
	f.wantCleared("5-day message after 6 days", short, shortAttempt)
	f.wantKept("30-day message after 6 days", month, monthAttempt)
	f.wantKept("90-day message after 6 days", long, longAttempt)
	f.store.calls()
	f.runAt(6*day, 0, 0)
	if examined, fromZero := f.store.calls(); examined != 0 || fromZero != 0 {
		t.Errorf("second run read %d non-empty ranges, %d from the start; want none (it goes on where it stopped)", examined, fromZero)
	}

	f.runAt(29*day, 0, 0)
	f.runAt(31*day, 1, 1)
	f.wantCleared("30-day message after 31 days", month, monthAttempt)
	f.wantKept("90-day message after 31 days", long, longAttempt)

	f.runAt(91*day, 1, 1)
	f.wantCleared("90-day message after 91 days", long, longAttempt)
	f.store.calls()
	f.runAt(91*day, 0, 0)
	if examined, _ := f.store.calls(); examined != 0 {
		t.Errorf("run after everything expired read %d non-empty ranges, want none", examined)
	}
	// The rows stay listable.
	page, err := f.db.ListMessages(f.ctx, f.app, webhook.MessageFilter{}, webhook.ListOptions{Limit: 10})
	if err != nil || len(page.Items) != 3 {
		t.Fatalf("ListMessages = %d messages, %v; want all 3", len(page.Items), err)
	}
	// A month after the longest retention, the records go, with their
	// deliveries and attempts: the database stops growing. Their day's
	// partitions are dropped whole (Deleted counts the rows deleted one by
	// one, none here).
	f.now = f.start.Add(121 * day)
	if _, err := f.retention.RunOnce(f.ctx); err != nil {
		t.Fatalf("run at 121 days: %v", err)
	}
	page, err = f.db.ListMessages(f.ctx, f.app, webhook.MessageFilter{}, webhook.ListOptions{Limit: 10})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("ListMessages after 121 days = %d messages, %v; want none", len(page.Items), err)
	}
	if _, err := f.db.FindAttempt(f.ctx, &webhook.Message{ID: long.ID}, longAttempt.ID); webhook.ErrorCode(err) != webhook.ENOTFOUND {
		t.Fatalf("attempt of a deleted message: %v, want not found", err)
	}
}

// Attempts older than the global period lose their response body even
// while their message keeps its payload.
func TestRetentionGlobalPeriodClearsResponses(t *testing.T) {
	f := setupRetention(t)
	f.retention.Period = 10 * day
	msg, attempt := f.publish(90)

	f.runAt(9*day, 0, 0)
	f.runAt(11*day, 0, 1)
	if p, r := f.content(msg, attempt); p != `{"secret":1}` || r != "EXPUNGED" {
		t.Errorf("after the global period: payload %q, response %q; want the payload kept, the response EXPUNGED", p, r)
	}
	f.runAt(91*day, 1, 0)
}

// With batches smaller than the work and a budget that allows one batch
// per run, successive runs go on where the last stopped and clear
// everything.
func TestRetentionResumesAcrossRuns(t *testing.T) {
	f := setupRetention(t)
	f.retention.BatchSize = 4
	f.retention.Budget = time.Nanosecond
	const n = 25
	for range n {
		f.publish(5)
	}
	f.now = f.start.Add(6 * day)

	var payloads, responses int64
	runs := 0
	for ; runs < 3*n; runs++ {
		res, err := f.retention.RunOnce(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		payloads, responses = payloads+res.Payloads, responses+res.Responses
		if !res.Unfinished {
			break
		}
	}
	if payloads != n || responses != n {
		t.Errorf("cleared %d payloads and %d responses, want %d each", payloads, responses, n)
	}
	if runs+1 != 8 {
		t.Errorf("finished in %d runs, want 8 (7 batches of at most 4, one a run, then one finding nothing left)", runs+1)
	}
	if _, fromZero := f.store.calls(); fromZero != 1 {
		t.Errorf("%d reads started from the beginning, want 1 (the first batch)", fromZero)
	}
	f.runAt(6*day, 0, 0)
}

// syncBuffer is a bytes.Buffer safe for the loop's logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The loop runs on its ticker, logs at Info only when it cleared
// something, and returns once its context is cancelled.
func TestRetentionLoopStopsWithItsContext(t *testing.T) {
	f := setupRetention(t)
	f.publish(5)
	f.now = f.start.Add(6 * day)
	var logs syncBuffer
	f.retention.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	f.retention.Interval = 5 * time.Millisecond

	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.retention.Run(ctx)
	}()
	// Wait for the run that clears the message and a few more with nothing
	// left to clear.
	deadline := time.Now().Add(10 * time.Second)
	for f.store.totalCalls() < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("the loop made %d calls in 10s; logs:\n%s", f.store.totalCalls(), logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	out := logs.String()
	if n := strings.Count(out, "level=INFO"); n != 1 || !strings.Contains(out, "payloads=1 responses=1") {
		t.Errorf("logs = %q; want one Info line, for the run that cleared 1 payload and 1 response", out)
	}
	if strings.Contains(out, "WARN") {
		t.Errorf("logs = %q; want no warning (a cancelled run is not a failure)", out)
	}
}
