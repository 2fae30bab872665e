package signature

import (
	"crypto/ed25519"
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is how far a timestamp may be from now when Verify is
// given no tolerance; it is the value of the reference libraries.
const DefaultTolerance = 5 * time.Minute

// Errors returned by Verify. Each error Verify returns matches exactly one of
// them (or ErrInvalidSecret) with errors.Is.
var (
	// ErrMissingHeaders: neither the webhook-* nor the svix-* id, timestamp
	// and signature headers are all present and non-empty.
	ErrMissingHeaders = errors.New("missing webhook signature headers")
	// ErrInvalidTimestamp: the timestamp header is not an integer.
	ErrInvalidTimestamp = errors.New("invalid webhook timestamp header")
	// ErrTimestampTooOld: the timestamp is more than the tolerance before now.
	ErrTimestampTooOld = errors.New("webhook timestamp too old")
	// ErrTimestampTooNew: the timestamp is more than the tolerance after now.
	ErrTimestampTooNew = errors.New("webhook timestamp too new")
	// ErrNoMatchingSignature: no entry of the signature header with the
	// key's version (v1 for a Secret, v1a for a PublicKey) matches.
	ErrNoMatchingSignature = errors.New("no matching webhook signature")
)

// maxTimestamp bounds parsed timestamps (about year 36,800) so that time
// arithmetic cannot overflow; anything beyond is "too new" or "too old" anyway.
const maxTimestamp = 1 << 40

// Verify checks that body and headers were signed with the HMAC key, as a
// receiver does. It reads the webhook-id, webhook-timestamp and
// webhook-signature headers, or, when one of those is missing or empty, the
// svix-* ones.
//
// The timestamp must be within tolerance of now in either direction; a
// tolerance of zero or less means DefaultTolerance. Signatures are compared
// in constant time, and entries with a version other than v1 are skipped.
//
// Verify returns nil when an entry matches, and otherwise an error matching
// ErrInvalidSecret (empty key), ErrMissingHeaders, ErrInvalidTimestamp,
// ErrTimestampTooOld, ErrTimestampTooNew or ErrNoMatchingSignature, checked
// in that order.
func Verify(key Secret, headers http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	if len(key) == 0 {
		return fmt.Errorf("verifying webhook: %w: empty key", ErrInvalidSecret)
	}
	return verify(headers, tolerance, now, VersionHMAC, func(msgID string, unix int64) func(sig string) bool {
		var want [hmacEntryLen]byte
		expected := key.appendEntry(want[:0], msgID, unix, body)[len(VersionHMAC)+1:]
		return func(sig string) bool { return hmac.Equal([]byte(sig), expected) }
	})
}

// VerifyEd25519 checks that body and headers were signed with the private
// half of key, as a receiver holding the endpoint's "whpk_" public key
// does. It reads the headers and checks the timestamp as Verify does, and
// accepts the request when one "v1a" entry is a valid Ed25519 signature
// (standard base64, with padding) of id.timestamp.body; entries of other
// versions are skipped.
//
// It returns nil or an error matching ErrInvalidPublicKey (a key that is
// not 32 bytes), ErrMissingHeaders, ErrInvalidTimestamp, ErrTimestampTooOld,
// ErrTimestampTooNew or ErrNoMatchingSignature, checked in that order.
func VerifyEd25519(key PublicKey, headers http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	if len(key) != ed25519.PublicKeySize {
		return fmt.Errorf("verifying webhook: %w: want %d bytes, got %d", ErrInvalidPublicKey, ed25519.PublicKeySize, len(key))
	}
	return verify(headers, tolerance, now, VersionEd25519, func(msgID string, unix int64) func(sig string) bool {
		content := signedContent(msgID, unix, body)
		return func(sig string) bool {
			raw, err := base64.StdEncoding.DecodeString(sig)
			return err == nil && len(raw) == ed25519.SignatureSize && ed25519.Verify(ed25519.PublicKey(key), content, raw)
		}
	})
}

// verify reads the headers, checks the timestamp and then tries every
// entry of the given version with the matcher that prepare returns for the
// message id and timestamp.
func verify(headers http.Header, tolerance time.Duration, now time.Time, version string, prepare func(msgID string, unix int64) func(sig string) bool) error {
	msgID, tsText, sigs, ok := lookup(headers, WebhookHeaders)
	if !ok {
		if msgID, tsText, sigs, ok = lookup(headers, SvixHeaders); !ok {
			return ErrMissingHeaders
		}
	}
	unix, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return ErrInvalidTimestamp
	}
	if err := checkTimestamp(unix, tolerance, now); err != nil {
		return err
	}

	matches := prepare(msgID, unix)
	for entry := range strings.SplitSeq(sigs, " ") {
		v, sig, found := strings.Cut(entry, ",")
		if found && v == version && matches(sig) {
			return nil
		}
	}
	return ErrNoMatchingSignature
}

func lookup(h http.Header, n HeaderNames) (id, ts, sigs string, ok bool) {
	id, ts, sigs = h.Get(n.ID), h.Get(n.Timestamp), h.Get(n.Signature)
	return id, ts, sigs, id != "" && ts != "" && sigs != ""
}

func checkTimestamp(unix int64, tolerance time.Duration, now time.Time) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	unix = max(-maxTimestamp, min(unix, maxTimestamp))
	ts := time.Unix(unix, 0)
	switch {
	case now.Sub(ts) > tolerance:
		return ErrTimestampTooOld
	case ts.Sub(now) > tolerance:
		return ErrTimestampTooNew
	}
	return nil
}
