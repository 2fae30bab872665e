package worker

import (
	"context"
	"sync"
	"time"

	"github.com/hookd/hookd/pkg/webhook"
)

// endpointCacheSize caps the cache; when full it is emptied.
const endpointCacheSize = 10000

// endpointCache keeps endpoints read for first attempts for a short time,
// so a burst of messages to one endpoint reads it once. A change to an
// endpoint (URL, secret, disabled, deleted) reaches first attempts within
// the TTL; retries always read the endpoint afresh.
type endpointCache struct {
	store webhook.DeliveryStore
	ttl   time.Duration
	mu    sync.Mutex
	byID  map[string]cachedEndpoint
}

type cachedEndpoint struct {
	ep      *webhook.Endpoint
	expires time.Time
}

func newEndpointCache(store webhook.DeliveryStore, ttl time.Duration) *endpointCache {
	return &endpointCache{store: store, ttl: ttl, byID: map[string]cachedEndpoint{}}
}

// get returns the endpoint (a copy the caller may keep), from the cache
// when fresh enough.
func (c *endpointCache) get(ctx context.Context, id string) (webhook.Endpoint, error) {
	now := time.Now()
	c.mu.Lock()
	hit, ok := c.byID[id]
	c.mu.Unlock()
	if ok && now.Before(hit.expires) {
		return *hit.ep, nil
	}
	ep, err := c.store.FindEndpointByID(ctx, id)
	if err != nil {
		return webhook.Endpoint{}, err
	}
	c.mu.Lock()
	if len(c.byID) >= endpointCacheSize {
		clear(c.byID)
	}
	c.byID[id] = cachedEndpoint{ep: ep, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return *ep, nil
}
