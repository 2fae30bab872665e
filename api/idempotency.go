package api

import (
	"bytes"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/webhook"
)

// idempotencyHeader names the request header of the contract.
const idempotencyHeader = "idempotency-key"

// maxIdempotencyKey bounds the header's length.
const maxIdempotencyKey = 256

// idempotent replays the first response to a POST with the same
// idempotency key (per organisation). Responses under 500 are kept; a 5xx
// releases the key so that a retry is processed again.
func idempotent(store webhook.IdempotencyStore) gin.HandlerFunc {
	return func(c *gin.Context) {
		key := c.GetHeader(idempotencyHeader)
		if c.Request.Method != http.MethodPost || key == "" {
			c.Next()
			return
		}
		if len(key) > maxIdempotencyKey {
			fail(c, webhook.Invalid("must be at most 256 characters", "header", idempotencyHeader))
			return
		}
		orgID := principal(c).OrgID
		request := c.Request.Method + " " + c.Request.URL.Path
		prev, err := store.BeginIdempotent(c.Request.Context(), orgID, key, request)
		if err != nil {
			fail(c, err)
			return
		}
		if prev != nil {
			replay(c, prev, request)
			return
		}
		rec := &recorder{ResponseWriter: c.Writer}
		c.Writer = rec
		c.Next()
		ctx := c.Request.Context()
		if status := rec.Status(); status >= 500 {
			err = store.AbandonIdempotent(ctx, orgID, key)
		} else {
			err = store.FinishIdempotent(ctx, orgID, key, status, rec.body.Bytes())
		}
		if err != nil {
			slog.ErrorContext(ctx, "storing idempotent response", slog.String("error", err.Error()))
		}
	}
}

func replay(c *gin.Context, prev *webhook.IdempotentResponse, request string) {
	switch {
	case prev.Request != request:
		fail(c, webhook.Errorf(webhook.ECONFLICT, "idempotency key already used for %s", prev.Request))
	case prev.StatusCode == 0:
		fail(c, webhook.Errorf(webhook.ECONFLICT, "a request with this idempotency key is still being processed"))
	default:
		c.Header("Idempotent-Replayed", "true")
		if len(prev.Body) == 0 {
			c.AbortWithStatus(prev.StatusCode)
			return
		}
		c.Data(prev.StatusCode, "application/json; charset=utf-8", prev.Body)
		c.Abort()
	}
}

// recorder keeps a copy of the response body.
type recorder struct {
	gin.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) WriteString(s string) (int, error) {
	r.body.WriteString(s)
	return r.ResponseWriter.WriteString(s)
}
