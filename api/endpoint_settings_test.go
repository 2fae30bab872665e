package api_test

import (
	"encoding/base64"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// customSecret is a valid secret without the whsec_ prefix (24 bytes).
var customSecret = base64.StdEncoding.EncodeToString([]byte("0123456789abcdefghijklmn"))

// secretBytes decodes a secret as the API shows it, which must carry whsec_.
func secretBytes(t *testing.T, s string) []byte {
	t.Helper()
	rest, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		t.Fatalf("secret %q lacks whsec_", s)
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		t.Fatalf("secret %q does not decode: %v", s, err)
	}
	return b
}

// signingSecrets returns the keys a delivery would be signed with now.
func (b *bundle) signingSecrets(appID, epID string) []string {
	b.t.Helper()
	ep, err := b.storedEndpoint(appID, epID)
	if err != nil {
		b.t.Fatal(err)
	}
	return ep.SigningSecrets(time.Now())
}

func TestEndpointSecret(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{})

	// A generated secret is whsec_ + base64 of 24 random bytes.
	gen := b.createEndpoint(app.ID, map[string]any{})
	r := b.do(http.MethodGet, "/api/v1/app/"+app.ID+"/endpoint/"+gen.ID+"/secret", nil).must(t, http.StatusOK)
	mustKeys(t, r.body, "key")
	s1 := decode[map[string]string](t, r)["key"]
	if n := len(secretBytes(t, s1)); n != 24 {
		t.Fatalf("generated secret has %d bytes, want 24", n)
	}
	if s2 := b.secret(app.ID, b.createEndpoint(app.ID, map[string]any{}).ID); s2 == s1 {
		t.Fatal("two endpoints got the same secret")
	}

	// A given secret reads back with whsec_, whether or not it had it.
	for _, given := range []string{customSecret, "whsec_" + customSecret} {
		ep := b.createEndpoint(app.ID, map[string]any{"secret": given})
		if got := b.secret(app.ID, ep.ID); got != "whsec_"+customSecret {
			t.Fatalf("secret %q reads back as %q", given, got)
		}
	}

	// PATCH sets a given secret, and generates a new one for null.
	path := "/api/v1/app/" + app.ID + "/endpoint/" + gen.ID
	other := base64.StdEncoding.EncodeToString([]byte("abcdefghijklmnopqrstuvwxyz012345"))
	b.do(http.MethodPatch, path, map[string]any{"secret": other}).must(t, http.StatusOK)
	if got := b.secret(app.ID, gen.ID); got != "whsec_"+other {
		t.Fatalf("patched secret = %q", got)
	}
	b.do(http.MethodPatch, path, map[string]any{"secret": nil}).must(t, http.StatusOK)
	if got := b.secret(app.ID, gen.ID); got == "whsec_"+other || len(secretBytes(t, got)) != 24 {
		t.Fatalf("secret after PATCH null = %q, want a new generated one", got)
	}
}

func TestEndpointSecretRotate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{})
	rotate := func(epID string, body any) response {
		t.Helper()
		return b.do(http.MethodPost, "/api/v1/app/"+app.ID+"/endpoint/"+epID+"/secret/rotate", body)
	}

	for _, tc := range []struct {
		name     string
		body     any
		newKey   string // "" when the new key is generated
		wantKeys int    // signing secrets after the rotation
	}{
		// With a given key, which becomes current.
		{"given key, default grace", map[string]any{"key": customSecret}, "whsec_" + customSecret, 2},
		{"given whsec_ key, grace 1h", map[string]any{"key": "whsec_" + customSecret, "gracePeriodSeconds": 3600}, "whsec_" + customSecret, 2},
		{"given key, no grace", map[string]any{"key": customSecret, "gracePeriodSeconds": 0}, "whsec_" + customSecret, 1},
		{"given key, grace 7 days", map[string]any{"key": customSecret, "gracePeriodSeconds": 604800}, "whsec_" + customSecret, 2},
		// With a generated key.
		{"empty object", map[string]any{}, "", 2},
		{"no body", nil, "", 2},
		{"null key", map[string]any{"key": nil, "gracePeriodSeconds": nil}, "", 2},
		{"generated, no grace", map[string]any{"gracePeriodSeconds": 0}, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := b.in(t)
			ep := b.createEndpoint(app.ID, map[string]any{})
			old := b.secret(app.ID, ep.ID)
			r := rotate(ep.ID, tc.body).must(t, http.StatusNoContent)
			if len(r.body) != 0 {
				t.Fatalf("204 with body %s", r.body)
			}
			current := b.secret(app.ID, ep.ID)
			switch {
			case current == old:
				t.Fatal("rotation kept the old secret current")
			case tc.newKey != "" && current != tc.newKey:
				t.Fatalf("current secret = %q, want %q", current, tc.newKey)
			case tc.newKey == "" && len(secretBytes(t, current)) != 24:
				t.Fatalf("generated secret %q is not 24 bytes", current)
			}
			keys := b.signingSecrets(app.ID, ep.ID)
			if len(keys) != tc.wantKeys || keys[0] != current {
				t.Fatalf("signing secrets = %d (%v), want %d starting with the current one", len(keys), keys[0] == current, tc.wantKeys)
			}
			if tc.wantKeys == 2 && keys[1] != old {
				t.Fatal("the rotated-out secret is not the old one")
			}
		})
	}

	// Rotating again keeps every secret still within its grace period.
	ep := b.createEndpoint(app.ID, map[string]any{})
	rotate(ep.ID, map[string]any{}).must(t, http.StatusNoContent)
	rotate(ep.ID, map[string]any{"gracePeriodSeconds": 60}).must(t, http.StatusNoContent)
	if keys := b.signingSecrets(app.ID, ep.ID); len(keys) != 3 {
		t.Fatalf("after two rotations: %d signing secrets, want 3", len(keys))
	}
}

func TestEndpointSecretRotateInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{})
	ep := b.createEndpoint(app.ID, map[string]any{})
	path := "/api/v1/app/" + app.ID + "/endpoint/" + ep.ID + "/secret/rotate"
	before := b.secret(app.ID, ep.ID)
	for _, tc := range []struct {
		name string
		body string
		loc  []string
	}{
		// gracePeriodSeconds is 0 to 604800.
		{"negative grace", `{"gracePeriodSeconds":-1}`, []string{"body", "gracePeriodSeconds"}},
		{"grace over 7 days", `{"gracePeriodSeconds":604801}`, []string{"body", "gracePeriodSeconds"}},
		{"grace a string", `{"gracePeriodSeconds":"60"}`, []string{"body", "gracePeriodSeconds"}},
		{"grace a fraction", `{"gracePeriodSeconds":1.5}`, []string{"body", "gracePeriodSeconds"}},
		{"grace past uint32", `{"gracePeriodSeconds":4294967296}`, []string{"body", "gracePeriodSeconds"}},
		{"grace wrapping in nanoseconds", `{"gracePeriodSeconds":9223372036854775807}`, []string{"body", "gracePeriodSeconds"}},
		{"grace past int64", `{"gracePeriodSeconds":18446744073709551616}`, []string{"body", "gracePeriodSeconds"}},
		// key matches ^(whsec_)?[a-zA-Z0-9+/=]{32,100}$.
		{"key too short", `{"key":"whsec_c2hvcnQ="}`, []string{"body", "key"}},
		{"key bad chars", `{"key":"` + strings.Repeat("a", 31) + `-"}`, []string{"body", "key"}},
		{"key too long", `{"key":"` + strings.Repeat("A", 104) + `"}`, []string{"body", "key"}},
		{"key a number", `{"key":12}`, []string{"body", "key"}},
		// Not an object.
		{"array body", `[]`, []string{"body"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := b.in(t)
			mustInvalid(t, b.do(http.MethodPost, path, tc.body), tc.loc...)
			if got := b.secret(app.ID, ep.ID); got != before {
				t.Fatal("rejected rotation changed the secret")
			}
			if keys := b.signingSecrets(app.ID, ep.ID); len(keys) != 1 {
				t.Fatalf("rejected rotation kept %d secrets", len(keys))
			}
		})
	}
}

func TestEndpointHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{})
	ep := b.createEndpoint(app.ID, map[string]any{"headers": map[string]string{"X-Initial": "i"}})
	path := "/api/v1/app/" + app.ID + "/endpoint/" + ep.ID + "/headers"
	stored := func() map[string]string {
		t.Helper()
		e, err := b.storedEndpoint(app.ID, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		return e.Headers
	}
	get := func() headersJSON {
		t.Helper()
		r := b.do(http.MethodGet, path, nil).must(t, http.StatusOK)
		mustKeys(t, r.body, "headers", "sensitive")
		return decode[headersJSON](t, r)
	}
	if h := get(); !maps.Equal(h.Headers, map[string]string{"X-Initial": "i"}) || h.Sensitive == nil || len(h.Sensitive) != 0 {
		t.Fatalf("headers given on create: %+v", h)
	}

	// PUT replaces the whole set.
	r := b.do(http.MethodPut, path, map[string]any{"headers": map[string]string{"X-A": "1", "X-B": "2"}}).must(t, http.StatusNoContent)
	if len(r.body) != 0 {
		t.Fatalf("204 with body %s", r.body)
	}
	if h := get(); !maps.Equal(h.Headers, map[string]string{"X-A": "1", "X-B": "2"}) {
		t.Fatalf("after PUT: %+v", h)
	}

	// PATCH merges; null removes.
	b.do(http.MethodPatch, path, map[string]any{"headers": map[string]any{"X-B": nil, "X-C": "3", "X-A": "1b"}}).must(t, http.StatusNoContent)
	if h := get(); !maps.Equal(h.Headers, map[string]string{"X-A": "1b", "X-C": "3"}) {
		t.Fatalf("after PATCH: %+v", h)
	}

	// Sensitive values are kept but withheld, and named in "sensitive".
	b.do(http.MethodPatch, path, map[string]any{"headers": map[string]any{"Authorization": "Bearer s3cr3t-token", "X-Api-Key": "k3y-value"}}).must(t, http.StatusNoContent)
	r = b.do(http.MethodGet, path, nil).must(t, http.StatusOK)
	h := decode[headersJSON](t, r)
	if !maps.Equal(h.Headers, map[string]string{"X-A": "1b", "X-C": "3"}) || !slices.Equal(h.Sensitive, []string{"Authorization", "X-Api-Key"}) {
		t.Fatalf("with sensitive headers: %s", r.body)
	}
	if strings.Contains(string(r.body), "s3cr3t-token") || strings.Contains(string(r.body), "k3y-value") {
		t.Fatalf("sensitive value leaked: %s", r.body)
	}
	if s := stored(); s["Authorization"] != "Bearer s3cr3t-token" || s["X-Api-Key"] != "k3y-value" {
		t.Fatalf("stored headers = %v", s)
	}
	// A PATCH that does not name it keeps it; PUT {} removes everything.
	b.do(http.MethodPatch, path, map[string]any{"headers": map[string]any{"X-C": nil}}).must(t, http.StatusNoContent)
	if s := stored(); s["Authorization"] != "Bearer s3cr3t-token" || len(s) != 3 {
		t.Fatalf("stored after PATCH = %v", s)
	}
	b.do(http.MethodPut, path, map[string]any{"headers": map[string]string{}}).must(t, http.StatusNoContent)
	if s := stored(); len(s) != 0 {
		t.Fatalf("stored after PUT {} = %v", s)
	}
	if h := get(); len(h.Headers) != 0 || len(h.Sensitive) != 0 {
		t.Fatalf("after PUT {}: %+v", h)
	}
}

func TestEndpointHeadersCaseInsensitive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{})
	ep := b.createEndpoint(app.ID, map[string]any{"headers": map[string]string{"X-Team": "1", "X-Gone": "g"}})
	path := "/api/v1/app/" + app.ID + "/endpoint/" + ep.ID + "/headers"
	stored := func() map[string]string {
		t.Helper()
		e, err := b.storedEndpoint(app.ID, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		return e.Headers
	}

	// Header names are case-insensitive: a PATCH in another case replaces
	// (a delivery could otherwise send either value) and null removes.
	b.do(http.MethodPatch, path, map[string]any{"headers": map[string]any{"x-team": "2", "x-gone": nil}}).must(t, http.StatusNoContent)
	if s := stored(); !maps.Equal(s, map[string]string{"x-team": "2"}) {
		t.Fatalf("after PATCH in lower case: %v", s)
	}
	// One set cannot name a header twice.
	for _, body := range []map[string]any{
		{"headers": map[string]string{"X-A": "1", "x-a": "2"}},
	} {
		mustInvalid(t, b.do(http.MethodPut, path, body), "body", "headers")
		mustInvalid(t, b.do(http.MethodPatch, path, body), "body", "headers")
		mustInvalid(t, b.do(http.MethodPost, "/api/v1/app/"+app.ID+"/endpoint", map[string]any{"url": "https://example.com", "headers": body["headers"]}), "body", "headers")
	}
	if s := stored(); !maps.Equal(s, map[string]string{"x-team": "2"}) {
		t.Fatalf("after rejected writes: %v", s)
	}
}

func TestEndpointHeadersInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{})
	ep := b.createEndpoint(app.ID, map[string]any{"headers": map[string]string{"X-Keep": "k", "Authorization": "Bearer a"}})
	path := "/api/v1/app/" + app.ID + "/endpoint/" + ep.ID + "/headers"
	want := map[string]string{"X-Keep": "k", "Authorization": "Bearer a"}
	for _, method := range []string{http.MethodPut, http.MethodPatch} {
		for _, tc := range []struct {
			name string
			body string
			loc  []string
		}{
			// Headers hookd sets itself.
			{"webhook-signature", `{"headers":{"webhook-signature":"v1,forged"}}`, []string{"body", "headers", "webhook-signature"}},
			{"Webhook-Id", `{"headers":{"Webhook-Id":"msg"}}`, []string{"body", "headers", "Webhook-Id"}},
			{"svix-id", `{"headers":{"svix-id":"msg"}}`, []string{"body", "headers", "svix-id"}},
			{"svix-signature", `{"headers":{"svix-signature":"v1,x"}}`, []string{"body", "headers", "svix-signature"}},
			{"Content-Length", `{"headers":{"Content-Length":"0"}}`, []string{"body", "headers", "Content-Length"}},
			{"content-type", `{"headers":{"content-type":"text/plain"}}`, []string{"body", "headers", "content-type"}},
			{"Host", `{"headers":{"Host":"internal"}}`, []string{"body", "headers", "Host"}},
			{"Transfer-Encoding", `{"headers":{"Transfer-Encoding":"chunked"}}`, []string{"body", "headers", "Transfer-Encoding"}},
			// Malformed names and values.
			{"name with space", `{"headers":{"X Bad":"1"}}`, []string{"body", "headers", "X Bad"}},
			{"name with colon", `{"headers":{"X-Bad:":"1"}}`, []string{"body", "headers", "X-Bad:"}},
			{"empty name", `{"headers":{"":"1"}}`, []string{"body", "headers"}},
			{"value with CRLF", `{"headers":{"X-Ok":"a\r\nX-Evil: 1"}}`, []string{"body", "headers", "X-Ok"}},
			{"value with LF", `{"headers":{"X-Ok":"a\nb"}}`, []string{"body", "headers", "X-Ok"}},
			{"value with CR", `{"headers":{"X-Ok":"a\rb"}}`, []string{"body", "headers", "X-Ok"}},
			{"value a number", `{"headers":{"X-Ok":1}}`, []string{"body", "headers"}},
			// Shape.
			{"headers missing", `{}`, []string{"body", "headers"}},
			{"headers an array", `{"headers":[]}`, []string{"body", "headers"}},
			{"array body", `[]`, []string{"body"}},
		} {
			t.Run(method+" "+tc.name, func(t *testing.T) {
				b := b.in(t)
				mustInvalid(t, b.do(method, path, tc.body), tc.loc...)
				e, err := b.storedEndpoint(app.ID, ep.ID)
				if err != nil {
					t.Fatal(err)
				}
				if !maps.Equal(e.Headers, want) {
					t.Fatalf("rejected write left headers %v, want %v", e.Headers, want)
				}
			})
		}
	}
}

func TestEndpointStats(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{})
	ep := b.createEndpoint(app.ID, map[string]any{})
	path := "/api/v1/app/" + app.ID + "/endpoint/" + ep.ID + "/stats"

	for _, query := range []string{"", "?since=2024-01-01T00:00:00Z", "?since=2024-01-01T00:00:00Z&until=2030-01-01T00:00:00.5%2B02:00"} {
		r := b.do(http.MethodGet, path+query, nil).must(t, http.StatusOK)
		obj := mustKeys(t, r.body, "success", "pending", "sending", "fail", "canceled", "attempts24h", "failures24h")
		for _, k := range []string{"success", "pending", "sending", "fail", "canceled", "attempts24h", "failures24h"} {
			if v := obj[k]; string(v) != "0" {
				t.Fatalf("stats%s: %s = %s on an endpoint without deliveries", query, k, v)
			}
		}
	}
	mustInvalid(t, b.do(http.MethodGet, path+"?since=yesterday", nil), "query", "since")
	mustInvalid(t, b.do(http.MethodGet, path+"?until=2024-13-01T00:00:00Z", nil), "query", "until")
}
