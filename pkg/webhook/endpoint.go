package webhook

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// MaxOldSecrets is how many rotated-out secrets an endpoint keeps signing
// with during their grace periods, as in Svix's server: a rotation that
// would keep more is refused (ELIMITREACHED) rather than dropping a secret
// a receiver may still use.
const MaxOldSecrets = 10

// DefaultGracePeriod is how long a rotated-out secret stays valid unless
// the rotation says otherwise (Svix: 24 hours).
const DefaultGracePeriod = 24 * time.Hour

// MaxGracePeriod is the longest a rotated-out secret stays valid.
const MaxGracePeriod = 7 * 24 * time.Hour

// Endpoint is a customer's receiver: where, which messages, and how to sign.
type Endpoint struct {
	ID          string
	OrgID       string
	AppID       string
	UID         *string // optional, unique per application
	URL         string
	Description string
	Version     int
	Disabled    bool
	// FilterTypes restricts the event types delivered; nil means all.
	FilterTypes []string
	// Channels restricts delivery to messages sharing a channel; nil means all.
	Channels     []string
	Metadata     map[string]string
	ThrottleRate *int // messages per second; nil: unlimited
	// Headers are sent with every delivery; they never override hookd's own.
	Headers map[string]string
	// Ordering is OrderingNone ("" reads as it) or OrderingStrict.
	Ordering string
	// Secret is the current signing key in the text form of package
	// signature: an HMAC secret "whsec_<base64>" or an Ed25519 private key
	// "whsk_<base64>", as signature.NormalizeKey returns it. The API checks
	// it; the domain keeps it as it is.
	Secret string
	// OldSecrets are rotated-out secrets, still signed with until they expire.
	OldSecrets []ExpiringSecret
	// CancelledAt is when cancel-msgs was last asked for the endpoint; nil:
	// never. A queued first attempt of a message published before it reads
	// its delivery before sending, to find it cancelled (hookd-internal).
	CancelledAt *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time

	// MTLS is the client certificate and server CAs of its deliveries; nil: none.
	MTLS *EndpointMTLS
	// OAuth is the OAuth2 client that gets its deliveries' bearer token; nil: none.
	OAuth *EndpointOAuth
	// Verification is its proof of control over URL.
	Verification Verification

	// Filter is its payload filter, a CEL expression over payload,
	// eventType, channels and tags (a hookd extension, docs/delivery.md
	// "Payload filters"); "" means none. The API compiles it when it is
	// written; the Publisher evaluates it at publish.
	Filter string
	// Transformation reshapes its deliveries' requests (docs/delivery.md
	// "Transformations"); the zero value is none.
	Transformation EndpointTransformation
}

// Endpoint orderings.
const (
	// OrderingNone orders only the messages that carry an ordering key,
	// each key on its own.
	OrderingNone = "none"
	// OrderingStrict orders all the endpoint's messages, as one key: first
	// in, first out.
	OrderingStrict = "strict"
)

// OrderingKeyFor returns the ordering key a message with key gets at ep:
// "" for every message at a strict endpoint, key otherwise (nil: unordered).
func (e *Endpoint) OrderingKeyFor(key *string) *string {
	if e.Ordering == OrderingStrict {
		all := ""
		return &all
	}
	return key
}

// ExpiringSecret is a rotated-out signing secret and the end of its grace period.
type ExpiringSecret struct {
	Key       string    `json:"key"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Validate checks the endpoint against the contract's rules. Whether the
// filter names existing event types is checked by the store.
func (e *Endpoint) Validate(httpsOnly bool) error {
	v := &ValidationError{}
	if msg := CheckEndpointURL(e.URL, httpsOnly); msg != "" {
		v.Add(msg, "body", "url")
	}
	checkUID(v, e.UID, "body", "uid")
	checkText(v, e.Description, "body", "description")
	checkMetadata(v, e.Metadata, "body", "metadata")
	checkThrottle(v, e.ThrottleRate, 1, "body", "throttleRate")
	if e.Version < 1 || e.Version > 65535 {
		v.Add("must be between 1 and 65535", "body", "version")
	}
	if e.FilterTypes != nil {
		checkList(v, e.FilterTypes, MaxEventTypeLength, 1, 0, "body", "filterTypes")
	}
	if e.Channels != nil {
		checkList(v, e.Channels, MaxChannelLength, 1, MaxChannels, "body", "channels")
	}
	if e.Secret == "" {
		v.Add("must not be empty", "body", "secret")
	}
	CheckHeaders(v, e.Headers, "body", "headers")
	if e.Ordering != "" && e.Ordering != OrderingNone && e.Ordering != OrderingStrict {
		v.Add(`must be "none" or "strict"`, "body", "ordering")
	}
	return v.Err()
}

// RotateSecret makes newSecret (a key as signature.NormalizeKey returns
// it) current and keeps the previous one valid for grace (0: not at all).
// Expired secrets are dropped; the others keep their own expiry. The
// rotated-out secrets are kept newest first, so a delivery is signed with
// the current secret, then the most recent old ones.
//
// A rotation that would keep more than MaxOldSecrets valid old secrets is
// refused with ELIMITREACHED and changes nothing: every rotated-out secret
// stays valid for its whole grace period.
func (e *Endpoint) RotateSecret(newSecret string, grace time.Duration, now time.Time) error {
	old := e.ValidOldSecrets(now)
	if grace > 0 {
		if len(old) >= MaxOldSecrets {
			return Errorf(ELIMITREACHED, "an endpoint keeps at most %d rotated-out secrets within their grace periods: "+
				"rotate again once the oldest expires (%s), or rotate with gracePeriodSeconds 0", MaxOldSecrets,
				oldestExpiry(old).Format(time.RFC3339))
		}
		old = append([]ExpiringSecret{{Key: e.Secret, ExpiresAt: now.Add(grace)}}, old...)
	}
	e.OldSecrets = old
	e.Secret = newSecret
	return nil
}

func oldestExpiry(secrets []ExpiringSecret) time.Time {
	first := secrets[0].ExpiresAt
	for _, s := range secrets[1:] {
		if s.ExpiresAt.Before(first) {
			first = s.ExpiresAt
		}
	}
	return first
}

// ValidOldSecrets returns the rotated-out secrets still valid at now.
func (e *Endpoint) ValidOldSecrets(now time.Time) []ExpiringSecret {
	var out []ExpiringSecret
	for _, s := range e.OldSecrets {
		if s.ExpiresAt.After(now) {
			out = append(out, s)
		}
	}
	return out
}

// SigningSecrets returns every secret a delivery at now is signed with:
// the current one first, then the rotated-out ones within their grace period.
func (e *Endpoint) SigningSecrets(now time.Time) []string {
	keys := []string{e.Secret}
	for _, s := range e.ValidOldSecrets(now) {
		keys = append(keys, s.Key)
	}
	return keys
}

// reservedHeaders are set by hookd on every delivery or by the HTTP layer;
// custom headers may not set them.
var reservedHeaders = []string{
	"Host", "Content-Length", "Content-Type", "Content-Encoding", "Transfer-Encoding",
	"Connection", "Keep-Alive", "Upgrade", "Te", "Trailer", "Proxy-Authorization",
	"Proxy-Connection", "User-Agent",
	"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature",
	"Svix-Id", "Svix-Timestamp", "Svix-Signature",
}

// sensitiveHeaders have their values hidden when headers are read back.
var sensitiveHeaders = []string{"Authorization", "Cookie", "X-Api-Key"}

// IsSensitiveHeader reports whether a custom header's value is redacted when read back.
func IsSensitiveHeader(name string) bool {
	return slices.Contains(sensitiveHeaders, http.CanonicalHeaderKey(name))
}

// CheckHeaders validates custom delivery headers: RFC 7230 token names, each
// once in any case, no control characters in values, none of the headers
// hookd sets itself.
func CheckHeaders(v *ValidationError, headers map[string]string, loc ...string) {
	seen := make(map[string]bool, len(headers))
	for name, value := range headers {
		l := append(append([]string(nil), loc...), name)
		if seen[strings.ToLower(name)] {
			v.Add("is given more than once, in different cases", l...)
		}
		seen[strings.ToLower(name)] = true
		switch {
		case !validHeaderName(name):
			v.Add("is not a valid header name", l...)
		case slices.Contains(reservedHeaders, http.CanonicalHeaderKey(name)):
			v.Add(fmt.Sprintf("header %s is set by hookd and cannot be overridden", name), l...)
		case strings.ContainsAny(value, "\r\n\x00"):
			v.Add("must not contain CR, LF or NUL", l...)
		case len(value) > 4096:
			v.Add("must be at most 4096 characters", l...)
		}
	}
}

func validHeaderName(name string) bool {
	if name == "" || len(name) > 256 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// EndpointStats counts an endpoint's deliveries by status.
type EndpointStats struct {
	Success, Pending, Sending, Fail, Canceled int64
}

// EndpointStore persists endpoints. Every method is scoped to one application
// of one organisation; anything else answers ENOTFOUND.
type EndpointStore interface {
	// CreateEndpoint inserts ep; a taken uid is ECONFLICT and a filter
	// naming an unknown event type is EINVALID.
	CreateEndpoint(ctx context.Context, ep *Endpoint) error
	// FindEndpoint returns the endpoint of app whose id or uid is idOrUID.
	FindEndpoint(ctx context.Context, app *Application, idOrUID string) (*Endpoint, error)
	// ListEndpoints pages through app's endpoints, newest first by default.
	ListEndpoints(ctx context.Context, app *Application, opt ListOptions) (Page[Endpoint], error)
	// UpdateEndpoint locks the stored endpoint (identified by ep's AppID and
	// ID), reloads it into ep, applies change (nil: keep ep as given) and
	// saves every field with the same checks as create, in one transaction,
	// so concurrent changes are never lost. An error from change is
	// returned as is, saving nothing.
	UpdateEndpoint(ctx context.Context, ep *Endpoint, change func(*Endpoint) error) error
	// DeleteEndpoint deletes the endpoint.
	DeleteEndpoint(ctx context.Context, ep *Endpoint) error
	// EndpointStats counts the endpoint's deliveries created in [since, until).
	EndpointStats(ctx context.Context, ep *Endpoint, since, until time.Time) (EndpointStats, error)
}

// PublishedEndpointStore finds endpoints whose public keys are published
// without authentication, by ids alone (no organisation scopes them).
type PublishedEndpointStore interface {
	// FindPublishedEndpoint returns the endpoint endpointID of application
	// appID; ENOTFOUND when either is missing, the endpoint is of another
	// application, or the application is internal (operational webhooks).
	FindPublishedEndpoint(ctx context.Context, appID, endpointID string) (*Endpoint, error)
}
