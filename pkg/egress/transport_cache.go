package egress

import (
	"container/list"
	"net/http"
)

// transportCache keeps the transports of TLS options, at most max of them,
// dropping the least recently used. It is not safe for concurrent use: the
// Client guards it with tlsMu.
type transportCache struct {
	max   int
	order *list.List // of *cachedTransport, most recently used first
	byKey map[string]*list.Element
}

type cachedTransport struct {
	key       string
	transport *http.Transport
}

func newTransportCache(max int) *transportCache {
	return &transportCache{max: max, order: list.New(), byKey: map[string]*list.Element{}}
}

// get returns the transport of key and marks it used.
func (c *transportCache) get(key string) (*http.Transport, bool) {
	e, ok := c.byKey[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*cachedTransport).transport, true
}

// add stores t for key (which must not be there yet) and returns the
// transport it dropped to stay within max, if any.
func (c *transportCache) add(key string, t *http.Transport) (evicted *http.Transport) {
	c.byKey[key] = c.order.PushFront(&cachedTransport{key: key, transport: t})
	if c.order.Len() <= c.max {
		return nil
	}
	last := c.order.Back()
	c.order.Remove(last)
	old := last.Value.(*cachedTransport)
	delete(c.byKey, old.key)
	return old.transport
}

// len returns the number of transports kept.
func (c *transportCache) len() int { return c.order.Len() }

// all returns every transport kept.
func (c *transportCache) all() []*http.Transport {
	out := make([]*http.Transport, 0, c.order.Len())
	for e := c.order.Front(); e != nil; e = e.Next() {
		out = append(out, e.Value.(*cachedTransport).transport)
	}
	return out
}
