package delivery_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/signature"
	"github.com/hookd/hookd/pkg/webhook"
)

// verifier is a receiver that proves it runs its URL: it answers a
// webhook.verification challenge as answer says, after checking the
// signature, and 204 to anything else. It records what it got.
type verifier struct {
	*httptest.Server
	got lines // event types, or "invalid signature"
}

func newVerifier(t *testing.T, secret string, answer func(challenge string, body []byte) string) *verifier {
	t.Helper()
	key, err := signature.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	v := &verifier{}
	v.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if signature.Verify(key, r.Header, body, 0, time.Now()) != nil {
			v.got.add("invalid signature")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var event struct{ Type, Challenge string }
		_ = json.Unmarshal(body, &event)
		v.got.add(event.Type)
		if event.Type != webhook.EventTypeVerification {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		_, _ = io.WriteString(w, answer(event.Challenge, body))
	}))
	t.Cleanup(v.Close)
	return v
}

// echo answers the challenge alone, as a receiver should.
func echo(challenge string, _ []byte) string { return challenge }

// pendingEndpoint creates an endpoint at url pending verification.
func (b *bundle) pendingEndpoint(url string, edit ...func(*webhook.Endpoint)) *webhook.Endpoint {
	b.t.Helper()
	return b.endpoint(url, append(edit, func(e *webhook.Endpoint) { e.StartVerification() })...)
}

// endpointNow reads the endpoint from the store.
func (b *bundle) endpointNow(ep *webhook.Endpoint) *webhook.Endpoint {
	b.t.Helper()
	got, err := b.db.FindEndpointByID(b.ctx, ep.ID)
	if err != nil {
		b.t.Fatal(err)
	}
	return got
}

// An endpoint pending verification receives its signed challenge and
// nothing else; once its receiver answers with the challenge it is
// verified and receives messages.
func TestVerificationChallengeAnswered(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{})
	secret, _ := signature.GenerateSecret()
	v := newVerifier(t, secret.String(), echo)
	ep := b.pendingEndpoint(v.URL, func(e *webhook.Endpoint) { e.Secret = secret.String() })

	if _, ds := b.publish("user.signup", `{"type":"early"}`); len(ds) != 0 {
		t.Fatalf("a message published before verification made %d deliveries", len(ds))
	}
	challenge, err := b.publisher.Challenge(b.ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	b.waitStatus(challenge, ep, webhook.StatusSuccess)
	got := b.endpointNow(ep)
	if got.Verification.Status != webhook.VerificationVerified || got.Verification.VerifiedAt == nil {
		t.Fatalf("after the answer: %+v", got.Verification)
	}
	msg, _ := b.publish("user.signup", `{"type":"user.signup"}`)
	b.waitStatus(msg, ep, webhook.StatusSuccess)
	if seen := strings.Join(v.got.all(), ","); seen != "webhook.verification,user.signup" {
		t.Errorf("the receiver got %q, want the challenge, then the message published after verification", seen)
	}

	// Moved at once, while this process still has the verified endpoint in
	// its cache: the new challenge is sent, and verifies it again.
	err = b.db.UpdateEndpoint(b.ctx, ep, func(e *webhook.Endpoint) error {
		e.URL = v.URL + "/moved"
		e.StartVerification()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	challenge, err = b.publisher.Challenge(b.ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	b.waitStatus(challenge, ep, webhook.StatusSuccess)
	if got := b.endpointNow(ep); got.Verification.Status != webhook.VerificationVerified {
		t.Errorf("after the second answer: %+v", got.Verification)
	}
}

// An answer that is not the challenge, or that echoes the whole request,
// fails the attempt with the reason, and the challenge is retried on the
// schedule; the endpoint stays pending.
func TestVerificationWrongAnswers(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{})
	secret, _ := signature.GenerateSecret()
	for _, tc := range []struct {
		name   string
		answer func(string, []byte) string
		reason string
	}{
		{"ok", func(string, []byte) string { return "ok" }, "the answer is not the challenge"},
		{"an echo of the request", func(_ string, body []byte) string { return string(body) }, "the answer repeats the request"},
		{"nothing", func(string, []byte) string { return "" }, "the answer is empty"},
	} {
		v := newVerifier(t, secret.String(), tc.answer)
		ep := b.pendingEndpoint(v.URL, func(e *webhook.Endpoint) { e.Secret = secret.String() })
		msg, err := b.publisher.Challenge(b.ctx, ep)
		if err != nil {
			t.Fatal(err)
		}
		b.waitStatus(msg, ep, webhook.StatusFail)
		attempts := b.attempts(msg)
		if len(attempts) != 3 || attempts[0].StatusCode != http.StatusOK || !strings.Contains(attempts[0].Response, tc.reason) {
			t.Errorf("%s: %d attempts, first %d %q; want 3 saying %q", tc.name, len(attempts), attempts[0].StatusCode, attempts[0].Response, tc.reason)
		}
		if got := b.endpointNow(ep); !got.PendingVerification() {
			t.Errorf("%s: the endpoint is %q, want still pending", tc.name, got.Verification.Status)
		}
	}
}

// A challenge that is no longer current (a newer one was sent) is not
// sent; attempts due while the endpoint is pending (its URL changed while
// a delivery was retrying) are not sent either, and say so.
func TestVerificationHoldsAttempts(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{noWorker: true})
	secret, _ := signature.GenerateSecret()
	v := newVerifier(t, secret.String(), echo)
	ep := b.pendingEndpoint(v.URL, func(e *webhook.Endpoint) { e.Secret = secret.String() })
	stale, err := b.publisher.Challenge(b.ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	err = b.db.UpdateEndpoint(b.ctx, ep, func(e *webhook.Endpoint) error { e.StartVerification(); return nil })
	if err != nil {
		t.Fatal(err)
	}
	current, err := b.publisher.Challenge(b.ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	b.runQueued()
	if got := b.attempts(stale); len(got) != 1 || got[0].StatusCode != 0 || !strings.Contains(got[0].Response, "no longer current") {
		t.Errorf("the stale challenge: %+v", got)
	}
	if got := b.endpointNow(ep); got.Verification.Status != webhook.VerificationVerified {
		t.Fatalf("the current challenge did not verify the endpoint: %+v (attempts %+v)", got.Verification, b.attempts(current))
	}

	// A delivery in flight when the URL changes is held back.
	msg, ds := b.publish("user.signup", `{}`)
	err = b.db.UpdateEndpoint(b.ctx, ep, func(e *webhook.Endpoint) error {
		e.URL = v.URL + "/new"
		e.StartVerification()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.attempter.Attempt(b.ctx, delivery.Job{Ref: delivery.FirstRef(&ds[0])}); err != nil {
		t.Fatal(err)
	}
	got := b.attempts(msg)
	if len(got) != 1 || !strings.Contains(got[0].Response, "pending verification") || b.delivery(msg, ep).Status != webhook.StatusFail {
		t.Errorf("the held delivery: %+v", got)
	}
	if seen := strings.Join(v.got.all(), ","); seen != "webhook.verification" {
		t.Errorf("the receiver got %q, want the current challenge alone", seen)
	}
}

// runQueued runs every job queued now, in order, without a worker.
func (b *bundle) runQueued() {
	b.t.Helper()
	for _, job := range b.queue.Take() {
		if _, err := b.attempter.Attempt(b.ctx, job); err != nil {
			b.t.Fatal(err)
		}
	}
}
