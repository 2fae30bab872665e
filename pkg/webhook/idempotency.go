package webhook

import (
	"context"
	"time"
)

// IdempotencyTTL is how long a POST's response is replayed for a repeated
// idempotency-key.
const IdempotencyTTL = 24 * time.Hour

// IdempotentResponse is what the first request with an idempotency key answered.
type IdempotentResponse struct {
	// Request identifies the request (method and path) the key was first used for.
	Request    string
	StatusCode int // 0 while the first request is still being processed
	Body       []byte
}

// IdempotencyScope is whose keys an idempotency key is one of: a single
// principal (one API key, or one app-portal token, by its KeyID) of one
// organisation. A key is never looked up across principals, so a response
// is only ever replayed to the principal it was made for.
type IdempotencyScope struct {
	OrgID     string
	Principal string
}

// ScopeOf returns the idempotency scope of p.
func ScopeOf(p Principal) IdempotencyScope {
	return IdempotencyScope{OrgID: p.OrgID, Principal: p.KeyID}
}

// IdempotencyStore remembers responses by (scope, idempotency key).
type IdempotencyStore interface {
	// BeginIdempotent claims key for request. It returns nil when the caller
	// holds the claim and must process the request, or the earlier record
	// (StatusCode 0 while that one is still in flight).
	BeginIdempotent(ctx context.Context, scope IdempotencyScope, key, request string) (*IdempotentResponse, error)
	// FinishIdempotent stores the response of a claimed key.
	FinishIdempotent(ctx context.Context, scope IdempotencyScope, key string, status int, body []byte) error
	// AbandonIdempotent releases a claim whose request stored nothing (it
	// was refused, or failed on our side), so that a retry is processed
	// afresh.
	AbandonIdempotent(ctx context.Context, scope IdempotencyScope, key string) error
}
