package signature

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Header prefixes that hookd can send and Verify accepts.
const (
	// PrefixWebhook names the Standard Webhooks headers (the default).
	PrefixWebhook = "webhook"
	// PrefixSvix names the headers of Svix, for receivers migrating from it.
	PrefixSvix = "svix"
)

// HeaderNames are the names of the three signature headers, lower case as
// the specifications spell them (http.Header canonicalises them on use).
type HeaderNames struct {
	ID        string
	Timestamp string
	Signature string
}

// The header sets for PrefixWebhook and PrefixSvix.
var (
	WebhookHeaders = HeaderNames{ID: "webhook-id", Timestamp: "webhook-timestamp", Signature: "webhook-signature"}
	SvixHeaders    = HeaderNames{ID: "svix-id", Timestamp: "svix-timestamp", Signature: "svix-signature"}
)

// HeadersFor returns the header names for prefix, which must be exactly
// PrefixWebhook or PrefixSvix; anything else is an error naming both.
func HeadersFor(prefix string) (HeaderNames, error) {
	switch prefix {
	case PrefixWebhook:
		return WebhookHeaders, nil
	case PrefixSvix:
		return SvixHeaders, nil
	}
	return HeaderNames{}, fmt.Errorf("unknown signature header prefix %q: want %q or %q", prefix, PrefixWebhook, PrefixSvix)
}

// Set writes the three headers into h, replacing any values they had:
// msgID, ts as Unix seconds, and sig as returned by SignatureHeader.
// Call it after copying user-supplied headers so that those cannot override
// the signature.
func (n HeaderNames) Set(h http.Header, msgID string, ts time.Time, sig string) {
	h.Set(n.ID, msgID)
	h.Set(n.Timestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(n.Signature, sig)
}
