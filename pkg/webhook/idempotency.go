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

// IdempotencyStore remembers responses by (organisation, idempotency key).
type IdempotencyStore interface {
	// BeginIdempotent claims key for request. It returns nil when the caller
	// holds the claim and must process the request, or the earlier record
	// (StatusCode 0 while that one is still in flight).
	BeginIdempotent(ctx context.Context, orgID, key, request string) (*IdempotentResponse, error)
	// FinishIdempotent stores the response of a claimed key.
	FinishIdempotent(ctx context.Context, orgID, key string, status int, body []byte) error
	// AbandonIdempotent releases a claim whose request failed on our side,
	// so that a retry is processed afresh.
	AbandonIdempotent(ctx context.Context, orgID, key string) error
}
