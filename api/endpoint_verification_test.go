package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd/api"
	"github.com/hookd/hookd/pkg/webhook"
)

type verificationJSON struct {
	Status     string     `json:"status"`
	VerifiedAt *time.Time `json:"verifiedAt"`
}

// verification returns the endpoint's "verification" as the API shows it.
func (b *bundle) verification(app, ep string) *verificationJSON {
	b.t.Helper()
	raw := b.do(http.MethodGet, "/api/v1/app/"+app+"/endpoint/"+ep, nil).must(b.t, http.StatusOK).body
	var out struct {
		Verification *verificationJSON `json:"verification"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		b.t.Fatal(err)
	}
	return out.Verification
}

// challenges returns the challenges sent to endpoint ep so far, oldest
// first: the payloads of the webhook.verification messages queued for it.
func (b *bundle) challenges(ep string) []string {
	b.t.Helper()
	var out []string
	for _, d := range b.dispatched.dispatchedTo() {
		if d.EndpointID != ep {
			continue
		}
		dj, err := b.db.LoadDelivery(context.Background(), d.ID)
		if err != nil {
			b.t.Fatal(err)
		}
		if dj.Message.EventType == webhook.EventTypeVerification {
			out = append(out, webhook.ChallengeOf(dj.Message.Payload))
		}
	}
	return out
}

// deliveriesTo counts the deliveries queued for endpoint ep.
func (b *bundle) deliveriesTo(ep string) int {
	n := 0
	for _, d := range b.dispatched.dispatchedTo() {
		if d.EndpointID == ep {
			n++
		}
	}
	return n
}

func verifying(mode webhook.VerificationMode) func(*api.Config) {
	return func(c *api.Config) { c.Verification = mode }
}

func TestVerificationOff(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{}).ID
	mustInvalid(t, b.do(http.MethodPost, "/api/v1/app/"+app+"/endpoint", map[string]any{"url": "https://example.com/h", "verify": true}), "body", "verify")
	ep := b.createEndpoint(app, map[string]any{"verify": false})
	if v := b.verification(app, ep.ID); v != nil {
		t.Errorf("verification = %+v, want null", v)
	}
	mustError(t, b.do(http.MethodPost, "/api/v1/app/"+app+"/endpoint/"+ep.ID+"/verify", nil), http.StatusConflict, "conflict")
	// Applications cannot publish the challenge's event type.
	mustInvalid(t, b.do(http.MethodPost, "/api/v1/app/"+app+"/msg", map[string]any{"eventType": webhook.EventTypeVerification, "payload": map[string]any{}}), "body", "eventType")
}

func TestVerificationRequired(t *testing.T) {
	t.Parallel()
	b := setupConfigured(t, verifying(webhook.VerificationRequired))
	app := b.createApp(map[string]any{}).ID
	path := func(ep string) string { return "/api/v1/app/" + app + "/endpoint/" + ep }
	b.createEventType("user.created")
	mustInvalid(t, b.do(http.MethodPost, "/api/v1/app/"+app+"/endpoint", map[string]any{"url": "https://example.com/h", "verify": false}), "body", "verify")

	// A new endpoint is pending, and gets its challenge alone.
	ep := b.createEndpoint(app, map[string]any{"url": "https://example.com/h"}).ID
	if v := b.verification(app, ep); v == nil || v.Status != "pendingVerification" || v.VerifiedAt != nil {
		t.Fatalf("verification = %+v, want pending", v)
	}
	stored := b.storedEndpointByID(ep)
	if got := b.challenges(ep); len(got) != 1 || got[0] != stored.Verification.Challenge {
		t.Fatalf("challenges sent %q, want the stored one", got)
	}
	b.do(http.MethodPost, "/api/v1/app/"+app+"/msg", map[string]any{"eventType": "user.created", "payload": map[string]any{}}).must(t, http.StatusAccepted)
	if n := b.deliveriesTo(ep); n != 1 {
		t.Errorf("%d deliveries queued for the pending endpoint, want its challenge alone", n)
	}
	msg := decode[map[string]any](t, b.do(http.MethodPost, "/api/v1/app/"+app+"/msg", map[string]any{"eventType": "user.created", "payload": map[string]any{}}))
	for _, r := range []struct{ what, method, path string }{
		{"resend", http.MethodPost, "/api/v1/app/" + app + "/msg/" + msg["id"].(string) + "/endpoint/" + ep + "/resend"},
		{"recover", http.MethodPost, path(ep) + "/recover"},
		{"send-example", http.MethodPost, path(ep) + "/send-example"},
	} {
		body := map[string]any{"since": time.Now().Add(-time.Hour).Format(time.RFC3339), "eventType": "user.created"}
		mustError(t, b.do(r.method, r.path, body), http.StatusConflict, "conflict")
	}

	// POST .../verify sends a new challenge.
	v := decode[verificationJSON](t, b.do(http.MethodPost, path(ep)+"/verify", nil).must(t, http.StatusAccepted))
	again := b.storedEndpointByID(ep)
	if got := b.challenges(ep); v.Status != "pendingVerification" || len(got) != 2 || got[1] != again.Verification.Challenge || got[1] == got[0] {
		t.Errorf("after /verify: %+v, challenges %q", v, got)
	}

	// Verified (as the worker does when the receiver answers): then /verify
	// is a conflict, and a changed URL is pending again.
	if ok, err := b.db.VerifyEndpoint(context.Background(), ep, again.Verification.Challenge); !ok || err != nil {
		t.Fatalf("VerifyEndpoint = %v, %v", ok, err)
	}
	if v := b.verification(app, ep); v == nil || v.Status != "verified" || v.VerifiedAt == nil {
		t.Errorf("verification = %+v, want verified", v)
	}
	mustError(t, b.do(http.MethodPost, path(ep)+"/verify", nil), http.StatusConflict, "conflict")
	b.do(http.MethodPatch, path(ep), map[string]any{"description": "same URL"}).must(t, http.StatusOK)
	if v := b.verification(app, ep); v.Status != "verified" {
		t.Errorf("after a PATCH keeping the URL: %+v", v)
	}
	b.do(http.MethodPut, path(ep), map[string]any{"url": "https://example.com/moved"}).must(t, http.StatusOK)
	if v := b.verification(app, ep); v.Status != "pendingVerification" || len(b.challenges(ep)) != 3 {
		t.Errorf("after moving: %+v, %d challenges", v, len(b.challenges(ep)))
	}

	// A disabled endpoint gets its challenge when it is enabled.
	off := b.createEndpoint(app, map[string]any{"disabled": true}).ID
	if got := b.challenges(off); len(got) != 0 {
		t.Errorf("a disabled endpoint got %d challenges", len(got))
	}
	mustError(t, b.do(http.MethodPost, path(off)+"/verify", nil), http.StatusConflict, "conflict")
	b.do(http.MethodPatch, path(off), map[string]any{"disabled": false}).must(t, http.StatusOK)
	if got := b.challenges(off); len(got) != 1 || got[0] != b.storedEndpointByID(off).Verification.Challenge {
		t.Errorf("enabled: challenges %q", got)
	}

	// Operational-webhook endpoints are not verified.
	op := b.createOperational(map[string]any{})
	if string(mustKeys(t, b.do(http.MethodGet, opPath+"/"+op.ID, nil).body, "verification")["verification"]) != "null" {
		t.Error("an operational-webhook endpoint is verifying")
	}
}

func TestVerificationOptional(t *testing.T) {
	t.Parallel()
	b := setupConfigured(t, verifying(webhook.VerificationOptional))
	app := b.createApp(map[string]any{}).ID
	path := func(ep string) string { return "/api/v1/app/" + app + "/endpoint/" + ep }

	plain := b.createEndpoint(app, map[string]any{}).ID
	b.do(http.MethodPatch, path(plain), map[string]any{"url": "https://example.com/elsewhere"}).must(t, http.StatusOK)
	if v := b.verification(app, plain); v != nil || len(b.challenges(plain)) != 0 {
		t.Errorf("an endpoint that did not ask: %+v", v)
	}
	asked := b.createEndpoint(app, map[string]any{"verify": true}).ID
	if v := b.verification(app, asked); v == nil || v.Status != "pendingVerification" || len(b.challenges(asked)) != 1 {
		t.Errorf("an endpoint that asked: %+v", v)
	}
	// PUT without the field keeps the choice; verify:false drops it.
	b.do(http.MethodPut, path(asked), map[string]any{"url": "https://example.com/hook"}).must(t, http.StatusOK)
	if v := b.verification(app, asked); v == nil {
		t.Error("PUT without verify dropped the verification")
	}
	b.do(http.MethodPatch, path(asked), map[string]any{"verify": false}).must(t, http.StatusOK)
	if v := b.verification(app, asked); v != nil {
		t.Errorf("after verify:false: %+v", v)
	}
	mustInvalid(t, b.do(http.MethodPatch, path(asked), map[string]any{"verify": nil}), "body", "verify")
	// Opting in later, by PATCH or by POST .../verify.
	b.do(http.MethodPatch, path(plain), map[string]any{"verify": true}).must(t, http.StatusOK)
	if v := b.verification(app, plain); v == nil || len(b.challenges(plain)) != 1 {
		t.Errorf("after verify:true: %+v", v)
	}
	b.do(http.MethodPost, path(asked)+"/verify", nil).must(t, http.StatusAccepted)
	if v := b.verification(app, asked); v == nil || v.Status != "pendingVerification" {
		t.Errorf("after POST verify: %+v", v)
	}
}
