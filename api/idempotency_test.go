package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
)

// An idempotency key is scoped to the principal that sent it and to the
// method and path, after authentication and authorisation; only successes
// are stored. Every combination of two principals reusing one key on a
// route: the second request is answered for its own permissions, and
// replayed only when it comes from the same principal.
func TestIdempotencyKeyNeverCrossesPrincipals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createApp(map[string]any{"uid": "a"})
	b.createApp(map[string]any{"uid": "b"})
	principals := []struct{ name, token string }{
		{"org key", b.key},
		{"another key of the org", b.newKey("acme")},
		{"portal token of app a", b.portalToken("a").Token},
		{"another portal token of app a", b.portalToken("a").Token},
		{"portal token of app b", b.portalToken("b").Token},
		{"key of another org", b.newKey("other")},
	}
	routes := []struct {
		path, body string
		want       []int // by principal
	}{
		{"/api/v1/app/b/msg", `{"eventType":"t","payload":{"secret":"b-payload"}}`, []int{202, 202, 403, 403, 403, 404}},
		{"/api/v1/auth/app-portal-access/b", `{}`, []int{200, 200, 403, 403, 403, 404}},
		{"/api/v1/app/a/msg", `{"eventType":"t","payload":{}}`, []int{202, 202, 403, 403, 403, 404}},
		{"/api/v1/app/a/endpoint", `{"url":"https://example.com/a"}`, []int{201, 201, 201, 201, 404, 404}},
		{"/api/v1/app", `{"name":"x"}`, []int{201, 201, 403, 403, 403, 201}},
	}
	for ri, rt := range routes {
		for i, first := range principals {
			for j, second := range principals {
				t.Run(fmt.Sprintf("%s: %s then %s", rt.path, first.name, second.name), func(t *testing.T) {
					key := fmt.Sprintf("k-%d-%d-%d", ri, i, j)
					post := func(token string) response {
						return b.in(t).doWith(token, http.MethodPost, rt.path, rt.body, http.Header{"Idempotency-Key": {key}})
					}
					r1 := post(first.token).must(t, rt.want[i])
					r2 := post(second.token).must(t, rt.want[j])
					replayed := r2.header.Get("Idempotent-Replayed") == "true"
					switch {
					case i == j && rt.want[i] < 400:
						if !replayed || !bytes.Equal(r1.body, r2.body) {
							t.Fatalf("same principal: %s, want the replay of %s", r2.body, r1.body)
						}
					case replayed:
						t.Fatalf("replayed %s to %s (first answer %d %s)", r2.body, second.name, r1.status, r1.body)
					case rt.want[i] < 400 && rt.want[j] < 400 && bytes.Equal(r1.body, r2.body):
						t.Fatalf("%s got %s's answer %s", second.name, first.name, r2.body)
					}
				})
			}
		}
	}
}

// The issue's repros, each as it was observed.
func TestIdempotencyReplayReprosFromTheIssue(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createApp(map[string]any{"uid": "a"})
	b.createApp(map[string]any{"uid": "b"})
	portalA := b.portalToken("a").Token
	post := func(token, key, path, body string) response {
		return b.doWith(token, http.MethodPost, path, body, http.Header{"Idempotency-Key": {key}})
	}

	// A portal token of app a obtained a working portal token of app b
	// by reusing the key the organisation had used.
	r := post(b.key, "K1", "/api/v1/auth/app-portal-access/b", `{}`).must(t, http.StatusOK)
	stolen := decode[portalAccess](t, r).Token
	r = post(portalA, "K1", "/api/v1/auth/app-portal-access/b", `{}`)
	mustError(t, r, http.StatusForbidden, "forbidden")
	if bytes.Contains(r.body, []byte(stolen)) {
		t.Fatalf("portal token of app a got app b's token: %s", r.body)
	}

	// ... and read another app's message payload.
	post(b.key, "K2", "/api/v1/app/b/msg", `{"eventType":"t","payload":{"card":"4242-secret"}}`).must(t, http.StatusAccepted)
	r = post(portalA, "K2", "/api/v1/app/b/msg", `{"eventType":"t","payload":{}}`)
	mustError(t, r, http.StatusForbidden, "forbidden")
	if bytes.Contains(r.body, []byte("4242-secret")) {
		t.Fatalf("portal token of app a read app b's payload: %s", r.body)
	}

	// The reverse: a 403 stored for the portal token was replayed to the
	// organisation's real publish, and no message was stored.
	mustError(t, post(portalA, "K3", "/api/v1/app/a/msg", `{"eventType":"t","payload":{}}`), http.StatusForbidden, "forbidden")
	r = post(b.key, "K3", "/api/v1/app/a/msg", `{"eventType":"t","payload":{"n":3}}`).must(t, http.StatusAccepted)
	msg := decode[messageJSON](t, r)
	b.do(http.MethodGet, "/api/v1/app/a/msg/"+msg.ID, nil).must(t, http.StatusOK)

	// Nor does a request that failed authentication or validation store
	// anything for the key.
	mustError(t, post("not-a-key-0123456789abcdef", "K4", "/api/v1/app", `{"name":"x"}`), http.StatusUnauthorized, "unauthorized")
	mustInvalid(t, post(b.key, "K4", "/api/v1/app/a/msg", `{"payload":{}}`), "body", "eventType")
	post(b.key, "K4", "/api/v1/app/a/msg", `{"eventType":"t","payload":{}}`).must(t, http.StatusAccepted)
}
