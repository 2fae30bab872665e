package webhook

import (
	"sort"
	"testing"
	"time"
)

func TestNewID(t *testing.T) {
	t.Parallel()
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = NewID(PrefixApp)
	}
	seen := map[string]bool{}
	for i, id := range ids {
		if !ValidID(PrefixApp, id) {
			t.Fatalf("invalid id %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
		if i > 0 && ids[i-1] >= id {
			t.Fatalf("ids not increasing: %q then %q", ids[i-1], id)
		}
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatal("ids do not sort by creation")
	}
}

func TestIDTimeRoundTrip(t *testing.T) {
	t.Parallel()
	before := time.Now().UTC()
	id := NewID(PrefixMessage)
	got, ok := IDTime(PrefixMessage, id)
	if !ok {
		t.Fatalf("IDTime(%q) not ok", id)
	}
	if got.Before(before.Add(-time.Millisecond)) || got.After(time.Now().Add(time.Millisecond)) {
		t.Fatalf("IDTime = %v, want about %v", got, before)
	}
	if lo := TimeID(PrefixMessage, before); lo > id {
		t.Fatalf("TimeID(%v) = %q sorts after %q", before, lo, id)
	}
}

func TestValidID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want bool
	}{
		// Well-formed.
		{"app_1srOrx2ZWZBpBUvZwXKQmoEYga2", true},
		{"app_000000000000000000000000000", true},
		{"app_aWgEPTl1tmebfsQzFP4bxwgy80V", true},
		// Malformed.
		{"app_aWgEPTl1tmebfsQzFP4bxwgy80W", false}, // overflows 160 bits
		{"ep_1srOrx2ZWZBpBUvZwXKQmoEYga2", false},
		{"app_1srOrx2ZWZBpBUvZwXKQmoEYga", false},
		{"app_1srOrx2ZWZBpBUvZwXKQmoEYg-2", false},
		{"", false},
	} {
		if got := ValidID(PrefixApp, tc.in); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
