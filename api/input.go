package api

import (
	"io"
	"net/http"
	"sort"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/webhook"
)

// checkInput refuses, with a 422 naming the place, what no handler could
// use and PostgreSQL could not even compare: path parameters, query values
// and an idempotency-key header that are not UTF-8 text without NUL (a
// valid id never is; other unknown ids answer 404 as before). It runs
// after authentication, so that an anonymous caller learns nothing.
func checkInput(c *gin.Context) {
	v := &webhook.ValidationError{}
	for _, p := range c.Params {
		if !webhook.IsStorableText(p.Value) {
			v.Add("must be UTF-8 text without NUL", "path", p.Key)
		}
	}
	query := c.Request.URL.Query()
	names := make([]string, 0, len(query))
	for name := range query {
		names = append(names, name)
	}
	sort.Strings(names) // one order for the same request
	for _, name := range names {
		for _, value := range query[name] {
			if !webhook.IsStorableText(name) || !webhook.IsStorableText(value) {
				v.Add("must be UTF-8 text without NUL", "query", webhook.StorableString(name))
				break
			}
		}
	}
	if key := c.GetHeader(idempotencyHeader); !webhook.IsStorableText(key) {
		v.Add("must be UTF-8 text without NUL", "header", idempotencyHeader)
	}
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	c.Next()
}

// readBody returns the whole request body, which must be UTF-8 (RFC 8259
// requires it of JSON exchanged between systems): anything else is a 400,
// so that no handler stores bytes PostgreSQL refuses as text.
func readBody(c *gin.Context) ([]byte, error) {
	body := c.Request.Body
	if body == nil || body == http.NoBody {
		return nil, nil
	}
	raw, err := io.ReadAll(body)
	switch {
	case isTooLarge(err):
		return nil, tooLarge()
	case err != nil:
		return nil, webhook.Errorf(webhook.EBADREQUEST, "reading the request body failed")
	case !utf8.Valid(raw):
		return nil, webhook.Errorf(webhook.EBADREQUEST, "the request body is not valid UTF-8")
	}
	return raw, nil
}
