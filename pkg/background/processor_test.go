package background_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/background"
	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/webhook"
)

// bundle is a migrated database with one organisation, application and
// endpoint.
type bundle struct {
	t   *testing.T
	ctx context.Context
	db  *postgres.DB
	dsn string
	org *webhook.Organisation
	app *webhook.Application
	ep  *webhook.Endpoint
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	dsn := postgrestest.NewDSN(t)
	db, err := postgres.Open(ctx, dsn, postgres.Options{MaxOpenConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	b := &bundle{t: t, ctx: ctx, db: db, dsn: dsn}
	if b.org, err = db.EnsureOrg(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	b.app = &webhook.Application{OrgID: b.org.ID, Name: "shop"}
	if err := db.CreateApp(ctx, b.app); err != nil {
		t.Fatal(err)
	}
	b.ep = b.endpoint()
	return b
}

func (b *bundle) endpoint() *webhook.Endpoint {
	b.t.Helper()
	ep := &webhook.Endpoint{OrgID: b.org.ID, AppID: b.app.ID, URL: "https://example.com/hook", Version: 1,
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	if err := b.db.CreateEndpoint(b.ctx, ep); err != nil {
		b.t.Fatal(err)
	}
	return ep
}

// failedMessage publishes a message and marks its deliveries failed (dead
// letters), returning them.
func (b *bundle) failedMessage() []webhook.Delivery {
	b.t.Helper()
	m := &webhook.Message{OrgID: b.org.ID, AppID: b.app.ID, EventType: "a", Payload: json.RawMessage(`{}`), RetentionDays: 90}
	ds, err := b.db.CreateMessage(b.ctx, m, "")
	if err != nil {
		b.t.Fatal(err)
	}
	b.exec("UPDATE deliveries SET status = $1, next_attempt_at = NULL, reconcile_at = NULL WHERE msg_id = $2", int(webhook.StatusFail), m.ID)
	return ds
}

func (b *bundle) exec(sql string, args ...any) {
	b.t.Helper()
	conn, err := pgx.Connect(b.ctx, b.dsn)
	if err != nil {
		b.t.Fatal(err)
	}
	defer conn.Close(b.ctx)
	if _, err := conn.Exec(b.ctx, sql, args...); err != nil {
		b.t.Fatal(err)
	}
}

func (b *bundle) task(kind webhook.TaskKind, params any) *webhook.BackgroundTask {
	b.t.Helper()
	task, err := webhook.NewBackgroundTask(b.org.ID, b.app.ID, kind, params)
	if err != nil {
		b.t.Fatal(err)
	}
	if err := b.db.CreateBackgroundTask(b.ctx, task); err != nil {
		b.t.Fatal(err)
	}
	return task
}

func (b *bundle) reload(id string) *webhook.BackgroundTask {
	b.t.Helper()
	task, err := b.db.FindBackgroundTask(b.ctx, b.org.ID, id)
	if err != nil {
		b.t.Fatal(err)
	}
	return task
}

// recordingQueue remembers what it was asked to enqueue.
type recordingQueue struct {
	mu  sync.Mutex
	got []delivery.Job
	err error
}

func (q *recordingQueue) Enqueue(_ context.Context, jobs ...delivery.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.got = append(q.got, jobs...)
	return q.err
}

// ids returns the deliveries of the jobs queued so far.
func (q *recordingQueue) ids() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var ids []string
	for _, j := range q.got {
		ids = append(ids, j.Ref.DeliveryID)
	}
	slices.Sort(ids)
	return ids
}

var quiet = slog.New(slog.DiscardHandler)

func TestRecoverInBatches(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := b.endpoint()
	var want []string
	var others []webhook.Delivery
	for range 5 {
		for _, d := range b.failedMessage() {
			if d.EndpointID == b.ep.ID {
				want = append(want, d.ID)
			} else {
				others = append(others, d)
			}
		}
	}
	slices.Sort(want)
	// Not recovered: a delivery that did not fail, and failed ones of
	// messages outside the time range (below) or of another endpoint.
	m := &webhook.Message{OrgID: b.org.ID, AppID: b.app.ID, EventType: "a", Payload: json.RawMessage(`{}`), RetentionDays: 90}
	if _, err := b.db.CreateMessage(b.ctx, m, ""); err != nil {
		t.Fatal(err)
	}
	until := time.Now()
	late := b.failedMessage()

	// Dispatch failing is not the task failing: the reconciler enqueues
	// what Redis did not take.
	queue := &recordingQueue{err: errors.New("redis: connection refused")}
	task := b.task(webhook.TaskEndpointRecover, background.RecoverParams{EndpointID: b.ep.ID, Since: until.Add(-time.Hour), Until: until})
	steps := 0
	p := &background.Processor{Store: b.db, Logger: quiet, Runners: map[webhook.TaskKind]background.Runner{
		webhook.TaskEndpointRecover: stepCounter{&background.Recover{Store: b.db, Queue: queue, BatchSize: 2, Logger: quiet}, &steps},
	}}
	if ran, err := p.RunOnce(b.ctx); !ran || err != nil {
		t.Fatalf("RunOnce = %v, %v", ran, err)
	}
	got := b.reload(task.ID)
	if got.Status != webhook.TaskFinished || !jsonEqual(got.Data, `{"recovered":5}`) {
		t.Fatalf("task = %s %s, want finished with 5 recovered", got.Status, got.Data)
	}
	if steps != 3 { // 2 + 2 + 1
		t.Fatalf("%d batches, want 3 of at most 2", steps)
	}
	if ids := queue.ids(); !slices.Equal(ids, want) {
		t.Fatalf("enqueued %v, want %v", ids, want)
	}
	for _, d := range append(late, others...) {
		b.wantStatus(d.MessageID, d.EndpointID, webhook.StatusFail)
	}
	if len(others) != 5 || others[0].EndpointID != other.ID {
		t.Fatalf("the other endpoint has %d failed deliveries, want 5", len(others))
	}
	if ran, _ := p.RunOnce(b.ctx); ran {
		t.Fatalf("a finished task was claimed again")
	}
}

// wantStatus checks the stored status of the delivery of msgID to epID.
func (b *bundle) wantStatus(msgID, epID string, want webhook.MessageStatus) {
	b.t.Helper()
	conn, err := pgx.Connect(b.ctx, b.dsn)
	if err != nil {
		b.t.Fatal(err)
	}
	defer conn.Close(b.ctx)
	var status int
	if err := conn.QueryRow(b.ctx, "SELECT status FROM deliveries WHERE msg_id = $1 AND endpoint_id = $2", msgID, epID).Scan(&status); err != nil {
		b.t.Fatal(err)
	}
	if webhook.MessageStatus(status) != want {
		b.t.Fatalf("delivery of %s to %s has status %d, want %d", msgID, epID, status, want)
	}
}

// stepCounter counts the Steps of the Runner it wraps.
type stepCounter struct {
	background.Runner
	n *int
}

func (s stepCounter) Step(ctx context.Context, t *webhook.BackgroundTask) (background.Progress, error) {
	*s.n++
	return s.Runner.Step(ctx, t)
}

// countRunner counts to its task's "to" parameter, one per Step, and
// records the cursors it was given.
type countRunner struct {
	mu      sync.Mutex
	cursors []string
	fail    func(cursor string) error // nil: never
}

func (r *countRunner) Step(_ context.Context, t *webhook.BackgroundTask) (background.Progress, error) {
	r.mu.Lock()
	r.cursors = append(r.cursors, t.Cursor)
	r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(t.Cursor); err != nil {
			return background.Progress{}, err
		}
	}
	var params struct{ To int }
	_ = json.Unmarshal(t.Params, &params)
	n := 0
	_, _ = fmt.Sscan(t.Cursor, &n)
	n++
	return background.Progress{Cursor: fmt.Sprint(n), Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n)), Done: n >= params.To}, nil
}

// A worker that dies holding a task loses it when its lease runs out: another
// resumes from the cursor last saved, and the dead one can save no more.
func TestCrashedWorkersTaskIsResumed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	task := b.task("endpoint.replay", map[string]int{"to": 5})
	kinds := []webhook.TaskKind{"endpoint.replay"}

	// Worker A claims it, saves two batches, and dies.
	const lease = time.Second
	claimed, err := b.db.ClaimBackgroundTask(b.ctx, "a", kinds, lease)
	if err != nil || claimed == nil || claimed.ID != task.ID {
		t.Fatalf("claim = %+v, %v", claimed, err)
	}
	claimed.Cursor, claimed.Data = "2", json.RawMessage(`{"n":2}`)
	// The lease runs from the save's statement: not before this.
	leasedUntil := time.Now().Add(lease)
	if err := b.db.SaveBackgroundTask(b.ctx, claimed, "a", lease); err != nil {
		t.Fatal(err)
	}

	// While the lease holds, nobody else gets it.
	runner := &countRunner{}
	p := &background.Processor{Store: b.db, Logger: quiet, Lease: time.Minute, Owner: "b",
		Runners: map[webhook.TaskKind]background.Runner{"endpoint.replay": runner}}
	if ran, err := p.RunOnce(b.ctx); ran || err != nil {
		t.Fatalf("RunOnce during A's lease = %v, %v, want nothing to run", ran, err)
	}
	// After it, B resumes from A's cursor and finishes.
	for deadline := time.Now().Add(10 * time.Second); ; {
		ran, err := p.RunOnce(b.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ran {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the task was not resumed within 10s of its lease")
		}
		time.Sleep(50 * time.Millisecond) // polling the store, as the processor does
	}
	if time.Now().Before(leasedUntil) {
		t.Fatalf("B took the task before A's lease ran out")
	}
	if !slices.Equal(runner.cursors, []string{"2", "3", "4"}) {
		t.Fatalf("B stepped from cursors %v, want 2, 3, 4", runner.cursors)
	}
	if got := b.reload(task.ID); got.Status != webhook.TaskFinished || got.Cursor != "5" {
		t.Fatalf("task = %+v, want finished at 5", got)
	}
	// A, back from the dead, cannot overwrite it.
	claimed.Cursor = "3"
	if err := b.db.SaveBackgroundTask(b.ctx, claimed, "a", lease); webhook.ErrorCode(err) != webhook.ELEASELOST {
		t.Fatalf("a save by the worker that lost the lease = %v, want %s", err, webhook.ELEASELOST)
	}
}

// Workers claiming at the same time never get the same task, and a worker
// claims only kinds it has a runner for.
func TestClaimsAreExclusive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var want []string
	for range 20 {
		want = append(want, b.task("endpoint.replay", map[string]int{}).ID)
	}
	unknown := b.task("sdk.generate", map[string]int{})
	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for {
				task, err := b.db.ClaimBackgroundTask(b.ctx, fmt.Sprint("w", w), []webhook.TaskKind{"endpoint.replay"}, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if task == nil {
					return
				}
				mu.Lock()
				got = append(got, task.ID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("claimed %d tasks (%v), want each of the %d once", len(got), got, len(want))
	}
	if slices.Contains(got, unknown.ID) {
		t.Fatalf("a task of a kind without runner was claimed")
	}
}

func TestStepErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	kinds := map[webhook.TaskKind]background.Runner{}
	p := &background.Processor{Store: b.db, Logger: quiet, Runners: kinds, RetryDelay: time.Millisecond, MaxErrors: 3}

	// An error with a code fails the task at once, with its message, and
	// keeps the counts so far.
	kinds["endpoint.replay"] = &countRunner{fail: func(cursor string) error {
		if cursor == "1" {
			return webhook.Errorf(webhook.ENOTFOUND, "endpoint not found")
		}
		return nil
	}}
	task := b.task("endpoint.replay", map[string]int{"to": 5})
	if ran, err := p.RunOnce(b.ctx); !ran || err != nil {
		t.Fatalf("RunOnce = %v, %v", ran, err)
	}
	if got := b.reload(task.ID); got.Status != webhook.TaskFailed || !jsonEqual(got.Data, `{"n":1,"error":"endpoint not found"}`) {
		t.Fatalf("task = %s %s, want failed with the reason and n 1", got.Status, got.Data)
	}

	// An infrastructure error pauses the task, which any worker retries;
	// after MaxErrors in a row it fails without leaking the error.
	kinds["endpoint.replay"] = &countRunner{fail: func(string) error { return errors.New("connection reset by peer") }}
	task = b.task("endpoint.replay", map[string]int{"to": 5})
	for i := 1; i <= 3; i++ {
		deadline := time.Now().Add(5 * time.Second)
		for {
			ran, err := p.RunOnce(b.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ran {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the task was not retried after error %d", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
		got := b.reload(task.ID)
		if i < 3 && (got.Status != webhook.TaskRunning || got.Errors != i) {
			t.Fatalf("after error %d: %s with %d errors, want running", i, got.Status, got.Errors)
		}
		if i == 3 && (got.Status != webhook.TaskFailed || !jsonEqual(got.Data, `{"error":"gave up after repeated internal errors"}`)) {
			t.Fatalf("after error 3: %s %s, want failed", got.Status, got.Data)
		}
	}
}

func jsonEqual(raw json.RawMessage, want string) bool {
	var a, b any
	return json.Unmarshal(raw, &a) == nil && json.Unmarshal([]byte(want), &b) == nil && fmt.Sprint(a) == fmt.Sprint(b)
}

// A task that runs longer than the processor's slice goes back, and the
// task that waited longest is taken next: long tasks take turns.
func TestLongTasksTakeTurns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := b.task("endpoint.replay", map[string]int{"to": 1000})
	second := b.task("endpoint.replay", map[string]int{"to": 1000})
	runner := &slowRunner{}
	p := &background.Processor{Store: b.db, Logger: quiet, Slice: 30 * time.Millisecond,
		Runners: map[webhook.TaskKind]background.Runner{"endpoint.replay": runner}}
	var order []string
	for range 4 {
		if ran, err := p.RunOnce(b.ctx); !ran || err != nil {
			t.Fatalf("RunOnce = %v, %v", ran, err)
		}
		order = append(order, runner.last())
	}
	want := []string{first.ID, second.ID, first.ID, second.ID}
	if !slices.Equal(order, want) {
		t.Fatalf("tasks ran in the order %v, want them to take turns: %v", order, want)
	}
	if got := b.reload(first.ID); got.Status != webhook.TaskRunning || got.Cursor == "" {
		t.Fatalf("a task handed back: %+v, want running with its progress", got)
	}
}

// slowRunner is a countRunner whose steps take 10ms; it remembers the task
// it stepped last.
type slowRunner struct {
	countRunner
	mu   sync.Mutex
	task string
}

func (r *slowRunner) Step(ctx context.Context, t *webhook.BackgroundTask) (background.Progress, error) {
	time.Sleep(10 * time.Millisecond)
	r.mu.Lock()
	r.task = t.ID
	r.mu.Unlock()
	return r.countRunner.Step(ctx, t)
}

func (r *slowRunner) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.task
}
