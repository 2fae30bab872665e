package oauth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hookd/hookd/pkg/egress"
)

// All traffic in these tests goes to servers on 127.0.0.1.

const (
	testClientID     = "hookd-client"
	testClientSecret = "s3cret-Value_42"
)

// localClient is an egress client allowed to reach 127.0.0.1.
func localClient(t *testing.T) *egress.Client {
	t.Helper()
	c := egress.New(egress.Config{AllowedSubnets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Timeout: 10 * time.Second})
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// seenRequest is what the token server saw of one token request.
type seenRequest struct {
	auth    string // "basic", "post", "jwt" or "" for none
	form    url.Values
	header  http.Header
	claims  jwt.MapClaims // of the client assertion
	jwtHead map[string]any
}

// tokenServer is a local OAuth2 token endpoint. It authenticates the
// client by whichever method the request uses, checks the grant, and
// issues "tok-1", "tok-2", ... It rotates refresh tokens when rotate is
// set.
type tokenServer struct {
	*httptest.Server
	t *testing.T

	jwtKey any // verification key of client assertions: *rsa.PublicKey or []byte

	mu           sync.Mutex
	seen         []seenRequest
	issued       int
	expiresIn    any    // the expires_in member; nil leaves it out
	refreshToken string // the valid refresh token
	rotate       bool
	failWith     func(w http.ResponseWriter) // answers instead, when set
	hold         chan struct{}               // answers only once closed, when set
}

func startTokenServer(t *testing.T) *tokenServer {
	t.Helper()
	s := &tokenServer{t: t, expiresIn: 3600, refreshToken: "rt-0"}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *tokenServer) requests() []seenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seenRequest(nil), s.seen...)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func (s *tokenServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "POST a form")
		return
	}
	seen := seenRequest{form: r.PostForm, header: r.Header.Clone()}
	s.mu.Lock()
	hold, failWith := s.hold, s.failWith
	s.mu.Unlock()
	if hold != nil {
		<-hold
	}

	// Client authentication: exactly one method.
	user, pass, basic := r.BasicAuth()
	switch {
	case basic:
		seen.auth = "basic"
		user, _ = url.QueryUnescape(user)
		pass, _ = url.QueryUnescape(pass)
		if user != testClientID || pass != testClientSecret || r.PostForm.Has("client_secret") || r.PostForm.Has("client_assertion") {
			s.record(seen)
			oauthError(w, http.StatusUnauthorized, "invalid_client", "bad basic credentials")
			return
		}
	case r.PostForm.Has("client_secret"):
		seen.auth = "post"
		if r.PostForm.Get("client_id") != testClientID || r.PostForm.Get("client_secret") != testClientSecret {
			s.record(seen)
			oauthError(w, http.StatusUnauthorized, "invalid_client", "bad posted credentials")
			return
		}
	case r.PostForm.Has("client_assertion"):
		seen.auth = "jwt"
		if err := s.checkAssertion(r, &seen); err != nil {
			s.record(seen)
			oauthError(w, http.StatusUnauthorized, "invalid_client", err.Error())
			return
		}
	default:
		s.record(seen)
		oauthError(w, http.StatusUnauthorized, "invalid_client", "no client authentication")
		return
	}
	s.record(seen)
	if failWith != nil {
		failWith(w)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	answer := map[string]any{"token_type": "bearer"}
	switch r.PostForm.Get("grant_type") {
	case "client_credentials":
	case "refresh_token":
		if r.PostForm.Get("refresh_token") != s.refreshToken {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown refresh token")
			return
		}
		if s.rotate {
			s.refreshToken = fmt.Sprintf("rt-%d", s.issued+1)
			answer["refresh_token"] = s.refreshToken
		}
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "")
		return
	}
	s.issued++
	answer["access_token"] = fmt.Sprintf("tok-%d", s.issued)
	if s.expiresIn != nil {
		answer["expires_in"] = s.expiresIn
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(answer)
}

func (s *tokenServer) record(r seenRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, r)
}

// checkAssertion verifies a client assertion as RFC 7523 §3 asks.
func (s *tokenServer) checkAssertion(r *http.Request, seen *seenRequest) error {
	if r.PostForm.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return fmt.Errorf("wrong client_assertion_type")
	}
	tok, err := jwt.Parse(r.PostForm.Get("client_assertion"), func(tok *jwt.Token) (any, error) { return s.jwtKey, nil },
		jwt.WithValidMethods([]string{"RS256", "HS256"}),
		jwt.WithIssuer(testClientID), jwt.WithSubject(testClientID),
		jwt.WithAudience(s.URL+"/token"), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		return fmt.Errorf("assertion: %v", err)
	}
	claims := tok.Claims.(jwt.MapClaims)
	if jti, _ := claims["jti"].(string); len(jti) < 16 {
		return fmt.Errorf("assertion without a unique jti")
	}
	seen.claims, seen.jwtHead = claims, tok.Header
	return nil
}

// rsaKeyBase64 returns a new RSA key as Svix's secretBase64 (base64 of a
// PEM PKCS#8 key), and its public half.
func rsaKeyBase64(t *testing.T) (string, *rsa.PublicKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pemText := "-----BEGIN PRIVATE KEY-----\n" + base64.StdEncoding.EncodeToString(der) + "\n-----END PRIVATE KEY-----\n"
	return base64.StdEncoding.EncodeToString([]byte(pemText)), &key.PublicKey
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if sub != "" && strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// startReceiver starts h on 127.0.0.1 and returns its URL.
func startReceiver(t *testing.T, h http.Handler) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}
