package signature

import (
	"crypto/hmac"
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
	// ErrNoMatchingSignature: no v1 entry of the signature header matches.
	ErrNoMatchingSignature = errors.New("no matching webhook signature")
)

// maxTimestamp bounds parsed timestamps (about year 36,800) so that time
// arithmetic cannot overflow; anything beyond is "too new" or "too old" anyway.
const maxTimestamp = 1 << 40

// Verify checks that body and headers were signed with key, as a receiver
// does. It reads the webhook-id, webhook-timestamp and webhook-signature
// headers, or, when one of those is missing or empty, the svix-* ones.
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

	var want [entryLen]byte
	expected := appendSignature(want[:0], key, msgID, unix, body)[len(signatureVersion):]
	for entry := range strings.SplitSeq(sigs, " ") {
		version, sig, found := strings.Cut(entry, ",")
		if !found || version != "v1" {
			continue
		}
		if hmac.Equal([]byte(sig), expected) {
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
