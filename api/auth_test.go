package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/api"
	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/webhook"
)

// countingStore is the real store, counting key lookups.
type countingStore struct {
	*postgres.DB
	lookups atomic.Int64
}

func (s *countingStore) FindKeyByHash(ctx context.Context, hash []byte) (*webhook.Principal, error) {
	s.lookups.Add(1)
	return s.DB.FindKeyByHash(ctx, hash)
}

// setupCounting is setup with a counting store, a fake clock, and
// trusted as the reverse proxies whose X-Forwarded-For names the client.
func setupCounting(t *testing.T, trusted []netip.Prefix) (*bundle, *countingStore, *fakeClock) {
	t.Helper()
	var store *countingStore
	clock := &fakeClock{now: time.Now()}
	b := setupConfigured(t, func(c *api.Config) {
		store = &countingStore{DB: c.Store.(*postgres.DB)}
		c.Store, c.Now, c.TrustedProxies = store, clock.Now, trusted
	})
	return b, store, clock
}

// A wrong key costs one lookup, then none while it is remembered.
func TestWrongKeyIsLookedUpOnce(t *testing.T) {
	t.Parallel()
	b, store, _ := setupCounting(t, nil)
	const wrong = "hookd_sk_this-key-does-not-exist-at-all"
	for range 10 {
		mustError(t, b.doWith(wrong, http.MethodGet, "/api/v1/app", nil, nil), http.StatusUnauthorized, "unauthorized")
	}
	if n := store.lookups.Load(); n != 1 {
		t.Fatalf("10 requests with one wrong key made %d lookups, want 1", n)
	}
	// The valid key is looked up once too, and keeps working.
	for range 3 {
		b.do(http.MethodGet, "/api/v1/app", nil).must(t, http.StatusOK)
	}
	if n := store.lookups.Load(); n != 2 {
		t.Fatalf("%d lookups, want 2", n)
	}
}

// One address sending many wrong keys is slowed down (429 with
// Retry-After) without a lookup; other addresses, and keys already
// known, are served as before.
func TestManyWrongKeysFromOneAddressAre429(t *testing.T) {
	t.Parallel()
	b, store, clock := setupCounting(t, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	from := func(addr string) http.Header { return http.Header{"X-Forwarded-For": {addr}} }
	b.doWith(b.key, http.MethodGet, "/api/v1/app", nil, from("203.0.113.7")).must(t, http.StatusOK) // now cached

	const burst = 20
	for i := range burst {
		r := b.doWith(fmt.Sprintf("wrong-key-%02d-abcdefghijklmnop", i), http.MethodGet, "/api/v1/app", nil, from("203.0.113.7"))
		mustError(t, r, http.StatusUnauthorized, "unauthorized")
	}
	before := store.lookups.Load()
	r := b.doWith("wrong-key-next-abcdefghijklmnop", http.MethodGet, "/api/v1/app", nil, from("203.0.113.7"))
	mustError(t, r, http.StatusTooManyRequests, "rate_limited")
	if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs < 1 {
		t.Fatalf("429 with Retry-After %q", r.header.Get("Retry-After"))
	}
	if n := store.lookups.Load(); n != before {
		t.Fatalf("the 429 made %d lookups", n-before)
	}

	// A key already known still works from that address; another address
	// is not affected.
	b.doWith(b.key, http.MethodGet, "/api/v1/app", nil, from("203.0.113.7")).must(t, http.StatusOK)
	mustError(t, b.doWith("wrong-key-other-abcdefghijklmnop", http.MethodGet, "/api/v1/app", nil, from("198.51.100.1")),
		http.StatusUnauthorized, "unauthorized")

	// Once the Retry-After has passed, the address may try again.
	clock.advance(2 * time.Second)
	mustError(t, b.doWith("wrong-key-later-abcdefghijklmnop", http.MethodGet, "/api/v1/app", nil, from("203.0.113.7")),
		http.StatusUnauthorized, "unauthorized")
}

// Without trusted proxies, X-Forwarded-For is the client's to choose and
// is ignored: varying it does not escape the limit.
func TestForwardedForIgnoredUnlessTrusted(t *testing.T) {
	t.Parallel()
	b, _, _ := setupCounting(t, nil)
	var last response
	for i := range 25 {
		last = b.doWith(fmt.Sprintf("wrong-key-%02d-abcdefghijklmnop", i), http.MethodGet, "/api/v1/app", nil,
			http.Header{"X-Forwarded-For": {fmt.Sprintf("192.0.2.%d", i)}})
	}
	mustError(t, last, http.StatusTooManyRequests, "rate_limited")
}
