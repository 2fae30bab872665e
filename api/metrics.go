package api

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/webhook"
)

// Metrics is told what the API does (package metrics implements it). Its
// methods must be cheap and safe for concurrent use.
type Metrics interface {
	// ObserveRequest reports one request: its route pattern (gin's
	// FullPath, "web" for the UI, "unmatched" for unknown paths, never a
	// raw path), method, status code and duration.
	ObserveRequest(route, method string, status int, took time.Duration)
	// MessagePublished reports a message accepted (202) by POST
	// /api/v1/app/{app_id}/msg; an idempotent replay is not reported.
	MessagePublished()
}

// publishRoute is the route pattern of message publishing.
const publishRoute = "/api/v1/app/:app_id/msg"

// requestIDHeader is the response header carrying the request id: the
// request's svix-req-id (sent by the Svix SDKs) or X-Request-Id (sent by
// many proxies) when valid, else a new one.
const requestIDHeader = "X-Request-Id"

type requestIDKey struct{}

// RequestID returns the id of the API request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// observeRequests gives the request an id (returned as X-Request-Id and
// carried by every log line logged with the request's context, see
// LogHandler), then writes one log line and reports the request to
// Metrics. Nothing of the query string, the body or the headers but the
// request id is logged: they may carry tokens and secrets.
func (s *Server) observeRequests(c *gin.Context) {
	start := time.Now()
	id := incomingRequestID(c.Request)
	if id == "" {
		id = webhook.NewID("req_")
	}
	c.Header(requestIDHeader, id)
	c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), requestIDKey{}, id))
	c.Next()

	took := time.Since(start)
	status := c.Writer.Status()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
		if s.cfg.Web != nil && isWebRequest(c.Request) {
			route = "web"
		}
	}
	if m := s.cfg.Metrics; m != nil {
		m.ObserveRequest(route, c.Request.Method, status, took)
		if route == publishRoute && c.Request.Method == http.MethodPost && status == http.StatusAccepted &&
			c.Writer.Header().Get("Idempotent-Replayed") == "" {
			m.MessagePublished()
		}
	}
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case route == metricsRoute:
		level = slog.LevelDebug // scraped every few seconds
	}
	s.cfg.Logger.LogAttrs(c.Request.Context(), level, "request",
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.String("path", c.Request.URL.Path),
		slog.Int("status", status),
		slog.Duration("duration", took),
	)
}

// incomingRequestID returns the request's own id, if it has a usable one:
// 1 to 128 visible ASCII characters without quotes or backslashes (it is
// echoed in a header and written to logs).
func incomingRequestID(r *http.Request) string {
	for _, name := range []string{"svix-req-id", requestIDHeader} {
		if v := r.Header.Get(name); validRequestID(v) {
			return v
		}
	}
	return ""
}

func validRequestID(v string) bool {
	if v == "" || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if b := v[i]; b <= ' ' || b > '~' || b == '"' || b == '\\' {
			return false
		}
	}
	return true
}

// metricsRoute is where Config.MetricsHandler is served.
const metricsRoute = "/metrics"

// serveMetrics serves Config.MetricsHandler, behind Config.MetricsToken
// when one is set.
func (s *Server) serveMetrics(c *gin.Context) {
	if want := s.cfg.MetricsToken; want != "" {
		if subtle.ConstantTimeCompare([]byte(token(c)), []byte(want)) != 1 {
			fail(c, webhook.Errorf(webhook.EUNAUTHORIZED, "send Authorization: Bearer <HOOKD_METRICS_TOKEN>"))
			return
		}
	}
	s.cfg.MetricsHandler.ServeHTTP(c.Writer, c.Request)
}

// LogHandler wraps h so that every record logged with the context of an
// API request carries its request_id. cmd/hookd wraps the process's
// logger with it; New wraps Config.Logger.
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(requestIDHandler); ok {
		return h
	}
	return requestIDHandler{h}
}

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
