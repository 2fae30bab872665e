package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	svix "github.com/svix/svix-webhooks/go"
	"github.com/svix/svix-webhooks/go/models"
)

// opRequest is one request an operational-webhook receiver got.
type opRequest struct {
	path   string
	header http.Header
	body   []byte
}

// newOpReceiver returns a local receiver that answers 204 and hands every
// request it gets to the returned channel.
func newOpReceiver(t *testing.T) (*httptest.Server, <-chan opRequest) {
	t.Helper()
	got := make(chan opRequest, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		select {
		case got <- opRequest{path: r.URL.Path, header: r.Header.Clone(), body: body}:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// opEvent is an operational webhook's body, as Svix documents it.
type opEvent struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      struct {
		AppID       string  `json:"appId"`
		AppUID      *string `json:"appUid"`
		EndpointID  string  `json:"endpointId"`
		EndpointUID *string `json:"endpointUid"`
	} `json:"data"`
}

// receiveOp waits for the next operational webhook, checks its signature
// with the Standard Webhooks reference library and secret, and decodes it.
func receiveOp(t *testing.T, got <-chan opRequest, secret string) opEvent {
	t.Helper()
	var req opRequest
	select {
	case req = <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("no operational webhook arrived within 20s")
	}
	verifyOp(t, req, secret)
	var ev opEvent
	if err := json.Unmarshal(req.body, &ev); err != nil {
		t.Fatalf("operational webhook body %s: %v", req.body, err)
	}
	return ev
}

// verifyOp checks an operational webhook's signature with the Standard
// Webhooks reference library.
func verifyOp(t *testing.T, req opRequest, secret string) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(req.body, req.header); err != nil {
		t.Fatalf("operational webhook %s does not verify with the endpoint's secret: %v", req.body, err)
	}
}

// TestOperationalWebhookEndToEnd registers an operational-webhook endpoint
// through the official Svix Go SDK, creates an application endpoint, and
// checks the signed endpoint.created webhook that arrives; then it drives
// every other operational-webhook route through the SDK.
func TestOperationalWebhookEndToEnd(t *testing.T) {
	t.Parallel()
	b := setupWithEnv(t, map[string]string{"HOOKD_WHITELIST_SUBNETS": "127.0.0.0/8"})
	svx := newSDK(t, b)
	ctx := context.Background()
	rcv, got := newOpReceiver(t)

	ops := svx.OperationalWebhookEndpoint
	op, err := ops.Create(ctx, models.OperationalWebhookEndpointIn{
		Url:         rcv.URL + "/ops",
		Uid:         ptr("pager"),
		Description: ptr("on-call"),
		FilterTypes: []string{"endpoint.created", "endpoint.deleted"},
		Metadata:    &map[string]string{"team": "sre"},
	}, nil)
	must(t, "OperationalWebhookEndpoint.Create", err)
	if op.Uid == nil || *op.Uid != "pager" || op.Description != "on-call" || op.Metadata["team"] != "sre" ||
		!slices.Equal(op.FilterTypes, []string{"endpoint.created", "endpoint.deleted"}) {
		t.Fatalf("created operational endpoint = %+v", op)
	}
	secret, err := ops.GetSecret(ctx, op.Id)
	must(t, "OperationalWebhookEndpoint.GetSecret", err)

	// An application endpoint is created: endpoint.created arrives, signed.
	app, err := svx.Application.Create(ctx, models.ApplicationIn{Name: "Shop", Uid: ptr("shop")}, nil)
	must(t, "Application.Create", err)
	ep, err := svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{Url: "https://example.com/hook", Uid: ptr("ep-main")}, nil)
	must(t, "Endpoint.Create", err)
	before := time.Now()
	ev := receiveOp(t, got, secret.Key)
	if ev.Type != "endpoint.created" || ev.Data.AppID != app.Id || ev.Data.AppUID == nil || *ev.Data.AppUID != "shop" ||
		ev.Data.EndpointID != ep.Id || ev.Data.EndpointUID == nil || *ev.Data.EndpointUID != "ep-main" {
		t.Fatalf("operational webhook = %+v", ev)
	}
	if ev.Timestamp.IsZero() || ev.Timestamp.After(before) {
		t.Fatalf("operational webhook timestamp %v, want the time of the change", ev.Timestamp)
	}

	// The rest of the routes, through the SDK.
	list, err := ops.List(ctx, &svix.OperationalWebhookEndpointListOptions{Limit: ptr(uint64(10))})
	must(t, "OperationalWebhookEndpoint.List", err)
	if len(list.Data) != 1 || list.Data[0].Id != op.Id || !list.Done {
		t.Fatalf("list = %+v", list)
	}
	gotOp, err := ops.Get(ctx, "pager")
	must(t, "OperationalWebhookEndpoint.Get", err)
	if gotOp.Id != op.Id || gotOp.Url != rcv.URL+"/ops" {
		t.Fatalf("get = %+v", gotOp)
	}
	updated, err := ops.Update(ctx, "pager", models.OperationalWebhookEndpointUpdate{
		Url: rcv.URL + "/ops2", FilterTypes: []string{"endpoint.deleted"}, ThrottleRate: ptr(uint16(5)),
	})
	must(t, "OperationalWebhookEndpoint.Update", err)
	if updated.Id != op.Id || updated.Url != rcv.URL+"/ops2" || !slices.Equal(updated.FilterTypes, []string{"endpoint.deleted"}) ||
		updated.ThrottleRate == nil || *updated.ThrottleRate != 5 {
		t.Fatalf("update = %+v", updated)
	}
	must(t, "OperationalWebhookEndpoint.UpdateHeaders", ops.UpdateHeaders(ctx, "pager",
		models.OperationalWebhookEndpointHeadersIn{Headers: map[string]string{"X-Team": "sre"}}))
	headers, err := ops.GetHeaders(ctx, "pager")
	must(t, "OperationalWebhookEndpoint.GetHeaders", err)
	if headers.Headers["X-Team"] != "sre" {
		t.Fatalf("headers = %+v", headers)
	}
	const newKey = "whsec_Y2JkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY="
	must(t, "OperationalWebhookEndpoint.RotateSecret", ops.RotateSecret(ctx, "pager",
		models.OperationalWebhookEndpointSecretIn{Key: ptr(newKey)}, nil))
	rotated, err := ops.GetSecret(ctx, op.Id)
	must(t, "OperationalWebhookEndpoint.GetSecret after rotation", err)
	if rotated.Key != newKey {
		t.Fatalf("secret after rotation = %q", rotated.Key)
	}

	// The updated endpoint (new URL, filter, headers and secret) gets the
	// deletion, signed with the new secret and the old one. First attempts
	// reuse an endpoint the worker read within the last second (its
	// EndpointTTL): the change is given that long to reach them.
	time.Sleep(1200 * time.Millisecond)
	must(t, "Endpoint.Delete", svx.Endpoint.Delete(ctx, app.Id, ep.Id))
	var req opRequest
	select {
	case req = <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("no endpoint.deleted webhook arrived within 20s")
	}
	for _, key := range []string{newKey, secret.Key} {
		wh, err := standardwebhooks.NewWebhook(key)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(req.body, req.header); err != nil {
			t.Errorf("endpoint.deleted does not verify with %s: %v", key[:10], err)
		}
	}
	if req.path != "/ops2" || req.header.Get("X-Team") != "sre" {
		t.Errorf("endpoint.deleted came to %s without the endpoint's new URL or custom header: %v", req.path, req.header)
	}
	var deleted opEvent
	if err := json.Unmarshal(req.body, &deleted); err != nil || deleted.Type != "endpoint.deleted" || deleted.Data.EndpointID != ep.Id {
		t.Fatalf("endpoint.deleted body %s: %v", req.body, err)
	}

	must(t, "OperationalWebhookEndpoint.Delete", ops.Delete(ctx, op.Id))
	_, err = ops.Get(ctx, op.Id)
	wantErrorCode(t, wantStatus(t, "Get after Delete", err, http.StatusNotFound), "not_found")

	// The internal application never shows among the applications.
	apps, err := svx.Application.List(ctx, nil)
	must(t, "Application.List", err)
	if len(apps.Data) != 1 || apps.Data[0].Id != app.Id {
		t.Fatalf("applications = %v, want only %s", appIDs(apps.Data), app.Id)
	}
}
