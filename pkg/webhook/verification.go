package webhook

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// EventTypeVerification is the event type of the challenge that an endpoint
// pending verification receives. Applications cannot publish it.
const EventTypeVerification = "webhook.verification"

// VerificationMode is how an installation asks endpoints to prove that
// whoever registers a URL controls it (HOOKD_ENDPOINT_VERIFICATION).
type VerificationMode string

// The verification modes.
const (
	// VerificationOff: no endpoint is verified (the default).
	VerificationOff VerificationMode = "off"
	// VerificationOptional: an endpoint is verified when it asks to be
	// (the hookd extension "verify": true).
	VerificationOptional VerificationMode = "optional"
	// VerificationRequired: every new endpoint, and every endpoint whose
	// URL changes, is verified before anything else is sent to it.
	VerificationRequired VerificationMode = "required"
)

// ParseVerificationMode returns the mode named s: off, optional or required.
func ParseVerificationMode(s string) (VerificationMode, error) {
	switch m := VerificationMode(s); m {
	case VerificationOff, VerificationOptional, VerificationRequired:
		return m, nil
	}
	return "", fmt.Errorf("unknown endpoint verification mode %q: want off, optional or required", s)
}

// VerificationStatus is where an endpoint stands in proving it controls
// its URL.
type VerificationStatus string

// The verification statuses.
const (
	// VerificationNone: the endpoint is not verified and need not be; it
	// receives messages as usual.
	VerificationNone VerificationStatus = ""
	// VerificationPending: a challenge was sent to the endpoint's URL and
	// not answered yet. Nothing but the challenge is sent to it.
	VerificationPending VerificationStatus = "pendingVerification"
	// VerificationVerified: the receiver at the URL answered the challenge.
	VerificationVerified VerificationStatus = "verified"
)

// Verification is an endpoint's proof of control over its URL.
type Verification struct {
	Status VerificationStatus
	// Challenge is the value the receiver must answer with while Status is
	// pending, and the one it answered once verified; "" when the endpoint
	// does not verify. It is never shown by the API.
	Challenge string
	// VerifiedAt is when the receiver answered, for VerificationVerified.
	VerifiedAt *time.Time
}

// PendingVerification reports whether the endpoint waits for the answer to
// its challenge: no message but the challenge may be sent to it.
func (e *Endpoint) PendingVerification() bool {
	return e.Verification.Status == VerificationPending
}

// StartVerification puts the endpoint in pending verification with a new
// random challenge, which it returns. A challenge sent before no longer
// verifies it.
func (e *Endpoint) StartVerification() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	e.Verification = Verification{Status: VerificationPending, Challenge: base64.RawURLEncoding.EncodeToString(b[:])}
	return e.Verification.Challenge
}

// VerificationRequest is the payload of a webhook.verification message.
type VerificationRequest struct {
	Type      string `json:"type"`
	Challenge string `json:"challenge"`
}

// VerificationPayload returns the payload of the challenge message:
// {"type":"webhook.verification","challenge":"..."}.
func VerificationPayload(challenge string) json.RawMessage {
	b, _ := json.Marshal(VerificationRequest{Type: EventTypeVerification, Challenge: challenge})
	return b
}

// ChallengeOf returns the challenge a webhook.verification message carries,
// or "" when payload is not one.
func ChallengeOf(payload []byte) string {
	var r VerificationRequest
	if json.Unmarshal(payload, &r) != nil || r.Type != EventTypeVerification {
		return ""
	}
	return r.Challenge
}

// maxAnswer bounds the answers ChallengeAnswer reads: an answer is the
// challenge, perhaps in a small JSON object.
const maxAnswer = 4096

// ChallengeAnswer checks a receiver's answer to a challenge it was sent as
// request. The body must be the challenge itself (surrounding whitespace
// ignored), or a JSON object whose "challenge" member is the challenge, as
// Slack asks. A body that repeats the whole request, as an echo service
// does, proves nothing about who runs the URL and is refused. It returns
// nil, or an error saying what is wrong, fit for the attempt's record.
func ChallengeAnswer(challenge string, request, body []byte) error {
	trimmed := bytes.TrimSpace(body)
	switch {
	case challenge == "":
		return fmt.Errorf("verification: no challenge was sent")
	case len(trimmed) == 0:
		return fmt.Errorf("verification: the answer is empty; answer with the challenge")
	case bytes.Equal(trimmed, bytes.TrimSpace(request)):
		return fmt.Errorf("verification: the answer repeats the request; answer with the challenge alone")
	case len(trimmed) > maxAnswer:
		return fmt.Errorf("verification: the answer is %d bytes; answer with the challenge alone", len(trimmed))
	case string(trimmed) == challenge:
		return nil
	}
	var answer struct {
		Challenge *string `json:"challenge"`
	}
	if json.Unmarshal(trimmed, &answer) == nil && answer.Challenge != nil && *answer.Challenge == challenge {
		return nil
	}
	return fmt.Errorf("verification: the answer is not the challenge (the body must be the challenge, or {\"challenge\": \"<challenge>\"})")
}
