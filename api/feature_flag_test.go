package api_test

import (
	"net/http"
	"slices"
	"testing"
)

// portalTokenWith issues an app-portal token of app carrying feature flags.
func (b *bundle) portalTokenWith(app string, flags []string) string {
	b.t.Helper()
	body := map[string]any{}
	if flags != nil {
		body["featureFlags"] = flags
	}
	r := b.do(http.MethodPost, "/api/v1/auth/app-portal-access/"+app, body).must(b.t, http.StatusOK)
	return decode[portalAccess](b.t, r).Token
}

func TestFeatureFlags(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createApp(map[string]any{"uid": "shop"})
	for _, et := range []map[string]any{
		{"name": "open"},
		{"name": "alpha", "featureFlag": "alpha"},
		{"name": "beta", "featureFlags": []string{"beta"}},
		{"name": "beta-gamma", "featureFlags": []string{"beta", "gamma"}},
	} {
		et["description"] = "d"
		b.do(http.MethodPost, "/api/v1/event-type", et).must(t, http.StatusCreated)
	}
	names := func(key string) []string {
		t.Helper()
		l := decode[listJSON[eventTypeJSON]](t, b.doWith(key, http.MethodGet, "/api/v1/event-type", nil, nil).must(t, http.StatusOK))
		var out []string
		for _, et := range l.Data {
			out = append(out, et.Name)
		}
		return out
	}
	plain := b.portalTokenWith("shop", nil)
	beta := b.portalTokenWith("shop", []string{"beta"})

	// Lists: API keys see every event type; a portal token those without a
	// flag and those with one of its flags.
	for _, tc := range []struct {
		who, key string
		want     []string
	}{
		{"API key", b.key, []string{"alpha", "beta", "beta-gamma", "open"}},
		{"token without flags", plain, []string{"open"}},
		{"token with beta", beta, []string{"beta", "beta-gamma", "open"}},
	} {
		if got := names(tc.key); !slices.Equal(got, tc.want) {
			t.Errorf("%s lists %v, want %v", tc.who, got, tc.want)
		}
	}
	// Get: a gated event type is a 404 to a token without its flag.
	mustError(t, b.doWith(beta, http.MethodGet, "/api/v1/event-type/alpha", nil, nil), http.StatusNotFound, "not_found")
	mustError(t, b.doWith(plain, http.MethodGet, "/api/v1/event-type/beta", nil, nil), http.StatusNotFound, "not_found")
	b.doWith(beta, http.MethodGet, "/api/v1/event-type/beta-gamma", nil, nil).must(t, http.StatusOK)
	b.do(http.MethodGet, "/api/v1/event-type/alpha", nil).must(t, http.StatusOK)

	// Endpoints a token creates may filter only on event types it sees.
	const eps = "/api/v1/app/shop/endpoint"
	mustInvalid(t, b.doWith(beta, http.MethodPost, eps, map[string]any{"url": "https://example.com", "filterTypes": []string{"open", "alpha"}}, nil),
		"body", "filterTypes", "1")
	b.doWith(beta, http.MethodPost, eps, map[string]any{"url": "https://example.com", "filterTypes": []string{"open", "beta"}}, nil).must(t, http.StatusCreated)
	mustInvalid(t, b.doWith(plain, http.MethodPut, eps+"/new", map[string]any{"url": "https://example.com", "filterTypes": []string{"beta"}}, nil),
		"body", "filterTypes", "0")
	// An endpoint the organisation set up with a gated type keeps it when a
	// token changes something else, but the token cannot add another.
	b.do(http.MethodPost, eps, map[string]any{"uid": "ops", "url": "https://example.com", "filterTypes": []string{"alpha"}}).must(t, http.StatusCreated)
	b.doWith(plain, http.MethodPatch, eps+"/ops", map[string]any{"description": "mine"}, nil).must(t, http.StatusOK)
	mustInvalid(t, b.doWith(plain, http.MethodPatch, eps+"/ops", map[string]any{"filterTypes": []string{"alpha", "beta"}}, nil),
		"body", "filterTypes", "1")
	// send-example of a gated type is refused like an unknown one.
	mustInvalid(t, b.doWith(plain, http.MethodPost, eps+"/ops/send-example", map[string]any{"eventType": "alpha"}, nil), "body", "eventType")

	// featureFlags must be a non-empty list of valid, unique names.
	for _, flags := range []any{[]string{}, []string{"a b"}, []string{"x", "x"}, "beta"} {
		mustInvalid(t, b.do(http.MethodPost, "/api/v1/auth/app-portal-access/shop", map[string]any{"featureFlags": flags}), "body", "featureFlags")
	}
}
