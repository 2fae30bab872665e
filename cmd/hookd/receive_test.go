package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/signature"
	"github.com/hookd/hookd/pkg/webhook"
)

// hookd receive checks signatures with any form of key, and answers the
// challenge of endpoint verification when its signature verifies.
func TestReceiveVerifiesAndAnswersChallenges(t *testing.T) {
	t.Parallel()
	priv, _ := signature.GeneratePrivateKey()
	hmac, _ := signature.GenerateSecret()
	challenge := webhook.VerificationPayload("the-challenge")
	sign := func(key signature.Key, body []byte) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		now := time.Now()
		signature.WebhookHeaders.Set(r.Header, "msg_1", now, signature.SignatureHeader([]signature.Key{key}, "msg_1", now, body))
		return r
	}
	for _, tc := range []struct {
		name     string
		key      string
		req      *http.Request
		wantBody string
		wantOut  string
	}{
		{"Ed25519, by the private key", priv.String(), sign(priv, challenge), `{"challenge":"the-challenge"}`, "signature valid"},
		{"Ed25519, by the public key", priv.Public().String(), sign(priv, challenge), `{"challenge":"the-challenge"}`, "signature valid"},
		{"HMAC", hmac.String(), sign(hmac, []byte(`{"a":1}`)), "", "signature valid"},
		{"a wrong signature", hmac.String(), sign(priv, challenge), "", "signature INVALID"},
		{"no key", "", sign(hmac, challenge), `{"challenge":"the-challenge"}`, "not checked"},
	} {
		verify, err := verifierFor(tc.key)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var out bytes.Buffer
		rec := httptest.NewRecorder()
		receiver(&out, verify, http.StatusNoContent).ServeHTTP(rec, tc.req)
		body, _ := io.ReadAll(rec.Body)
		if strings.TrimSpace(string(body)) != tc.wantBody || !strings.Contains(out.String(), tc.wantOut) {
			t.Errorf("%s: answered %d %q, printed %q", tc.name, rec.Code, body, out.String())
		}
	}
	if _, err := verifierFor("whsec_short"); err == nil {
		t.Error("a bad key was accepted")
	}
}
