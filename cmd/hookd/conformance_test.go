package main

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"
	"github.com/svix/svix-webhooks/go/models"
	"github.com/svix/svix-webhooks/go/utils"
)

// These tests check, through the official Svix Go SDK, behaviour that
// Svix's own server has and that clients and receivers rely on.

// TestSDKRotatedSecretsAllSign rotates an endpoint's secret twice: a
// delivery then carries three signatures (current, and both rotated-out
// secrets within their 24 hours), and a receiver holding any of the three
// secrets verifies it with Svix's own library.
func TestSDKRotatedSecretsAllSign(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupWithEnv(t, map[string]string{"HOOKD_WHITELIST_SUBNETS": "127.0.0.0/8"})
	svx := newSDK(t, b)
	app := sdkApp(t, svx)
	rcv, got := newOpReceiver(t)

	secrets := []string{
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"whsec_dGhpcyBpcyBhIHRlc3Qgc2VjcmV0IGtleSBvayE=",
		"whsec_c2Vjb25kIHJvdGF0aW9uIHRlc3Qgc2VjcmV0IQ==",
	}
	ep, err := svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{Url: rcv.URL + "/hook", Secret: ptr(secrets[0])}, nil)
	must(t, "Endpoint.Create", err)
	for _, s := range secrets[1:] {
		must(t, "RotateSecret", svx.Endpoint.RotateSecret(ctx, app.Id, ep.Id, models.EndpointSecretRotateIn{Key: ptr(s)}, nil))
	}
	_, err = svx.Message.Create(ctx, app.Id, models.MessageIn{EventType: "user.signup", Payload: map[string]any{"n": 1}}, nil)
	must(t, "Message.Create", err)

	var req opRequest
	select {
	case req = <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery arrived within 20s")
	}
	if sigs := strings.Fields(req.header.Get("webhook-signature")); len(sigs) != 3 {
		t.Fatalf("webhook-signature = %q, want three signatures", req.header.Get("webhook-signature"))
	}
	for i, s := range secrets {
		wh, err := svix.NewWebhook(s)
		must(t, "svix.NewWebhook", err)
		if err := wh.Verify(req.body, req.header); err != nil {
			t.Errorf("a receiver with secret %d (of 3) cannot verify the delivery: %v", i+1, err)
		}
	}
	stranger, err := svix.NewWebhook("whsec_bm90IGEgc2VjcmV0IG9mIHRoaXMgZW5kcG9pbnQ=")
	must(t, "svix.NewWebhook", err)
	if err := stranger.Verify(req.body, req.header); err == nil {
		t.Errorf("a secret the endpoint never had verifies the delivery")
	}

	// Like Svix, an endpoint keeps at most 10 rotated-out secrets within
	// their grace periods: the 11th rotation in a day is refused, and the
	// secret is left as it was.
	for i := 3; i <= 10; i++ {
		must(t, "RotateSecret", svx.Endpoint.RotateSecret(ctx, app.Id, ep.Id, models.EndpointSecretRotateIn{}, nil))
	}
	current, err := svx.Endpoint.GetSecret(ctx, app.Id, ep.Id)
	must(t, "GetSecret", err)
	err = svx.Endpoint.RotateSecret(ctx, app.Id, ep.Id, models.EndpointSecretRotateIn{}, nil)
	wantErrorCode(t, wantStatus(t, "the 11th RotateSecret", err, http.StatusBadRequest), "limit_reached")
	after, err := svx.Endpoint.GetSecret(ctx, app.Id, ep.Id)
	must(t, "GetSecret", err)
	if after.Key != current.Key {
		t.Errorf("a refused rotation changed the secret")
	}
}

// TestSDKThrottleRateAtLeastOne: a rate of 0 would never deliver; like
// Svix's server, hookd refuses it.
func TestSDKThrottleRateAtLeastOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svx := newSDK(t, setup(t))

	_, err := svx.Application.Create(ctx, models.ApplicationIn{Name: "a", ThrottleRate: ptr(uint16(0))}, nil)
	wantStatus(t, "Application.Create with throttleRate 0", err, http.StatusUnprocessableEntity)
	app := sdkApp(t, svx)
	_, err = svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{Url: "https://example.com/hook", ThrottleRate: ptr(uint16(0))}, nil)
	wantStatus(t, "Endpoint.Create with throttleRate 0", err, http.StatusUnprocessableEntity)
	ep, err := svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{Url: "https://example.com/hook", ThrottleRate: ptr(uint16(1))}, nil)
	must(t, "Endpoint.Create with throttleRate 1", err)
	_, err = svx.Endpoint.Update(ctx, app.Id, ep.Id, models.EndpointUpdate{Url: "https://example.com/hook", ThrottleRate: ptr(uint16(0))})
	wantStatus(t, "Endpoint.Update with throttleRate 0", err, http.StatusUnprocessableEntity)
}

// TestSDKEventTypeSchemasAreJSONSchema: an event type's schemas must be
// valid JSON Schema, at create, update and patch.
func TestSDKEventTypeSchemasAreJSONSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svx := newSDK(t, setup(t))
	invalid := &map[string]any{"1": map[string]any{"readOnly": 15}}
	valid := &map[string]any{"1": map[string]any{"type": "object", "properties": map[string]any{"id": map[string]any{"type": "string", "readOnly": true}}}}

	_, err := svx.EventType.Create(ctx, models.EventTypeIn{Name: "invoice.paid", Description: "d", Schemas: invalid}, nil)
	body := wantStatus(t, "EventType.Create with an invalid schema", err, http.StatusUnprocessableEntity)
	if !strings.Contains(string(body), `"loc":["body","schemas","1"]`) || !strings.Contains(string(body), "readOnly") {
		t.Errorf("422 body %s does not name version 1 and readOnly", body)
	}
	_, err = svx.EventType.Create(ctx, models.EventTypeIn{Name: "invoice.paid", Description: "d", Schemas: valid}, nil)
	must(t, "EventType.Create with a valid schema", err)
	_, err = svx.EventType.Update(ctx, "invoice.paid", models.EventTypeUpdate{Description: "d", Schemas: invalid})
	wantStatus(t, "EventType.Update with an invalid schema", err, http.StatusUnprocessableEntity)
	_, err = svx.EventType.Patch(ctx, "invoice.paid", models.EventTypePatch{Schemas: utils.NewNullable(*invalid)})
	wantStatus(t, "EventType.Patch with an invalid schema", err, http.StatusUnprocessableEntity)
}

// TestSDKRecoverIsABackgroundTask: recover answers a running background
// task, which the worker runs: its status, read with BackgroundTask.Get,
// moves to finished with the count of recovered deliveries, and the
// recovered message reaches the receiver again.
func TestSDKRecoverIsABackgroundTask(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupWithEnv(t, map[string]string{"HOOKD_WHITELIST_SUBNETS": "127.0.0.0/8", "HOOKD_RETRY_SCHEDULE": "10ms"})
	svx := newSDK(t, b)
	app := sdkApp(t, svx)
	rcv := newToggleReceiver(t)
	rcv.healthy.Store(false)
	ep, err := svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{Url: rcv.srv.URL + "/hook"}, nil)
	must(t, "Endpoint.Create", err)
	since := time.Now().Add(-time.Minute)
	msg, err := svx.Message.Create(ctx, app.Id, models.MessageIn{EventType: "order.paid", Payload: map[string]any{"n": 1}}, nil)
	must(t, "Message.Create", err)
	waitUntil(t, 20*time.Second, "the delivery to fail", func() bool {
		out, err := svx.MessageAttempt.ListAttemptedDestinations(ctx, app.Id, msg.Id, nil)
		return err == nil && len(out.Data) == 1 && out.Data[0].Status == models.MESSAGESTATUS_FAIL
	})

	rcv.healthy.Store(true)
	hits := rcv.hits.Load()
	started, err := svx.Endpoint.Recover(ctx, app.Id, ep.Id, models.RecoverIn{Since: since}, nil)
	must(t, "Endpoint.Recover", err)
	if !strings.HasPrefix(started.Id, "qtask_") || started.Status != models.BACKGROUNDTASKSTATUS_RUNNING || started.Task != models.BACKGROUNDTASKTYPE_ENDPOINT_RECOVER {
		t.Fatalf("Recover = %+v, want a running endpoint.recover task", started)
	}
	var task *models.BackgroundTaskOut
	waitUntil(t, 20*time.Second, "the recover task to finish", func() bool {
		task, err = svx.BackgroundTask.Get(ctx, started.Id)
		must(t, "BackgroundTask.Get", err)
		return task.Status != models.BACKGROUNDTASKSTATUS_RUNNING
	})
	if task.Status != models.BACKGROUNDTASKSTATUS_FINISHED || task.Data["recovered"] != float64(1) || task.Id != started.Id {
		t.Fatalf("recover task = %+v, want finished with recovered 1", task)
	}
	waitUntil(t, 20*time.Second, "the recovered message to be delivered", func() bool { return rcv.hits.Load() > hits })

	list, err := svx.BackgroundTask.List(ctx, &svix.BackgroundTaskListOptions{
		Status: ptr(models.BACKGROUNDTASKSTATUS_FINISHED), Task: ptr(models.BACKGROUNDTASKTYPE_ENDPOINT_RECOVER),
	})
	must(t, "BackgroundTask.List", err)
	if len(list.Data) != 1 || list.Data[0].Id != started.Id || !list.Done {
		t.Fatalf("BackgroundTask.List = %+v, want the one finished recover", list)
	}
	list, err = svx.BackgroundTask.List(ctx, &svix.BackgroundTaskListOptions{Status: ptr(models.BACKGROUNDTASKSTATUS_FAILED)})
	must(t, "BackgroundTask.List failed", err)
	if len(list.Data) != 0 {
		t.Fatalf("failed tasks = %+v, want none", list.Data)
	}
}

// TestSDKFeatureFlags: an event type with a feature flag is invisible to an
// app-portal token that does not carry the flag, and visible to API keys.
func TestSDKFeatureFlags(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	svx := newSDK(t, b)
	app := sdkApp(t, svx)
	_, err := svx.EventType.Create(ctx, models.EventTypeIn{Name: "open", Description: "d"}, nil)
	must(t, "EventType.Create", err)
	_, err = svx.EventType.Create(ctx, models.EventTypeIn{Name: "beta.thing", Description: "d", FeatureFlags: []string{"beta"}}, nil)
	must(t, "EventType.Create with a feature flag", err)

	listAs := func(token string) []string {
		t.Helper()
		u, _ := url.Parse(b.url)
		client, err := svix.New(token, &svix.SvixOptions{ServerUrl: u, RetrySchedule: &[]time.Duration{}})
		must(t, "svix.New", err)
		l, err := client.EventType.List(ctx, nil)
		must(t, "EventType.List", err)
		return eventTypeNames(l.Data)
	}
	// sdkApp made user.created and user.deleted, without flags.
	if got := listAs(b.key); !slices.Equal(got, []string{"beta.thing", "open", "user.created", "user.deleted"}) {
		t.Errorf("the API key lists %v", got)
	}
	plain, err := svx.Authentication.AppPortalAccess(ctx, app.Id, models.AppPortalAccessIn{}, nil)
	must(t, "AppPortalAccess", err)
	if got := listAs(plain.Token); !slices.Equal(got, []string{"open", "user.created", "user.deleted"}) {
		t.Errorf("a portal token without flags lists %v, want all but beta.thing", got)
	}
	flagged, err := svx.Authentication.AppPortalAccess(ctx, app.Id, models.AppPortalAccessIn{FeatureFlags: []string{"beta"}}, nil)
	must(t, "AppPortalAccess with featureFlags", err)
	if got := listAs(flagged.Token); !slices.Equal(got, []string{"beta.thing", "open", "user.created", "user.deleted"}) {
		t.Errorf("a portal token with beta lists %v", got)
	}
}
