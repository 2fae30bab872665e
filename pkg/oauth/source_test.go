package oauth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/egress"
)

// TestSourceGrantsAndMethods gets a token with every grant and every
// client authentication method from a real token endpoint, which checks
// the credentials, the grant and (for clientSecretJwt) the signed
// assertion.
func TestSourceGrantsAndMethods(t *testing.T) {
	t.Parallel()
	s := startTokenServer(t)
	rsaSecret, rsaPublic := rsaKeyBase64(t)
	hmacKey := bytes.Repeat([]byte("k"), 32)

	tests := []struct {
		name     string
		grant    GrantType
		method   AuthMethod
		jwt      *JWTParams
		jwtKey   any
		wantAuth string
	}{
		// clientCredentials with each method.
		{"client credentials, basic", GrantClientCredentials, AuthClientSecretBasic, nil, nil, "basic"},
		{"client credentials, post", GrantClientCredentials, AuthClientSecretPost, nil, nil, "post"},
		{"client credentials, RS256 JWT", GrantClientCredentials, AuthClientSecretJWT,
			&JWTParams{SecretBase64: rsaSecret, SigningAlgorithm: AlgRS256, SecretID: "key-1"}, rsaPublic, "jwt"},
		{"client credentials, HS256 JWT", GrantClientCredentials, AuthClientSecretJWT,
			&JWTParams{SecretBase64: base64.StdEncoding.EncodeToString(hmacKey), SigningAlgorithm: AlgHS256, TokenExpiry: time.Minute}, hmacKey, "jwt"},

		// refreshToken with each method.
		{"refresh token, basic", GrantRefreshToken, AuthClientSecretBasic, nil, nil, "basic"},
		{"refresh token, post", GrantRefreshToken, AuthClientSecretPost, nil, nil, "post"},
		{"refresh token, RS256 JWT", GrantRefreshToken, AuthClientSecretJWT,
			&JWTParams{SecretBase64: rsaSecret, SigningAlgorithm: AlgRS256}, rsaPublic, "jwt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.mu.Lock()
			s.jwtKey = tt.jwtKey
			s.mu.Unlock()
			cfg := Config{
				GrantType: tt.grant, AuthMethod: tt.method, ClientID: testClientID, TokenURL: s.URL + "/token",
				Scopes:       []string{"webhooks:write", "events"},
				ExtraParams:  map[string]string{"audience": "https://receiver.example"},
				ExtraHeaders: map[string]string{"X-Tenant": "t1"},
				JWT:          tt.jwt,
			}
			if tt.method != AuthClientSecretJWT {
				cfg.ClientSecret = testClientSecret
			}
			if tt.grant == GrantRefreshToken {
				cfg.RefreshToken = "rt-0"
			}
			src, err := NewSource(cfg, localClient(t), Options{})
			if err != nil {
				t.Fatal(err)
			}
			before := len(s.requests())
			tok, err := src.Token(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(tok.AccessToken, "tok-") || tok.Type() != "Bearer" {
				t.Errorf("token %q of type %q", tok.AccessToken, tok.Type())
			}

			reqs := s.requests()[before:]
			if len(reqs) != 1 {
				t.Fatalf("%d token requests, want 1", len(reqs))
			}
			r := reqs[0]
			wantGrant := map[GrantType]string{GrantClientCredentials: "client_credentials", GrantRefreshToken: "refresh_token"}[tt.grant]
			if r.auth != tt.wantAuth || r.form.Get("grant_type") != wantGrant {
				t.Errorf("server saw auth %q grant %q; want %q %q", r.auth, r.form.Get("grant_type"), tt.wantAuth, wantGrant)
			}
			if r.form.Get("scope") != "webhooks:write events" || r.form.Get("audience") != "https://receiver.example" ||
				r.header.Get("X-Tenant") != "t1" || r.header.Get("User-Agent") != egress.DefaultUserAgent {
				t.Errorf("scope %q, audience %q, X-Tenant %q, User-Agent %q", r.form.Get("scope"), r.form.Get("audience"),
					r.header.Get("X-Tenant"), r.header.Get("User-Agent"))
			}
			if tt.grant == GrantRefreshToken && r.form.Get("refresh_token") != "rt-0" {
				t.Errorf("refresh_token %q", r.form.Get("refresh_token"))
			}
			if tt.method == AuthClientSecretJWT {
				if r.form.Has("client_secret") || r.header.Get("Authorization") != "" {
					t.Error("clientSecretJwt sent a client secret")
				}
				exp, _ := r.claims.GetExpirationTime()
				iat, _ := r.claims.GetIssuedAt()
				wantTTL := cmpOr(tt.jwt.TokenExpiry, DefaultJWTExpiry)
				if exp == nil || iat == nil || exp.Sub(iat.Time) != wantTTL {
					t.Errorf("assertion lifetime %v to %v, want %v", iat, exp, wantTTL)
				}
				if kid, _ := r.jwtHead["kid"].(string); kid != tt.jwt.SecretID {
					t.Errorf("kid %q, want %q", kid, tt.jwt.SecretID)
				}
				if alg := r.jwtHead["alg"]; alg != tt.jwt.SigningAlgorithm {
					t.Errorf("alg %v", alg)
				}
			}
		})
	}
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func basicConfig(s *tokenServer) Config {
	return Config{
		GrantType: GrantClientCredentials, AuthMethod: AuthClientSecretBasic,
		ClientID: testClientID, ClientSecret: testClientSecret, TokenURL: s.URL + "/token",
	}
}

// TestSourceCachesUntilShortlyBeforeExpiry: a token is reused until
// ExpiryMargin (at most half its lifetime) before it expires, then
// replaced; a token without a lifetime lasts MaxAge.
func TestSourceCachesUntilShortlyBeforeExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		expiresIn any
		reuseTill time.Duration // still the first token at this age
		newFrom   time.Duration // a second token from this age
	}{
		// One hour, as a number and as a string: replaced 30 s before.
		{"number", 3600, 3569 * time.Second, 3571 * time.Second},
		{"string", "3600", 3569 * time.Second, 3571 * time.Second},

		// Short lifetimes keep at least half of it.
		{"20 seconds", 20, 9 * time.Second, 11 * time.Second},

		// No lifetime: MaxAge (set to 10 minutes below).
		{"no expires_in", nil, 9 * time.Minute, 11 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startTokenServer(t)
			s.expiresIn = tt.expiresIn
			clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			src, err := NewSource(basicConfig(s), localClient(t), Options{Now: clock.Now, MaxAge: 10 * time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			token := func() string {
				t.Helper()
				tok, err := src.Token(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				return tok.AccessToken
			}
			if got := token(); got != "tok-1" {
				t.Fatalf("first token %q", got)
			}
			clock.Advance(tt.reuseTill)
			if got := token(); got != "tok-1" {
				t.Errorf("at %v: %q, want the cached tok-1", tt.reuseTill, got)
			}
			clock.Advance(tt.newFrom - tt.reuseTill)
			if got := token(); got != "tok-2" {
				t.Errorf("at %v: %q, want a new tok-2", tt.newFrom, got)
			}
			if n := len(s.requests()); n != 2 {
				t.Errorf("%d token requests, want 2", n)
			}
		})
	}
}

// TestSourceConcurrentCallersFetchOnce: many attempts asking at once
// cause one token request and all get its token.
func TestSourceConcurrentCallersFetchOnce(t *testing.T) {
	t.Parallel()
	s := startTokenServer(t)
	s.hold = make(chan struct{})
	src, err := NewSource(basicConfig(s), localClient(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	const callers = 50
	var started sync.WaitGroup
	started.Add(callers)
	tokens := make(chan string, callers)
	errs := make(chan error, callers)
	for range callers {
		go func() {
			started.Done()
			tok, err := src.Token(t.Context())
			if err != nil {
				errs <- err
				return
			}
			tokens <- tok.AccessToken
		}()
	}
	started.Wait()
	close(s.hold) // the one request in flight may now be answered
	for range callers {
		select {
		case tok := <-tokens:
			if tok != "tok-1" {
				t.Errorf("a caller got %q", tok)
			}
		case err := <-errs:
			t.Error(err)
		}
	}
	if n := len(s.requests()); n != 1 {
		t.Errorf("%d callers caused %d token requests, want 1", callers, n)
	}
}

// TestSourceCallerCancelDoesNotCancelFetch: a caller that gives up stops
// waiting, and the fetch it started still serves the next caller.
func TestSourceCallerCancelDoesNotCancelFetch(t *testing.T) {
	t.Parallel()
	s := startTokenServer(t)
	s.hold = make(chan struct{})
	src, err := NewSource(basicConfig(s), localClient(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := contextWithCancel(t)
	done := make(chan error, 1)
	go func() { _, err := src.Token(ctx); done <- err }()
	cancel()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "oauth: waiting for a token: context canceled") {
		t.Fatalf("cancelled caller: %v", err)
	}
	close(s.hold)
	tok, err := src.Token(t.Context())
	if err != nil || tok.AccessToken != "tok-1" {
		t.Fatalf("next caller: %v %v", tok, err)
	}
	if n := len(s.requests()); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
}

// receiver is an endpoint that accepts only the tokens in ok, recording
// the Authorization headers and bodies it got.
type receiver struct {
	mu     sync.Mutex
	ok     map[string]bool
	auths  []string
	bodies []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	auth := req.Header.Get("Authorization")
	r.auths = append(r.auths, auth)
	r.bodies = append(r.bodies, string(body))
	if !r.ok[strings.TrimPrefix(auth, "Bearer ")] {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	io.WriteString(w, "accepted")
}

func TestSourceDoRefreshesOnceOn401(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		accept      map[string]bool
		wantStatus  int
		wantAuths   []string
		wantFetches int
	}{
		// The first token is refused (revoked early): a new one is fetched and works.
		{"second token accepted", map[string]bool{"tok-2": true}, 200, []string{"Bearer tok-1", "Bearer tok-2"}, 2},

		// The receiver refuses every token: one retry only, the 401 is the answer.
		{"always 401", map[string]bool{}, 401, []string{"Bearer tok-1", "Bearer tok-2"}, 2},

		// Accepted at once: nothing more.
		{"first token accepted", map[string]bool{"tok-1": true}, 200, []string{"Bearer tok-1"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startTokenServer(t)
			rcv := &receiver{ok: tt.accept}
			endpoint := startReceiver(t, rcv)
			src, err := NewSource(basicConfig(s), localClient(t), Options{})
			if err != nil {
				t.Fatal(err)
			}
			req, err := http.NewRequest(http.MethodPost, endpoint+"/hook", strings.NewReader(`{"a":1}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Basic from-url") // replaced by the token
			res, err := src.Do(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", res.StatusCode, tt.wantStatus)
			}
			rcv.mu.Lock()
			defer rcv.mu.Unlock()
			if fmt.Sprint(rcv.auths) != fmt.Sprint(tt.wantAuths) {
				t.Errorf("receiver saw %q, want %q", rcv.auths, tt.wantAuths)
			}
			for _, b := range rcv.bodies {
				if b != `{"a":1}` {
					t.Errorf("receiver got body %q", b)
				}
			}
			if n := len(s.requests()); n != tt.wantFetches {
				t.Errorf("%d token requests, want %d", n, tt.wantFetches)
			}
			if req.Header.Get("Authorization") != "Basic from-url" {
				t.Error("Do modified the caller's request")
			}
		})
	}
}

// TestSourceInvalidateOnce: many attempts refused with the same token
// drop it once; a stale token does not drop a newer one.
func TestSourceInvalidateOnce(t *testing.T) {
	t.Parallel()
	s := startTokenServer(t)
	src, err := NewSource(basicConfig(s), localClient(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var dropped atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if src.Invalidate(first) {
				dropped.Add(1)
			}
		})
	}
	wg.Wait()
	if dropped.Load() != 1 {
		t.Errorf("Invalidate dropped the token %d times, want 1", dropped.Load())
	}
	second, err := src.Token(t.Context())
	if err != nil || second.AccessToken != "tok-2" {
		t.Fatalf("after invalidation: %v %v", second, err)
	}
	if src.Invalidate(first) || src.Invalidate(nil) {
		t.Error("a stale token dropped the current one")
	}
	if again, _ := src.Token(t.Context()); again.AccessToken != "tok-2" || len(s.requests()) != 2 {
		t.Errorf("token %q after %d requests; want tok-2 after 2", again.AccessToken, len(s.requests()))
	}
}

func TestSourceRotatesRefreshToken(t *testing.T) {
	t.Parallel()
	s := startTokenServer(t)
	s.rotate = true
	var mu sync.Mutex
	var rotated []string
	cfg := basicConfig(s)
	cfg.GrantType, cfg.RefreshToken = GrantRefreshToken, "rt-0"
	src, err := NewSource(cfg, localClient(t), Options{OnRefreshToken: func(old, rt string) {
		mu.Lock()
		defer mu.Unlock()
		rotated = append(rotated, old+">"+rt)
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		tok, err := src.Token(t.Context())
		if err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
		if !src.Invalidate(tok) {
			t.Fatal("Invalidate")
		}
	}
	reqs := s.requests()
	var used []string
	for _, r := range reqs {
		used = append(used, r.form.Get("refresh_token"))
	}
	if fmt.Sprint(used) != "[rt-0 rt-1 rt-2]" {
		t.Errorf("refresh tokens sent %q, want each rotated one in turn", used)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(rotated) != "[rt-0>rt-1 rt-1>rt-2 rt-2>rt-3]" {
		t.Errorf("OnRefreshToken got %q", rotated)
	}
}

// TestSourceErrors: a failure gives a clear reason that contains no
// secret.
func TestSourceErrors(t *testing.T) {
	t.Parallel()
	jsonAnswer := func(status int, body string) func(http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			io.WriteString(w, body)
		}
	}
	tests := []struct {
		name     string
		mutate   func(*Config)
		failWith func(http.ResponseWriter)
		blocked  bool
		want     string
		wantCode int
	}{
		// The authorization server says no.
		{"wrong secret", func(c *Config) { c.ClientSecret = "wrong" }, nil, false,
			"oauth: token endpoint answered 401 invalid_client: bad basic credentials", 401},
		{"invalid_client 400", nil, jsonAnswer(400, `{"error":"invalid_client"}`), false,
			"oauth: token endpoint answered 400 invalid_client", 400},
		{"description echoing the secret", nil, jsonAnswer(400, `{"error":"invalid_client","error_description":"secret `+testClientSecret+` is wrong"}`), false,
			"oauth: token endpoint answered 400 invalid_client: secret [REDACTED] is wrong", 400},
		{"refresh token unknown", func(c *Config) { c.GrantType, c.RefreshToken = GrantRefreshToken, "rt-stale" }, nil, false,
			"oauth: token endpoint answered 400 invalid_grant: unknown refresh token", 400},
		{"error in a 200", nil, jsonAnswer(200, `{"error":"access_denied"}`), false,
			"oauth: token endpoint answered 200 access_denied", 200},
		{"server error without a body", nil, func(w http.ResponseWriter) { w.WriteHeader(503) }, false,
			"oauth: token endpoint answered 503", 503},
		{"redirect is not followed", nil, func(w http.ResponseWriter) {
			w.Header().Set("Location", "http://127.0.0.1:1/")
			w.WriteHeader(302)
		}, false, "oauth: token endpoint answered 302", 302},

		// The answer is unusable.
		{"no access_token", nil, jsonAnswer(200, `{"token_type":"bearer"}`), false,
			"oauth: token endpoint 127.0.0.1:", 0},

		// The token endpoint is not reachable.
		{"blocked by the egress guard", nil, nil, true,
			"oauth: requesting a token from 127.0.0.1:", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startTokenServer(t)
			s.failWith = tt.failWith
			cfg := basicConfig(s)
			cfg.TokenURL += "?tenant=secret-query"
			if tt.mutate != nil {
				tt.mutate(&cfg)
			}
			var doer Doer = localClient(t)
			if tt.blocked {
				doer = egress.New(egress.Config{})
			}
			src, err := NewSource(cfg, doer, Options{})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := src.Token(t.Context())
			if err == nil {
				t.Fatalf("got token %q", tok.AccessToken)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %q, want it to start with %q", err, tt.want)
			}
			if containsAny(err.Error(), testClientSecret, "rt-stale", "secret-query") {
				t.Errorf("error %q contains a secret", err)
			}
			var te *TokenError
			if isTE := errors.As(err, &te); isTE != (tt.wantCode != 0) || (isTE && te.StatusCode != tt.wantCode) {
				t.Errorf("error %#v, want a *TokenError with status %d: %v", err, tt.wantCode, isTE)
			}
			var blocked *egress.BlockedAddressError
			if errors.As(err, &blocked) != tt.blocked {
				t.Errorf("error %v: blocked %v, want %v", err, !tt.blocked, tt.blocked)
			}
			if tt.blocked && len(s.requests()) != 0 {
				t.Error("the guard let the token request through")
			}

			// Failures are not cached: the next call asks again.
			before := len(s.requests())
			if _, err := src.Token(t.Context()); err == nil {
				t.Fatal("second call succeeded")
			}
			if !tt.blocked && len(s.requests()) != before+1 {
				t.Error("the failure was cached")
			}
		})
	}
}

func TestSourceDoWithoutTokenSendsNothing(t *testing.T) {
	t.Parallel()
	s := startTokenServer(t)
	cfg := basicConfig(s)
	cfg.ClientSecret = "wrong"
	rcv := &receiver{}
	endpoint := startReceiver(t, rcv)
	src, err := NewSource(cfg, localClient(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader("{}"))
	if _, err := src.Do(t.Context(), req); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("error %v", err)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.auths) != 0 {
		t.Error("the receiver was called without a token")
	}
}
