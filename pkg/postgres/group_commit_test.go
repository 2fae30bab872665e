package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/webhook"
)

// Concurrent publishes share commits, and one that Postgres refuses (a
// taken eventId) fails alone: the others of its group are stored, once.
func TestGroupCommitKeepsEachPublishItsOwn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, app, ep := groupCommitSetup(t)
	const pairs = 60
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		stored    = map[string]int{} // eventId -> publishes stored
		conflicts int
	)
	for i := range 2 * pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			eventID := fmt.Sprintf("evt-%d", i%pairs)
			msg := &webhook.Message{OrgID: app.OrgID, AppID: app.ID, EventType: "a.b", EventID: &eventID,
				Payload: json.RawMessage(`{"i":1}`), RetentionDays: 90}
			ds, err := db.PublishMessage(ctx, msg, "", webhook.FilterVerdicts{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case webhook.ErrorCode(err) == webhook.ECONFLICT:
				conflicts++
			case err != nil:
				t.Errorf("PublishMessage: %v", err)
			case len(ds) != 1 || ds[0].EndpointID != ep.ID:
				t.Errorf("PublishMessage = %+v, want one delivery to %s", ds, ep.ID)
			default:
				stored[eventID]++
			}
		}()
	}
	wg.Wait()
	if conflicts != pairs || len(stored) != pairs {
		t.Fatalf("%d conflicts and %d event ids stored, want %d of each", conflicts, len(stored), pairs)
	}
	for id, n := range stored {
		if n != 1 {
			t.Errorf("event %s stored %d times", id, n)
		}
	}
	if commits, statements := db.GroupCommits(); commits >= statements {
		t.Errorf("%d commits for %d statements: nothing was grouped", commits, statements)
	}
}

// Concurrent records of the same attempts share commits and record each
// attempt exactly once.
func TestGroupCommitRecordsEachAttemptOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, app, ep := groupCommitSetup(t)
	const n = 60
	var deliveries []webhook.Delivery
	for range n {
		msg := &webhook.Message{OrgID: app.OrgID, AppID: app.ID, EventType: "a.b",
			Payload: json.RawMessage(`{"i":1}`), RetentionDays: 90}
		ds, err := db.PublishMessage(ctx, msg, "", webhook.FilterVerdicts{})
		if err != nil || len(ds) != 1 {
			t.Fatalf("PublishMessage = %v, %v", ds, err)
		}
		deliveries = append(deliveries, ds[0])
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		recorded = map[string]int{}
	)
	for i := range 3 * n { // each attempt recorded three times at once
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := deliveries[i%n]
			rec := &webhook.AttemptRecord{
				Attempt: webhook.Attempt{DeliveryID: d.ID, OrgID: d.OrgID, AppID: d.AppID, MessageID: d.MessageID,
					EndpointID: ep.ID, URL: ep.URL, Status: webhook.StatusSuccess, StatusCode: 200,
					TriggerType: webhook.TriggerScheduled},
				TaskKey: "s:0:1", Number: 1, Transition: webhook.Succeeded,
			}
			ok, err := db.RecordAttempt(ctx, rec)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("RecordAttempt: %v", err)
			}
			if ok {
				recorded[d.ID]++
			}
		}()
	}
	wg.Wait()
	for _, d := range deliveries {
		if recorded[d.ID] != 1 {
			t.Errorf("delivery %s: recorded %d times, want once", d.ID, recorded[d.ID])
		}
		job, err := db.LoadDelivery(ctx, d.ID)
		if err != nil || job.Delivery.Status != webhook.StatusSuccess {
			t.Errorf("delivery %s after its attempt: %+v, %v", d.ID, job, err)
		}
	}
	if commits, statements := db.GroupCommits(); commits >= statements {
		t.Errorf("%d commits for %d statements: nothing was grouped", commits, statements)
	}
}

func groupCommitSetup(t *testing.T) (*postgres.DB, *webhook.Application, *webhook.Endpoint) {
	t.Helper()
	db := postgrestest.NewDB(t, nil)
	app, ep := postgrestest.NewAppWithEndpoint(t, db)
	return db, app, ep
}

// Records of many endpoints at once, in groups in flight together, keep
// the health aggregates exact and never deadlock on them (the groups lock
// their endpoints' hour rows in one order).
func TestGroupCommitHealthAggregatesWithoutDeadlocks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := postgrestest.NewDSN(t)
	db, err := postgres.Open(ctx, dsn, postgres.Options{MaxOpenConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	const endpoints, messages = 6, 100
	app, _ := postgrestest.NewAppWithEndpoint(t, db)
	for range endpoints - 1 {
		postgrestest.NewEndpoint(t, db, app)
	}
	var deliveries []webhook.Delivery
	for range messages {
		msg := &webhook.Message{OrgID: app.OrgID, AppID: app.ID, EventType: "a.b",
			Payload: json.RawMessage(`{"i":1}`), RetentionDays: 90}
		ds, err := db.PublishMessage(ctx, msg, "", webhook.FilterVerdicts{})
		if err != nil || len(ds) != endpoints {
			t.Fatalf("PublishMessage = %d deliveries, %v", len(ds), err)
		}
		deliveries = append(deliveries, ds...)
	}
	// Deliveries in random order, so that each group holds several
	// endpoints in no particular order; every third one fails.
	rand.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })
	want := map[string][2]int{} // endpoint -> attempts, failures
	var wg sync.WaitGroup
	for i, d := range deliveries {
		status, transition := webhook.StatusSuccess, webhook.Succeeded
		if i%3 == 0 {
			status, transition = webhook.StatusFail, webhook.Exhausted
		}
		w := want[d.EndpointID]
		w[0]++
		if status == webhook.StatusFail {
			w[1]++
		}
		want[d.EndpointID] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := &webhook.AttemptRecord{
				Attempt: webhook.Attempt{DeliveryID: d.ID, OrgID: d.OrgID, AppID: d.AppID, MessageID: d.MessageID,
					EndpointID: d.EndpointID, URL: "https://example.com/h", Status: status, StatusCode: 200,
					TriggerType: webhook.TriggerScheduled},
				TaskKey: "s:0:1", Number: 1, Transition: transition,
			}
			if ok, err := db.RecordAttempt(ctx, rec); !ok || err != nil {
				t.Errorf("RecordAttempt = %v, %v", ok, err)
			}
		}()
	}
	wg.Wait()
	if commits, statements := db.GroupCommits(); commits >= statements {
		t.Errorf("%d commits for %d statements: nothing was grouped", commits, statements)
	}
	db.Close()

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT endpoint_id, sum(attempts), sum(failures) FROM endpoint_attempt_hours GROUP BY endpoint_id`)
	got := map[string][2]int{}
	var (
		id       string
		attempts int
		failures int
	)
	if _, err := pgx.ForEachRow(rows, []any{&id, &attempts, &failures}, func() error {
		got[id] = [2]int{attempts, failures}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Errorf("aggregates %v, want %v (attempts, failures per endpoint)", got, want)
	}
	// A backend counts its deadlocks when it ends: wait for the pool's.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var n int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n)
		if err == nil && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pool's backends did not end: %d left, %v", n, err)
		}
	}
	var deadlocks int64
	if err := conn.QueryRow(ctx, `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`).Scan(&deadlocks); err != nil {
		t.Fatal(err)
	}
	if deadlocks != 0 {
		t.Errorf("%d deadlocks while recording", deadlocks)
	}
}

// An attempt made while its endpoint was deleted has nothing left to be
// recorded in: it is not recorded, and that is no error (an error would
// make the attempter retry the record for minutes).
func TestRecordAttemptOfADeletedEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, app, ep := groupCommitSetup(t)
	msg := &webhook.Message{OrgID: app.OrgID, AppID: app.ID, EventType: "a.b", Payload: json.RawMessage(`{}`), RetentionDays: 90}
	ds, err := db.PublishMessage(ctx, msg, "", webhook.FilterVerdicts{})
	if err != nil || len(ds) != 1 {
		t.Fatalf("PublishMessage = %v, %v", ds, err)
	}
	if err := db.DeleteEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	d := ds[0]
	ok, err := db.RecordAttempt(ctx, &webhook.AttemptRecord{
		Attempt: webhook.Attempt{DeliveryID: d.ID, OrgID: d.OrgID, AppID: d.AppID, MessageID: d.MessageID,
			EndpointID: ep.ID, URL: ep.URL, Status: webhook.StatusSuccess, StatusCode: 200, TriggerType: webhook.TriggerScheduled},
		TaskKey: "s:0:1", Number: 1, Transition: webhook.Succeeded,
	})
	if ok || err != nil {
		t.Fatalf("RecordAttempt = %v, %v; want false, nil", ok, err)
	}
}
