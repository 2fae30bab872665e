package postgres_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/secretbox"
	"github.com/hookd/hookd/pkg/webhook"
)

// LoadDelivery joins three tables in one query; every field must come back.
func TestLoadDeliveryReturnsTheWholeJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	box, _ := secretbox.New("main-secret")
	db := postgrestest.NewDB(t, box)
	org, _ := db.EnsureOrg(ctx, "acme")
	app := &webhook.Application{OrgID: org.ID, Name: "a"}
	if err := db.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	uid := "main"
	ep := &webhook.Endpoint{
		OrgID: org.ID, AppID: app.ID, UID: &uid, URL: "https://example.com/h", Version: 1,
		Secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", Headers: map[string]string{"X-A": "1"},
		Channels: []string{"c1"},
	}
	if err := db.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	msg := &webhook.Message{OrgID: org.ID, AppID: app.ID, EventType: "a.b", Channels: []string{"c1"},
		Payload: json.RawMessage(`{"z":1,"a":2}`), RetentionDays: 90}
	ds, err := db.CreateMessage(ctx, msg, "")
	if err != nil || len(ds) != 1 {
		t.Fatalf("CreateMessage = %v, %v", ds, err)
	}
	job, err := db.LoadDelivery(ctx, ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	d, m, e := job.Delivery, job.Message, job.Endpoint
	if d.ID != ds[0].ID || d.MessageID != msg.ID || d.EndpointID != ep.ID || d.AppID != app.ID || d.OrgID != org.ID ||
		d.Status != webhook.StatusPending || d.NextAttemptAt == nil {
		t.Errorf("delivery = %+v", d)
	}
	if m.ID != msg.ID || m.EventType != "a.b" || string(m.Payload) != `{"z":1,"a":2}` || len(m.Channels) != 1 {
		t.Errorf("message = %+v", m)
	}
	if e.ID != ep.ID || e.URL != ep.URL || e.Secret != ep.Secret || e.Headers["X-A"] != "1" || *e.UID != "main" {
		t.Errorf("endpoint = %+v", e)
	}
	if _, err := db.LoadDelivery(ctx, "dlv_nope"); webhook.ErrorCode(err) != webhook.ENOTFOUND {
		t.Errorf("unknown delivery: err = %v, want not found", err)
	}
}

// A scheduled attempt that finishes after a resend already delivered the
// message is recorded, but does not move the delivery back.
func TestScheduledAttemptAfterResendKeepsSuccess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := postgrestest.NewDB(t, nil)
	org, _ := db.EnsureOrg(ctx, "acme")
	app := &webhook.Application{OrgID: org.ID, Name: "a"}
	if err := db.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	ep := &webhook.Endpoint{OrgID: org.ID, AppID: app.ID, URL: "https://example.com/h", Version: 1,
		Secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"}
	if err := db.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	msg := &webhook.Message{OrgID: org.ID, AppID: app.ID, EventType: "a", Payload: json.RawMessage(`{}`), RetentionDays: 90}
	ds, err := db.CreateMessage(ctx, msg, "")
	if err != nil {
		t.Fatal(err)
	}
	attempt := func(trigger webhook.TriggerType, key string, tr webhook.Transition, next *time.Time) {
		t.Helper()
		status := webhook.StatusFail
		if tr == webhook.Succeeded {
			status = webhook.StatusSuccess
		}
		rec := &webhook.AttemptRecord{
			Attempt: webhook.Attempt{DeliveryID: ds[0].ID, OrgID: org.ID, AppID: app.ID, MessageID: msg.ID,
				EndpointID: ep.ID, URL: ep.URL, Status: status, TriggerType: trigger},
			TaskKey: key, Number: 1, Transition: tr, NextAttemptAt: next,
		}
		if ok, err := db.RecordAttempt(ctx, rec); err != nil || !ok {
			t.Fatalf("RecordAttempt(%s) = %v, %v", key, ok, err)
		}
	}
	attempt(webhook.TriggerManual, "m:1", webhook.Succeeded, nil)
	later := time.Now().Add(time.Hour)
	attempt(webhook.TriggerScheduled, "s:0:1", webhook.Retry, &later)
	job, err := db.LoadDelivery(ctx, ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if job.Delivery.Status != webhook.StatusSuccess || job.Delivery.NextAttemptAt != nil {
		t.Fatalf("delivery after a late scheduled failure = %+v, want still succeeded", job.Delivery)
	}
}
