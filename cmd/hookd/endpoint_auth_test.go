package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svix/svix-webhooks/go/models"

	"github.com/hookd/hookd/internal/receivertest"
	"github.com/hookd/hookd/pkg/signature"
	"github.com/hookd/hookd/pkg/webhook"
)

// These tests run hookd whole (API, Postgres, Redis, worker) against local
// receivers: issue 14's features end to end.

// seen collects lines from receivers, safe for concurrent use.
type seen struct {
	mu    sync.Mutex
	lines []string
}

func (s *seen) add(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, line)
}

func (s *seen) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

func (s *seen) has(line string) bool {
	for _, l := range s.all() {
		if l == line {
			return true
		}
	}
	return false
}

// attemptJSON is an attempt as the API lists it.
type attemptJSON struct {
	EndpointID         string `json:"endpointId"`
	URL                string `json:"url"`
	Response           string `json:"response"`
	ResponseStatusCode int    `json:"responseStatusCode"`
	Status             int    `json:"status"`
}

// attemptsOf lists the attempts of msg, waiting until every endpoint in
// want has one with the status given there (0 success, 2 failure).
func (b *testBundle) attemptsOf(t *testing.T, app, msg string, want map[string]int) map[string]attemptJSON {
	t.Helper()
	byEndpoint := map[string]attemptJSON{}
	waitUntil(t, 30*time.Second, "the attempts of "+msg, func() bool {
		var list struct{ Data []attemptJSON }
		body := apiCall(t, b.url, b.key, http.MethodGet, "/api/v1/app/"+app+"/attempt/msg/"+msg, nil, http.StatusOK)
		if err := json.Unmarshal(body, &list); err != nil {
			t.Fatal(err)
		}
		for _, a := range list.Data {
			byEndpoint[a.EndpointID] = a
		}
		for ep, status := range want {
			if a, ok := byEndpoint[ep]; !ok || a.Status != status {
				return false
			}
		}
		return true
	})
	return byEndpoint
}

// Every delivery and token request goes through HOOKD_EGRESS_PROXY, asked
// for the checked IP address; a refused address fails the attempt without
// the proxy hearing of it. Through it: a receiver that requires a client
// certificate (mTLS with a private server CA), one that requires an OAuth2
// token, one with credentials in its URL.
func TestEndpointAuthenticationThroughProxy(t *testing.T) {
	t.Parallel()
	proxy := receivertest.NewConnectProxy(t)
	tokens := receivertest.NewTokenServer(t, "hookd", "client-s3cret")
	var got seen
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch user, pass, _ := r.BasicAuth(); {
		case r.URL.Path == "/oauth" && tokens.Valid(r.Header.Get("Authorization")):
			got.add("oauth")
		case r.URL.Path == "/basic" && user == "hook" && pass == "pw":
			got.add("basic")
		default:
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(plain.Close)
	serverCA, clientCA := receivertest.NewCA(t, "server CA"), receivertest.NewCA(t, "client CA")
	mtls := receivertest.NewMTLSServer(t, serverCA, clientCA, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.add("mtls " + r.TLS.PeerCertificates[0].Subject.CommonName)
		w.WriteHeader(http.StatusNoContent)
	}))

	b := setupWithEnv(t, map[string]string{"HOOKD_WHITELIST_SUBNETS": "127.0.0.0/8", "HOOKD_EGRESS_PROXY": proxy.URL})
	ctx := context.Background()
	svx := newSDK(t, b)
	app, err := svx.Application.Create(ctx, models.ApplicationIn{Name: "auth"}, nil)
	must(t, "Application.Create", err)
	create := func(url string) string {
		ep, err := svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{Url: url}, nil)
		must(t, "Endpoint.Create "+url, err)
		return ep.Id
	}
	epMTLS := create(mtls.URL + "/mtls")
	apiCall(t, b.url, b.key, http.MethodPut, "/api/v1/app/"+app.Id+"/endpoint/"+epMTLS+"/mtls", map[string]any{
		"identity": clientCA.Issue(t, "hookd-sender", false).Identity(), "serverCaCert": serverCA.CertPEM,
	}, http.StatusNoContent)
	epOAuth := create(plain.URL + "/oauth")
	apiCall(t, b.url, b.key, http.MethodPut, "/api/v1/app/"+app.Id+"/endpoint/"+epOAuth+"/oauth", map[string]any{
		"grantType": "clientCredentials", "authMethod": "clientSecretBasic", "clientId": "hookd",
		"clientSecret": "client-s3cret", "tokenUrl": tokens.TokenURL(),
	}, http.StatusNoContent)
	epBasic := create(strings.Replace(plain.URL, "http://", "http://hook:pw@", 1) + "/basic")
	epBlocked := create("http://169.254.169.254/latest/meta-data")

	msg, err := svx.Message.Create(ctx, app.Id, models.MessageIn{EventType: "user.created", Payload: map[string]any{"a": 1}}, nil)
	must(t, "Message.Create", err)
	attempts := b.attemptsOf(t, app.Id, msg.Id, map[string]int{epMTLS: 0, epOAuth: 0, epBasic: 0, epBlocked: 2})
	for _, want := range []string{"mtls hookd-sender", "oauth", "basic"} {
		if !got.has(want) {
			t.Errorf("the receivers saw %q, want %q", got.all(), want)
		}
	}
	if a := attempts[epBlocked]; !strings.Contains(a.Response, "blocked: address 169.254.169.254 is not allowed") {
		t.Errorf("the blocked endpoint's attempt says %q", a.Response)
	}
	if u := attempts[epBasic].URL; strings.Contains(u, "pw") || !strings.Contains(u, "hook:****@") {
		t.Errorf("the attempt shows the URL %q", u)
	}

	targets := strings.Join(proxy.Targets(), " | ")
	for _, want := range []string{
		"CONNECT " + strings.TrimPrefix(mtls.URL, "https://"),
		"CONNECT " + strings.TrimPrefix(plain.URL, "http://"),
		"CONNECT " + strings.TrimPrefix(tokens.URL, "http://"),
	} {
		if !strings.Contains(targets, want) {
			t.Errorf("the proxy was asked for %q, want %q among them", targets, want)
		}
	}
	if strings.Contains(targets, "169.254") {
		t.Errorf("the proxy was asked for the refused address: %q", targets)
	}
}

// verificationState reads an endpoint's "verification" status ("" for null).
func (b *testBundle) verificationState(t *testing.T, app, ep string) string {
	t.Helper()
	var out struct {
		Verification *struct {
			Status string `json:"status"`
		} `json:"verification"`
	}
	body := apiCall(t, b.url, b.key, http.MethodGet, "/api/v1/app/"+app+"/endpoint/"+ep, nil, http.StatusOK)
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if out.Verification == nil {
		return ""
	}
	return out.Verification.Status
}

// With HOOKD_ENDPOINT_VERIFICATION=required, an endpoint created through
// the SDK receives its signed challenge, is verified by the answer, and
// only then receives messages; moving it starts over. The SDK's own calls
// (Update, which knows nothing of verification) keep the state.
func TestEndpointVerificationEndToEnd(t *testing.T) {
	t.Parallel()
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	key, _ := signature.ParseSecret(secret)
	var got seen
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if signature.Verify(key, r.Header, body, 0, time.Now()) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev struct{ Type, Challenge string }
		_ = json.Unmarshal(body, &ev)
		got.add(r.URL.Path + " " + ev.Type)
		if ev.Type == webhook.EventTypeVerification {
			_ = json.NewEncoder(w).Encode(map[string]string{"challenge": ev.Challenge})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close)
	b := setupWithEnv(t, map[string]string{"HOOKD_WHITELIST_SUBNETS": "127.0.0.0/8", "HOOKD_ENDPOINT_VERIFICATION": "required"})
	ctx := context.Background()
	svx := newSDK(t, b)
	app, err := svx.Application.Create(ctx, models.ApplicationIn{Name: "verified"}, nil)
	must(t, "Application.Create", err)

	ep, err := svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{Url: rcv.URL + "/first", Secret: ptr(secret)}, nil)
	must(t, "Endpoint.Create", err)
	waitUntil(t, 30*time.Second, "the endpoint to be verified", func() bool { return b.verificationState(t, app.Id, ep.Id) == "verified" })
	_, err = svx.Endpoint.Update(ctx, app.Id, ep.Id, models.EndpointUpdate{Url: rcv.URL + "/first", Description: ptr("same URL")})
	must(t, "Endpoint.Update", err)
	if s := b.verificationState(t, app.Id, ep.Id); s != "verified" {
		t.Errorf("after the SDK's Update: %q", s)
	}
	_, err = svx.Message.Create(ctx, app.Id, models.MessageIn{EventType: "user.created", Payload: map[string]any{"type": "user.created"}}, nil)
	must(t, "Message.Create", err)
	waitUntil(t, 30*time.Second, "the message", func() bool { return got.has("/first user.created") })

	// Moving it: pending again, verified at the new URL.
	_, err = svx.Endpoint.Patch(ctx, app.Id, ep.Id, models.EndpointPatch{Url: ptr(rcv.URL + "/second")})
	must(t, "Endpoint.Patch", err)
	waitUntil(t, 30*time.Second, "the new URL to be verified", func() bool {
		return got.has("/second webhook.verification") && b.verificationState(t, app.Id, ep.Id) == "verified"
	})
	if lines := got.all(); len(lines) != 3 || lines[0] != "/first webhook.verification" {
		t.Errorf("the receiver got %q", lines)
	}
}

// With HOOKD_PUBLISH_PUBLIC_KEYS, a receiver fetches an Ed25519 endpoint's
// keys from /.well-known/webhook-keys without credentials and verifies
// deliveries with them.
func TestPublishedKeysEndToEnd(t *testing.T) {
	t.Parallel()
	b := setupWithEnv(t, map[string]string{"HOOKD_WHITELIST_SUBNETS": "127.0.0.0/8", "HOOKD_PUBLISH_PUBLIC_KEYS": "true"})
	var (
		keysURL string
		mu      sync.Mutex
		got     seen
	)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		url := keysURL
		mu.Unlock()
		res, err := http.Get(url)
		if err != nil {
			got.add("fetching keys: " + err.Error())
			return
		}
		jwks, _ := io.ReadAll(res.Body)
		res.Body.Close()
		keys, err := signature.ParseJWKSet(jwks)
		if err != nil {
			got.add("keys: " + err.Error())
			return
		}
		for _, k := range keys {
			if signature.VerifyEd25519(k, r.Header, body, 0, time.Now()) == nil {
				got.add("verified")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		got.add("not verified")
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(rcv.Close)

	ctx := context.Background()
	svx := newSDK(t, b)
	app, err := svx.Application.Create(ctx, models.ApplicationIn{Name: "keys"}, nil)
	must(t, "Application.Create", err)
	priv, _ := signature.GeneratePrivateKey()
	ep, err := svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{Url: rcv.URL, Secret: ptr(priv.String())}, nil)
	must(t, "Endpoint.Create with a whsk_ key", err)
	mu.Lock()
	keysURL = b.url + "/.well-known/webhook-keys/" + app.Id + "/" + ep.Id
	mu.Unlock()
	_, err = svx.Message.Create(ctx, app.Id, models.MessageIn{EventType: "user.created", Payload: map[string]any{"a": 1}}, nil)
	must(t, "Message.Create", err)
	waitUntil(t, 30*time.Second, "the receiver", func() bool { return len(got.all()) > 0 })
	if lines := got.all(); lines[0] != "verified" {
		t.Errorf("the receiver: %q", lines)
	}
}
