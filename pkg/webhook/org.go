package webhook

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"time"
)

// DefaultOrgName is the organisation HOOKD_ADMIN_API_KEY belongs to.
const DefaultOrgName = "default"

// Organisation is a tenant: it owns API keys, applications and event types,
// and sees nothing of other organisations.
type Organisation struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// APIKey is a bearer token of one organisation. Only its SHA-256 hash and a
// short visible prefix are stored.
type APIKey struct {
	ID        string
	OrgID     string
	Prefix    string
	Hash      []byte
	CreatedAt time.Time
}

// Principal is who a request acts as.
type Principal struct {
	OrgID string
	// KeyID is the id of the API key or of the app-portal token.
	KeyID string
	// AppID is set for app-portal tokens, which reach only that application.
	AppID string
	// ExpiresAt is when a portal token stops working; zero for API keys.
	ExpiresAt time.Time
	// FeatureFlags are those a portal token carries; see SeesEventType.
	FeatureFlags []string
}

// SeesEventType reports whether p may see et. An API key sees every event
// type. An app-portal token sees an event type gated by feature flags
// (featureFlag, featureFlags) only when it carries at least one of them.
func (p Principal) SeesEventType(et *EventType) bool {
	if p.AppID == "" {
		return true
	}
	gates := et.FeatureFlags
	if et.FeatureFlag != nil {
		gates = append([]string{*et.FeatureFlag}, gates...)
	}
	if len(gates) == 0 {
		return true
	}
	for _, f := range gates {
		if slices.Contains(p.FeatureFlags, f) {
			return true
		}
	}
	return false
}

// EventTypeFilter returns the list filter of what p sees.
func (p Principal) EventTypeFilter(includeArchived bool) EventTypeFilter {
	return EventTypeFilter{IncludeArchived: includeArchived, OnlyFlags: p.AppID != "", Flags: p.FeatureFlags}
}

// portalTokenPrefix starts every app-portal token.
const portalTokenPrefix = "hookd_portal_"

// PortalToken grants access to one application until it expires or is
// revoked. Only its hash is stored.
type PortalToken struct {
	ID        string
	OrgID     string
	AppID     string
	Hash      []byte
	ExpiresAt time.Time
	// FeatureFlags gate which event types the token sees.
	FeatureFlags []string
}

// MaxPortalFeatureFlags is how many feature flags a portal token may carry.
const MaxPortalFeatureFlags = 25

// CheckFeatureFlags validates a list of feature flags given at loc: at
// least one, at most MaxPortalFeatureFlags, unique, each a valid name.
func CheckFeatureFlags(v *ValidationError, flags []string, loc ...string) {
	checkList(v, flags, MaxFeatureFlagLength, 1, MaxPortalFeatureFlags, loc...)
}

// NewPortalToken returns a new random token for app and its storable record.
func NewPortalToken(orgID, appID string, expiresAt time.Time) (token string, pt *PortalToken) {
	var b [24]byte
	_, _ = rand.Read(b[:])
	token = portalTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, &PortalToken{
		ID: NewID(PrefixKey), OrgID: orgID, AppID: appID, Hash: HashToken(token), ExpiresAt: expiresAt,
	}
}

// KeyStore persists organisations, API keys and portal tokens.
type KeyStore interface {
	// EnsureOrg returns the organisation named name, creating it if needed.
	EnsureOrg(ctx context.Context, name string) (*Organisation, error)
	// CreateKey stores key (its hash and prefix); an existing hash is a no-op.
	CreateKey(ctx context.Context, key *APIKey) error
	// FindKeyByHash returns the principal of the API key or unexpired portal
	// token with this SHA-256 hash, or EUNAUTHORIZED.
	FindKeyByHash(ctx context.Context, hash []byte) (*Principal, error)
	// CreatePortalToken stores a portal token.
	CreatePortalToken(ctx context.Context, pt *PortalToken) error
	// RevokePortalToken deletes the portal token with this hash.
	RevokePortalToken(ctx context.Context, hash []byte) error
}

// apiKeyPrefix starts every generated API key, so leaked keys are easy to
// recognise by secret scanners.
const apiKeyPrefix = "hookd_sk_"

// VisiblePrefixLength is how many leading characters of a key are stored in
// clear, to tell keys apart in listings.
const VisiblePrefixLength = 14

// NewAPIKey returns a new random token and its storable record. The token is
// shown once; only its hash is kept.
func NewAPIKey(orgID string) (token string, key *APIKey) {
	var b [24]byte
	_, _ = rand.Read(b[:])
	token = apiKeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, APIKeyFor(orgID, token)
}

// APIKeyFor returns the storable record of an existing token.
func APIKeyFor(orgID, token string) *APIKey {
	return &APIKey{
		ID:     NewID(PrefixKey),
		OrgID:  orgID,
		Prefix: token[:min(len(token), VisiblePrefixLength)],
		Hash:   HashToken(token),
	}
}

// HashToken returns the SHA-256 of a bearer token, the form keys are stored
// and looked up in.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}
