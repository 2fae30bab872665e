//go:build cluster

package postgres_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/webhook"
)

// With a read replica, the lists read the replica and everything else the
// primary. The test starts a real primary and streaming replica, pauses
// the replica's replay, and publishes: the message is found, counted and
// loaded at once (primary), but missing from every list (replica) until
// the replay resumes.
func TestClusterReadReplica(t *testing.T) {
	ctx := context.Background()
	pg := postgrestest.StartReplicated(t)
	db, err := postgres.Open(ctx, pg.Primary.DSN("hookd"), postgres.Options{MaxOpenConns: 4, ReadDSN: pg.Replica.DSN("hookd")})
	if err == nil {
		_, err = db.Migrate(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })

	app, ep := postgrestest.NewAppWithEndpoint(t, db)
	pg.WaitReplayed(t)

	// The read pool is the replica: it is in recovery and refuses writes.
	replica, err := pgx.Connect(ctx, pg.Replica.DSN("hookd"))
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Close(ctx)
	if _, err := replica.Exec(ctx, "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}

	msg := &webhook.Message{OrgID: app.OrgID, AppID: app.ID, EventType: "a.b",
		Payload: json.RawMessage(`{"a":1}`), RetentionDays: 90}
	ds, err := db.PublishMessage(ctx, msg, "", webhook.FilterVerdicts{})
	if err != nil || len(ds) != 1 {
		t.Fatalf("PublishMessage = %v, %v (writes go to the primary)", ds, err)
	}
	rec := &webhook.AttemptRecord{
		Attempt: webhook.Attempt{DeliveryID: ds[0].ID, OrgID: app.OrgID, AppID: app.ID, MessageID: msg.ID,
			EndpointID: ep.ID, URL: ep.URL, Status: webhook.StatusSuccess, TriggerType: webhook.TriggerScheduled},
		TaskKey: "s:0:1", Number: 1, Transition: webhook.Succeeded,
	}
	if ok, err := db.RecordAttempt(ctx, rec); err != nil || !ok {
		t.Fatalf("RecordAttempt = %v, %v", ok, err)
	}

	// Reads of one thing, which callers act on, see it at once.
	if m, err := db.FindMessage(ctx, app, msg.ID); err != nil || m.ID != msg.ID {
		t.Errorf("FindMessage = %v, %v; want it from the primary", m, err)
	}
	if counts, err := db.CountDeliveries(ctx, []string{msg.ID}); err != nil || counts[msg.ID].Success != 1 {
		t.Errorf("CountDeliveries = %+v, %v; want one success from the primary", counts, err)
	}
	if job, err := db.LoadDelivery(ctx, ds[0].ID); err != nil || job.Delivery.Status != webhook.StatusSuccess {
		t.Errorf("LoadDelivery = %v, %v; want it from the primary", job, err)
	}

	// The lists read the replica, which has not replayed the publish yet.
	lists := func() (msgs, attempts, endpointMsgs, msgEndpoints int, stats webhook.EndpointStats) {
		t.Helper()
		opt := webhook.ListOptions{Limit: 50}
		pm, err := db.ListMessages(ctx, app, webhook.MessageFilter{}, opt)
		if err != nil {
			t.Fatal(err)
		}
		pa, err := db.ListAttempts(ctx, app, nil, nil, webhook.MessageFilter{}, opt)
		if err != nil {
			t.Fatal(err)
		}
		pe, err := db.ListEndpointMessages(ctx, ep, webhook.MessageFilter{}, opt)
		if err != nil {
			t.Fatal(err)
		}
		pme, err := db.ListMessageEndpoints(ctx, msg, opt)
		if err != nil {
			t.Fatal(err)
		}
		st, err := db.EndpointStats(ctx, ep, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return len(pm.Items), len(pa.Items), len(pe.Items), len(pme.Items), st
	}
	if m, a, em, me, st := lists(); m+a+em+me != 0 || st.Success != 0 {
		t.Fatalf("with the replay paused the lists found %d messages, %d attempts, %d endpoint messages, %d message endpoints, stats %+v; want none (read from the replica)",
			m, a, em, me, st)
	}

	if _, err := replica.Exec(ctx, "SELECT pg_wal_replay_resume()"); err != nil {
		t.Fatal(err)
	}
	pg.WaitReplayed(t)
	if m, a, em, me, st := lists(); m != 1 || a != 1 || em != 1 || me != 1 || st.Success != 1 {
		t.Fatalf("after the replay the lists found %d messages, %d attempts, %d endpoint messages, %d message endpoints, stats %+v; want one of each",
			m, a, em, me, st)
	}
}
