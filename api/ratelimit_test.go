package api_test

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/api"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestRateLimitPerKey(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Now()}
	b := setupConfigured(t, func(c *api.Config) {
		c.RateLimit, c.RateBurst, c.Now = 0.5, 3, clock.Now // a token every 2 s
	})
	noisy, quiet := b.key, b.newKey("quiet")

	// The burst is served, then the noisy key gets 429 with Retry-After.
	for i := 0; i < 3; i++ {
		b.doWith(noisy, http.MethodGet, "/api/v1/app", nil, nil).must(t, http.StatusOK)
	}
	r := b.doWith(noisy, http.MethodGet, "/api/v1/app", nil, nil)
	mustError(t, r, http.StatusTooManyRequests, "rate_limited")
	if got := r.header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q, want 2 (seconds until the next token)", got)
	}
	// Refused requests take no token: still 429, not a longer wait.
	r = b.doWith(noisy, http.MethodPost, "/api/v1/app", map[string]any{"name": "x"}, nil)
	mustError(t, r, http.StatusTooManyRequests, "rate_limited")
	if got := r.header.Get("Retry-After"); got != "2" {
		t.Errorf("second Retry-After = %q, want 2", got)
	}

	// Another key is served as if nothing happened, burst included.
	for i := 0; i < 3; i++ {
		b.doWith(quiet, http.MethodGet, "/api/v1/app", nil, nil).must(t, http.StatusOK)
	}

	// Unauthenticated requests are refused before the limiter (401, not 429),
	// and the health check is not limited.
	b.doWith("", http.MethodGet, "/api/v1/app", nil, nil).must(t, http.StatusUnauthorized)
	b.doWith("", http.MethodGet, "/api/v1/health", nil, nil).must(t, http.StatusNoContent)

	// Once its bucket refilled, the noisy key is served again.
	clock.advance(2 * time.Second)
	b.doWith(noisy, http.MethodGet, "/api/v1/app", nil, nil).must(t, http.StatusOK)
	mustError(t, b.doWith(noisy, http.MethodGet, "/api/v1/app", nil, nil), http.StatusTooManyRequests, "rate_limited")
}

// An app-portal token has a bucket of its own, apart from the key that
// created it.
func TestRateLimitPortalToken(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Now()}
	b := setupConfigured(t, func(c *api.Config) { c.RateLimit, c.RateBurst, c.Now = 1, 3, clock.Now })
	b.createApp(map[string]any{"uid": "shop"}) // 1
	tok := b.portalToken("shop").Token         // 2
	b.do(http.MethodGet, "/api/v1/app", nil).must(t, http.StatusOK)
	mustError(t, b.do(http.MethodGet, "/api/v1/app", nil), http.StatusTooManyRequests, "rate_limited")
	for i := 0; i < 3; i++ {
		b.doWith(tok, http.MethodGet, "/api/v1/app/shop", nil, nil).must(t, http.StatusOK)
	}
	r := b.doWith(tok, http.MethodGet, "/api/v1/app/shop", nil, nil)
	mustError(t, r, http.StatusTooManyRequests, "rate_limited")
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After = %q, want a whole number of seconds ≥ 1", r.header.Get("Retry-After"))
	}
}
