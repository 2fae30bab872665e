package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/secretbox"
)

func TestCrossOrganisationIsolation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const headerValue = "Bearer acme-only-token"
	app := b.createApp(map[string]any{"uid": "iso-app", "metadata": map[string]string{"owner": "acme-private"}})
	b.createEventType("iso.event")
	ep := b.createEndpoint(app.ID, map[string]any{
		"uid": "iso-ep", "secret": customSecret, "filterTypes": []string{"iso.event"},
		"headers": map[string]string{"Authorization": headerValue},
	})
	appPath, epPath := "/api/v1/app/"+app.ID, "/api/v1/app/"+app.ID+"/endpoint/"+ep.ID
	before := map[string][]byte{}
	for _, p := range []string{appPath, epPath, epPath + "/secret", epPath + "/headers", "/api/v1/event-type/iso.event"} {
		before[p] = b.snapshot(p)
	}
	other := b.newKey("other")

	// Every route on acme's resources is a 404 for another organisation:
	// never a 403, never data.
	var cases []struct{ method, path, body string }
	add := func(method, path, body string) {
		cases = append(cases, struct{ method, path, body string }{method, path, body})
	}
	for _, a := range []string{app.ID, "iso-app"} {
		add(http.MethodGet, "/api/v1/app/"+a, "")
		add(http.MethodPatch, "/api/v1/app/"+a, `{"name":"stolen"}`)
		add(http.MethodDelete, "/api/v1/app/"+a, "")
		add(http.MethodGet, "/api/v1/app/"+a+"/endpoint", "")
		add(http.MethodPost, "/api/v1/app/"+a+"/endpoint", `{"url":"https://evil.example"}`)
		add(http.MethodPut, "/api/v1/app/"+a+"/endpoint/new", `{"url":"https://evil.example"}`)
		for _, e := range []string{ep.ID, "iso-ep"} {
			p := "/api/v1/app/" + a + "/endpoint/" + e
			add(http.MethodGet, p, "")
			add(http.MethodPut, p, `{"url":"https://evil.example"}`)
			add(http.MethodPatch, p, `{"url":"https://evil.example"}`)
			add(http.MethodDelete, p, "")
			add(http.MethodGet, p+"/secret", "")
			add(http.MethodPost, p+"/secret/rotate", `{"key":"`+customSecret+`"}`)
			add(http.MethodGet, p+"/headers", "")
			add(http.MethodPut, p+"/headers", `{"headers":{"X-Evil":"1"}}`)
			add(http.MethodPatch, p+"/headers", `{"headers":{"Authorization":null}}`)
			add(http.MethodGet, p+"/stats", "")
		}
	}
	add(http.MethodGet, "/api/v1/event-type/iso.event", "")
	add(http.MethodPatch, "/api/v1/event-type/iso.event", `{"description":"stolen"}`)
	add(http.MethodDelete, "/api/v1/event-type/iso.event", "")
	add(http.MethodDelete, "/api/v1/event-type/iso.event?expunge=true", "")
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			b := b.in(t)
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := b.doWith(other, tc.method, tc.path, body, nil)
			mustError(t, r, http.StatusNotFound, "not_found")
			for _, secret := range []string{customSecret, headerValue, "acme-private", ep.ID} {
				if bytes.Contains(r.body, []byte(secret)) {
					t.Fatalf("404 body leaks %q: %s", secret, r.body)
				}
			}
		})
	}

	// Lists show none of acme's resources.
	for _, path := range []string{"/api/v1/app", "/api/v1/event-type?include_archived=true"} {
		r := b.doWith(other, http.MethodGet, path, nil, nil).must(t, http.StatusOK)
		if obj := mustKeys(t, r.body, "data"); string(obj["data"]) != "[]" {
			t.Fatalf("other organisation lists %s: %s", path, r.body)
		}
	}
	// Filters can only name the caller's own event types.
	own := decode[appJSON](t, b.doWith(other, http.MethodPost, "/api/v1/app", map[string]any{"name": "own"}, nil).must(t, http.StatusCreated))
	r := b.doWith(other, http.MethodPost, "/api/v1/app/"+own.ID+"/endpoint", map[string]any{
		"url": "https://example.com", "filterTypes": []string{"iso.event"},
	}, nil)
	mustInvalid(t, r, "body", "filterTypes", "0")

	// PUT and POST create in the caller's own organisation, never touching acme's.
	r = b.doWith(other, http.MethodPut, "/api/v1/app/iso-app", map[string]any{"name": "theirs"}, nil).must(t, http.StatusCreated)
	if got := decode[appJSON](t, r); got.ID == app.ID {
		t.Fatalf("PUT by another organisation returned acme's app: %s", r.body)
	}
	b.doWith(other, http.MethodPut, "/api/v1/event-type/iso.event", map[string]any{"description": "theirs"}, nil).must(t, http.StatusCreated)
	b.doWith(other, http.MethodPost, "/api/v1/event-type", map[string]any{"name": "iso.event2", "description": "theirs"}, nil).must(t, http.StatusCreated)

	// acme sees exactly what it had.
	for p, want := range before {
		b.unchanged(p, want)
	}
	stored, err := b.storedEndpoint(app.ID, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(stored.Headers, map[string]string{"Authorization": headerValue}) || len(stored.OldSecrets) != 0 {
		t.Fatalf("acme's endpoint was changed: headers %v, %d old secrets", stored.Headers, len(stored.OldSecrets))
	}
	if l := decode[listJSON[appJSON]](t, b.do(http.MethodGet, "/api/v1/app", nil)); len(l.Data) != 1 || l.Data[0].ID != app.ID {
		t.Fatalf("acme's apps: %+v", l.Data)
	}
	if l := decode[listJSON[eventTypeJSON]](t, b.do(http.MethodGet, "/api/v1/event-type", nil)); len(l.Data) != 1 || l.Data[0].Description != "about iso.event" {
		t.Fatalf("acme's event types: %+v", l.Data)
	}
}

// dumpDatabase returns every row of every table of the test database as text;
// bytea columns are rendered with printable bytes as they are.
func (b *bundle) dumpDatabase() string {
	b.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, b.dsn)
	if err != nil {
		b.t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
		SELECT table_name, string_agg(
			CASE WHEN data_type = 'bytea' THEN format('encode(%I, ''escape'')', column_name)
			     ELSE format('%I::text', column_name) END, ', ' ORDER BY ordinal_position)
		FROM information_schema.columns WHERE table_schema = 'public'
		GROUP BY table_name`)
	if err != nil {
		b.t.Fatal(err)
	}
	selects, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var table, cols string
		err := r.Scan(&table, &cols)
		return fmt.Sprintf("SELECT concat_ws(' | ', %s) FROM %s", cols, pgx.Identifier{table}.Sanitize()), err
	})
	if err != nil {
		b.t.Fatal(err)
	}
	var dump strings.Builder
	for _, q := range selects {
		rows, err := conn.Query(ctx, q)
		if err != nil {
			b.t.Fatalf("%s: %v", q, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			b.t.Fatal(err)
		}
		dump.WriteString(q + "\n" + strings.Join(lines, "\n") + "\n")
	}
	return dump.String()
}

func TestSecretsAtRest(t *testing.T) {
	t.Parallel()
	box, err := secretbox.New("a main secret for the test suite only")
	if err != nil {
		t.Fatal(err)
	}
	b := setupWith(t, setupOptions{box: box})
	app := b.createApp(map[string]any{})
	first := base64.StdEncoding.EncodeToString([]byte("first secret, 24 bytes!!"))
	second := base64.StdEncoding.EncodeToString([]byte("second secret 24 bytes!!"))
	const authValue, teamValue = "Bearer at-rest-token-1", "team-header-value-2"

	// As the SDKs do, every POST carries an idempotency key (whose stored
	// response must not hold secrets either).
	n := 0
	post := func(path string, body any) response {
		t.Helper()
		n++
		h := http.Header{"Idempotency-Key": {fmt.Sprint("auto_", n)}}
		return b.doWith(b.key, http.MethodPost, path, body, h)
	}
	base := "/api/v1/app/" + app.ID + "/endpoint"
	ep := decode[endpointJSON](t, post(base, map[string]any{
		"url": "https://example.com", "secret": "whsec_" + first,
		"headers": map[string]string{"Authorization": authValue, "X-Team": teamValue},
	}).must(t, http.StatusCreated))
	post(base+"/"+ep.ID+"/secret/rotate", map[string]any{"key": second, "gracePeriodSeconds": 3600}).must(t, http.StatusNoContent)
	gen := decode[endpointJSON](t, post(base, map[string]any{"url": "https://example.com/2"}).must(t, http.StatusCreated))
	generated := b.secret(app.ID, gen.ID)
	b.do(http.MethodPatch, base+"/"+gen.ID+"/headers", map[string]any{"headers": map[string]string{"Cookie": "c=patched-cookie"}}).must(t, http.StatusNoContent)

	// The API still serves them in clear.
	if got := b.secret(app.ID, ep.ID); got != "whsec_"+second {
		t.Fatalf("current secret = %q", got)
	}
	if keys := b.signingSecrets(app.ID, ep.ID); len(keys) != 2 || keys[1] != "whsec_"+first {
		t.Fatalf("signing secrets = %v", keys)
	}
	h := decode[headersJSON](t, b.do(http.MethodGet, base+"/"+ep.ID+"/headers", nil).must(t, http.StatusOK))
	if h.Headers["X-Team"] != teamValue || len(h.Sensitive) != 1 {
		t.Fatalf("headers = %+v", h)
	}
	if stored, err := b.storedEndpoint(app.ID, ep.ID); err != nil || stored.Headers["Authorization"] != authValue {
		t.Fatalf("stored headers = %v, %v", stored, err)
	}

	dump := b.dumpDatabase()
	if !strings.Contains(dump, ep.ID) || !strings.Contains(dump, "auto_") {
		t.Fatalf("the dump misses the endpoints or idempotency rows:\n%s", dump)
	}
	if !strings.Contains(dump, "enc:v1:") {
		t.Error("no sealed value in the dump")
	}
	for name, secret := range map[string]string{
		"current secret": second, "rotated-out secret": first, "generated secret": strings.TrimPrefix(generated, "whsec_"),
		"Authorization value": "at-rest-token-1", "header value": teamValue, "patched header value": "patched-cookie",
	} {
		if strings.Contains(dump, secret) {
			t.Errorf("the %s is stored in clear", name)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	b := setupWith(t, setupOptions{maxBodyBytes: 2048})
	app := b.createApp(map[string]any{"name": "small"})
	ep := b.createEndpoint(app.ID, map[string]any{})
	b.createEventType("small")
	appPath, epPath := "/api/v1/app/"+app.ID, "/api/v1/app/"+app.ID+"/endpoint/"+ep.ID
	snap := map[string][]byte{}
	for _, p := range []string{"/api/v1/app", appPath, appPath + "/endpoint", epPath, epPath + "/secret", epPath + "/headers", "/api/v1/event-type"} {
		snap[p] = b.snapshot(p)
	}
	big := strings.Repeat("x", 4096)
	for _, tc := range []struct {
		method, path, body string
	}{
		{http.MethodPost, "/api/v1/app", `{"name":"` + big + `"}`},
		{http.MethodPut, appPath, `{"name":"` + big + `"}`},
		{http.MethodPatch, appPath, `{"name":"` + big + `"}`},
		{http.MethodPost, appPath + "/endpoint", `{"url":"https://example.com/` + big + `"}`},
		{http.MethodPut, epPath, `{"url":"https://example.com/` + big + `"}`},
		{http.MethodPatch, epPath, `{"description":"` + big + `"}`},
		{http.MethodPost, epPath + "/secret/rotate", `{"key":null,"pad":"` + big + `"}`},
		{http.MethodPut, epPath + "/headers", `{"headers":{"X-Big":"` + big + `"}}`},
		{http.MethodPatch, epPath + "/headers", `{"headers":{"X-Big":"` + big + `"}}`},
		{http.MethodPost, "/api/v1/event-type", `{"name":"big","description":"` + big + `"}`},
		// A valid object padded past the limit.
		{http.MethodPost, "/api/v1/app", `{"name":"padded"}` + strings.Repeat(" ", 4096)},
	} {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s %s chunked=%v", tc.method, tc.path, chunked), func(t *testing.T) {
				b := b.in(t)
				var body any = tc.body
				if chunked {
					body = strings.NewReader(tc.body) // sent without Content-Length
				}
				mustError(t, b.do(tc.method, tc.path, body), http.StatusRequestEntityTooLarge, "payload_too_large")
				for p, want := range snap {
					b.unchanged(p, want)
				}
			})
		}
	}
	// Just under the limit is fine, either way.
	under := `{"name":"` + strings.Repeat("n", 1900) + `"}`
	b.do(http.MethodPost, "/api/v1/app", under).must(t, http.StatusCreated)
	b.do(http.MethodPost, "/api/v1/app", strings.NewReader(under)).must(t, http.StatusCreated)
}

func TestMalformedBodies(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{})
	ep := b.createEndpoint(app.ID, map[string]any{})
	b.createEventType("et")
	appPath, epPath := "/api/v1/app/"+app.ID, "/api/v1/app/"+app.ID+"/endpoint/"+ep.ID
	snap := map[string][]byte{}
	for _, p := range []string{"/api/v1/app", appPath, appPath + "/endpoint", epPath, epPath + "/secret", epPath + "/headers", "/api/v1/event-type", "/api/v1/event-type/et"} {
		snap[p] = b.snapshot(p)
	}
	routes := []struct{ method, path string }{
		{http.MethodPost, "/api/v1/app"},
		{http.MethodPut, appPath},
		{http.MethodPatch, appPath},
		{http.MethodPost, appPath + "/endpoint"},
		{http.MethodPut, epPath},
		{http.MethodPatch, epPath},
		{http.MethodPost, epPath + "/secret/rotate"},
		{http.MethodPut, epPath + "/headers"},
		{http.MethodPatch, epPath + "/headers"},
		{http.MethodPost, "/api/v1/event-type"},
		{http.MethodPut, "/api/v1/event-type/et"},
		{http.MethodPatch, "/api/v1/event-type/et"},
	}
	for _, rt := range routes {
		for _, tc := range []struct {
			name   string
			body   string
			status int
		}{
			// JSON that does not parse is a 400 with a JSON body.
			{"truncated", `{"name":`, http.StatusBadRequest},
			{"unquoted key", `{name:"a"}`, http.StatusBadRequest},
			{"trailing comma", `{"url":"https://example.com",}`, http.StatusBadRequest},
			{"two values", `{"name":"a"}{"name":"b"}`, http.StatusBadRequest},
			{"trailing garbage", `{"name":"a"} x`, http.StatusBadRequest},
			{"not json", `name=a`, http.StatusBadRequest},
			// JSON that is not an object is a 422.
			{"array", `[{"name":"a"}]`, http.StatusUnprocessableEntity},
			{"number", `42`, http.StatusUnprocessableEntity},
			{"empty", ``, http.StatusUnprocessableEntity},
			{"whitespace", "  \n", http.StatusUnprocessableEntity},
		} {
			if rt.path == epPath+"/secret/rotate" && (tc.name == "empty") {
				continue // every field of a rotation is optional: no body is fine
			}
			t.Run(rt.method+" "+rt.path+" "+tc.name, func(t *testing.T) {
				b := b.in(t)
				r := b.do(rt.method, rt.path, tc.body)
				if tc.status == http.StatusBadRequest {
					mustError(t, r, tc.status, "bad_request")
				} else {
					mustInvalid(t, r, "body")
				}
				for p, want := range snap {
					b.unchanged(p, want)
				}
			})
		}
	}
}

func TestTrailingSlash(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{"uid": "slash"})
	ep := b.createEndpoint(app.ID, map[string]any{"uid": "slash-ep"})
	b.createEventType("slash.et")
	epPath := "/api/v1/app/slash/endpoint/slash-ep"
	for _, tc := range []struct {
		method, path string
		body         any
		status       int
	}{
		{http.MethodGet, "/api/v1/health", nil, http.StatusNoContent},
		{http.MethodGet, "/api/v1/app", nil, http.StatusOK},
		{http.MethodPost, "/api/v1/app", `{"name":"x"}`, http.StatusCreated},
		{http.MethodGet, "/api/v1/app/slash", nil, http.StatusOK},
		{http.MethodPatch, "/api/v1/app/slash", `{"name":"y"}`, http.StatusOK},
		{http.MethodPut, "/api/v1/app/slash", `{"name":"y","uid":"slash"}`, http.StatusOK},
		{http.MethodGet, "/api/v1/app/slash/endpoint", nil, http.StatusOK},
		{http.MethodPost, "/api/v1/app/slash/endpoint", `{"url":"https://example.com"}`, http.StatusCreated},
		{http.MethodGet, epPath, nil, http.StatusOK},
		{http.MethodPatch, epPath, `{"description":"d"}`, http.StatusOK},
		{http.MethodGet, epPath + "/secret", nil, http.StatusOK},
		{http.MethodPost, epPath + "/secret/rotate", `{}`, http.StatusNoContent},
		{http.MethodGet, epPath + "/headers", nil, http.StatusOK},
		{http.MethodPut, epPath + "/headers", `{"headers":{}}`, http.StatusNoContent},
		{http.MethodPatch, epPath + "/headers", `{"headers":{}}`, http.StatusNoContent},
		{http.MethodGet, epPath + "/stats", nil, http.StatusOK},
		{http.MethodGet, "/api/v1/event-type", nil, http.StatusOK},
		{http.MethodPost, "/api/v1/event-type", `{"name":"other.et","description":"d"}`, http.StatusCreated},
		{http.MethodGet, "/api/v1/event-type/slash.et", nil, http.StatusOK},
		{http.MethodPatch, "/api/v1/event-type/slash.et", `{"description":"d"}`, http.StatusOK},
		{http.MethodGet, "/api/v1/app/missing", nil, http.StatusNotFound},
	} {
		for _, path := range []string{tc.path, tc.path + "/"} {
			r := b.do(tc.method, path, tc.body)
			if r.status >= 300 && r.status < 400 {
				t.Fatalf("%s %s redirects (%d) to %q", tc.method, path, r.status, r.header.Get("Location"))
			}
			r.must(t, tc.status)
			if tc.method == http.MethodPost && path == tc.path && tc.status == http.StatusCreated {
				// Make the second create of the pair not a conflict.
				tc.body = strings.Replace(tc.body.(string), "other.et", "other.et2", 1)
			}
		}
	}
	// Both endpoints created through the pair exist.
	if l := decode[listJSON[endpointJSON]](t, b.do(http.MethodGet, "/api/v1/app/slash/endpoint", nil)); len(l.Data) != 3 || l.Data[2].ID != ep.ID {
		t.Fatalf("endpoints: %+v", l.Data)
	}
	// DELETE last.
	b.do(http.MethodDelete, epPath+"/", nil).must(t, http.StatusNoContent)
	b.do(http.MethodDelete, "/api/v1/event-type/slash.et/", nil).must(t, http.StatusNoContent)
	b.do(http.MethodDelete, "/api/v1/app/slash/", nil).must(t, http.StatusNoContent)
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	post := func(key, org, path string, body any) response {
		t.Helper()
		return b.doWith(org, http.MethodPost, path, body, http.Header{"Idempotency-Key": {key}})
	}
	countApps := func(org string) int {
		t.Helper()
		return len(decode[listJSON[appJSON]](t, b.doWith(org, http.MethodGet, "/api/v1/app", nil, nil).must(t, http.StatusOK)).Data)
	}

	// The same POST twice answers the same and creates once.
	first := post("key-1", b.key, "/api/v1/app", map[string]any{"name": "once"}).must(t, http.StatusCreated)
	again := post("key-1", b.key, "/api/v1/app", map[string]any{"name": "once"}).must(t, http.StatusCreated)
	if !bytes.Equal(first.body, again.body) {
		t.Fatalf("replay differs:\n%s\n%s", first.body, again.body)
	}
	// With a trailing slash it is the same request.
	post("key-1", b.key, "/api/v1/app/", map[string]any{"name": "once"}).must(t, http.StatusCreated)
	if n := countApps(b.key); n != 1 {
		t.Fatalf("%d apps after replays, want 1", n)
	}
	app := decode[appJSON](t, first)

	// The same key on another path is a conflict, and creates nothing.
	mustError(t, post("key-1", b.key, "/api/v1/event-type", map[string]any{"name": "e", "description": "d"}), http.StatusConflict, "conflict")
	mustError(t, post("key-1", b.key, "/api/v1/app/"+app.ID+"/endpoint", map[string]any{"url": "https://example.com"}), http.StatusConflict, "conflict")
	mustError(t, b.do(http.MethodGet, "/api/v1/event-type/e", nil), http.StatusNotFound, "not_found")
	if l := decode[listJSON[endpointJSON]](t, b.do(http.MethodGet, "/api/v1/app/"+app.ID+"/endpoint", nil)); len(l.Data) != 0 {
		t.Fatalf("conflicting key created %d endpoints", len(l.Data))
	}

	// Another key, or another organisation with the same key, is a new request.
	post("key-2", b.key, "/api/v1/app", map[string]any{"name": "twice"}).must(t, http.StatusCreated)
	other := b.newKey("other")
	r := post("key-1", other, "/api/v1/app", map[string]any{"name": "theirs"}).must(t, http.StatusCreated)
	if got := decode[appJSON](t, r); got.ID == app.ID || got.Name != "theirs" {
		t.Fatalf("other organisation got acme's replay: %s", r.body)
	}
	if n := countApps(b.key); n != 2 {
		t.Fatalf("%d acme apps, want 2", n)
	}

	// A rejected request stores nothing (as Stripe does): the corrected
	// retry with the same key is processed, and then replayed.
	mustInvalid(t, post("key-3", b.key, "/api/v1/app", map[string]any{}), "body", "name")
	fixed := post("key-3", b.key, "/api/v1/app", map[string]any{"name": "now valid"}).must(t, http.StatusCreated)
	if r := post("key-3", b.key, "/api/v1/app", map[string]any{"name": "now valid"}); !bytes.Equal(r.body, fixed.body) ||
		r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry after the fix = %d %s, want the replay of %s", r.status, r.body, fixed.body)
	}

	// A replayed rotation rotates once.
	ep := b.createEndpoint(app.ID, map[string]any{})
	rotate := "/api/v1/app/" + app.ID + "/endpoint/" + ep.ID + "/secret/rotate"
	post("rot-1", b.key, rotate, map[string]any{}).must(t, http.StatusNoContent)
	rotated := b.secret(app.ID, ep.ID)
	post("rot-1", b.key, rotate, map[string]any{}).must(t, http.StatusNoContent)
	if got := b.secret(app.ID, ep.ID); got != rotated {
		t.Fatal("replayed rotation rotated again")
	}
	if keys := b.signingSecrets(app.ID, ep.ID); len(keys) != 2 {
		t.Fatalf("%d signing secrets after a replayed rotation, want 2", len(keys))
	}

	// Keys are bounded.
	mustInvalid(t, post(strings.Repeat("k", 257), b.key, "/api/v1/app", map[string]any{"name": "x"}), "header", "idempotency-key")
}
