// Package ttlcache keeps values in memory for a fixed time, with a cap on
// the number of entries: the short-lived caches in front of Postgres (API
// keys, applications, endpoints, operational subscriptions).
package ttlcache

import (
	"sync"
	"time"
)

// Cache maps keys to values that expire TTL after they were stored. When
// it holds Max entries it is emptied before the next one is stored, which
// bounds its memory without bookkeeping. It is safe for concurrent use.
type Cache[K comparable, V any] struct {
	ttl time.Duration
	max int

	mu      sync.Mutex
	entries map[K]entry[V]
}

type entry[V any] struct {
	value   V
	expires time.Time
}

// New returns a cache keeping values for ttl, at most max of them.
func New[K comparable, V any](ttl time.Duration, max int) *Cache[K, V] {
	return &Cache[K, V]{ttl: ttl, max: max, entries: map[K]entry[V]{}}
}

// Get returns the value stored for k unless it has expired.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	e, ok := c.entries[k]
	c.mu.Unlock()
	if !ok || !time.Now().Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.value, true
}

// Put stores v for k for the cache's TTL.
func (c *Cache[K, V]) Put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		clear(c.entries)
	}
	c.entries[k] = entry[V]{value: v, expires: time.Now().Add(c.ttl)}
}

// Delete forgets k.
func (c *Cache[K, V]) Delete(k K) {
	c.mu.Lock()
	delete(c.entries, k)
	c.mu.Unlock()
}

// Load returns the value for k from the cache, or from load, storing what
// load returns when it succeeds (errors are not cached).
func (c *Cache[K, V]) Load(k K, load func() (V, error)) (V, error) {
	if v, ok := c.Get(k); ok {
		return v, nil
	}
	v, err := load()
	if err == nil {
		c.Put(k, v)
	}
	return v, err
}
