package api_test

import (
	"net/http"
	"testing"
)

// The 500s the issue found, each now a 4xx in the contract's format.
func TestBadInputFromTheIssue(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{"uid": "shop"})
	b.createEndpoint(app.ID, map[string]any{"uid": "main"})
	b.createEventType("order.paid")
	msg := b.publish("shop", `{"eventType":"order.paid","payload":{}}`)
	list := b.snapshot("/api/v1/app")

	// NUL (JSON's \u0000) in free text and names: 422 at the field.
	for _, tc := range []struct {
		name, method, path, body string
		loc                      []string
	}{
		{"app name", "POST", "/api/v1/app", `{"name":"a\u0000b"}`, []string{"body", "name"}},
		{"app uid", "POST", "/api/v1/app", `{"name":"a","uid":"u\u0000"}`, []string{"body", "uid"}},
		{"app metadata", "POST", "/api/v1/app", `{"name":"a","metadata":{"k":"v\u0000"}}`, []string{"body", "metadata"}},
		{"app name by PUT", "PUT", "/api/v1/app/shop", `{"name":"\u0000"}`, []string{"body", "name"}},
		{"app name by PATCH", "PATCH", "/api/v1/app/shop", `{"name":"\u0000"}`, []string{"body", "name"}},
		{"event type description", "POST", "/api/v1/event-type", `{"name":"x","description":"d\u0000"}`, []string{"body", "description"}},
		{"event type description by PATCH", "PATCH", "/api/v1/event-type/order.paid", `{"description":"\u0000"}`, []string{"body", "description"}},
		{"endpoint description by PATCH", "PATCH", "/api/v1/app/shop/endpoint/main", `{"description":"\u0000"}`, []string{"body", "description"}},
		{"endpoint uid", "POST", "/api/v1/app/shop/endpoint", `{"url":"https://example.com","uid":"\u0000"}`, []string{"body", "uid"}},
		{"message eventId", "POST", "/api/v1/app/shop/msg", `{"eventType":"a","eventId":"\u0000","payload":{}}`, []string{"body", "eventId"}},
		{"new application of a message", "POST", "/api/v1/app/new-app/msg",
			`{"eventType":"a","payload":{},"application":{"name":"n\u0000"}}`, []string{"body", "application", "name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustInvalid(t, b.in(t).do(tc.method, tc.path, tc.body), tc.loc...)
		})
	}

	// %00 and %ff in path ids: 422 at the parameter.
	for _, tc := range []struct {
		method, path, param string
	}{
		{"GET", "/api/v1/app/%00", "app_id"},
		{"GET", "/api/v1/app/%ff", "app_id"},
		{"PUT", "/api/v1/app/a%00b", "app_id"},
		{"DELETE", "/api/v1/app/%c3", "app_id"},
		{"GET", "/api/v1/app/shop/endpoint/%00", "endpoint_id"},
		{"POST", "/api/v1/app/shop/endpoint/%ff/recover", "endpoint_id"},
		{"GET", "/api/v1/app/shop/msg/%ff%fe", "msg_id"},
		{"POST", "/api/v1/app/shop/msg/" + msg.ID + "/endpoint/%00/resend", "endpoint_id"},
		{"GET", "/api/v1/app/shop/msg/" + msg.ID + "/attempt/%ff", "attempt_id"},
		{"GET", "/api/v1/event-type/%00", "event_type_name"},
		{"GET", "/api/v1/operational-webhook/endpoint/%ff", "endpoint_id"},
		{"POST", "/api/v1/auth/app-portal-access/%00", "app_id"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			var body any
			if tc.method != http.MethodGet && tc.method != http.MethodDelete {
				body = `{"since":"2024-01-01T00:00:00Z","name":"x"}`
			}
			mustInvalid(t, b.in(t).do(tc.method, tc.path, body), "path", tc.param)
		})
	}

	// The same in query values.
	for _, q := range []string{"channel=%00", "event_types=%ff", "iterator=%00", "endpoint_id=a%00"} {
		mustInvalid(t, b.do(http.MethodGet, "/api/v1/app/shop/msg?"+q, nil), "query")
	}

	// A non-UTF-8 idempotency-key header: 422, nothing created.
	r := b.doWith(b.key, http.MethodPost, "/api/v1/app", map[string]any{"name": "x"},
		http.Header{"Idempotency-Key": {"k\xff\xfe"}})
	mustInvalid(t, r, "header", "idempotency-key")

	// A body that is not UTF-8 (a payload string with a raw 0xff byte): 400.
	mustError(t, b.do(http.MethodPost, "/api/v1/app/shop/msg", "{\"eventType\":\"a\",\"payload\":{\"s\":\"\xff\"}}"),
		http.StatusBadRequest, "bad_request")
	mustError(t, b.do(http.MethodPost, "/api/v1/app", "{\"name\":\"caf\xe9\"}"), http.StatusBadRequest, "bad_request")

	b.unchanged("/api/v1/app", list)
	if got := b.do(http.MethodGet, "/api/v1/app/new-app", nil); got.status != http.StatusNotFound {
		t.Errorf("a refused message created its application: %d %s", got.status, got.body)
	}
}
