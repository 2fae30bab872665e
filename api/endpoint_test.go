package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestEndpointLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{"uid": "shop"})
	b.createEventType("order.paid")
	base := "/api/v1/app/" + app.ID + "/endpoint"

	r := b.do(http.MethodPost, base, map[string]any{
		"url": "https://example.com/hook", "description": "orders", "uid": "orders",
		"filterTypes": []string{"order.paid"}, "channels": []string{"eu"},
		"metadata": map[string]string{"team": "billing"}, "throttleRate": 20,
	}).must(t, http.StatusCreated)
	mustKeys(t, r.body, "id", "uid", "url", "description", "version", "disabled", "filterTypes", "eventTypes",
		"channels", "metadata", "throttleRate", "rateLimit", "createdAt", "updatedAt")
	ep := decode[endpointJSON](t, r)
	if !strings.HasPrefix(ep.ID, "ep_") || str(ep.UID) != `"orders"` || ep.URL != "https://example.com/hook" ||
		ep.Description != "orders" || ep.Version != 1 || ep.Disabled ||
		!slices.Equal(ep.FilterTypes, []string{"order.paid"}) || !slices.Equal(ep.EventTypes, []string{"order.paid"}) ||
		!slices.Equal(ep.Channels, []string{"eu"}) || ep.Metadata["team"] != "billing" ||
		ep.ThrottleRate == nil || *ep.ThrottleRate != 20 || ep.RateLimit == nil || *ep.RateLimit != 20 || ep.CreatedAt.IsZero() {
		t.Fatalf("created endpoint = %s", r.body)
	}
	if strings.Contains(string(r.body), "whsec_") {
		t.Fatalf("endpoint body leaks its secret: %s", r.body)
	}

	got := decode[endpointJSON](t, b.do(http.MethodGet, base+"/"+ep.ID, nil).must(t, http.StatusOK))
	if got.ID != ep.ID || got.Description != "orders" || !slices.Equal(got.FilterTypes, ep.FilterTypes) {
		t.Fatalf("GET = %+v", got)
	}
	l := decode[listJSON[endpointJSON]](t, b.do(http.MethodGet, base, nil).must(t, http.StatusOK))
	if len(l.Data) != 1 || l.Data[0].ID != ep.ID {
		t.Fatalf("list = %+v", l)
	}

	r = b.do(http.MethodPatch, base+"/"+ep.ID, map[string]any{"disabled": true}).must(t, http.StatusOK)
	if got := decode[endpointJSON](t, r); !got.Disabled || got.Description != "orders" {
		t.Fatalf("PATCH = %s", r.body)
	}
	r = b.do(http.MethodPut, base+"/"+ep.ID, map[string]any{"url": "https://example.org/v2", "uid": "orders"}).must(t, http.StatusOK)
	if got := decode[endpointJSON](t, r); got.ID != ep.ID || got.URL != "https://example.org/v2" {
		t.Fatalf("PUT = %s", r.body)
	}

	b.do(http.MethodDelete, base+"/"+ep.ID, nil).must(t, http.StatusNoContent)
	mustError(t, b.do(http.MethodGet, base+"/"+ep.ID, nil), http.StatusNotFound, "not_found")
	mustError(t, b.do(http.MethodDelete, base+"/"+ep.ID, nil), http.StatusNotFound, "not_found")
}

func TestEndpointPutCreates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{})
	base := "/api/v1/app/" + app.ID + "/endpoint/"

	r := b.do(http.MethodPut, base+"made-by-put", map[string]any{"url": "https://example.com"}).must(t, http.StatusCreated)
	ep := decode[endpointJSON](t, r)
	if str(ep.UID) != `"made-by-put"` || !strings.HasPrefix(ep.ID, "ep_") || ep.Version != 1 {
		t.Fatalf("PUT-created = %s", r.body)
	}
	if s := b.secret(app.ID, "made-by-put"); !strings.HasPrefix(s, "whsec_") {
		t.Fatalf("PUT-created endpoint has secret %q", s)
	}
	r = b.do(http.MethodPut, base+"made-by-put", map[string]any{"url": "https://example.com/2", "uid": "made-by-put"}).must(t, http.StatusOK)
	if got := decode[endpointJSON](t, r); got.ID != ep.ID {
		t.Fatalf("second PUT = %s", r.body)
	}
}

func TestEndpointPutReplacesPatchMerges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{})
	b.createEventType("a")
	b.createEventType("b")
	ep := b.createEndpoint(app.ID, map[string]any{
		"description": "d", "uid": "e1", "filterTypes": []string{"a"}, "channels": []string{"c1"},
		"metadata": map[string]string{"k": "v"}, "throttleRate": 5, "disabled": true,
		"headers": map[string]string{"X-Team": "t"},
	})
	path := "/api/v1/app/" + app.ID + "/endpoint/" + ep.ID
	secret := b.secret(app.ID, ep.ID)

	// PATCH changes only the fields it carries.
	for _, tc := range []struct {
		name  string
		body  map[string]any
		check func(endpointJSON) bool
	}{
		{"description", map[string]any{"description": "d2"}, func(e endpointJSON) bool {
			return e.Description == "d2" && str(e.UID) == `"e1"` && slices.Equal(e.FilterTypes, []string{"a"}) &&
				slices.Equal(e.Channels, []string{"c1"}) && e.Metadata["k"] == "v" && *e.ThrottleRate == 5 && e.Disabled
		}},
		{"eventTypes alias", map[string]any{"eventTypes": []string{"a", "b"}}, func(e endpointJSON) bool {
			return slices.Equal(e.FilterTypes, []string{"a", "b"}) && slices.Equal(e.EventTypes, []string{"a", "b"}) && e.Description == "d2"
		}},
		{"rateLimit alias", map[string]any{"rateLimit": 9}, func(e endpointJSON) bool {
			return e.ThrottleRate != nil && *e.ThrottleRate == 9 && *e.RateLimit == 9
		}},
		{"version", map[string]any{"version": 3}, func(e endpointJSON) bool { return e.Version == 3 }},
		{"null clears", map[string]any{"uid": nil, "throttleRate": nil, "filterTypes": nil, "channels": nil}, func(e endpointJSON) bool {
			return e.UID == nil && e.ThrottleRate == nil && e.RateLimit == nil && e.FilterTypes == nil &&
				e.EventTypes == nil && e.Channels == nil && e.Description == "d2" && e.Version == 3
		}},
	} {
		r := b.do(http.MethodPatch, path, tc.body).must(t, http.StatusOK)
		if !tc.check(decode[endpointJSON](t, r)) {
			t.Fatalf("PATCH %s = %s", tc.name, r.body)
		}
		if !tc.check(decode[endpointJSON](t, response{body: b.snapshot(path)})) {
			t.Fatalf("GET after PATCH %s = %s", tc.name, b.snapshot(path))
		}
	}
	if got := b.secret(app.ID, ep.ID); got != secret {
		t.Fatal("PATCH without secret changed the secret")
	}

	// PUT replaces every setting but the uid, which is kept when left out;
	// secret and headers are not settings.
	b.do(http.MethodPatch, path, map[string]any{"uid": "e1", "channels": []string{"c1"}, "filterTypes": []string{"a"}, "throttleRate": 5}).must(t, http.StatusOK)
	r := b.do(http.MethodPut, path, map[string]any{"url": "https://example.com/put"}).must(t, http.StatusOK)
	for _, raw := range [][]byte{r.body, b.snapshot(path)} {
		if obj := mustKeys(t, raw, "metadata"); string(obj["metadata"]) != "{}" {
			t.Fatalf("metadata after PUT = %s, want {}", obj["metadata"])
		}
		e := decode[endpointJSON](t, response{body: raw})
		if e.URL != "https://example.com/put" || e.Description != "" || e.UID == nil || *e.UID != "e1" || e.FilterTypes != nil ||
			e.Channels != nil || e.ThrottleRate != nil || e.Disabled || e.Version != 1 {
			t.Fatalf("after PUT: %s", raw)
		}
	}
	if got := b.secret(app.ID, ep.ID); got != secret {
		t.Fatal("PUT changed the secret")
	}
	h := decode[headersJSON](t, b.do(http.MethodGet, path+"/headers", nil).must(t, http.StatusOK))
	if h.Headers["X-Team"] != "t" {
		t.Fatalf("PUT dropped the headers: %v", h)
	}
}

func TestEndpointCreateInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{})
	b.createEventType("live")
	b.createEventType("old")
	b.do(http.MethodDelete, "/api/v1/event-type/old", nil).must(t, http.StatusNoContent)
	base := "/api/v1/app/" + app.ID + "/endpoint"
	const u = `"url":"https://example.com"`
	eleven := `["c0","c1","c2","c3","c4","c5","c6","c7","c8","c9","c10"]`
	for _, tc := range []struct {
		name string
		body string
		loc  []string
	}{
		// Missing required fields and wrong types.
		{"no url", `{"description":"d"}`, []string{"body", "url"}},
		{"url a number", `{"url":1}`, []string{"body", "url"}},
		{"metadata value a number", `{` + u + `,"metadata":{"k":1}}`, []string{"body", "metadata"}},
		{"throttleRate a string", `{` + u + `,"throttleRate":"5"}`, []string{"body", "throttleRate"}},
		{"channels a string", `{` + u + `,"channels":"eu"}`, []string{"body", "channels"}},
		{"channels of numbers", `{` + u + `,"channels":[1]}`, []string{"body", "channels"}},
		{"disabled a string", `{` + u + `,"disabled":"no"}`, []string{"body", "disabled"}},
		{"filterTypes an object", `{` + u + `,"filterTypes":{}}`, []string{"body", "filterTypes"}},
		// URLs: http or https with a host, at most 65536 characters.
		{"ftp url", `{"url":"ftp://example.com/x"}`, []string{"body", "url"}},
		{"javascript url", `{"url":"javascript:alert(1)"}`, []string{"body", "url"}},
		{"file url", `{"url":"file:///etc/passwd"}`, []string{"body", "url"}},
		{"no host", `{"url":"https://"}`, []string{"body", "url"}},
		{"no host with port", `{"url":"http://:8080/x"}`, []string{"body", "url"}},
		{"relative url", `{"url":"/hook"}`, []string{"body", "url"}},
		{"garbage url", `{"url":"not a url"}`, []string{"body", "url"}},
		{"space in host", `{"url":"https://exa mple.com"}`, []string{"body", "url"}},
		{"empty url", `{"url":""}`, []string{"body", "url"}},
		{"url over 65536", `{"url":"https://example.com/` + strings.Repeat("a", 65536) + `"}`, []string{"body", "url"}},
		{"port 99999", `{"url":"https://example.com:99999/x"}`, []string{"body", "url"}},
		{"port 0", `{"url":"https://example.com:0/x"}`, []string{"body", "url"}},
		{"port 65536", `{"url":"http://127.0.0.1:65536/x"}`, []string{"body", "url"}},
		// Free text PostgreSQL cannot store (it answered 500).
		{"NUL in description", `{` + u + `,"description":"a\u0000b"}`, []string{"body", "description"}},
		{"NUL in metadata value", `{` + u + `,"metadata":{"k":"\u0000"}}`, []string{"body", "metadata"}},
		{"NUL in metadata key", `{` + u + `,"metadata":{"\u0000":"v"}}`, []string{"body", "metadata"}},
		// Secrets: ^(whsec_)?[a-zA-Z0-9+/=]{32,100}$.
		{"secret too short", `{` + u + `,"secret":"whsec_c2hvcnQ="}`, []string{"body", "secret"}},
		{"secret too long", `{` + u + `,"secret":"` + strings.Repeat("A", 104) + `"}`, []string{"body", "secret"}},
		{"secret bad chars", `{` + u + `,"secret":"whsec_` + strings.Repeat("A", 30) + `!?"}`, []string{"body", "secret"}},
		{"secret bad prefix", `{` + u + `,"secret":"wh_` + strings.Repeat("A", 32) + `"}`, []string{"body", "secret"}},
		{"secret a number", `{` + u + `,"secret":123}`, []string{"body", "secret"}},
		// uid.
		{"uid bad pattern", `{` + u + `,"uid":"a b"}`, []string{"body", "uid"}},
		{"uid 257 chars", `{` + u + `,"uid":"` + strings.Repeat("u", 257) + `"}`, []string{"body", "uid"}},
		{"uid empty", `{` + u + `,"uid":""}`, []string{"body", "uid"}},
		// Channels: 1 to 10 unique names.
		{"11 channels", `{` + u + `,"channels":` + eleven + `}`, []string{"body", "channels"}},
		{"duplicate channels", `{` + u + `,"channels":["eu","eu"]}`, []string{"body", "channels"}},
		{"channel bad pattern", `{` + u + `,"channels":["eu","a b"]}`, []string{"body", "channels", "1"}},
		{"channel 129 chars", `{` + u + `,"channels":["` + strings.Repeat("c", 129) + `"]}`, []string{"body", "channels", "0"}},
		{"empty channels", `{` + u + `,"channels":[]}`, []string{"body", "channels"}},
		// Filter types: existing, unarchived, unique names.
		{"unknown event type", `{` + u + `,"filterTypes":["live","nope"]}`, []string{"body", "filterTypes", "1"}},
		{"archived event type", `{` + u + `,"filterTypes":["old"]}`, []string{"body", "filterTypes", "0"}},
		{"unknown event type by eventTypes", `{` + u + `,"eventTypes":["nope"]}`, []string{"body"}},
		{"duplicate filter types", `{` + u + `,"filterTypes":["live","live"]}`, []string{"body", "filterTypes"}},
		{"filter type bad pattern", `{` + u + `,"filterTypes":["a b"]}`, []string{"body", "filterTypes", "0"}},
		{"empty filter types", `{` + u + `,"filterTypes":[]}`, []string{"body", "filterTypes"}},
		// Numbers out of range.
		{"throttleRate negative", `{` + u + `,"throttleRate":-1}`, []string{"body", "throttleRate"}},
		{"throttleRate 0", `{` + u + `,"throttleRate":0}`, []string{"body", "throttleRate"}},
		{"rateLimit 0", `{` + u + `,"rateLimit":0}`, []string{"body", "rateLimit"}},
		{"rateLimit negative", `{` + u + `,"rateLimit":-5}`, []string{"body", "rateLimit"}},
		{"throttleRate over uint16", `{` + u + `,"throttleRate":65536}`, []string{"body", "throttleRate"}},
		{"version 0", `{` + u + `,"version":0}`, []string{"body", "version"}},
		// Custom headers never override hookd's own, and must be well-formed.
		{"header webhook-signature", `{` + u + `,"headers":{"webhook-signature":"v1,x"}}`, []string{"body", "headers", "webhook-signature"}},
		{"header svix-id", `{` + u + `,"headers":{"svix-id":"msg_1"}}`, []string{"body", "headers", "svix-id"}},
		{"header Content-Length", `{` + u + `,"headers":{"Content-Length":"1"}}`, []string{"body", "headers", "Content-Length"}},
		{"header Host", `{` + u + `,"headers":{"Host":"evil.example"}}`, []string{"body", "headers", "Host"}},
		{"header name with space", `{` + u + `,"headers":{"X Bad":"1"}}`, []string{"body", "headers", "X Bad"}},
		{"header value with CRLF", `{` + u + `,"headers":{"X-Ok":"a\r\nX-Injected: 1"}}`, []string{"body", "headers", "X-Ok"}},
		{"header value with LF", `{` + u + `,"headers":{"X-Ok":"a\nb"}}`, []string{"body", "headers", "X-Ok"}},
		{"header value a number", `{` + u + `,"headers":{"X-Ok":1}}`, []string{"body", "headers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := b.in(t)
			mustInvalid(t, b.do(http.MethodPost, base, tc.body), tc.loc...)
		})
	}
	l := decode[listJSON[endpointJSON]](t, b.do(http.MethodGet, base, nil).must(t, http.StatusOK))
	if len(l.Data) != 0 {
		t.Fatalf("rejected creates stored %d endpoints", len(l.Data))
	}
	// The same shapes within the rules are accepted.
	b.createEndpoint(app.ID, map[string]any{
		"url": "http://example.com:8080/x?y=1", "channels": []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"},
		"filterTypes": []string{"live"}, "uid": strings.Repeat("u", 256), "throttleRate": 1,
		"headers": map[string]string{"X-Ok": "a b", "Authorization": "Bearer x"},
	})
}

func TestEndpointUpdateInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{})
	b.createEventType("live")
	ep := b.createEndpoint(app.ID, map[string]any{"uid": "e", "filterTypes": []string{"live"}, "channels": []string{"c"}})
	path := "/api/v1/app/" + app.ID + "/endpoint/" + ep.ID
	before := b.snapshot(path)
	secret := b.secret(app.ID, ep.ID)
	for _, tc := range []struct {
		name   string
		method string
		body   string
		loc    []string
	}{
		// PUT takes the full EndpointUpdate.
		{"put without url", http.MethodPut, `{"description":"d"}`, []string{"body", "url"}},
		{"put ftp url", http.MethodPut, `{"url":"ftp://example.com"}`, []string{"body", "url"}},
		{"put unknown event type", http.MethodPut, `{"url":"https://example.com","filterTypes":["nope"]}`, []string{"body", "filterTypes", "0"}},
		{"put 11 channels", http.MethodPut, `{"url":"https://example.com","channels":["a","b","c","d","e","f","g","h","i","j","k"]}`, []string{"body", "channels"}},
		{"put bad uid", http.MethodPut, `{"url":"https://example.com","uid":"a b"}`, []string{"body", "uid"}},
		{"put channels a string", http.MethodPut, `{"url":"https://example.com","channels":"c"}`, []string{"body", "channels"}},
		// PATCH validates what it carries.
		{"patch null url", http.MethodPatch, `{"url":null}`, []string{"body", "url"}},
		{"patch javascript url", http.MethodPatch, `{"url":"javascript:alert(1)"}`, []string{"body", "url"}},
		{"patch url without host", http.MethodPatch, `{"url":"http://"}`, []string{"body", "url"}},
		{"patch null description", http.MethodPatch, `{"description":null}`, []string{"body", "description"}},
		{"patch null metadata", http.MethodPatch, `{"metadata":null}`, []string{"body", "metadata"}},
		{"patch metadata value a number", http.MethodPatch, `{"metadata":{"k":2}}`, []string{"body", "metadata"}},
		{"patch throttleRate a string", http.MethodPatch, `{"throttleRate":"x"}`, []string{"body", "throttleRate"}},
		{"patch throttleRate 0", http.MethodPatch, `{"throttleRate":0}`, []string{"body", "throttleRate"}},
		{"patch rateLimit 0", http.MethodPatch, `{"rateLimit":0}`, []string{"body", "rateLimit"}},
		{"put throttleRate 0", http.MethodPut, `{"url":"https://example.com","throttleRate":0}`, []string{"body", "throttleRate"}},
		{"patch unknown event type", http.MethodPatch, `{"filterTypes":["live","nope"]}`, []string{"body", "filterTypes", "1"}},
		{"patch duplicate channels", http.MethodPatch, `{"channels":["x","x"]}`, []string{"body", "channels"}},
		{"patch channel bad pattern", http.MethodPatch, `{"channels":["a/b"]}`, []string{"body", "channels", "0"}},
		{"patch bad secret", http.MethodPatch, `{"secret":"tooshort"}`, []string{"body", "secret"}},
		{"patch version 0", http.MethodPatch, `{"version":0}`, []string{"body", "version"}},
		{"patch uid 257", http.MethodPatch, `{"uid":"` + strings.Repeat("u", 257) + `"}`, []string{"body", "uid"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := b.in(t)
			mustInvalid(t, b.do(tc.method, path, tc.body), tc.loc...)
			b.unchanged(path, before)
			if got := b.secret(app.ID, ep.ID); got != secret {
				t.Fatal("rejected write changed the secret")
			}
		})
	}
}

func TestEndpointFilterTypes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{})
	b.createEventType("a")
	b.createEventType("b")
	base := "/api/v1/app/" + app.ID + "/endpoint"

	// eventTypes (the document's name) is accepted on input; both names are sent.
	ep := decode[endpointJSON](t, b.do(http.MethodPost, base, map[string]any{
		"url": "https://example.com", "eventTypes": []string{"a"},
	}).must(t, http.StatusCreated))
	if !slices.Equal(ep.FilterTypes, []string{"a"}) || !slices.Equal(ep.EventTypes, []string{"a"}) {
		t.Fatalf("eventTypes input: %+v", ep)
	}
	// rateLimit (the SDKs' older name) likewise.
	r := b.do(http.MethodPost, base, map[string]any{"url": "https://example.com", "rateLimit": 4}).must(t, http.StatusCreated)
	if got := decode[endpointJSON](t, r); got.ThrottleRate == nil || *got.ThrottleRate != 4 {
		t.Fatalf("rateLimit input: %s", r.body)
	}

	// A filter keeps working after its event type is archived, but an
	// archived event type cannot be added to a filter.
	b.do(http.MethodDelete, "/api/v1/event-type/a", nil).must(t, http.StatusNoContent)
	path := base + "/" + ep.ID
	b.do(http.MethodPatch, path, map[string]any{"description": "still fine"}).must(t, http.StatusOK)
	b.do(http.MethodPatch, path, map[string]any{"filterTypes": []string{"a", "b"}}).must(t, http.StatusOK)
	mustInvalid(t, b.do(http.MethodPost, base, map[string]any{"url": "https://example.com", "filterTypes": []string{"a"}}), "body", "filterTypes", "0")
	// An expunged event type is gone from new filters too.
	b.do(http.MethodDelete, "/api/v1/event-type/b?expunge=true", nil).must(t, http.StatusNoContent)
	mustInvalid(t, b.do(http.MethodPost, base, map[string]any{"url": "https://example.com", "filterTypes": []string{"b"}}), "body", "filterTypes", "0")
}

func TestEndpointHTTPSOnly(t *testing.T) {
	t.Parallel()
	b := setupWith(t, setupOptions{httpsOnly: true})
	app := b.createApp(map[string]any{})
	base := "/api/v1/app/" + app.ID + "/endpoint"

	mustInvalid(t, b.do(http.MethodPost, base, map[string]any{"url": "http://example.com"}), "body", "url")
	mustInvalid(t, b.do(http.MethodPut, base+"/new-one", map[string]any{"url": "http://example.com"}), "body", "url")
	ep := b.createEndpoint(app.ID, map[string]any{"url": "https://example.com"})
	before := b.snapshot(base + "/" + ep.ID)
	mustInvalid(t, b.do(http.MethodPatch, base+"/"+ep.ID, map[string]any{"url": "http://example.com"}), "body", "url")
	mustInvalid(t, b.do(http.MethodPut, base+"/"+ep.ID, map[string]any{"url": "http://example.com"}), "body", "url")
	b.unchanged(base+"/"+ep.ID, before)
	if l := decode[listJSON[endpointJSON]](t, b.do(http.MethodGet, base, nil)); len(l.Data) != 1 {
		t.Fatalf("%d endpoints, want 1", len(l.Data))
	}
}

func TestEndpointUIDConflict(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app1 := b.createApp(map[string]any{})
	app2 := b.createApp(map[string]any{})
	ep := b.createEndpoint(app1.ID, map[string]any{"uid": "taken"})
	other := b.createEndpoint(app1.ID, map[string]any{"uid": "free"})
	base := "/api/v1/app/" + app1.ID + "/endpoint"
	before := b.snapshot(base + "/" + other.ID)

	// uids are unique per application.
	mustError(t, b.do(http.MethodPost, base, map[string]any{"url": "https://example.com", "uid": "taken"}), http.StatusConflict, "conflict")
	mustError(t, b.do(http.MethodPatch, base+"/"+other.ID, map[string]any{"uid": "taken"}), http.StatusConflict, "conflict")
	mustError(t, b.do(http.MethodPut, base+"/"+other.ID, map[string]any{"url": "https://example.com", "uid": "taken"}), http.StatusConflict, "conflict")
	b.unchanged(base+"/"+other.ID, before)
	if l := decode[listJSON[endpointJSON]](t, b.do(http.MethodGet, base, nil)); len(l.Data) != 2 {
		t.Fatalf("%d endpoints, want 2", len(l.Data))
	}

	// The same uid in another application is fine, and each app finds its own.
	ep2 := b.createEndpoint(app2.ID, map[string]any{"uid": "taken"})
	if got := decode[endpointJSON](t, b.do(http.MethodGet, base+"/taken", nil).must(t, http.StatusOK)); got.ID != ep.ID {
		t.Fatalf("app1's taken = %s, want %s", got.ID, ep.ID)
	}
	r := b.do(http.MethodGet, "/api/v1/app/"+app2.ID+"/endpoint/taken", nil).must(t, http.StatusOK)
	if got := decode[endpointJSON](t, r); got.ID != ep2.ID {
		t.Fatalf("app2's taken = %s, want %s", got.ID, ep2.ID)
	}
	// An endpoint is only reachable under its own application.
	mustError(t, b.do(http.MethodGet, "/api/v1/app/"+app2.ID+"/endpoint/"+ep.ID, nil), http.StatusNotFound, "not_found")
	mustError(t, b.do(http.MethodDelete, "/api/v1/app/"+app2.ID+"/endpoint/"+ep.ID, nil), http.StatusNotFound, "not_found")
	b.do(http.MethodGet, base+"/"+ep.ID, nil).must(t, http.StatusOK)
}

func TestEndpointUIDAddressing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{"uid": "the-app"})
	ep := b.createEndpoint(app.ID, map[string]any{"uid": "the-ep"})

	for _, tc := range []struct{ app, ep string }{
		{app.ID, ep.ID},
		{"the-app", ep.ID},
		{app.ID, "the-ep"},
		{"the-app", "the-ep"},
	} {
		t.Run(tc.app+"/"+tc.ep, func(t *testing.T) {
			b := b.in(t)
			path := "/api/v1/app/" + tc.app + "/endpoint/" + tc.ep
			if got := decode[endpointJSON](t, b.do(http.MethodGet, path, nil).must(t, http.StatusOK)); got.ID != ep.ID {
				t.Fatalf("GET = %s", got.ID)
			}
			if got := decode[endpointJSON](t, b.do(http.MethodPatch, path, map[string]any{"description": path}).must(t, http.StatusOK)); got.ID != ep.ID {
				t.Fatalf("PATCH = %s", got.ID)
			}
			r := b.do(http.MethodPut, path, map[string]any{"url": "https://example.com", "uid": "the-ep"}).must(t, http.StatusOK)
			if got := decode[endpointJSON](t, r); got.ID != ep.ID {
				t.Fatalf("PUT = %s", r.body)
			}
			b.do(http.MethodGet, path+"/secret", nil).must(t, http.StatusOK)
			b.do(http.MethodPost, path+"/secret/rotate", map[string]any{}).must(t, http.StatusNoContent)
			b.do(http.MethodGet, path+"/headers", nil).must(t, http.StatusOK)
			b.do(http.MethodPut, path+"/headers", map[string]any{"headers": map[string]string{"X-A": "1"}}).must(t, http.StatusNoContent)
			b.do(http.MethodPatch, path+"/headers", map[string]any{"headers": map[string]string{"X-B": "2"}}).must(t, http.StatusNoContent)
			b.do(http.MethodGet, path+"/stats", nil).must(t, http.StatusOK)
		})
	}
	if l := decode[listJSON[endpointJSON]](t, b.do(http.MethodGet, "/api/v1/app/the-app/endpoint", nil)); len(l.Data) != 1 {
		t.Fatalf("uid addressing created endpoints: %d", len(l.Data))
	}
	b.do(http.MethodDelete, "/api/v1/app/the-app/endpoint/the-ep", nil).must(t, http.StatusNoContent)
	mustError(t, b.do(http.MethodGet, "/api/v1/app/"+app.ID+"/endpoint/"+ep.ID, nil), http.StatusNotFound, "not_found")
}

func TestEndpointNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{})
	base := "/api/v1/app/" + app.ID + "/endpoint/ep_2abcdefghijklmnopqrstuvwxyz"
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, base, nil},
		{http.MethodPatch, base, `{"description":"x"}`},
		{http.MethodDelete, base, nil},
		{http.MethodGet, base + "/secret", nil},
		{http.MethodPost, base + "/secret/rotate", `{}`},
		{http.MethodGet, base + "/headers", nil},
		{http.MethodPut, base + "/headers", `{"headers":{}}`},
		{http.MethodPatch, base + "/headers", `{"headers":{}}`},
		{http.MethodGet, base + "/stats", nil},
	} {
		mustError(t, b.do(tc.method, tc.path, tc.body), http.StatusNotFound, "not_found")
	}
}

func TestEndpointsGoWithTheirApp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{"uid": "doomed"})
	ep := b.createEndpoint(app.ID, map[string]any{})
	b.do(http.MethodDelete, "/api/v1/app/"+app.ID, nil).must(t, http.StatusNoContent)
	if _, err := b.storedEndpoint(app.ID, ep.ID); err == nil {
		t.Fatal("endpoint survived its application")
	}
	// A new app with the same uid starts empty.
	b.createApp(map[string]any{"uid": "doomed"})
	if l := decode[listJSON[endpointJSON]](t, b.do(http.MethodGet, "/api/v1/app/doomed/endpoint", nil)); len(l.Data) != 0 {
		t.Fatalf("new app inherited %d endpoints", len(l.Data))
	}
}
