package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// orderedMessageJSON is a MessageOut with hookd's orderingKey.
type orderedMessageJSON struct {
	messageJSON
	OrderingKey *string `json:"orderingKey"`
}

func TestMessageOrderingKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createApp(map[string]any{"uid": "shop"})
	publish := func(body string) orderedMessageJSON {
		t.Helper()
		r := b.do(http.MethodPost, "/api/v1/app/shop/msg", body).must(t, http.StatusAccepted)
		return decode[orderedMessageJSON](t, r)
	}

	// Given as the field, or as a tag for clients that only send tags.
	if m := publish(`{"eventType":"a","payload":{},"orderingKey":"order-1"}`); str(m.OrderingKey) != `"order-1"` {
		t.Fatalf("orderingKey = %s", str(m.OrderingKey))
	}
	if m := publish(`{"eventType":"a","payload":{},"tags":["x","ordering:order/2 ü"]}`); str(m.OrderingKey) != `"order/2 ü"` {
		t.Fatalf("orderingKey from a tag = %s", str(m.OrderingKey))
	}
	if m := publish(`{"eventType":"a","payload":{},"orderingKey":"k","tags":["ordering:k"]}`); str(m.OrderingKey) != `"k"` {
		t.Fatalf("orderingKey given twice alike = %s", str(m.OrderingKey))
	}
	// Absent: unordered, and the key is left out of the answer.
	r := b.do(http.MethodPost, "/api/v1/app/shop/msg", `{"eventType":"a","payload":{}}`).must(t, http.StatusAccepted)
	if strings.Contains(string(r.body), "orderingKey") {
		t.Fatalf("an unordered message reads %s", r.body)
	}
	// Read back the same.
	m := publish(`{"eventType":"a","eventId":"e1","payload":{},"orderingKey":"order-3"}`)
	got := decode[orderedMessageJSON](t, b.do(http.MethodGet, "/api/v1/app/shop/msg/e1", nil).must(t, http.StatusOK))
	if got.ID != m.ID || str(got.OrderingKey) != `"order-3"` {
		t.Fatalf("read back %+v", got)
	}

	for _, tc := range []struct {
		body string
		loc  []string
	}{
		{`{"eventType":"a","payload":{},"orderingKey":""}`, []string{"body", "orderingKey"}},
		{`{"eventType":"a","payload":{},"orderingKey":"` + strings.Repeat("k", 257) + `"}`, []string{"body", "orderingKey"}},
		{`{"eventType":"a","payload":{},"orderingKey":"a\u0000b"}`, []string{"body", "orderingKey"}},
		{`{"eventType":"a","payload":{},"orderingKey":"a\nb"}`, []string{"body", "orderingKey"}},
		{`{"eventType":"a","payload":{},"orderingKey":"a","tags":["ordering:b"]}`, []string{"body", "tags", "0"}},
		{`{"eventType":"a","payload":{},"tags":["ordering:"]}`, []string{"body", "tags", "0"}},
		{`{"eventType":"a","payload":{},"tags":["no spaces"]}`, []string{"body", "tags", "0"}},
	} {
		mustInvalid(t, b.do(http.MethodPost, "/api/v1/app/shop/msg", tc.body), tc.loc...)
	}
}

// orderingEndpointJSON is an EndpointOut with hookd's ordering.
type orderingEndpointJSON struct {
	endpointJSON
	Ordering string `json:"ordering"`
}

func TestEndpointOrdering(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{"uid": "shop"})
	path := "/api/v1/app/shop/endpoint"

	r := b.do(http.MethodPost, path, map[string]any{"url": "https://example.com/a", "uid": "a"}).must(t, http.StatusCreated)
	if ep := decode[orderingEndpointJSON](t, r); ep.Ordering != "none" {
		t.Fatalf("default ordering = %q", ep.Ordering)
	}
	r = b.do(http.MethodPost, path, map[string]any{"url": "https://example.com/b", "uid": "b", "ordering": "strict"}).must(t, http.StatusCreated)
	if ep := decode[orderingEndpointJSON](t, r); ep.Ordering != "strict" {
		t.Fatalf("ordering = %q, want strict", ep.Ordering)
	}
	// PUT without the field keeps it (SDKs do not know it); PATCH null clears it.
	r = b.do(http.MethodPut, path+"/b", map[string]any{"url": "https://example.com/b2"}).must(t, http.StatusOK)
	if ep := decode[orderingEndpointJSON](t, r); ep.Ordering != "strict" || ep.URL != "https://example.com/b2" {
		t.Fatalf("after PUT: %+v", ep)
	}
	r = b.do(http.MethodPatch, path+"/b", map[string]any{"ordering": nil}).must(t, http.StatusOK)
	if ep := decode[orderingEndpointJSON](t, r); ep.Ordering != "none" {
		t.Fatalf("after PATCH null: %q", ep.Ordering)
	}
	mustInvalid(t, b.do(http.MethodPatch, path+"/b", map[string]any{"ordering": "fifo"}), "body", "ordering")
	mustInvalid(t, b.do(http.MethodPost, path, map[string]any{"url": "https://example.com/c", "ordering": 1}))
	_ = app
}
