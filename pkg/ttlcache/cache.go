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
	// loading holds the loads in progress, by key, that concurrent
	// misses of the same key wait for rather than load again.
	loading map[K]*load[V]
}

// load is a Load in progress.
type load[V any] struct {
	done  chan struct{}
	value V
	err   error
}

type entry[V any] struct {
	value   V
	expires time.Time
}

// New returns a cache keeping values for ttl, at most max of them.
func New[K comparable, V any](ttl time.Duration, max int) *Cache[K, V] {
	return &Cache[K, V]{ttl: ttl, max: max, entries: map[K]entry[V]{}, loading: map[K]*load[V]{}}
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

// Load returns the value for k from the cache, or from fetch, storing what
// fetch returns when it succeeds (errors are not cached). Concurrent Loads
// of a key that is not cached share one fetch and its result, error
// included: a burst of misses (a thousand attempts to one endpoint when
// its entry expires) makes one query, not a thousand.
func (c *Cache[K, V]) Load(k K, fetch func() (V, error)) (V, error) {
	if v, ok := c.Get(k); ok {
		return v, nil
	}
	c.mu.Lock()
	if l, ok := c.loading[k]; ok {
		c.mu.Unlock()
		<-l.done
		return l.value, l.err
	}
	l := &load[V]{done: make(chan struct{})}
	c.loading[k] = l
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.loading, k)
		c.mu.Unlock()
		close(l.done)
	}()
	l.value, l.err = fetch()
	if l.err == nil {
		c.Put(k, l.value)
	}
	return l.value, l.err
}
