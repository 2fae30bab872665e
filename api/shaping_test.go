package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// The endpoint's filter field: compiled when written (a 422 with the
// position for a syntax or type error, and for an expression over the cost
// limit), kept by PUT when absent, cleared by null.
func TestEndpointFilterField(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{"uid": "shop"})
	base := "/api/v1/app/" + app.ID + "/endpoint"
	filterOf := func(r response) *string {
		t.Helper()
		var ep struct {
			Filter *string `json:"filter"`
		}
		if err := json.Unmarshal(r.body, &ep); err != nil {
			t.Fatal(err)
		}
		return ep.Filter
	}
	const expr = `payload.amount > 1000 && payload.currency in ["EUR", "USD"]`
	r := b.do(http.MethodPost, base, map[string]any{"url": "https://example.com/a", "filter": expr}).must(t, http.StatusCreated)
	ep := decode[endpointJSON](t, r)
	if f := filterOf(r); f == nil || *f != expr {
		t.Fatalf("created with filter %s", str(f))
	}
	path := base + "/" + ep.ID

	// Refused: the 422 names the field, the line and the column.
	for _, tc := range []struct{ expr, msg string }{
		{`payload.amount >`, "line 1, column 17"},
		{"payload.a == 1 &&\n  payload.b ==", "line 2, column 15"},
		{`payload.amount + 1`, "must evaluate to bool"},
		{`nosuchvar == 1`, "undeclared reference to 'nosuchvar'"},
		{`payload.a.all(x, payload.b.all(y, payload.c.exists(z, x == y && y == z)))`, "too expensive"},
	} {
		before := b.snapshot(path)
		v := mustInvalid(t, b.do(http.MethodPatch, path, map[string]any{"filter": tc.expr}), "body", "filter")
		if !strings.Contains(v.Detail[0].Msg, tc.msg) || v.Detail[0].Type != "value_error.filter" {
			t.Errorf("%q: %+v, want a message with %q", tc.expr, v.Detail, tc.msg)
		}
		mustInvalid(t, b.do(http.MethodPost, base, map[string]any{"url": "https://example.com/b", "filter": tc.expr}), "body", "filter")
		b.unchanged(path, before)
	}

	// PUT keeps it when absent, PATCH changes it, null clears it.
	r = b.do(http.MethodPut, path, map[string]any{"url": "https://example.com/c"}).must(t, http.StatusOK)
	if f := filterOf(r); f == nil || *f != expr {
		t.Fatalf("PUT without filter left %s", str(f))
	}
	r = b.do(http.MethodPatch, path, map[string]any{"filter": `"eu" in channels`}).must(t, http.StatusOK)
	if f := filterOf(r); f == nil || *f != `"eu" in channels` {
		t.Fatalf("PATCH left %s", str(f))
	}
	r = b.do(http.MethodPut, path, map[string]any{"url": "https://example.com/c", "filter": nil}).must(t, http.StatusOK)
	if f := filterOf(r); f != nil {
		t.Fatalf("PUT with a null filter left %s", str(f))
	}
	b.do(http.MethodPatch, path, map[string]any{"filter": "tags.size() > 0"}).must(t, http.StatusOK)
	b.do(http.MethodPatch, path, map[string]any{"filter": ""}).must(t, http.StatusOK)
	if f := filterOf(b.do(http.MethodGet, path, nil).must(t, http.StatusOK)); f != nil {
		t.Fatalf(`PATCH with "" left %s`, str(f))
	}
}

// messageEndpoint is the contract's MessageEndpointOut with hookd's reason.
type messageEndpoint struct {
	ID         string `json:"id"`
	Status     int    `json:"status"`
	StatusText string `json:"statusText"`
	Reason     string `json:"reason"`
}

// Publishing evaluates filters: a true one delivers, a false one makes no
// delivery, one that fails makes a cancelled delivery whose reason the
// message's endpoint list shows; a filter change applies to the next publish.
func TestPublishWithFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{"uid": "shop"})
	big := b.createEndpoint(app.ID, map[string]any{"filter": "payload.amount > 1000"})
	plain := b.createEndpoint(app.ID, map[string]any{})
	publish := func(payload map[string]any) string {
		t.Helper()
		r := b.do(http.MethodPost, "/api/v1/app/shop/msg", map[string]any{"eventType": "invoice.paid", "payload": payload})
		return decode[map[string]any](t, r.must(t, http.StatusAccepted))["id"].(string)
	}
	endpoints := func(msg string) map[string]messageEndpoint {
		t.Helper()
		r := b.do(http.MethodGet, "/api/v1/app/shop/msg/"+msg+"/endpoint", nil).must(t, http.StatusOK)
		out := map[string]messageEndpoint{}
		for _, me := range decode[listJSON[messageEndpoint]](t, r).Data {
			out[me.ID] = me
		}
		return out
	}

	got := endpoints(publish(map[string]any{"amount": 5000}))
	if got[big.ID].StatusText != "pending" || got[plain.ID].StatusText != "pending" {
		t.Fatalf("amount 5000: %+v, want both endpoints", got)
	}
	got = endpoints(publish(map[string]any{"amount": 10}))
	if _, ok := got[big.ID]; ok || len(got) != 1 {
		t.Fatalf("amount 10: %+v, want the unfiltered endpoint only", got)
	}
	got = endpoints(publish(map[string]any{"total": 10}))
	if me := got[big.ID]; me.Status != 4 || me.StatusText != "canceled" || me.Reason != "filtered out: no such key: amount" {
		t.Fatalf("no amount: %+v, want a cancelled delivery saying why", me)
	}
	if me := got[plain.ID]; me.Reason != "" {
		t.Fatalf("an unfiltered delivery has a reason: %+v", me)
	}
	// The endpoint's message list says it too.
	r := b.do(http.MethodGet, "/api/v1/app/shop/endpoint/"+big.ID+"/msg?status=4", nil).must(t, http.StatusOK)
	if list := decode[listJSON[map[string]any]](t, r).Data; len(list) != 1 || list[0]["reason"] != "filtered out: no such key: amount" {
		t.Fatalf("the endpoint's cancelled messages: %s", r.body)
	}

	// Changed through the API: the next publish uses the new filter.
	b.do(http.MethodPatch, "/api/v1/app/shop/endpoint/"+big.ID, map[string]any{"filter": "payload.amount < 100"}).must(t, http.StatusOK)
	if got := endpoints(publish(map[string]any{"amount": 10})); got[big.ID].StatusText != "pending" {
		t.Fatalf("after the change: %+v", got)
	}
}

// filter/test evaluates the endpoint's filter, or a draft, against a
// message and explains the result.
func TestFilterTest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{"uid": "shop"})
	b.createEventType("invoice.paid")
	ep := b.createEndpoint(app.ID, map[string]any{
		"filter":      `eventType == "invoice.paid" && payload.amount > 1000 && payload.currency in ["EUR","USD"]`,
		"filterTypes": []string{"invoice.paid"},
	})
	path := "/api/v1/app/shop/endpoint/" + ep.ID + "/filter/test"
	type term struct {
		Expr     string `json:"expr"`
		Value    string `json:"value"`
		Error    string `json:"error"`
		Operands []term `json:"operands"`
	}
	type result struct {
		Filter           *string `json:"filter"`
		Delivered        bool    `json:"delivered"`
		Summary          string  `json:"summary"`
		FilterTypesMatch bool    `json:"filterTypesMatch"`
		ChannelsMatch    bool    `json:"channelsMatch"`
		Matched          bool    `json:"matched"`
		Error            string  `json:"error"`
		Terms            []term  `json:"terms"`
	}
	test := func(body map[string]any) result {
		t.Helper()
		return decode[result](t, b.do(http.MethodPost, path, body).must(t, http.StatusOK))
	}

	res := test(map[string]any{"eventType": "invoice.paid", "payload": map[string]any{"amount": 4250, "currency": "EUR"}})
	if !res.Delivered || !res.Matched || len(res.Terms) != 3 || res.Summary != "delivered: the filter is true" {
		t.Fatalf("a matching message: %+v", res)
	}
	res = test(map[string]any{"eventType": "invoice.paid", "payload": map[string]any{"amount": 500, "currency": "EUR"}})
	if res.Delivered || res.Matched || res.Terms[1].Value != "false" || len(res.Terms[1].Operands) != 1 ||
		res.Terms[1].Operands[0].Value != "500" || !strings.Contains(res.Summary, "payload.amount > 1000 is false") {
		t.Fatalf("a small amount: %+v", res)
	}
	res = test(map[string]any{"eventType": "invoice.paid", "payload": map[string]any{"currency": "EUR"}})
	if res.Delivered || res.Error != "no such key: amount" || !strings.Contains(res.Summary, "filtered out: no such key: amount") {
		t.Fatalf("a missing key: %+v", res)
	}
	res = test(map[string]any{"eventType": "invoice.voided", "payload": map[string]any{"amount": 4250, "currency": "EUR"}})
	if res.Delivered || res.FilterTypesMatch || !strings.Contains(res.Summary, "not in the endpoint's filterTypes") {
		t.Fatalf("another event type: %+v", res)
	}
	// A draft, before it is saved; it must compile.
	res = test(map[string]any{"filter": `"vip" in tags`, "eventType": "invoice.paid", "payload": map[string]any{}, "tags": []string{"vip"}})
	if !res.Delivered || res.Filter == nil || *res.Filter != `"vip" in tags` {
		t.Fatalf("a draft filter: %+v", res)
	}
	mustInvalid(t, b.do(http.MethodPost, path, map[string]any{"filter": "tags ==", "eventType": "a", "payload": map[string]any{}}), "body", "filter")
	mustInvalid(t, b.do(http.MethodPost, path, map[string]any{"eventType": "a", "payload": []int{1}}), "body", "payload")
	mustInvalid(t, b.do(http.MethodPost, path, map[string]any{"payload": map[string]any{}}), "body", "eventType")
	// An endpoint without a filter gets everything its other filters let through.
	plain := b.createEndpoint(app.ID, map[string]any{})
	r := b.do(http.MethodPost, "/api/v1/app/shop/endpoint/"+plain.ID+"/filter/test", map[string]any{"eventType": "x", "payload": map[string]any{}})
	if res := decode[result](t, r.must(t, http.StatusOK)); !res.Delivered || res.Filter != nil {
		t.Fatalf("no filter: %+v", res)
	}
}

// transformationJSON is Svix's EndpointTransformationOut.
type transformationJSON struct {
	Code      *string           `json:"code"`
	Enabled   bool              `json:"enabled"`
	Variables map[string]string `json:"variables"`
	UpdatedAt *string           `json:"updatedAt"`
}

// GET and PATCH .../transformation in Svix's shapes: compile errors are
// 422 at body.code with their line, enabled needs code, null clears.
func TestTransformationRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{"uid": "shop"})
	ep := b.createEndpoint(app.ID, map[string]any{})
	path := "/api/v1/app/shop/endpoint/" + ep.ID + "/transformation"
	get := func() transformationJSON {
		t.Helper()
		r := b.do(http.MethodGet, path, nil).must(t, http.StatusOK)
		mustKeys(t, r.body, "code", "enabled", "variables", "updatedAt")
		return decode[transformationJSON](t, r)
	}
	if tr := get(); tr.Code != nil || tr.Enabled || tr.Variables != nil || tr.UpdatedAt != nil {
		t.Fatalf("a new endpoint's transformation: %+v", tr)
	}
	for _, tc := range []struct {
		body map[string]any
		loc  string
		msg  string
	}{
		{map[string]any{"code": "function handler(webhook) {\n  return webhook\n  }}"}, "code", "line 3"},
		{map[string]any{"code": "const x = 1; // no handler"}, "code", "handler"},
		{map[string]any{"code": "function handler(w) { return w }\nnull.x;"}, "code", "TypeError"},
		{map[string]any{"code": "short"}, "code", "10 to 51200 characters"},
		{map[string]any{"enabled": true}, "enabled", "without code"},
		{map[string]any{"enabled": nil}, "enabled", "null"},
		{map[string]any{"variables": map[string]string{"": "x"}}, "variables", "names"},
	} {
		v := mustInvalid(t, b.do(http.MethodPatch, path, tc.body), "body", tc.loc)
		if !strings.Contains(v.Detail[0].Msg, tc.msg) {
			t.Errorf("%v: %+v, want a message with %q", tc.body, v.Detail, tc.msg)
		}
	}
	const code = "function handler(webhook) {\n  webhook.payload.via = webhook.variables.via;\n  return webhook;\n}"
	r := b.do(http.MethodPatch, path, map[string]any{"code": code, "enabled": true, "variables": map[string]string{"via": "hookd"}})
	r.must(t, http.StatusNoContent)
	if tr := get(); tr.Code == nil || *tr.Code != code || !tr.Enabled || tr.Variables["via"] != "hookd" || tr.UpdatedAt == nil {
		t.Fatalf("after PATCH: %+v", tr)
	}
	// Absent fields are kept; the older shape (code and enabled) works.
	b.do(http.MethodPatch, path, map[string]any{"enabled": false}).must(t, http.StatusNoContent)
	if tr := get(); tr.Code == nil || tr.Enabled || tr.Variables["via"] != "hookd" {
		t.Fatalf("after disabling: %+v", tr)
	}
	b.do(http.MethodPatch, path, map[string]any{"code": nil, "variables": nil}).must(t, http.StatusNoContent)
	if tr := get(); tr.Code != nil || tr.Enabled || tr.Variables != nil {
		t.Fatalf("after clearing: %+v", tr)
	}
	// Variables are sealed at rest like secrets.
	b.do(http.MethodPatch, path, map[string]any{"code": code, "variables": map[string]string{"token": "s3cret"}}).must(t, http.StatusNoContent)
	stored, err := b.storedEndpoint(app.ID, ep.ID)
	if err != nil || stored.Transformation.Variables["token"] != "s3cret" || stored.Transformation.Enabled {
		t.Fatalf("stored %+v, %v", stored.Transformation, err)
	}
}

// simulate runs code as an attempt would and answers the request, or a
// 422 with the reason the attempt would record.
func TestTransformationSimulate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{"uid": "shop"})
	ep := b.createEndpoint(app.ID, map[string]any{"url": "https://example.com/hook", "headers": map[string]string{"X-Custom": "1"}})
	path := "/api/v1/app/shop/endpoint/" + ep.ID + "/transformation/simulate"
	simulate := func(code string, payload map[string]any) response {
		return b.do(http.MethodPost, path, map[string]any{"code": code, "eventType": "user.signup", "payload": payload,
			"variables": map[string]string{"v": "x"}})
	}
	r := simulate(`function handler(webhook) {
  webhook.payload = { id: webhook.payload.user_id, kind: webhook.eventType, v: webhook.variables.v };
  webhook.method = "PUT";
  webhook.url = webhook.url + "?id=" + webhook.payload.id;
  webhook.headers["X-Extra"] = "2";
  return webhook;
}`, map[string]any{"user_id": "u_1"}).must(t, http.StatusOK)
	var out struct {
		URL     string            `json:"url"`
		Payload string            `json:"payload"`
		Method  string            `json:"method"`
		Cancel  bool              `json:"cancel"`
		Headers map[string]string `json:"headers"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	if out.URL != "https://example.com/hook?id=u_1" || out.Payload != `{"id":"u_1","kind":"user.signup","v":"x"}` ||
		out.Method != "PUT" || out.Cancel || out.Headers["X-Extra"] != "2" || out.Headers["X-Custom"] != "1" {
		t.Fatalf("simulated %+v", out)
	}
	r = simulate(`function handler(webhook) { webhook.cancel = true; return webhook; }`, map[string]any{}).must(t, http.StatusOK)
	if !strings.Contains(string(r.body), `"cancel":true`) {
		t.Fatalf("a cancelling transformation: %s", r.body)
	}
	for _, tc := range []struct{ code, msg string }{
		{"function handler(webhook) {\n\n  throw new TypeError('nope');\n}", "transformation failed: TypeError at line 3: nope"},
		{`function handler(webhook) { webhook.url = "gopher://x"; return webhook; }`, "transformation failed: invalid result: url scheme must be http or https"},
		{`function handler(webhook) { webhook.method = "PATCH"; return webhook; }`, "transformation failed: invalid result"},
		{`function handler(webhook) { webhook.headers["Svix-Signature"] = "v1,x"; return webhook; }`, "cannot be overridden"},
		{"function handler(webhook) { while (true) {} }", "transformation failed: timeout"},
	} {
		v := mustInvalid(t, simulate(tc.code, map[string]any{"a": 1}), "body", "code")
		if !strings.Contains(v.Detail[0].Msg, tc.msg) {
			t.Errorf("%s: %+v, want %q", tc.code, v.Detail, tc.msg)
		}
	}
	mustInvalid(t, b.do(http.MethodPost, path, map[string]any{"code": "function handler(w) { return w }", "payload": map[string]any{}}), "body", "eventType")
}

// retryScheduleJSON is Svix's RetryScheduleInOut.
type retryScheduleJSON struct {
	RetrySchedule []struct {
		Secs  uint64 `json:"secs"`
		Nanos uint32 `json:"nanos"`
	} `json:"retrySchedule"`
}

// GET and PUT /event-type/{name}/retry-schedule in Svix's shapes.
func TestRetryScheduleRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createEventType("payment.failed")
	path := "/api/v1/event-type/payment.failed/retry-schedule"
	r := b.do(http.MethodGet, path, nil).must(t, http.StatusOK)
	if strings.TrimSpace(string(r.body)) != `{"retrySchedule":null}` {
		t.Fatalf("no schedule: %s", r.body)
	}
	body := map[string]any{"retrySchedule": []map[string]any{{"secs": 60, "nanos": 0}, {"secs": 3600, "nanos": 500_000_000}, {"secs": 86400, "nanos": 0}}}
	r = b.do(http.MethodPut, path, body).must(t, http.StatusOK)
	got := decode[retryScheduleJSON](t, b.do(http.MethodGet, path, nil).must(t, http.StatusOK))
	if len(got.RetrySchedule) != 3 || got.RetrySchedule[1].Secs != 3600 || got.RetrySchedule[1].Nanos != 500_000_000 {
		t.Fatalf("stored %+v (PUT answered %s)", got, r.body)
	}
	// Refused, changing nothing.
	for _, tc := range []struct {
		body any
		loc  []string
	}{
		{map[string]any{"retrySchedule": []map[string]any{{"secs": 60, "nanos": 1_000_000_000}}}, []string{"body", "retrySchedule", "0"}},
		{map[string]any{"retrySchedule": []map[string]any{{"secs": 60, "nanos": 0}, {"secs": 0, "nanos": 0}}}, []string{"body", "retrySchedule", "1"}},
		{map[string]any{"retrySchedule": []map[string]any{{"secs": 40 * 86400, "nanos": 0}}}, []string{"body", "retrySchedule", "0"}},
		{map[string]any{"retrySchedule": []map[string]any{{"secs": 60}}}, []string{"body", "retrySchedule", "0"}},
		{map[string]any{"retrySchedule": []map[string]any{{"secs": -1, "nanos": 0}}}, []string{"body", "retrySchedule"}},
	} {
		mustInvalid(t, b.do(http.MethodPut, path, tc.body), tc.loc...)
	}
	if again := decode[retryScheduleJSON](t, b.do(http.MethodGet, path, nil).must(t, http.StatusOK)); len(again.RetrySchedule) != 3 {
		t.Fatalf("a refused PUT changed the schedule: %+v", again)
	}
	// An empty list is no retries; null goes back to the global schedule.
	r = b.do(http.MethodPut, path, map[string]any{"retrySchedule": []any{}}).must(t, http.StatusOK)
	if strings.TrimSpace(string(r.body)) != `{"retrySchedule":[]}` {
		t.Fatalf("empty schedule: %s", r.body)
	}
	r = b.do(http.MethodPut, path, map[string]any{"retrySchedule": nil}).must(t, http.StatusOK)
	if strings.TrimSpace(string(r.body)) != `{"retrySchedule":null}` {
		t.Fatalf("null schedule: %s", r.body)
	}
	mustError(t, b.do(http.MethodGet, "/api/v1/event-type/nope/retry-schedule", nil), http.StatusNotFound, "not_found")
	mustError(t, b.do(http.MethodPut, "/api/v1/event-type/nope/retry-schedule", body), http.StatusNotFound, "not_found")
	// An app-portal token reads it, and may not change it.
	app := b.createApp(map[string]any{"uid": "shop"})
	portal := b.portalToken(app.ID).Token
	b.doWith(portal, http.MethodGet, path, nil, nil).must(t, http.StatusOK)
	mustError(t, b.doWith(portal, http.MethodPut, path, body, nil), http.StatusForbidden, "forbidden")
}

// enforceSchema: a payload the newest schema refuses is a 422 naming the
// JSON pointer and the rule, and nothing is stored (not even the
// application the message names); off by default.
func TestEnforceSchemaRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	schemas := map[string]any{
		"1": map[string]any{"type": "object"},
		"2": map[string]any{"type": "object", "required": []string{"amount"},
			"properties": map[string]any{"amount": map[string]any{"type": "integer", "minimum": 0}}},
	}
	r := b.do(http.MethodPost, "/api/v1/event-type", map[string]any{"name": "invoice.paid", "description": "d", "schemas": schemas})
	if decode[map[string]any](t, r.must(t, http.StatusCreated))["enforceSchema"] != false {
		t.Fatalf("enforceSchema is not false by default: %s", r.body)
	}
	app := b.createApp(map[string]any{"uid": "shop"})
	b.createEndpoint(app.ID, map[string]any{})
	publish := func(app string, payload any, extra map[string]any) response {
		body := map[string]any{"eventType": "invoice.paid", "payload": payload}
		for k, v := range extra {
			body[k] = v
		}
		return b.do(http.MethodPost, "/api/v1/app/"+app+"/msg", body)
	}
	publish("shop", map[string]any{"amount": -1}, nil).must(t, http.StatusAccepted)

	// On: PATCH, then PUT without the field keeps it.
	b.do(http.MethodPatch, "/api/v1/event-type/invoice.paid", map[string]any{"enforceSchema": true}).must(t, http.StatusOK)
	r = b.do(http.MethodPut, "/api/v1/event-type/invoice.paid", map[string]any{"description": "again", "schemas": schemas}).must(t, http.StatusOK)
	if decode[map[string]any](t, r)["enforceSchema"] != true {
		t.Fatalf("PUT without enforceSchema turned it off: %s", r.body)
	}
	v := mustInvalid(t, publish("shop", map[string]any{"amount": -1}, nil), "body", "payload", "amount")
	if d := v.Detail[0]; d.Type != "value_error.jsonschema.minimum" || !strings.Contains(d.Msg, "at /amount") || !strings.Contains(d.Msg, `rule "minimum"`) {
		t.Fatalf("the rejection: %+v", v.Detail)
	}
	mustInvalid(t, publish("shop", map[string]any{"total": 1}, nil), "body", "payload")
	publish("shop", map[string]any{"amount": 1}, nil).must(t, http.StatusAccepted)
	list := decode[listJSON[map[string]any]](t, b.do(http.MethodGet, "/api/v1/app/shop/msg", nil).must(t, http.StatusOK))
	if len(list.Data) != 2 {
		t.Fatalf("%d messages stored, want the 2 accepted", len(list.Data))
	}
	// The application a refused message names is not created.
	mustInvalid(t, publish("newshop", map[string]any{"amount": -1}, map[string]any{"application": map[string]any{"name": "New"}}), "body", "payload", "amount")
	mustError(t, b.do(http.MethodGet, "/api/v1/app/newshop", nil), http.StatusNotFound, "not_found")

	// Without a schema there is nothing to enforce.
	b.createEventType("bare")
	mustInvalid(t, b.do(http.MethodPatch, "/api/v1/event-type/bare", map[string]any{"enforceSchema": true}), "body", "enforceSchema")
	mustInvalid(t, b.do(http.MethodPatch, "/api/v1/event-type/invoice.paid", map[string]any{"schemas": nil}), "body", "enforceSchema")
}
