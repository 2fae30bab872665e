package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/opwebhook"
	"github.com/hookd/hookd/pkg/signature"
	"github.com/hookd/hookd/pkg/webhook"
)

const opPath = "/api/v1/operational-webhook/endpoint"

// createOperational creates an operational-webhook endpoint from body (url
// defaults to https://example.com/ops).
func (b *bundle) createOperational(body map[string]any) endpointJSON {
	b.t.Helper()
	if _, ok := body["url"]; !ok {
		body["url"] = "https://example.com/ops"
	}
	return decode[endpointJSON](b.t, b.do(http.MethodPost, opPath, body).must(b.t, http.StatusCreated))
}

// internalApp returns organisation org's internal application, read
// straight from the store.
func (b *bundle) internalApp(org string) *webhook.Application {
	b.t.Helper()
	ctx := context.Background()
	o, err := b.db.EnsureOrg(ctx, org)
	if err != nil {
		b.t.Fatal(err)
	}
	app, err := b.db.OperationalApp(ctx, o.ID, false)
	if err != nil {
		b.t.Fatalf("internal app of %s: %v", org, err)
	}
	return app
}

func TestOperationalEndpointRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)

	// Before the first one: an empty list in the contract's envelope.
	r := b.do(http.MethodGet, opPath, nil).must(t, http.StatusOK)
	mustKeys(t, r.body, "data", "iterator", "prevIterator", "done")
	if l := decode[listJSON[endpointJSON]](t, r); len(l.Data) != 0 || !l.Done {
		t.Fatalf("empty list = %s", r.body)
	}
	mustError(t, b.do(http.MethodGet, opPath+"/ep_2ZQ6pnd5ByNOhb7G2XSSL1vBnbQ", nil), http.StatusNotFound, "not_found")

	// Create, with the SDK's fields; the secret is given without whsec_.
	created := b.createOperational(map[string]any{
		"uid": "ops", "description": "pager", "filterTypes": []string{"endpoint.disabled", "message.attempt.exhausted"},
		"metadata": map[string]string{"team": "sre"}, "throttleRate": 10,
		"secret": "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	})
	if !strings.HasPrefix(created.ID, "ep_") || str(created.UID) != `"ops"` || created.Description != "pager" ||
		!slices.Equal(created.FilterTypes, []string{"endpoint.disabled", "message.attempt.exhausted"}) ||
		created.Metadata["team"] != "sre" || created.ThrottleRate == nil || *created.ThrottleRate != 10 || created.Disabled {
		t.Fatalf("created = %+v", created)
	}
	other := b.createOperational(map[string]any{}) // every event type, generated secret
	if other.FilterTypes != nil {
		t.Fatalf("filterTypes of an endpoint created without = %v, want null", other.FilterTypes)
	}

	// Get by id and by uid, with and without a trailing slash.
	for _, p := range []string{opPath + "/" + created.ID, opPath + "/ops", opPath + "/ops/"} {
		got := decode[endpointJSON](t, b.do(http.MethodGet, p, nil).must(t, http.StatusOK))
		if got.ID != created.ID || got.URL != "https://example.com/ops" {
			t.Fatalf("GET %s = %+v", p, got)
		}
	}
	l := decode[listJSON[endpointJSON]](t, b.do(http.MethodGet, opPath+"/", nil).must(t, http.StatusOK))
	if len(l.Data) != 2 || l.Data[0].ID != other.ID || l.Data[1].ID != created.ID || !l.Done || l.Iterator == nil {
		t.Fatalf("list (newest first) = %+v", l)
	}
	l = decode[listJSON[endpointJSON]](t, b.do(http.MethodGet, opPath+"?limit=1&order=ascending", nil).must(t, http.StatusOK))
	if len(l.Data) != 1 || l.Data[0].ID != created.ID || l.Done {
		t.Fatalf("list limit=1 ascending = %+v", l)
	}

	// Secret: as given, with whsec_; a generated one has the same format.
	if key := b.opSecret("ops"); key != "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" {
		t.Fatalf("secret = %q", key)
	}
	if key := b.opSecret(other.ID); !strings.HasPrefix(key, "whsec_") || !signature.ValidKey(key) {
		t.Fatalf("generated secret = %q", key)
	}

	// Rotation: the new key is current, the old one signs during its grace period.
	b.do(http.MethodPost, opPath+"/ops/secret/rotate", map[string]any{"key": "whsec_Y2JkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY="}).
		must(t, http.StatusNoContent)
	if key := b.opSecret("ops"); key != "whsec_Y2JkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY=" {
		t.Fatalf("secret after rotation = %q", key)
	}
	stored, err := b.storedEndpoint(b.internalApp("acme").ID, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if keys := stored.SigningSecrets(time.Now()); len(keys) != 2 || keys[1] != "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" {
		t.Fatalf("signing secrets after rotation = %v, want the new and the old one", keys)
	}
	b.do(http.MethodPost, opPath+"/ops/secret/rotate", nil).must(t, http.StatusNoContent) // empty body: generated
	if key := b.opSecret("ops"); !signature.ValidKey(key) || key == "whsec_Y2JkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY=" {
		t.Fatalf("secret after a second rotation = %q", key)
	}

	// Headers: set, then read back with sensitive values withheld.
	b.do(http.MethodPut, opPath+"/ops/headers", map[string]any{"headers": map[string]string{"X-Team": "sre", "Authorization": "Bearer x"}}).
		must(t, http.StatusNoContent)
	h := decode[headersJSON](t, b.do(http.MethodGet, opPath+"/ops/headers", nil).must(t, http.StatusOK))
	if h.Headers["X-Team"] != "sre" || len(h.Headers) != 1 || !slices.Equal(h.Sensitive, []string{"Authorization"}) {
		t.Fatalf("headers = %+v", h)
	}

	// PUT replaces (headers and secret stay), or creates with the path as uid.
	up := decode[endpointJSON](t, b.do(http.MethodPut, opPath+"/ops", map[string]any{
		"url": "https://example.com/ops2", "filterTypes": []string{"endpoint.created"}, "disabled": true,
	}).must(t, http.StatusOK))
	if up.ID != created.ID || up.URL != "https://example.com/ops2" || !slices.Equal(up.FilterTypes, []string{"endpoint.created"}) ||
		!up.Disabled || up.Description != "" || str(up.UID) != `"ops"` {
		t.Fatalf("PUT = %+v", up)
	}
	if h := decode[headersJSON](t, b.do(http.MethodGet, opPath+"/ops/headers", nil)); h.Headers["X-Team"] != "sre" {
		t.Fatalf("headers after PUT = %+v", h)
	}
	fresh := decode[endpointJSON](t, b.do(http.MethodPut, opPath+"/pager", map[string]any{"url": "https://example.com/p"}).
		must(t, http.StatusCreated))
	if str(fresh.UID) != `"pager"` || !signature.ValidKey(b.opSecret("pager")) {
		t.Fatalf("PUT of a new uid = %+v", fresh)
	}

	// Delete.
	b.do(http.MethodDelete, opPath+"/ops", nil).must(t, http.StatusNoContent)
	mustError(t, b.do(http.MethodGet, opPath+"/ops", nil), http.StatusNotFound, "not_found")
	mustError(t, b.do(http.MethodDelete, opPath+"/"+created.ID, nil), http.StatusNotFound, "not_found")
	if l := decode[listJSON[endpointJSON]](t, b.do(http.MethodGet, opPath, nil)); len(l.Data) != 2 {
		t.Fatalf("list after delete has %d endpoints, want 2", len(l.Data))
	}
}

// opSecret returns an operational endpoint's current secret as the API shows it.
func (b *bundle) opSecret(ep string) string {
	b.t.Helper()
	r := b.do(http.MethodGet, opPath+"/"+ep+"/secret", nil).must(b.t, http.StatusOK)
	return decode[map[string]string](b.t, r)["key"]
}

func TestOperationalEndpointValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The organisation's own event types are not operational event types.
	b.createEventType("user.signup")
	ep := b.createOperational(map[string]any{"uid": "ops"})
	before := b.snapshot(opPath + "/ops")

	for _, tc := range []struct {
		name string
		body any
		loc  []string
	}{
		{"missing url", map[string]any{}, []string{"body", "url"}},
		{"ftp url", map[string]any{"url": "ftp://example.com"}, []string{"body", "url"}},
		{"not an operational event type", map[string]any{"url": "https://example.com", "filterTypes": []string{"endpoint.created", "user.signup"}}, []string{"body", "filterTypes", "1"}},
		{"unknown event type", map[string]any{"url": "https://example.com", "filterTypes": []string{"endpoint.exploded"}}, []string{"body", "filterTypes", "0"}},
		{"empty filter", map[string]any{"url": "https://example.com", "filterTypes": []string{}}, []string{"body", "filterTypes"}},
		{"channels", map[string]any{"url": "https://example.com", "channels": []string{"a"}}, []string{"body", "channels"}},
		{"bad secret", map[string]any{"url": "https://example.com", "secret": "short"}, []string{"body", "secret"}},
		{"bad uid", map[string]any{"url": "https://example.com", "uid": "a b"}, []string{"body", "uid"}},
		{"throttle too high", map[string]any{"url": "https://example.com", "throttleRate": 70000}, []string{"body", "throttleRate"}},
		{"reserved header", map[string]any{"url": "https://example.com", "headers": map[string]string{"webhook-id": "x"}}, []string{"body", "headers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustInvalid(t, b.in(t).do(http.MethodPost, opPath, tc.body), tc.loc...)
		})
	}
	// PUT has the same rules, and a rejected PUT changes nothing.
	mustInvalid(t, b.do(http.MethodPut, opPath+"/ops", map[string]any{"url": "https://example.com", "filterTypes": []string{"user.signup"}}), "body", "filterTypes", "0")
	mustInvalid(t, b.do(http.MethodPut, opPath+"/ops", map[string]any{"description": "no url"}), "body", "url")
	mustInvalid(t, b.do(http.MethodPut, opPath+"/new", map[string]any{"url": "https://example.com", "filterTypes": []string{"user.signup"}}), "body", "filterTypes", "0")
	mustError(t, b.do(http.MethodGet, opPath+"/new", nil), http.StatusNotFound, "not_found")
	mustInvalid(t, b.do(http.MethodPost, opPath+"/ops/secret/rotate", map[string]any{"key": "nope"}), "body", "key")
	mustInvalid(t, b.do(http.MethodPut, opPath+"/ops/headers", map[string]any{"headers": map[string]string{"Content-Type": "x"}}), "body", "headers")
	mustInvalid(t, b.do(http.MethodPut, opPath+"/ops/headers", map[string]any{}), "body", "headers")
	b.unchanged(opPath+"/ops", before)
	if key := b.opSecret(ep.ID); !signature.ValidKey(key) {
		t.Fatalf("secret after a rejected rotation = %q", key)
	}
	// A uid is unique among the organisation's operational endpoints.
	mustError(t, b.do(http.MethodPost, opPath, map[string]any{"url": "https://example.com", "uid": "ops"}), http.StatusConflict, "conflict")
	// Every operational event type is accepted.
	b.createOperational(map[string]any{"filterTypes": webhook.OperationalEventTypes})
}

func TestOperationalEndpointsAreScoped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	mine := b.createOperational(map[string]any{"uid": "ops"})
	app := b.createApp(map[string]any{"uid": "shop"})
	appEp := b.createEndpoint(app.ID, map[string]any{})

	// Another organisation sees none of them.
	otherKey := b.newKey("globex")
	for _, tc := range []struct{ method, path string }{
		{"GET", opPath + "/" + mine.ID},
		{"GET", opPath + "/ops"},
		{"DELETE", opPath + "/" + mine.ID},
		{"GET", opPath + "/" + mine.ID + "/secret"},
		{"POST", opPath + "/" + mine.ID + "/secret/rotate"},
		{"GET", opPath + "/" + mine.ID + "/headers"},
		{"PUT", opPath + "/" + mine.ID + "/headers"},
	} {
		var body any
		if tc.method == "PUT" {
			body = map[string]any{"headers": map[string]string{}}
		}
		mustError(t, b.doWith(otherKey, tc.method, tc.path, body, nil), http.StatusNotFound, "not_found")
	}
	if l := decode[listJSON[endpointJSON]](t, b.doWith(otherKey, "GET", opPath, nil, nil).must(t, http.StatusOK)); len(l.Data) != 0 {
		t.Fatalf("another organisation lists %+v", l.Data)
	}
	// Its own endpoints are not reachable as operational ones, nor the reverse.
	mustError(t, b.do(http.MethodGet, opPath+"/"+appEp.ID, nil), http.StatusNotFound, "not_found")
	mustError(t, b.do(http.MethodGet, "/api/v1/app/shop/endpoint/"+mine.ID, nil), http.StatusNotFound, "not_found")

	// App-portal tokens act inside one application: every route is 403.
	tok := b.portalToken("shop").Token
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"GET", opPath, nil},
		{"POST", opPath, map[string]any{"url": "https://example.com"}},
		{"GET", opPath + "/ops", nil},
		{"PUT", opPath + "/ops", map[string]any{"url": "https://example.com"}},
		{"DELETE", opPath + "/ops", nil},
		{"GET", opPath + "/ops/secret", nil},
		{"POST", opPath + "/ops/secret/rotate", map[string]any{}},
		{"GET", opPath + "/ops/headers", nil},
		{"PUT", opPath + "/ops/headers", map[string]any{"headers": map[string]string{}}},
	} {
		mustError(t, b.doWith(tok, tc.method, tc.path, tc.body, nil), http.StatusForbidden, "forbidden")
	}
	b.do(http.MethodGet, opPath+"/ops", nil).must(t, http.StatusOK)
}

func TestInternalAppIsInvisible(t *testing.T) {
	t.Parallel()
	b := setup(t)
	mine := b.createApp(map[string]any{"uid": "shop"})
	opEp := b.createOperational(map[string]any{"uid": "ops"})
	internal := b.internalApp("acme")

	l := decode[listJSON[appJSON]](t, b.do(http.MethodGet, "/api/v1/app", nil).must(t, http.StatusOK))
	if len(l.Data) != 1 || l.Data[0].ID != mine.ID {
		t.Fatalf("app list = %+v, want only the user's app", l.Data)
	}
	for _, idOrUID := range []string{internal.ID, *internal.UID} {
		for _, tc := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/api/v1/app/" + idOrUID, nil},
			{"PATCH", "/api/v1/app/" + idOrUID, map[string]any{"name": "mine now"}},
			{"DELETE", "/api/v1/app/" + idOrUID, nil},
			{"GET", "/api/v1/app/" + idOrUID + "/endpoint", nil},
			{"GET", "/api/v1/app/" + idOrUID + "/endpoint/" + opEp.ID, nil},
			{"POST", "/api/v1/app/" + idOrUID + "/endpoint", map[string]any{"url": "https://example.com"}},
			{"GET", "/api/v1/app/" + idOrUID + "/msg", nil},
			{"POST", "/api/v1/app/" + idOrUID + "/msg", map[string]any{"eventType": "endpoint.created", "payload": map[string]any{}}},
			{"GET", "/api/v1/app/" + idOrUID + "/attempt/endpoint/" + opEp.ID, nil},
			{"POST", "/api/v1/auth/app-portal-access/" + idOrUID, map[string]any{}},
		} {
			mustError(t, b.do(tc.method, tc.path, tc.body), http.StatusNotFound, "not_found")
		}
	}
	// Its uid can never be taken or reached by an application of the API:
	// it is outside the uid pattern.
	mustInvalid(t, b.do(http.MethodPost, "/api/v1/app", map[string]any{"name": "x", "uid": *internal.UID}), "body", "uid")
	mustInvalid(t, b.do(http.MethodPut, "/api/v1/app/"+*internal.UID, map[string]any{"name": "x"}), "body", "uid")
	mustInvalid(t, b.do(http.MethodPatch, "/api/v1/app/shop", map[string]any{"uid": *internal.UID}), "body", "uid")
	// PUT of its id creates another application (the id is a valid uid)
	// and leaves the internal one alone.
	put := decode[appJSON](t, b.do(http.MethodPut, "/api/v1/app/"+internal.ID, map[string]any{"name": "x"}).must(t, http.StatusCreated))
	if put.ID == internal.ID {
		t.Fatalf("PUT of the internal app's id answered it: %+v", put)
	}
	if after := b.internalApp("acme"); after.Name != internal.Name || !after.UpdatedAt.Equal(internal.UpdatedAt) {
		t.Fatalf("internal app changed: %+v", after)
	}
	b.do(http.MethodGet, opPath+"/ops", nil).must(t, http.StatusOK)
}

func TestEndpointChangesEmitOperationalEvents(t *testing.T) {
	t.Parallel()
	var emitter *opwebhook.Emitter
	b := setupWith(t, setupOptions{events: lazyEmitter{&emitter}})
	emitter = opwebhook.New(opwebhook.Config{Store: b.db, Publisher: &delivery.Publisher{Store: b.db, Queue: b.dispatched}, TTL: time.Hour})
	app := b.createApp(map[string]any{"uid": "shop"})

	// Nobody listens yet: nothing is stored.
	b.createEndpoint(app.ID, map[string]any{})
	org, err := b.db.EnsureOrg(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.OperationalApp(context.Background(), org.ID, false); webhook.ErrorCode(err) != webhook.ENOTFOUND {
		t.Fatalf("an event nobody listens to created the internal app: %v", err)
	}

	// The operational endpoint is taken into account at once (Invalidate),
	// though the emitter caches for an hour; changing it emits nothing.
	op := b.createOperational(map[string]any{"filterTypes": []string{"endpoint.created", "endpoint.updated", "endpoint.deleted"}})
	b.do(http.MethodPut, opPath+"/"+op.ID, map[string]any{"url": "https://example.com/ops", "filterTypes": []string{"endpoint.created", "endpoint.updated", "endpoint.deleted"}}).
		must(t, http.StatusOK)
	ep := b.createEndpoint(app.ID, map[string]any{"uid": "ep-1"})
	b.do(http.MethodPatch, "/api/v1/app/shop/endpoint/ep-1", map[string]any{"description": "x"}).must(t, http.StatusOK)
	b.do(http.MethodPut, "/api/v1/app/shop/endpoint/ep-1", map[string]any{"url": "https://example.com/2"}).must(t, http.StatusOK)
	ep2 := decode[endpointJSON](t, b.do(http.MethodPut, "/api/v1/app/shop/endpoint/ep-2", map[string]any{"url": "https://example.com/3"}).
		must(t, http.StatusCreated))
	b.do(http.MethodDelete, "/api/v1/app/shop/endpoint/ep-1", nil).must(t, http.StatusNoContent)
	// Through a portal token as well.
	tok := b.portalToken("shop").Token
	b.doWith(tok, http.MethodDelete, "/api/v1/app/shop/endpoint/ep-2", nil, nil).must(t, http.StatusNoContent)

	internal := b.internalApp("acme")
	page, err := b.db.ListMessages(context.Background(), internal, webhook.MessageFilter{}, webhook.ListOptions{Limit: 50, Ascending: true})
	if err != nil {
		t.Fatal(err)
	}
	type event struct {
		Type      string                    `json:"type"`
		Timestamp time.Time                 `json:"timestamp"`
		Data      webhook.EndpointEventData `json:"data"`
	}
	want := []struct{ typ, ep string }{
		{"endpoint.created", ep.ID}, {"endpoint.updated", ep.ID}, {"endpoint.updated", ep.ID},
		{"endpoint.created", ep2.ID}, {"endpoint.deleted", ep.ID}, {"endpoint.deleted", ep2.ID},
	}
	if len(page.Items) != len(want) {
		t.Fatalf("%d operational events stored, want %d", len(page.Items), len(want))
	}
	for i, m := range page.Items {
		var ev event
		if err := json.Unmarshal(m.Payload, &ev); err != nil {
			t.Fatal(err)
		}
		epUID := "ep-1"
		if want[i].ep == ep2.ID {
			epUID = "ep-2"
		}
		if m.EventType != want[i].typ || ev.Type != want[i].typ || ev.Timestamp.IsZero() || ev.Data.AppID != app.ID ||
			str(ev.Data.AppUID) != `"shop"` || ev.Data.EndpointID != want[i].ep || str(ev.Data.EndpointUID) != `"`+epUID+`"` {
			t.Errorf("event %d = %s %s, want %s about %s", i, m.EventType, m.Payload, want[i].typ, want[i].ep)
		}
	}
	// Each event was dispatched to the operational endpoint.
	n := 0
	for _, d := range b.dispatched.dispatchedTo() {
		if d.EndpointID == op.ID {
			n++
		}
	}
	if n != len(want) {
		t.Fatalf("%d deliveries dispatched to the operational endpoint, want %d", n, len(want))
	}
}

// lazyEmitter lets a test build the emitter after the server it needs the
// store of.
type lazyEmitter struct{ e **opwebhook.Emitter }

func (l lazyEmitter) Emit(ctx context.Context, orgID string, ev webhook.OperationalEvent) error {
	return (*l.e).Emit(ctx, orgID, ev)
}

func (l lazyEmitter) Invalidate(orgID string) { (*l.e).Invalidate(orgID) }
