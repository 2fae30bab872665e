package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/webhook"
)

// Operational webhooks: an organisation registers its own receivers for
// events about the platform under /api/v1/operational-webhook/endpoint, as
// the Svix SDKs call it. Those endpoints are ordinary endpoints of the
// organisation's internal application (webhook.OperationalStore), so the
// endpoint handlers serve them too; the request then carries operationalKey,
// which switches the filter validation to operational event types and, after
// a change, tells Events instead of emitting an event about the change.

const operationalKey = "hookd.operational"

// Emitter publishes operational events (implemented by opwebhook.Emitter).
type Emitter interface {
	webhook.OperationalEmitter
	// Invalidate is called after orgID's operational-webhook endpoints
	// changed, so that the next event reaches them.
	Invalidate(orgID string)
}

// operationalRoutes registers the operational-webhook endpoint routes; they
// act on the organisation, so app-portal tokens get 403.
func (s *Server) operationalRoutes(authed *gin.RouterGroup) {
	g := authed.Group("/operational-webhook/endpoint", orgOnly)
	g.GET("", s.listOperationalEndpoints)
	g.POST("", s.withOperationalApp(s.idempotent(s.createEndpoint)))
	g.GET("/:endpoint_id", s.withOperationalEndpoint(s.getEndpoint))
	g.PUT("/:endpoint_id", s.withOperationalApp(s.putEndpoint))
	g.DELETE("/:endpoint_id", s.withOperationalEndpoint(s.deleteEndpoint))
	g.GET("/:endpoint_id/secret", s.withOperationalEndpoint(s.getSecret))
	g.POST("/:endpoint_id/secret/rotate", s.withOperationalEndpoint(s.idempotent(s.rotateSecret)))
	g.GET("/:endpoint_id/headers", s.withOperationalEndpoint(s.getHeaders))
	g.PUT("/:endpoint_id/headers", s.withOperationalEndpoint(s.putHeaders))
}

// withOperationalApp runs h on the organisation's internal application,
// created on first use.
func (s *Server) withOperationalApp(h gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		app, err := s.cfg.Store.OperationalApp(c.Request.Context(), principal(c).OrgID, true)
		if err != nil {
			fail(c, err)
			return
		}
		c.Set(appKey, app)
		c.Set(operationalKey, true)
		h(c)
	}
}

// withOperationalEndpoint runs h on the path's operational-webhook
// endpoint (by id or uid); an organisation without any answers 404 as well.
func (s *Server) withOperationalEndpoint(h gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		app, err := s.cfg.Store.OperationalApp(ctx, principal(c).OrgID, false)
		if webhook.ErrorCode(err) == webhook.ENOTFOUND {
			err = webhook.Errorf(webhook.ENOTFOUND, "endpoint not found")
		}
		var ep *webhook.Endpoint
		if err == nil {
			ep, err = s.cfg.Store.FindEndpoint(ctx, app, c.Param("endpoint_id"))
		}
		if err != nil {
			fail(c, err)
			return
		}
		c.Set(appKey, app)
		c.Set(endpointKey, ep)
		c.Set(operationalKey, true)
		h(c)
	}
}

// listOperationalEndpoints lists them newest first, like an application's
// endpoints; an organisation that never had one gets an empty list.
func (s *Server) listOperationalEndpoints(c *gin.Context) {
	app, err := s.cfg.Store.OperationalApp(c.Request.Context(), principal(c).OrgID, false)
	if webhook.ErrorCode(err) != webhook.ENOTFOUND {
		if err != nil {
			fail(c, err)
			return
		}
		c.Set(appKey, app)
		s.listEndpoints(c)
		return
	}
	opt, err := listOptions(c, false, validIDCursor(webhook.PrefixEndpoint))
	if err != nil {
		fail(c, err)
		return
	}
	empty := webhook.Page[webhook.Endpoint]{}
	c.PureJSON(http.StatusOK, newList(empty, opt, endpointOutOf, func(ep *webhook.Endpoint) string { return ep.ID }))
}

// isOperational reports whether the request is about an operational-webhook endpoint.
func isOperational(c *gin.Context) bool { return c.GetBool(operationalKey) }

// emitTimeout bounds emitting an operational event after a change is stored.
const emitTimeout = 5 * time.Second

// endpointChanged is called once a change of ep (eventType: endpoint.created,
// .updated or .deleted) is stored. For an application's endpoint it emits
// the operational event; a failure is logged, never the request's: the
// change is made. For an operational-webhook endpoint it tells Events.
func (s *Server) endpointChanged(c *gin.Context, eventType string, ep *webhook.Endpoint) {
	if s.cfg.Publisher != nil {
		// The next publish to the application reads its filters afresh.
		s.cfg.Publisher.Forget("", ep.AppID)
	}
	if s.cfg.Events == nil {
		return
	}
	if isOperational(c) {
		s.cfg.Events.Invalidate(ep.OrgID)
		return
	}
	app := pathApp(c)
	ev := webhook.OperationalEvent{
		Type:      eventType,
		Timestamp: s.cfg.Now().UTC(),
		Data:      webhook.EndpointEventData{AppID: app.ID, AppUID: app.UID, EndpointID: ep.ID, EndpointUID: ep.UID},
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), emitTimeout)
	defer cancel()
	if err := s.cfg.Events.Emit(ctx, ep.OrgID, ev); err != nil {
		s.cfg.Logger.WarnContext(ctx, "emitting operational event failed",
			slog.String("event_type", eventType), slog.String("endpoint_id", ep.ID), slog.String("error", err.Error()))
	}
}
