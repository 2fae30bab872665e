package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

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
	ctx := context.Background()
	db := postgrestest.NewDB(t, nil)
	org, err := db.EnsureOrg(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	app := &webhook.Application{OrgID: org.ID, Name: "a"}
	if err := db.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	ep := &webhook.Endpoint{OrgID: org.ID, AppID: app.ID, URL: "https://example.com/h", Version: 1,
		Secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"}
	if err := db.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	return db, app, ep
}
