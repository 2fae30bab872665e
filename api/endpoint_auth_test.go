package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/receivertest"
)

func TestEndpointMTLSRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{}).ID
	ep := b.createEndpoint(app, map[string]any{})
	path := "/api/v1/app/" + app + "/endpoint/" + ep.ID
	ca := receivertest.NewCA(t, "private CA")
	identity := ca.Issue(t, "hookd", false).Identity()

	mustError(t, b.do(http.MethodGet, path+"/mtls", nil), http.StatusNotFound, "not_found")
	if got := strings.TrimSpace(string(b.do(http.MethodGet, path+"/mtls-config", nil).must(t, http.StatusOK).body)); got != `{"enabled":false,"config":null}` {
		t.Errorf("mtls-config without mTLS = %s", got)
	}

	// What is refused, and where.
	mustInvalid(t, b.do(http.MethodPut, path+"/mtls", map[string]any{}), "body", "identity")
	mustInvalid(t, b.do(http.MethodPut, path+"/mtls", map[string]any{"identity": ca.CertPEM}), "body", "identity")
	mustInvalid(t, b.do(http.MethodPut, path+"/mtls", map[string]any{"identity": "not PEM"}), "body", "identity")
	mustInvalid(t, b.do(http.MethodPut, path+"/mtls", map[string]any{"identity": identity, "serverCaCert": "nope"}), "body", "serverCaCert")
	mustInvalid(t, b.do(http.MethodPut, path+"/mtls", map[string]any{"identity": 1}), "body", "identity")

	b.do(http.MethodPut, path+"/mtls", map[string]any{"identity": identity, "serverCaCert": ca.CertPEM}).must(t, http.StatusNoContent)
	got := b.do(http.MethodGet, path+"/mtls", nil).must(t, http.StatusOK).body
	cfg := b.do(http.MethodGet, path+"/mtls-config", nil).must(t, http.StatusOK).body
	for _, body := range [][]byte{got, cfg, b.do(http.MethodGet, path, nil).body} {
		if strings.Contains(string(body), "PRIVATE KEY") {
			t.Errorf("an answer shows the identity: %s", body)
		}
	}
	mustKeys(t, got, "serverCaCert")
	mustKeys(t, cfg, "enabled", "config")
	if !strings.HasPrefix(string(cfg), `{"enabled":true,"config":{"serverCaCert":"-----BEGIN CERTIFICATE-----`) {
		t.Errorf("mtls-config = %s", cfg)
	}
	stored, _ := b.storedEndpoint(app, ep.ID)
	if stored.MTLS == nil || stored.MTLS.Identity != identity || stored.MTLS.ServerCACert != ca.CertPEM {
		t.Errorf("stored mTLS = %+v", stored.MTLS)
	}

	// A private CA alone is allowed (a hookd extension), and DELETE removes all.
	b.do(http.MethodPut, path+"/mtls", map[string]any{"serverCaCert": ca.CertPEM}).must(t, http.StatusNoContent)
	b.do(http.MethodDelete, path+"/mtls", nil).must(t, http.StatusNoContent)
	mustError(t, b.do(http.MethodGet, path+"/mtls", nil), http.StatusNotFound, "not_found")
	if stored, _ := b.storedEndpoint(app, ep.ID); stored.MTLS != nil {
		t.Errorf("after DELETE: %+v", stored.MTLS)
	}
}

func TestEndpointOAuthRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{}).ID
	ep := b.createEndpoint(app, map[string]any{})
	path := "/api/v1/app/" + app + "/endpoint/" + ep.ID
	valid := func(edit func(map[string]any)) map[string]any {
		body := map[string]any{
			"grantType": "clientCredentials", "authMethod": "clientSecretBasic", "clientId": "hookd",
			"clientSecret": "the-client-secret", "tokenUrl": "https://auth.example.com/token",
			"scopes": []string{"webhooks"}, "extraParams": map[string]string{"audience": "api"},
		}
		if edit != nil {
			edit(body)
		}
		return body
	}

	mustError(t, b.do(http.MethodGet, path+"/oauth", nil), http.StatusNotFound, "not_found")
	if got := strings.TrimSpace(string(b.do(http.MethodGet, path+"/oauth-config", nil).must(t, http.StatusOK).body)); got != `{"enabled":false,"config":null}` {
		t.Errorf("oauth-config without OAuth = %s", got)
	}

	for _, tc := range []struct {
		name string
		body map[string]any
		loc  []string
	}{
		{"nothing", map[string]any{}, []string{"body", "grantType"}},
		{"no token URL", valid(func(m map[string]any) { delete(m, "tokenUrl") }), []string{"body", "tokenUrl"}},
		{"an unknown grant", valid(func(m map[string]any) { m["grantType"] = "password" }), []string{"body", "grantType"}},
		{"an unknown method", valid(func(m map[string]any) { m["authMethod"] = "none" }), []string{"body", "authMethod"}},
		{"no client secret", valid(func(m map[string]any) { delete(m, "clientSecret") }), []string{"body", "clientSecret"}},
		{"no refresh token", valid(func(m map[string]any) { m["grantType"] = "refreshToken" }), []string{"body", "refreshToken"}},
		{"a JWT without its parameters", valid(func(m map[string]any) { m["authMethod"] = "clientSecretJwt" }), []string{"body", "jwtParams"}},
		{"a JWT parameter missing", valid(func(m map[string]any) { m["jwtParams"] = map[string]any{"signingAlgorithm": "RS256"} }), []string{"body", "jwtParams", "secretBase64"}},
		{"a JWT key that is not one", valid(func(m map[string]any) {
			m["authMethod"], m["jwtParams"] = "clientSecretJwt", map[string]any{"secretBase64": "bm90IGEga2V5", "signingAlgorithm": "RS256"}
		}), []string{"body", "jwtParams", "secretBase64"}},
		{"a token URL that is not http", valid(func(m map[string]any) { m["tokenUrl"] = "ftp://auth.example.com/" }), []string{"body", "tokenUrl"}},
		{"an extra parameter hookd sets", valid(func(m map[string]any) { m["extraParams"] = map[string]string{"grant_type": "x"} }), []string{"body", "extraParams", "grant_type"}},
		{"a bad extra header", valid(func(m map[string]any) { m["extraHeaders"] = map[string]string{"Bad Name": "x"} }), []string{"body", "extraHeaders"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustInvalid(t, b.in(t).do(http.MethodPut, path+"/oauth", tc.body), tc.loc...)
		})
	}

	b.do(http.MethodPut, path+"/oauth", valid(func(m map[string]any) {
		m["tokenUrl"] = "https://user:pw@auth.example.com/token"
	})).must(t, http.StatusNoContent)
	got := b.do(http.MethodGet, path+"/oauth", nil).must(t, http.StatusOK).body
	cfg := b.do(http.MethodGet, path+"/oauth-config", nil).must(t, http.StatusOK).body
	mustKeys(t, got, "grantType", "authMethod", "clientId", "tokenUrl", "scopes", "extraParams", "extraHeaders")
	for _, body := range [][]byte{got, cfg} {
		if strings.Contains(string(body), "the-client-secret") || strings.Contains(string(body), ":pw@") || strings.Contains(string(body), `"clientSecret"`) {
			t.Errorf("an answer shows a secret: %s", body)
		}
	}
	if !strings.Contains(string(got), `"tokenUrl":"https://user:****@auth.example.com/token"`) || !strings.HasPrefix(string(cfg), `{"enabled":true,"config":{"grantType":"clientCredentials"`) {
		t.Errorf("oauth = %s, oauth-config = %s", got, cfg)
	}
	stored, _ := b.storedEndpoint(app, ep.ID)
	if stored.OAuth == nil || stored.OAuth.ClientSecret != "the-client-secret" || stored.OAuth.Scopes[0] != "webhooks" {
		t.Errorf("stored OAuth = %+v", stored.OAuth)
	}

	b.do(http.MethodPut, path+"/oauth", valid(func(m map[string]any) {
		m["grantType"], m["refreshToken"], m["authMethod"] = "refreshToken", "rt", "clientSecretPost"
	})).must(t, http.StatusNoContent)
	b.do(http.MethodDelete, path+"/oauth", nil).must(t, http.StatusNoContent)
	mustError(t, b.do(http.MethodGet, path+"/oauth", nil), http.StatusNotFound, "not_found")
}

// Credentials in an endpoint URL are shown masked everywhere, kept when a
// client writes the masked URL back, and replaced by new ones.
func TestEndpointURLCredentials(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{}).ID
	const full, masked = "https://hook:s3cret@example.com/h?a=1", "https://hook:****@example.com/h?a=1"
	ep := b.createEndpoint(app, map[string]any{"url": full})
	path := "/api/v1/app/" + app + "/endpoint/" + ep.ID
	if ep.URL != masked {
		t.Errorf("created: url %q, want %q", ep.URL, masked)
	}
	for _, p := range []string{path, "/api/v1/app/" + app + "/endpoint"} {
		if body := string(b.do(http.MethodGet, p, nil).must(t, http.StatusOK).body); strings.Contains(body, "s3cret") || !strings.Contains(body, masked) {
			t.Errorf("GET %s shows %s", p, body)
		}
	}
	stored, _ := b.storedEndpoint(app, ep.ID)
	if stored.URL != full {
		t.Errorf("stored %q", stored.URL)
	}

	// Writing back what was read keeps the credentials.
	b.do(http.MethodPatch, path, map[string]any{"url": masked, "description": "x"}).must(t, http.StatusOK)
	b.do(http.MethodPut, path, map[string]any{"url": masked}).must(t, http.StatusOK)
	if stored, _ := b.storedEndpoint(app, ep.ID); stored.URL != full {
		t.Errorf("after writing the masked URL back: %q", stored.URL)
	}
	// New credentials replace them; a lone user name (often a key) is masked whole.
	got := decode[endpointJSON](t, b.do(http.MethodPatch, path, map[string]any{"url": "https://api-key-123@example.com/h"}).must(t, http.StatusOK))
	if got.URL != "https://****@example.com/h" {
		t.Errorf("url %q", got.URL)
	}
	if stored, _ := b.storedEndpoint(app, ep.ID); stored.URL != "https://api-key-123@example.com/h" {
		t.Errorf("stored %q", stored.URL)
	}
}
