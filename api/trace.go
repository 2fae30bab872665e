package api

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/webhook"
)

// traceRequests records a server span for each API request under
// /api/v1/ (the health checks aside, which orchestrators call every few
// seconds), when the server has a Tracer. A caller's traceparent (W3C
// Trace Context) is continued: the publish that the request makes, and so
// the message's deliveries, join the caller's trace. An invalid
// traceparent is ignored, as W3C says, and so are several.
func (s *Server) traceRequests(c *gin.Context) {
	route := c.FullPath()
	if !strings.HasPrefix(route, "/api/v1/") || strings.HasPrefix(route, "/api/v1/health") {
		c.Next()
		return
	}
	var remote webhook.TraceContext
	if parents := c.Request.Header.Values(webhook.TraceParentHeader); len(parents) == 1 {
		remote.Parent = parents[0]
		remote.State = strings.Join(c.Request.Header.Values(webhook.TraceStateHeader), ",")
	}
	ctx, span := s.cfg.Tracer.Start(c.Request.Context(), c.Request.Method+" "+spanRoute(route), delivery.SpanStart{
		Kind: delivery.SpanServer, Remote: remote, Attrs: []slog.Attr{
			slog.String("http.request.method", c.Request.Method),
			slog.String("http.route", route),
			slog.String("url.path", c.Request.URL.Path),
			slog.String("hookd.request_id", RequestID(c.Request.Context())),
		},
	})
	defer span.End()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
	status := c.Writer.Status()
	span.SetAttributes(slog.Int(delivery.AttrHTTPStatusCode, status))
	if status >= 500 {
		span.Fail(http.StatusText(status))
	}
}

// spanRoute writes a gin route as OpenAPI does: /app/{app_id}.
func spanRoute(route string) string {
	parts := strings.Split(route, "/")
	for i, p := range parts {
		if name, ok := strings.CutPrefix(p, ":"); ok {
			parts[i] = "{" + name + "}"
		}
	}
	return strings.Join(parts, "/")
}
