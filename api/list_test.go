package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/hookd/hookd/pkg/webhook"
)

// page is one list page: the sort keys of its items and its envelope.
type page struct {
	keys         []string
	iterator     *string
	prevIterator *string
	done         bool
}

// listPage GETs path with query and returns the page, keyed by field ("id" or "name").
func (b *bundle) listPage(path string, query url.Values, field string) page {
	b.t.Helper()
	if q := query.Encode(); q != "" {
		path += "?" + q
	}
	r := b.do(http.MethodGet, path, nil).must(b.t, http.StatusOK)
	mustKeys(b.t, r.body, "data", "iterator", "prevIterator", "done")
	l := decode[listJSON[map[string]json.RawMessage]](b.t, r)
	p := page{iterator: l.Iterator, prevIterator: l.PrevIterator, done: l.Done}
	for _, item := range l.Data {
		var k string
		if err := json.Unmarshal(item[field], &k); err != nil {
			b.t.Fatalf("item without %s: %v", field, item)
		}
		p.keys = append(p.keys, k)
	}
	return p
}

// walk pages through path with limit 3 from the start until done, then back
// from the last page with prevIterator until done, and checks that both
// directions see want in order, without duplicates or gaps.
func (b *bundle) walk(path string, extra url.Values, field string, want []string) {
	b.t.Helper()
	query := func(iterator *string) url.Values {
		q := url.Values{"limit": {"3"}}
		for k, v := range extra {
			q[k] = v
		}
		if iterator != nil {
			q.Set("iterator", *iterator)
		}
		return q
	}

	// Forwards.
	var pages []page
	var it *string
	for len(pages) <= len(want) {
		p := b.listPage(path, query(it), field)
		pages = append(pages, p)
		if len(p.keys) > 3 {
			b.t.Fatalf("page of %d items with limit 3", len(p.keys))
		}
		if p.done {
			break
		}
		if p.iterator == nil {
			b.t.Fatal("page not done but without iterator")
		}
		it = p.iterator
	}
	var forward []string
	for _, p := range pages {
		forward = append(forward, p.keys...)
	}
	if !slices.Equal(forward, want) {
		b.t.Fatalf("walking forwards %s%v:\n got %v\nwant %v", path, extra, forward, want)
	}
	if wantPages := (len(want) + 2) / 3; len(pages) != wantPages {
		b.t.Fatalf("forwards took %d pages, want %d", len(pages), wantPages)
	}

	// Backwards from the last page.
	last := pages[len(pages)-1]
	back := slices.Clone(last.keys)
	it = last.prevIterator
	for n := 0; ; n++ {
		if it == nil || n > len(want) {
			b.t.Fatalf("walking backwards: prevIterator %s after %d pages", str(it), n)
		}
		p := b.listPage(path, query(it), field)
		back = append(slices.Clone(p.keys), back...)
		if p.done {
			break
		}
		it = p.prevIterator
	}
	if !slices.Equal(back, want) {
		b.t.Fatalf("walking backwards %s%v:\n got %v\nwant %v", path, extra, back, want)
	}

	// Past the end, a page is empty and done but keeps an iterator to poll with.
	p := b.listPage(path, query(last.iterator), field)
	if len(p.keys) != 0 || !p.done || p.iterator == nil {
		b.t.Fatalf("page after the last: %+v", p)
	}
}

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

func TestListApps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var ids []string
	for i := range 7 {
		ids = append(ids, b.createApp(map[string]any{"name": fmt.Sprint("app ", i)}).ID)
	}
	// Oldest first by default; order reverses.
	b.walk("/api/v1/app", nil, "id", ids)
	b.walk("/api/v1/app", url.Values{"order": {"ascending"}}, "id", ids)
	b.walk("/api/v1/app", url.Values{"order": {"descending"}}, "id", reversed(ids))
}

func TestListEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{})
	noise := b.createApp(map[string]any{})
	b.createEndpoint(noise.ID, map[string]any{})
	var ids []string
	for range 7 {
		ids = append(ids, b.createEndpoint(app.ID, map[string]any{}).ID)
	}
	// Newest first by default; order reverses.
	path := "/api/v1/app/" + app.ID + "/endpoint"
	b.walk(path, nil, "id", reversed(ids))
	b.walk(path, url.Values{"order": {"descending"}}, "id", reversed(ids))
	b.walk(path, url.Values{"order": {"ascending"}}, "id", ids)
}

func TestListEventTypes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Created out of order: lists sort by name.
	names := []string{"d.four", "a.one", "g.seven", "c.three", "f.six", "b.two", "e.five"}
	for _, n := range names {
		b.createEventType(n)
	}
	b.createEventType("h.archived")
	b.do(http.MethodDelete, "/api/v1/event-type/h.archived", nil).must(t, http.StatusNoContent)
	slices.Sort(names)

	b.walk("/api/v1/event-type", nil, "name", names)
	b.walk("/api/v1/event-type", url.Values{"order": {"descending"}}, "name", reversed(names))
	b.walk("/api/v1/event-type", url.Values{"include_archived": {"true"}}, "name", append(slices.Clone(names), "h.archived"))
	b.walk("/api/v1/event-type", url.Values{"with_content": {"true"}}, "name", names)
}

func TestListEmpty(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{})
	for _, path := range []string{"/api/v1/event-type", "/api/v1/app/" + app.ID + "/endpoint"} {
		r := b.do(http.MethodGet, path, nil).must(t, http.StatusOK)
		obj := mustKeys(t, r.body, "data", "iterator", "prevIterator", "done")
		if string(obj["data"]) != "[]" || string(obj["done"]) != "true" {
			t.Fatalf("empty list %s = %s", path, r.body)
		}
	}
}

func TestListLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	org, err := b.db.EnsureOrg(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	for range webhook.MaxLimit + 5 {
		if err := b.db.CreateApp(ctx, &webhook.Application{OrgID: org.ID, Name: "bulk"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		query string
		n     int
		done  bool
	}{
		// Default, given, and capped limits.
		{"", webhook.DefaultLimit, false},
		{"?limit=0", webhook.DefaultLimit, false},
		{"?limit=1", 1, false},
		{"?limit=250", 250, false},
		{"?limit=251", 250, false},
		{"?limit=100000", 250, false},
	} {
		p := b.listPage("/api/v1/app"+tc.query, nil, "id")
		if len(p.keys) != tc.n || p.done != tc.done {
			t.Fatalf("limit%s: %d items, done %v; want %d, %v", tc.query, len(p.keys), p.done, tc.n, tc.done)
		}
	}
}

func TestListInvalidQuery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{})
	ep := b.createEndpoint(app.ID, map[string]any{})
	apps, eps, ets := "/api/v1/app", "/api/v1/app/"+app.ID+"/endpoint", "/api/v1/event-type"
	for _, tc := range []struct {
		path, query string
		loc         []string
	}{
		// limit is a non-negative integer.
		{apps, "limit=-1", []string{"query", "limit"}},
		{apps, "limit=ten", []string{"query", "limit"}},
		{eps, "limit=-1", []string{"query", "limit"}},
		{ets, "limit=1.5", []string{"query", "limit"}},
		// order is ascending or descending.
		{apps, "order=sideways", []string{"query", "order"}},
		{ets, "order=asc", []string{"query", "order"}},
		// An iterator must be one this list could have given.
		{apps, "iterator=garbage", []string{"query", "iterator"}},
		{apps, "iterator=-garbage", []string{"query", "iterator"}},
		{apps, "iterator=" + ep.ID, []string{"query", "iterator"}},
		{apps, "iterator=-", []string{"query", "iterator"}},
		{apps, "iterator=~garbage", []string{"query", "iterator"}},
		{ets, "iterator=~", []string{"query", "iterator"}},
		{eps, "iterator=" + app.ID, []string{"query", "iterator"}},
		{eps, "iterator=ep_short", []string{"query", "iterator"}},
		{ets, "iterator=" + url.QueryEscape("a b"), []string{"query", "iterator"}},
		{ets, "iterator=" + strings.Repeat("n", 257), []string{"query", "iterator"}},
		// Booleans.
		{ets, "include_archived=maybe", []string{"query", "include_archived"}},
		{ets, "with_content=2", []string{"query", "with_content"}},
	} {
		mustInvalid(t, b.do(http.MethodGet, tc.path+"?"+tc.query, nil), tc.loc...)
	}
}

func TestListEventTypesNamedLikeIterators(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Names may start with "-", the mark of a prevIterator.
	names := []string{"--x", "-a", "-b", "-c", "a", "b", "c"}
	for _, n := range names {
		b.createEventType(n)
	}
	b.walk("/api/v1/event-type", nil, "name", names)
	b.walk("/api/v1/event-type", url.Values{"order": {"descending"}}, "name", reversed(names))
}
