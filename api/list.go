package api

import (
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/webhook"
)

// listResponse is the contract's list envelope. Every key is always present.
type listResponse[T any] struct {
	Data         []T     `json:"data"`
	Iterator     *string `json:"iterator"`
	PrevIterator *string `json:"prevIterator"`
	Done         bool    `json:"done"`
}

// listOptions parses limit, iterator and order. ascending is the resource's
// default order; validCursor checks an iterator's sort key (malformed: 422).
func listOptions(c *gin.Context, ascending bool, validCursor func(string) bool) (webhook.ListOptions, error) {
	opt := webhook.ListOptions{Limit: webhook.DefaultLimit, Ascending: ascending}
	v := &webhook.ValidationError{}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil || n < 0:
			v.Add("must be a non-negative integer", "query", "limit")
		case n > webhook.MaxLimit:
			opt.Limit = webhook.MaxLimit
		case n > 0:
			opt.Limit = n
		}
	}
	switch c.Query("order") {
	case "":
	case "ascending":
		opt.Ascending = true
	case "descending":
		opt.Ascending = false
	default:
		v.Add("must be ascending or descending", "query", "order")
	}
	if it := c.Query("iterator"); it != "" {
		cursor, back := parseIterator(it)
		if !validCursor(cursor) {
			v.Add("malformed iterator", "query", "iterator")
		}
		opt.Cursor, opt.Backward = cursor, back
	}
	return opt, v.Err()
}

// newList builds the envelope for page, whose items have sort keys key(i).
// An empty page keeps the request's cursor, so a client can poll with it.
func newList[T, O any](page webhook.Page[T], opt webhook.ListOptions, out func(*T) O, key func(*T) string) listResponse[O] {
	resp := listResponse[O]{Data: make([]O, 0, len(page.Items)), Done: !page.More}
	for i := range page.Items {
		resp.Data = append(resp.Data, out(&page.Items[i]))
	}
	first, last := opt.Cursor, opt.Cursor
	if n := len(page.Items); n > 0 {
		first, last = key(&page.Items[0]), key(&page.Items[n-1])
	}
	if last != "" {
		next := forwardIterator(last)
		resp.Iterator = &next
		prev := backwardMark + first
		resp.PrevIterator = &prev
	}
	return resp
}

// An iterator is the sort key of the item a page starts after (forward), or
// backwardMark and the key of the item it ends before (a prevIterator). Sort
// keys may themselves start with backwardMark (event type names can), so a
// forward iterator for such a key is escaped with forwardMark, which no ID
// or name contains and which needs no escaping in a URL.
const (
	backwardMark = "-"
	forwardMark  = "~"
)

func forwardIterator(key string) string {
	if strings.HasPrefix(key, backwardMark) || strings.HasPrefix(key, forwardMark) {
		return forwardMark + key
	}
	return key
}

// parseIterator returns the sort key of an iterator and its direction.
func parseIterator(it string) (key string, backward bool) {
	if key, ok := strings.CutPrefix(it, forwardMark); ok {
		return key, false
	}
	return strings.CutPrefix(it, backwardMark)
}

// queryBool parses a boolean query parameter; absent gives def.
func queryBool(c *gin.Context, name string, def bool, v *webhook.ValidationError) bool {
	s, ok := c.GetQuery(name)
	if !ok || s == "" {
		return def
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		v.Add("must be true or false", "query", name)
		return def
	}
	return b
}

func validIDCursor(prefix string) func(string) bool {
	return func(s string) bool { return webhook.ValidID(prefix, s) }
}
