package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/svix/svix-webhooks/go/models"
)

// TestFailingEndpointDisabledWithOperationalWebhooks runs hookd with a 10 s
// disable window: an always-failing endpoint runs out of attempts
// (message.attempt.exhausted), is disabled after 10 s of failures
// (endpoint.disabled), and both operational webhooks arrive signed.
func TestFailingEndpointDisabledWithOperationalWebhooks(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a 10 s disable window")
	}
	t.Parallel()
	b := setupWithEnv(t, map[string]string{
		"HOOKD_WHITELIST_SUBNETS":              "127.0.0.0/8",
		"HOOKD_ENDPOINT_FAILURE_DISABLE_AFTER": "10s",
		"HOOKD_ENDPOINT_HEALTH_INTERVAL":       "200ms",
		"HOOKD_RETRY_SCHEDULE":                 "100ms,100ms",
	})
	svx := newSDK(t, b)
	ctx := context.Background()
	rcv, got := newOpReceiver(t)
	op, err := svx.OperationalWebhookEndpoint.Create(ctx, models.OperationalWebhookEndpointIn{
		Url:         rcv.URL + "/ops",
		FilterTypes: []string{"endpoint.disabled", "message.attempt.exhausted"},
	}, nil)
	must(t, "OperationalWebhookEndpoint.Create", err)
	secret, err := svx.OperationalWebhookEndpoint.GetSecret(ctx, op.Id)
	must(t, "OperationalWebhookEndpoint.GetSecret", err)

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	app, err := svx.Application.Create(ctx, models.ApplicationIn{Name: "Shop", Uid: ptr("shop")}, nil)
	must(t, "Application.Create", err)
	ep, err := svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{Url: failing.URL, Uid: ptr("down")}, nil)
	must(t, "Endpoint.Create", err)
	start := time.Now()
	msg, err := svx.Message.Create(ctx, app.Id, models.MessageIn{EventType: "order.paid", Payload: map[string]any{"n": 1}}, nil)
	must(t, "Message.Create", err)

	// Three attempts (the schedule has two delays), then the dead letter.
	var raw struct {
		Type string `json:"type"`
		Data struct {
			MsgID       string `json:"msgId"`
			EndpointID  string `json:"endpointId"`
			FailSince   *time.Time
			LastAttempt struct {
				ResponseStatusCode int `json:"responseStatusCode"`
			} `json:"lastAttempt"`
		} `json:"data"`
	}
	req := receiveRaw(t, got, secret.Key, 20*time.Second)
	if err := json.Unmarshal(req, &raw); err != nil || raw.Type != "message.attempt.exhausted" ||
		raw.Data.MsgID != msg.Id || raw.Data.EndpointID != ep.Id || raw.Data.LastAttempt.ResponseStatusCode != 500 {
		t.Fatalf("first operational webhook = %s (%v), want message.attempt.exhausted", req, err)
	}

	// After 10 s of failures, the endpoint is disabled.
	req = receiveRaw(t, got, secret.Key, 30*time.Second)
	took := time.Since(start)
	var disabled opEvent
	if err := json.Unmarshal(req, &disabled); err != nil || disabled.Type != "endpoint.disabled" ||
		disabled.Data.EndpointID != ep.Id || disabled.Data.AppUID == nil || *disabled.Data.AppUID != "shop" {
		t.Fatalf("second operational webhook = %s (%v), want endpoint.disabled", req, err)
	}
	if took < 10*time.Second {
		t.Fatalf("endpoint disabled after %v, before the 10 s window", took)
	}
	t.Logf("endpoint.disabled arrived %v after the first failure", took.Round(100*time.Millisecond))
	got2, err := svx.Endpoint.Get(ctx, app.Id, ep.Id)
	must(t, "Endpoint.Get", err)
	if got2.Disabled == nil || !*got2.Disabled {
		t.Fatalf("endpoint after the window = %+v, want disabled", got2)
	}
}

// receiveRaw waits for the next operational webhook, verifies its
// signature and returns its body.
func receiveRaw(t *testing.T, got <-chan opRequest, secret string, wait time.Duration) []byte {
	t.Helper()
	select {
	case req := <-got:
		verifyOp(t, req, secret)
		return req.body
	case <-time.After(wait):
		t.Fatalf("no operational webhook within %v", wait)
		return nil
	}
}
