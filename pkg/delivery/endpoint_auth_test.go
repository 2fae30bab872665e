package delivery_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/receivertest"
	"github.com/hookd/hookd/pkg/signature"
	"github.com/hookd/hookd/pkg/webhook"
)

// verifyV1a checks a request's v1a entries the way the Standard Webhooks
// specification describes it, with crypto/ed25519 alone: the signed
// content is id.timestamp.body, each "v1a,<base64>" entry is a signature
// of it. It reports whether an entry verifies with pub.
func verifyV1a(t *testing.T, r received, pub ed25519.PublicKey) bool {
	t.Helper()
	id, ts := r.header.Get("webhook-id"), r.header.Get("webhook-timestamp")
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(unix, 0)).Abs() > 5*time.Minute {
		t.Errorf("webhook-timestamp %q", ts)
		return false
	}
	signed := append([]byte(id+"."+ts+"."), r.body...)
	for _, entry := range strings.Fields(r.header.Get("webhook-signature")) {
		sig, ok := strings.CutPrefix(entry, "v1a,")
		raw, err := base64.StdEncoding.DecodeString(sig)
		if ok && err == nil && ed25519.Verify(pub, signed, raw) {
			return true
		}
	}
	return false
}

func publicOf(t *testing.T, key string) ed25519.PublicKey {
	t.Helper()
	k, err := signature.ParsePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return ed25519.PublicKey(k.Public())
}

// An Ed25519 endpoint's deliveries carry v1a entries that crypto/ed25519
// verifies with the public key; during a rotation between HMAC and
// Ed25519 both kinds of entry are in one header, and the HMAC reference
// verifiers (Svix's and the Standard Webhooks') accept it.
func TestEd25519Deliveries(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{endpointTTL: time.Nanosecond})
	rcv := newReceiver(t, nil)
	key, err := signature.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	ep := b.endpoint(rcv.URL, func(e *webhook.Endpoint) { e.Secret = key.String() })
	msg, _ := b.publish("user.signup", `{"a":1}`)
	b.waitStatus(msg, ep, webhook.StatusSuccess)
	r := rcv.got()[0]
	if sig := r.header.Get("webhook-signature"); !strings.HasPrefix(sig, "v1a,") || strings.Contains(sig, " ") {
		t.Errorf("webhook-signature = %q, want one v1a entry", sig)
	}
	if !verifyV1a(t, r, publicOf(t, key.String())) {
		t.Error("crypto/ed25519 does not verify the v1a entry")
	}
	if err := signature.VerifyEd25519(key.Public(), r.header, r.body, 0, time.Now()); err != nil {
		t.Errorf("signature.VerifyEd25519: %v", err)
	}

	// Ed25519 to HMAC, with a grace period: both sign.
	hmacKey, _ := signature.GenerateSecret()
	rotate(t, b, ep, hmacKey.String())
	msg, _ = b.publish("user.signup", `{"a":2}`)
	b.waitStatus(msg, ep, webhook.StatusSuccess)
	r = rcv.got()[1]
	if entries := strings.Fields(r.header.Get("webhook-signature")); len(entries) != 2 ||
		!strings.HasPrefix(entries[0], "v1,") || !strings.HasPrefix(entries[1], "v1a,") {
		t.Errorf("webhook-signature during the rotation = %q, want v1 then v1a", entries)
	}
	verifyBoth(t, r, hmacKey.String())
	if !verifyV1a(t, r, publicOf(t, key.String())) {
		t.Error("the rotated-out Ed25519 key's entry does not verify")
	}

	// And back to a new Ed25519 key: three entries.
	next, _ := signature.GeneratePrivateKey()
	rotate(t, b, ep, next.String())
	msg, _ = b.publish("user.signup", `{"a":3}`)
	b.waitStatus(msg, ep, webhook.StatusSuccess)
	r = rcv.got()[2]
	if n := len(strings.Fields(r.header.Get("webhook-signature"))); n != 3 {
		t.Errorf("%d entries, want 3", n)
	}
	verifyBoth(t, r, hmacKey.String())
	if !verifyV1a(t, r, publicOf(t, key.String())) || !verifyV1a(t, r, publicOf(t, next.String())) {
		t.Error("an Ed25519 entry does not verify")
	}
}

// lines collects what a receiver saw, safe for concurrent use.
type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.l = append(l.l, s)
}

func (l *lines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.l...)
}

// rotate makes key current, the old key valid for an hour.
func rotate(t *testing.T, b *bundle, ep *webhook.Endpoint, key string) {
	t.Helper()
	err := b.db.UpdateEndpoint(b.ctx, ep, func(e *webhook.Endpoint) error {
		e.RotateSecret(key, time.Hour, time.Now())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A receiver that requires a client certificate gets the deliveries of
// the endpoint that presents its mTLS identity, and refuses the others at
// the TLS handshake: no identity, an identity from another CA, the
// server's private CA not trusted.
func TestMTLSDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{})
	serverCA, clientCA, otherCA := receivertest.NewCA(t, "server CA"), receivertest.NewCA(t, "client CA"), receivertest.NewCA(t, "other CA")
	var seen lines
	rcv := receivertest.NewMTLSServer(t, serverCA, clientCA, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.add(r.URL.Path + " from " + r.TLS.PeerCertificates[0].Subject.CommonName)
		w.WriteHeader(http.StatusNoContent)
	}))
	identity := clientCA.Issue(t, "hookd", false).Identity()

	for _, tc := range []struct {
		name    string
		path    string
		mtls    *webhook.EndpointMTLS
		want    webhook.MessageStatus
		wantErr string
	}{
		{"identity and server CA", "/ok", &webhook.EndpointMTLS{Identity: identity, ServerCACert: serverCA.CertPEM}, webhook.StatusSuccess, ""},
		{"no identity", "/anonymous", &webhook.EndpointMTLS{ServerCACert: serverCA.CertPEM}, webhook.StatusFail, `the receiver sent alert "certificate required"`},
		{"an identity of another CA", "/other", &webhook.EndpointMTLS{Identity: otherCA.Issue(t, "x", false).Identity(), ServerCACert: serverCA.CertPEM}, webhook.StatusFail, `the receiver sent alert "certificate required"`},
		{"the server's CA not trusted", "/untrusted", &webhook.EndpointMTLS{Identity: identity}, webhook.StatusFail, "certificate signed by an unknown authority"},
		{"no mTLS", "/plain", nil, webhook.StatusFail, "certificate signed by an unknown authority"},
	} {
		ep := b.endpoint(rcv.URL+tc.path, func(e *webhook.Endpoint) { e.MTLS = tc.mtls; e.Channels = []string{tc.path[1:]} })
		msg, _ := b.publish("user.signup", `{}`, func(m *webhook.Message) { m.Channels = []string{tc.path[1:]} })
		b.waitStatus(msg, ep, tc.want)
		attempts := b.attempts(msg)
		if tc.wantErr != "" && !strings.Contains(attempts[len(attempts)-1].Response, tc.wantErr) {
			t.Errorf("%s: recorded %q, want it to say %q", tc.name, attempts[len(attempts)-1].Response, tc.wantErr)
		}
	}
	if got := seen.all(); strings.Join(got, ",") != "/ok from hookd" {
		t.Errorf("the receiver served %q, want the endpoint with the identity alone", got)
	}
}

// An OAuth endpoint's deliveries carry a bearer token from the endpoint's
// token server: fetched once and shared, fetched again once when the
// receiver answers 401; a token server that refuses fails the attempt
// with its reason, and nothing more reaches the receiver.
func TestOAuthDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{})
	ts := receivertest.NewTokenServer(t, "hookd-client", "s3cret")
	var seen lines
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.add(r.Header.Get("Authorization"))
		if !ts.Valid(r.Header.Get("Authorization")) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close)
	// Credentials in the URL are not sent: the token takes Authorization.
	ep := b.endpoint(strings.Replace(rcv.URL, "http://", "http://user:pw@", 1), func(e *webhook.Endpoint) {
		e.OAuth = &webhook.EndpointOAuth{GrantType: "clientCredentials", AuthMethod: "clientSecretBasic",
			ClientID: "hookd-client", ClientSecret: "s3cret", TokenURL: ts.TokenURL(), Scopes: []string{"webhooks"}}
	})
	for i := range 2 {
		msg, _ := b.publish("user.signup", `{"i":`+strconv.Itoa(i)+`}`)
		b.waitStatus(msg, ep, webhook.StatusSuccess)
	}
	if got := strings.Join(seen.all(), ","); got != "Bearer token-1,Bearer token-1" || len(ts.Grants()) != 1 {
		t.Errorf("the receiver saw %q after %d token requests, want one token for both", got, len(ts.Grants()))
	}

	// The receiver stops accepting the token: one 401, a new token, success.
	ts.Revoke()
	msg, _ := b.publish("user.signup", `{"i":2}`)
	b.waitStatus(msg, ep, webhook.StatusSuccess)
	if got := strings.Join(seen.all()[2:], ","); got != "Bearer token-1,Bearer token-2" {
		t.Errorf("after a revocation the receiver saw %q, want the old token then a new one", got)
	}

	// The token server refuses: the attempt fails, saying why.
	ts.Revoke()
	ts.Fail(true)
	msg, _ = b.publish("user.signup", `{"i":3}`)
	b.waitStatus(msg, ep, webhook.StatusFail)
	attempts := b.attempts(msg)
	if r := attempts[0].Response; r != "oauth: token endpoint answered 400 invalid_client" || attempts[0].StatusCode != 0 {
		t.Errorf("recorded %d %q, want the token server's refusal", attempts[0].StatusCode, r)
	}
	// The cached token was tried once (401); then no token could be had,
	// and nothing more reached the receiver.
	if got := seen.all(); len(got) != 5 || got[4] != "Bearer token-2" || len(attempts) != 3 {
		t.Errorf("the receiver saw %q and %d attempts were made; want the cached token once, then nothing", got[4:], len(attempts))
	}
	for _, a := range attempts {
		if strings.Contains(a.Response, "s3cret") || strings.Contains(a.URL, "pw") {
			t.Errorf("an attempt shows a secret: %+v", a)
		}
	}

	// A token URL the egress guard refuses: the reason says so.
	blocked := b.endpoint(rcv.URL+"/blocked", func(e *webhook.Endpoint) {
		e.Channels = []string{"blocked"}
		e.OAuth = &webhook.EndpointOAuth{GrantType: "clientCredentials", AuthMethod: "clientSecretPost",
			ClientID: "c", ClientSecret: "s", TokenURL: "http://169.254.169.254/token"}
	})
	msg, _ = b.publish("user.signup", `{}`, func(m *webhook.Message) { m.Channels = []string{"blocked"} })
	b.waitStatus(msg, blocked, webhook.StatusFail)
	for _, a := range b.attempts(msg) {
		if a.EndpointID == blocked.ID && !strings.HasPrefix(a.Response, "oauth: no token: the token request failed: blocked: address 169.254.169.254 is not allowed") {
			t.Errorf("a refused token URL recorded %q", a.Response)
		}
	}
}

// A refresh token that the authorization server rotates is stored, so
// that the endpoint keeps working after the process forgets its token.
func TestOAuthRefreshTokenRotation(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{})
	ts := receivertest.NewTokenServer(t, "c", "s")
	ts.AcceptRefreshToken("rt-0", true)
	rcv := newReceiver(t, nil)
	ep := b.endpoint(rcv.URL, func(e *webhook.Endpoint) {
		e.OAuth = &webhook.EndpointOAuth{GrantType: "refreshToken", AuthMethod: "clientSecretPost",
			ClientID: "c", ClientSecret: "s", TokenURL: ts.TokenURL(), RefreshToken: "rt-0"}
	})
	msg, _ := b.publish("user.signup", `{}`)
	b.waitStatus(msg, ep, webhook.StatusSuccess)
	b.waitFor("the rotated refresh token to be stored", func() bool {
		got, err := b.db.FindEndpointByID(b.ctx, ep.ID)
		return err == nil && got.OAuth.RefreshToken == ts.RefreshToken() && got.OAuth.RefreshToken != "rt-0"
	})
	if g := ts.Grants(); len(g) != 1 || g[0] != "refresh_token" {
		t.Errorf("grants %q", g)
	}
}

// Credentials in an endpoint's URL are sent as Basic authorization and
// recorded masked.
func TestBasicAuthFromURL(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{})
	rcv := newReceiver(t, nil)
	ep := b.endpoint(strings.Replace(rcv.URL, "http://", "http://hook%40user:p%3Ass@", 1)+"/h", func(e *webhook.Endpoint) {})
	msg, _ := b.publish("user.signup", `{}`)
	b.waitStatus(msg, ep, webhook.StatusSuccess)
	r := rcv.got()[0]
	req := &http.Request{Header: r.header}
	if user, pass, ok := req.BasicAuth(); !ok || user != "hook@user" || pass != "p:ss" {
		t.Errorf("Basic authorization %q %q %v, want the URL's decoded credentials", user, pass, ok)
	}
	if u := b.attempts(msg)[0].URL; u != strings.Replace(rcv.URL, "http://", "http://hook%40user:****@", 1)+"/h" {
		t.Errorf("recorded URL %q, want the password masked", u)
	}
}
