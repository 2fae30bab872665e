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

// idempotent wraps the handler of a POST route so that a repeated
// idempotency key gets the first response again. It must run after
// authentication and authorisation (orgOnly, withApp and the like), right
// before h, so that:
//
//   - a key is scoped to the principal that sent it (one API key or one
//     app-portal token) and to the method and path: nobody else ever gets
//     its response, and a request refused before h never claims it;
//   - only successes (status below 400) are kept: a request refused by h
//     (validation, a conflict, not found) or failed on our side (5xx)
//     releases the key, so that a corrected retry is processed afresh.
//
// The same key on another method or path of the same principal is a 409,
// and so is a repeat while the first request is still being processed.
func (s *Server) idempotent(h gin.HandlerFunc) gin.HandlerFunc {
	store := s.cfg.Store
	return func(c *gin.Context) {
		key := c.GetHeader(idempotencyHeader)
		if c.Request.Method != http.MethodPost || key == "" {
			h(c)
			return
		}
		if len(key) > maxIdempotencyKey {
			fail(c, webhook.Invalid("must be at most 256 characters", "header", idempotencyHeader))
			return
		}
		scope := webhook.ScopeOf(principal(c))
		request := c.Request.Method + " " + c.Request.URL.Path
		prev, err := store.BeginIdempotent(c.Request.Context(), scope, key, request)
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
		h(c)
		c.Writer = rec.ResponseWriter
		ctx := c.Request.Context()
		if status := rec.Status(); status >= 400 {
			err = store.AbandonIdempotent(ctx, scope, key)
		} else {
			err = store.FinishIdempotent(ctx, scope, key, status, rec.body.Bytes())
		}
		if err != nil {
			requestLogger(c).ErrorContext(ctx, "storing idempotent response", slog.String("error", err.Error()))
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
