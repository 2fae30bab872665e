package egress

import (
	"net/http"
	"testing"
)

func TestTransportCache(t *testing.T) {
	t.Parallel()
	c := newTransportCache(2)
	a, b, d := &http.Transport{}, &http.Transport{}, &http.Transport{}
	if ev := c.add("a", a); ev != nil {
		t.Fatal("evicted below the bound")
	}
	if ev := c.add("b", b); ev != nil {
		t.Fatal("evicted at the bound")
	}
	if got, ok := c.get("a"); !ok || got != a {
		t.Fatal("get(a)")
	}
	// b is now the least recently used.
	if ev := c.add("d", d); ev != b {
		t.Fatalf("evicted %p, want b %p", ev, b)
	}
	if _, ok := c.get("b"); ok {
		t.Error("b still kept")
	}
	if c.len() != 2 || len(c.all()) != 2 {
		t.Errorf("len %d, all %d; want 2", c.len(), len(c.all()))
	}
	if _, ok := c.get("missing"); ok {
		t.Error("get of a missing key")
	}
}
