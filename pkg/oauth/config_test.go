package oauth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	rsaPEM, _ := rsaKeyBase64(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER := base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PrivateKey(rsaKey))
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	hmac32 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))

	valid := func() Config {
		return Config{GrantType: GrantClientCredentials, AuthMethod: AuthClientSecretBasic,
			ClientID: "id", ClientSecret: "secret", TokenURL: "https://auth.example.com/oauth/token"}
	}
	withJWT := func(j JWTParams) func(*Config) {
		return func(c *Config) { c.AuthMethod, c.ClientSecret, c.JWT = AuthClientSecretJWT, "", &j }
	}
	tests := []struct {
		name      string
		mutate    func(*Config)
		wantField string // "" means valid
	}{
		// Valid configurations.
		{"basic", func(*Config) {}, ""},
		{"post with scopes and extras", func(c *Config) {
			c.AuthMethod, c.Scopes = AuthClientSecretPost, []string{"a"}
			c.ExtraParams, c.ExtraHeaders = map[string]string{"audience": "x"}, map[string]string{"X-Tenant": "t", "Authorization": "Bearer for-a-gateway"}
		}, ""},
		{"refresh grant", func(c *Config) { c.GrantType, c.RefreshToken = GrantRefreshToken, "rt" }, ""},
		{"RS256 PEM PKCS#8", withJWT(JWTParams{SecretBase64: rsaPEM, SigningAlgorithm: AlgRS256}), ""},
		{"RS256 DER PKCS#1", withJWT(JWTParams{SecretBase64: rsaDER, SigningAlgorithm: AlgRS256, TokenExpiry: time.Minute}), ""},
		{"HS256", withJWT(JWTParams{SecretBase64: hmac32, SigningAlgorithm: AlgHS256}), ""},
		{"http token URL", func(c *Config) { c.TokenURL = "http://127.0.0.1:8080/token" }, ""},

		// Enums.
		{"no grant", func(c *Config) { c.GrantType = "" }, "grantType"},
		{"unknown grant", func(c *Config) { c.GrantType = "password" }, "grantType"},
		{"unknown method", func(c *Config) { c.AuthMethod = "privateKeyJwt" }, "authMethod"},

		// Required fields.
		{"no client id", func(c *Config) { c.ClientID = "" }, "clientId"},
		{"basic without secret", func(c *Config) { c.ClientSecret = "" }, "clientSecret"},
		{"post without secret", func(c *Config) { c.AuthMethod, c.ClientSecret = AuthClientSecretPost, "" }, "clientSecret"},
		{"refresh grant without token", func(c *Config) { c.GrantType = GrantRefreshToken }, "refreshToken"},
		{"jwt without params", func(c *Config) { c.AuthMethod = AuthClientSecretJWT }, "jwtParams"},

		// Token URL.
		{"relative URL", func(c *Config) { c.TokenURL = "/token" }, "tokenUrl"},
		{"other scheme", func(c *Config) { c.TokenURL = "ftp://auth.example.com/token" }, "tokenUrl"},
		{"fragment", func(c *Config) { c.TokenURL = "https://auth.example.com/token#x" }, "tokenUrl"},
		{"empty", func(c *Config) { c.TokenURL = "" }, "tokenUrl"},

		// JWT parameters.
		{"unknown algorithm", withJWT(JWTParams{SecretBase64: rsaPEM, SigningAlgorithm: "ES256"}), "jwtParams.signingAlgorithm"},
		{"not base64", withJWT(JWTParams{SecretBase64: "!!", SigningAlgorithm: AlgRS256}), "jwtParams.secretBase64"},
		{"RS256 with garbage", withJWT(JWTParams{SecretBase64: hmac32, SigningAlgorithm: AlgRS256}), "jwtParams.secretBase64"},
		{"RS256 with an EC key", withJWT(JWTParams{SecretBase64: base64.StdEncoding.EncodeToString(ecDER), SigningAlgorithm: AlgRS256}), "jwtParams.secretBase64"},
		{"HS256 key too short", withJWT(JWTParams{SecretBase64: base64.StdEncoding.EncodeToString([]byte("short")), SigningAlgorithm: AlgHS256}), "jwtParams.secretBase64"},
		{"sub-second expiry", withJWT(JWTParams{SecretBase64: hmac32, SigningAlgorithm: AlgHS256, TokenExpiry: time.Millisecond}), "jwtParams.tokenExpirySecs"},

		// Extras that would override the protocol.
		{"extra grant_type", func(c *Config) { c.ExtraParams = map[string]string{"grant_type": "password"} }, "extraParams.grant_type"},
		{"extra client_secret", func(c *Config) { c.ExtraParams = map[string]string{"client_secret": "x"} }, "extraParams.client_secret"},
		{"extra scope", func(c *Config) { c.ExtraParams = map[string]string{"scope": "x"} }, "extraParams.scope"},
		{"bad header name", func(c *Config) { c.ExtraHeaders = map[string]string{"Bad Header": "x"} }, "extraHeaders"},
		{"bad header value", func(c *Config) { c.ExtraHeaders = map[string]string{"X-A": "a\nb"} }, "extraHeaders.X-A"},
		{"content-type header", func(c *Config) { c.ExtraHeaders = map[string]string{"content-type": "text/plain"} }, "extraHeaders.content-type"},
		{"authorization header with basic", func(c *Config) { c.ExtraHeaders = map[string]string{"Authorization": "x"} }, "extraHeaders.Authorization"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.wantField {
				t.Fatalf("Validate = %v, want a *FieldError on %q", err, tt.wantField)
			}
			if !strings.HasPrefix(err.Error(), "oauth config: "+tt.wantField+": ") || containsAny(err.Error(), "secret\"", rsaPEM[:20], hmac32) {
				t.Errorf("message %q", err)
			}
			if _, err := NewSource(c, nil, Options{}); err == nil {
				t.Error("NewSource accepted an invalid config")
			}
		})
	}
}

func TestConfigHidesSecrets(t *testing.T) {
	t.Parallel()
	c := Config{
		GrantType: GrantRefreshToken, AuthMethod: AuthClientSecretJWT, ClientID: "client-1",
		ClientSecret: "the-client-secret", RefreshToken: "the-refresh-token",
		TokenURL: "https://user:pw-in-url@auth.example.com/token",
		JWT:      &JWTParams{SecretBase64: "dGhlLWp3dC1rZXk=", SigningAlgorithm: AlgHS256, SecretID: "kid-1"},
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "oauth", c)
	shown := []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), buf.String(), fmt.Sprint(c.JWT)}
	for _, s := range shown {
		if containsAny(s, "the-client-secret", "the-refresh-token", "pw-in-url", "dGhlLWp3dC1rZXk") {
			t.Errorf("%q shows a secret", s)
		}
	}
	if !strings.Contains(buf.String(), `"clientId":"client-1"`) || !strings.Contains(shown[0], "user:****@auth.example.com") {
		t.Errorf("the safe fields are missing: %s / %s", buf.String(), shown[0])
	}
}

func TestPool(t *testing.T) {
	t.Parallel()
	s := startTokenServer(t)
	s.rotate = true
	var rotatedKey, rotatedToken string
	p := NewPool(localClient(t), PoolConfig{MaxSources: 2, OnRefreshToken: func(key, _, rt string) { rotatedKey, rotatedToken = key, rt }})
	cfg := basicConfig(s)

	a1, err := p.Source("ep_a", cfg)
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := p.Source("ep_a", cfg)
	if a1 != a2 {
		t.Error("the same key and config gave two sources")
	}
	changed := cfg
	changed.Scopes = []string{"new"}
	if a3, _ := p.Source("ep_a", changed); a3 == a1 {
		t.Error("a changed config kept the old source")
	}
	b, _ := p.Source("ep_b", cfg)
	if b == a1 {
		t.Error("two endpoints share a source")
	}
	if _, err := p.Source("ep_c", Config{}); err == nil {
		t.Error("an invalid config gave a source")
	}
	p.Source("ep_c", cfg)
	if len(p.sources) != 2 {
		t.Errorf("%d sources kept, want at most 2", len(p.sources))
	}
	p.Forget("ep_c")
	if _, ok := p.sources["ep_c"]; ok {
		t.Error("Forget kept the source")
	}

	refresh := cfg
	refresh.GrantType, refresh.RefreshToken = GrantRefreshToken, "rt-0"
	r, err := p.Source("ep_r", refresh)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	if rotatedKey != "ep_r" || rotatedToken != "rt-1" {
		t.Errorf("OnRefreshToken(%q, %q), want ep_r, rt-1", rotatedKey, rotatedToken)
	}
	// The configuration read back with the rotated token stored keeps the
	// source (and its token); another refresh token makes a new one.
	refresh.RefreshToken = "rt-1"
	if again, _ := p.Source("ep_r", refresh); again != r {
		t.Error("the stored rotated refresh token made a new source")
	}
	refresh.RefreshToken = "rt-other"
	if other, _ := p.Source("ep_r", refresh); other == r {
		t.Error("a new refresh token kept the old source")
	}
}
