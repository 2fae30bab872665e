package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

type portalAccess struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

func (b *bundle) portalToken(app string) portalAccess {
	b.t.Helper()
	r := b.do(http.MethodPost, "/api/v1/auth/app-portal-access/"+app, map[string]any{}).must(b.t, http.StatusOK)
	return decode[portalAccess](b.t, r)
}

func TestPortalTokenIsScopedToItsApplication(t *testing.T) {
	t.Parallel()
	b := setup(t)
	mine := b.createApp(map[string]any{"uid": "mine"})
	other := b.createApp(map[string]any{"uid": "other"})
	b.createEventType("user.signup")
	otherEp := b.createEndpoint(other.ID, map[string]any{})
	access := b.portalToken("mine")

	u, err := url.Parse(access.URL)
	if err != nil || u.Path != "/portal/" || !strings.HasPrefix(u.String(), b.url) {
		t.Fatalf("portal URL = %q, want %s/portal/#…", access.URL, b.url)
	}
	frag, _ := url.ParseQuery(u.Fragment)
	if frag.Get("token") != access.Token || frag.Get("app") != mine.ID || !strings.HasPrefix(access.Token, "hookd_portal_") {
		t.Fatalf("portal URL fragment = %q, token %q", u.Fragment, access.Token)
	}

	tok := access.Token
	for _, tc := range []struct {
		method, path string
		body         any
		want         int
	}{
		// Inside its application: what a customer needs.
		{"GET", "/api/v1/app/mine", nil, 200},
		{"GET", "/api/v1/app/" + mine.ID + "/endpoint", nil, 200},
		{"POST", "/api/v1/app/mine/endpoint", map[string]any{"url": "https://example.com/h", "filterTypes": []string{"user.signup"}}, 201},
		{"GET", "/api/v1/app/mine/msg", nil, 200},
		{"GET", "/api/v1/event-type", nil, 200},
		{"GET", "/api/v1/event-type/user.signup", nil, 200},
		// Another application does not exist for it.
		{"GET", "/api/v1/app/other", nil, 404},
		{"GET", "/api/v1/app/" + other.ID + "/endpoint", nil, 404},
		{"GET", "/api/v1/app/other/endpoint/" + otherEp.ID, nil, 404},
		{"POST", "/api/v1/app/other/endpoint", map[string]any{"url": "https://example.com/h"}, 404},
		{"GET", "/api/v1/app/other/msg", nil, 404},
		// Organisation-level operations are forbidden.
		{"GET", "/api/v1/app", nil, 403},
		{"POST", "/api/v1/app", map[string]any{"name": "x"}, 403},
		{"DELETE", "/api/v1/app/mine", nil, 403},
		{"PATCH", "/api/v1/app/mine", map[string]any{"name": "x"}, 403},
		{"POST", "/api/v1/event-type", map[string]any{"name": "a.b", "description": "x"}, 403},
		{"DELETE", "/api/v1/event-type/user.signup", nil, 403},
		{"POST", "/api/v1/auth/app-portal-access/mine", map[string]any{}, 403},
		{"POST", "/api/v1/app/mine/msg", map[string]any{"eventType": "user.signup", "payload": map[string]any{}}, 403},
	} {
		r := b.doWith(tok, tc.method, tc.path, tc.body, nil)
		if r.status != tc.want {
			t.Errorf("%s %s = %d, want %d: %s", tc.method, tc.path, r.status, tc.want, r.body)
		}
	}
}

func TestPortalTokenLogoutAndAppDeletionRevoke(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createApp(map[string]any{"uid": "a1"})
	b.createApp(map[string]any{"uid": "a2"})

	// Logout revokes the token at once.
	t1 := b.portalToken("a1").Token
	b.doWith(t1, http.MethodGet, "/api/v1/app/a1", nil, nil).must(t, http.StatusOK)
	b.doWith(t1, http.MethodPost, "/api/v1/auth/logout", nil, nil).must(t, http.StatusNoContent)
	mustError(t, b.doWith(t1, http.MethodGet, "/api/v1/app/a1", nil, nil), http.StatusUnauthorized, "unauthorized")

	// Deleting the application revokes its tokens.
	t2 := b.portalToken("a2").Token
	b.do(http.MethodDelete, "/api/v1/app/a2", nil).must(t, http.StatusNoContent)
	mustError(t, b.doWith(t2, http.MethodGet, "/api/v1/app/a2", nil, nil), http.StatusUnauthorized, "unauthorized")

	// An API key cannot log out.
	mustError(t, b.do(http.MethodPost, "/api/v1/auth/logout", nil), http.StatusForbidden, "forbidden")
}

func TestPortalAccessInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createApp(map[string]any{"uid": "a1"})
	// Expiry is bounded by the contract: 1 hour to 7 days.
	mustInvalid(t, b.do(http.MethodPost, "/api/v1/auth/app-portal-access/a1", map[string]any{"expiry": 60}), "body", "expiry")
	mustInvalid(t, b.do(http.MethodPost, "/api/v1/auth/app-portal-access/a1", map[string]any{"expiry": 700000}), "body", "expiry")
	b.do(http.MethodPost, "/api/v1/auth/app-portal-access/a1", map[string]any{"expiry": 3600}).must(t, http.StatusOK)
	// An unknown application is 404, unless the body creates it.
	mustError(t, b.do(http.MethodPost, "/api/v1/auth/app-portal-access/nope", map[string]any{}), http.StatusNotFound, "not_found")
	b.do(http.MethodPost, "/api/v1/auth/app-portal-access/newapp", map[string]any{"application": map[string]any{"name": "New"}}).must(t, http.StatusOK)
	b.do(http.MethodGet, "/api/v1/app/newapp", nil).must(t, http.StatusOK)
	// Another organisation's application is 404.
	other := b.newKey("other")
	mustError(t, b.doWith(other, http.MethodPost, "/api/v1/auth/app-portal-access/a1", map[string]any{}, nil), http.StatusNotFound, "not_found")
}
