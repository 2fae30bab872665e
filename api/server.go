package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/filter"
	"github.com/hookd/hookd/pkg/jsonschema"
	"github.com/hookd/hookd/pkg/signature"
	"github.com/hookd/hookd/pkg/transform"
	"github.com/hookd/hookd/pkg/ttlcache"
	"github.com/hookd/hookd/pkg/webhook"
)

// Store is everything the API reads and writes.
type Store interface {
	webhook.AppStore
	webhook.EndpointStore
	webhook.EventTypeStore
	webhook.KeyStore
	webhook.IdempotencyStore
	webhook.MessageStore
	webhook.OperationalStore
	webhook.PublishedEndpointStore
	webhook.BackgroundTaskStore
	webhook.BulkStore
	webhook.HealthStore
}

// Checker is a dependency the health endpoint checks (Postgres, Redis).
type Checker struct {
	Name  string
	Check func(context.Context) error
}

// Config configures the API. Zero values of optional fields are noted.
type Config struct {
	Store Store
	// Checks are run by GET /api/v1/health; none means always healthy.
	Checks []Checker
	// IsUnavailable reports whether an unexpected error of the Store means
	// that a dependency cannot be reached right now (postgres.IsUnavailable):
	// the request is then answered 503 with Retry-After, not 500. Nil: no
	// error is.
	IsUnavailable func(error) bool
	// MaxBodyBytes caps request bodies; 0 means 1 MiB.
	MaxBodyBytes int64
	// HTTPSOnly refuses http:// endpoint URLs.
	HTTPSOnly bool
	// Publisher publishes messages (publish, send-example); required.
	Publisher *delivery.Publisher
	// Replayer resends messages and recovers endpoints; required.
	Replayer *delivery.Replayer
	// Events receives endpoint.created, .updated and .deleted about
	// applications' endpoints and is told when operational-webhook
	// endpoints change; nil: no operational events are sent.
	Events Emitter
	// RetentionPeriod is how long payloads are kept; recover refuses to
	// reach further back. 0 means 90 days.
	RetentionPeriod time.Duration
	// SignatureType is the type of the keys generated for endpoints that
	// ask for none (HOOKD_DEFAULT_SIGNATURE_TYPE); "" means HMAC.
	SignatureType signature.Type
	// PublishPublicKeys serves the Ed25519 public keys of endpoints without
	// authentication at /.well-known/webhook-keys/{app_id}/{endpoint_id}
	// (HOOKD_PUBLISH_PUBLIC_KEYS); false answers 404 there.
	PublishPublicKeys bool
	// Verification is how endpoints prove control of their URL
	// (HOOKD_ENDPOINT_VERIFICATION); "" means off.
	Verification webhook.VerificationMode
	// Schemas checks event types' JSON Schemas; nil means a
	// jsonschema.Validator of this server's own.
	Schemas webhook.SchemaValidator
	// Filters compiles endpoints' payload filters; nil means a filter.Env
	// of this server's own, with the default limits.
	Filters *filter.Env
	// Transforms compiles and simulates transformations; nil means a
	// transform.Engine of this server's own, with the default limits.
	Transforms *transform.Engine
	// PortalTokenTTL is how long app-portal tokens last by default; 0 means 7 days.
	PortalTokenTTL time.Duration
	// PublicURL is the base URL browsers reach hookd at, for portal links;
	// "" uses the request's host.
	PublicURL string
	// Web serves every GET and HEAD request outside /api/ (the console and
	// the app portal, see package web); nil means no UI: such requests get
	// the JSON 404 like any unknown route.
	Web http.Handler
	// Logger receives one line per request; nil: nothing is logged.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Metrics is told about every request and published message; nil: nobody.
	Metrics Metrics
	// Tracer records a span per API request, continuing the caller's
	// traceparent (see traceRequests); nil: nothing is traced.
	Tracer delivery.Tracer
	// MetricsHandler serves GET /metrics (no API key needed); nil: no such route.
	MetricsHandler http.Handler
	// MetricsToken, when set, is the bearer token GET /metrics requires.
	MetricsToken string
	// RateLimit is how many requests per second one API key (or portal
	// token) may send; over it, 429 with Retry-After. 0 means no limit.
	RateLimit float64
	// RateBurst is how many requests a key may send at once above
	// RateLimit; 0 means twice RateLimit.
	RateBurst int
	// TrustedProxies are the addresses of the reverse proxies in front of
	// hookd, whose X-Forwarded-For header names the client; the client
	// address slows down repeated failed authentications. Nil: the
	// connection's peer is the client, and X-Forwarded-For is ignored.
	TrustedProxies []netip.Prefix
}

// Server serves the management API.
type Server struct {
	cfg     Config
	keySets *ttlcache.Cache[[2]string, []byte] // published key sets, nil for none
	auth    *authenticator
	limit   *rateLimiter                                    // nil: no rate limit
	apps    *ttlcache.Cache[[2]string, webhook.Application] // publishing's lookups by (org, id or uid)
	engine  *gin.Engine

	filters    *filter.Env
	transforms *transform.Engine
}

// New builds the API's routes.
func New(cfg Config) *Server {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = slog.New(LogHandler(cfg.Logger.Handler()))
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PortalTokenTTL == 0 {
		cfg.PortalTokenTTL = maxPortalExpiry
	}
	if cfg.Schemas == nil {
		cfg.Schemas = jsonschema.New()
	}
	if cfg.RetentionPeriod == 0 {
		cfg.RetentionPeriod = webhook.DefaultRetentionDays * 24 * time.Hour
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{cfg: cfg, auth: newAuthenticator(cfg.Store, cfg.Now), engine: gin.New(),
		apps: ttlcache.New[[2]string, webhook.Application](appCacheTTL, appCacheSize), keySets: newKeySetCache()}
	s.limit = newRateLimiter(cfg.RateLimit, cfg.RateBurst, cfg.Now)
	s.filters, s.transforms = newShaping(&cfg)
	s.routes()
	return s
}

// ServeHTTP implements http.Handler. Repeated slashes count as one (an SDK
// given a base URL ending in "/" asks for //api/v1/...) and a trailing slash
// of an API path is ignored, without a redirect, so every API path answers
// with and without one.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; strings.Contains(p, "//") || (strings.HasPrefix(p, "/api/") && strings.HasSuffix(p, "/")) {
		for strings.Contains(p, "//") {
			p = strings.ReplaceAll(p, "//", "/")
		}
		if strings.HasPrefix(p, "/api/") {
			p = strings.TrimSuffix(p, "/")
		}
		r.URL.Path, r.URL.RawPath = p, ""
	}
	s.engine.ServeHTTP(w, r)
}

func (s *Server) routes() {
	e := s.engine
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	proxies := []string{} // none: gin would trust every proxy by default
	for _, p := range s.cfg.TrustedProxies {
		if p.IsValid() {
			proxies = append(proxies, p.String())
		}
	}
	_ = e.SetTrustedProxies(proxies) // valid prefixes: it cannot fail
	e.Use(s.observeRequests, s.classifyErrors, gin.CustomRecovery(func(c *gin.Context, err any) {
		s.cfg.Logger.ErrorContext(c.Request.Context(), "panic serving request", slog.Any("panic", err))
		c.AbortWithStatusJSON(http.StatusInternalServerError, httpError{Code: webhook.EINTERNAL, Detail: "internal error"})
	}))
	if s.cfg.Tracer != nil {
		e.Use(s.traceRequests)
	}
	e.NoRoute(func(c *gin.Context) {
		if s.cfg.Web != nil && isWebRequest(c.Request) {
			s.cfg.Web.ServeHTTP(c.Writer, c.Request)
			return
		}
		fail(c, webhook.Errorf(webhook.ENOTFOUND, "no such route: %s %s", c.Request.Method, c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, httpError{Code: "method_not_allowed", Detail: "method not allowed on this route"})
	})

	v1 := e.Group("/api/v1")
	v1.GET("/health", s.health)
	v1.HEAD("/health", s.health)
	v1.GET("/health/ping", s.ping)
	v1.HEAD("/health/ping", s.ping)
	if s.cfg.MetricsHandler != nil {
		e.GET(metricsRoute, s.serveMetrics)
	}
	// Always routed, so that it answers 404 rather than the web UI when
	// publishing is off.
	e.GET(wellKnownKeysDir+"/:app_id/:endpoint_id", s.publishedKeys)
	e.HEAD(wellKnownKeysDir+"/:app_id/:endpoint_id", s.publishedKeys)

	authed := v1.Group("", s.auth.middleware)
	if s.limit != nil {
		authed.Use(s.limit.middleware)
	}
	authed.Use(checkInput, limitBody(s.cfg.MaxBodyBytes))

	// Routes that act on the organisation refuse app-portal tokens (403);
	// every route under /app/{app_id} answers 404 for another application.
	// Every POST handler is wrapped in idem, inside the authorisation.
	idem := s.idempotent
	authed.POST("/auth/app-portal-access/:app_id", orgOnly, idem(s.appPortalAccess))
	authed.POST("/auth/logout", idem(s.logout))

	authed.GET("/app", orgOnly, s.listApps)
	authed.POST("/app", orgOnly, idem(s.createApp))
	authed.GET("/app/:app_id", s.withApp(s.getApp))
	authed.PUT("/app/:app_id", orgOnly, s.putApp)
	authed.PATCH("/app/:app_id", orgOnly, s.withApp(s.patchApp))
	authed.DELETE("/app/:app_id", orgOnly, s.withApp(s.deleteApp))

	authed.GET("/event-type", s.listEventTypes)
	authed.POST("/event-type", orgOnly, idem(s.createEventType))
	authed.GET("/event-type/:event_type_name", s.getEventType)
	authed.PUT("/event-type/:event_type_name", orgOnly, s.putEventType)
	authed.PATCH("/event-type/:event_type_name", orgOnly, s.patchEventType)
	authed.DELETE("/event-type/:event_type_name", orgOnly, s.deleteEventType)
	authed.GET("/event-type/:event_type_name/retry-schedule", s.getRetrySchedule)
	authed.PUT("/event-type/:event_type_name/retry-schedule", orgOnly, s.putRetrySchedule)

	authed.GET("/app/:app_id/endpoint", s.withApp(s.listEndpoints))
	authed.POST("/app/:app_id/endpoint", s.withApp(idem(s.createEndpoint)))
	authed.GET("/app/:app_id/endpoint-health", s.withApp(s.listEndpointHealth))
	authed.GET("/app/:app_id/failing", s.withApp(s.listFailing))
	authed.GET("/app/:app_id/endpoint/:endpoint_id", s.withEndpoint(s.getEndpoint))
	authed.PUT("/app/:app_id/endpoint/:endpoint_id", s.withApp(s.putEndpoint))
	authed.PATCH("/app/:app_id/endpoint/:endpoint_id", s.withEndpoint(s.patchEndpoint))
	authed.DELETE("/app/:app_id/endpoint/:endpoint_id", s.withEndpoint(s.deleteEndpoint))
	authed.GET("/app/:app_id/endpoint/:endpoint_id/secret", s.withEndpoint(s.getSecret))
	authed.POST("/app/:app_id/endpoint/:endpoint_id/secret/rotate", s.withEndpoint(idem(s.rotateSecret)))
	authed.GET("/app/:app_id/endpoint/:endpoint_id/headers", s.withEndpoint(s.getHeaders))
	authed.PUT("/app/:app_id/endpoint/:endpoint_id/headers", s.withEndpoint(s.putHeaders))
	authed.PATCH("/app/:app_id/endpoint/:endpoint_id/headers", s.withEndpoint(s.patchHeaders))
	authed.GET("/app/:app_id/endpoint/:endpoint_id/stats", s.withEndpoint(s.endpointStats))
	authed.GET("/app/:app_id/endpoint/:endpoint_id/msg", s.withEndpoint(s.listEndpointMessages))
	authed.POST("/app/:app_id/endpoint/:endpoint_id/recover", s.withEndpoint(idem(s.recoverEndpoint)))
	authed.POST("/app/:app_id/endpoint/:endpoint_id/bulk-replay", s.withEndpoint(idem(s.bulkReplay)))
	authed.POST("/app/:app_id/endpoint/:endpoint_id/replay-missing", s.withEndpoint(idem(s.replayMissing)))
	authed.POST("/app/:app_id/endpoint/:endpoint_id/cancel-msgs", s.withEndpoint(idem(s.cancelMsgs)))
	authed.POST("/app/:app_id/endpoint/:endpoint_id/send-example", s.withEndpoint(idem(s.sendExample)))
	// Issue 14: keys, endpoint authentication, ownership verification.
	authed.GET("/app/:app_id/endpoint/:endpoint_id/public-key", s.withEndpoint(s.getPublicKey))
	authed.GET("/app/:app_id/endpoint/:endpoint_id/mtls", s.withEndpoint(s.getMTLS))
	authed.PUT("/app/:app_id/endpoint/:endpoint_id/mtls", s.withEndpoint(s.putMTLS))
	authed.DELETE("/app/:app_id/endpoint/:endpoint_id/mtls", s.withEndpoint(s.deleteMTLS))
	authed.GET("/app/:app_id/endpoint/:endpoint_id/mtls-config", s.withEndpoint(s.getMTLSConfig))
	authed.GET("/app/:app_id/endpoint/:endpoint_id/oauth", s.withEndpoint(s.getOAuth))
	authed.PUT("/app/:app_id/endpoint/:endpoint_id/oauth", s.withEndpoint(s.putOAuth))
	authed.DELETE("/app/:app_id/endpoint/:endpoint_id/oauth", s.withEndpoint(s.deleteOAuth))
	authed.GET("/app/:app_id/endpoint/:endpoint_id/oauth-config", s.withEndpoint(s.getOAuthConfig))
	authed.POST("/app/:app_id/endpoint/:endpoint_id/verify", s.withEndpoint(idem(s.verifyEndpoint)))
	// Issue 13: payload filters (hookd's) and transformations (Svix's shapes).
	authed.POST("/app/:app_id/endpoint/:endpoint_id/filter/test", s.withEndpoint(idem(s.testFilter)))
	authed.GET("/app/:app_id/endpoint/:endpoint_id/transformation", s.withEndpoint(s.getTransformation))
	authed.PATCH("/app/:app_id/endpoint/:endpoint_id/transformation", s.withEndpoint(s.patchTransformation))
	authed.POST("/app/:app_id/endpoint/:endpoint_id/transformation/simulate", s.withEndpoint(idem(s.simulateTransformation)))

	authed.GET("/app/:app_id/msg", s.withApp(s.listMessages))
	authed.POST("/app/:app_id/msg", orgOnly, idem(s.createMessage))
	authed.POST("/app/:app_id/msg/search", s.withApp(idem(s.searchMessages)))
	authed.POST("/msg/broadcast", orgOnly, idem(s.broadcast))
	authed.GET("/app/:app_id/msg/:msg_id", s.withMessage(s.getMessage))
	authed.DELETE("/app/:app_id/msg/:msg_id/content", s.withMessage(s.expungeMessage))
	authed.GET("/app/:app_id/msg/:msg_id/endpoint", s.withMessage(s.listMessageEndpoints))
	authed.POST("/app/:app_id/msg/:msg_id/endpoint/:endpoint_id/resend", s.withMessage(idem(s.resend)))
	authed.GET("/app/:app_id/msg/:msg_id/attempt/:attempt_id", s.withMessage(s.getAttempt))
	authed.DELETE("/app/:app_id/msg/:msg_id/attempt/:attempt_id/content", s.withMessage(s.expungeAttempt))
	authed.GET("/app/:app_id/attempt/endpoint/:endpoint_id", s.withApp(s.listAttempts))
	authed.GET("/app/:app_id/attempt/msg/:msg_id", s.withApp(s.listAttempts))

	authed.GET("/background-task", s.listBackgroundTasks)
	authed.GET("/background-task/:task_id", s.getBackgroundTask)

	s.operationalRoutes(authed)
}

// isWebRequest reports whether r is for the web UI: a GET or HEAD outside /api/.
func isWebRequest(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	p := r.URL.Path
	return p != "/api" && !strings.HasPrefix(p, "/api/")
}

// healthCheckTimeout bounds each dependency check of the health route, so
// that a dependency that hangs reads as down rather than hanging the probe.
const healthCheckTimeout = 3 * time.Second

// unhealthyBody is the health route's 503: the contract's error body, plus
// the names of the dependencies that are down.
type unhealthyBody struct {
	httpError
	Unavailable []string `json:"unavailable"`
}

// health answers 204 when every check passes, and otherwise 503 with
// Retry-After naming every dependency that is down ("postgres", "redis").
// Why it is down is logged, not answered: the route needs no key.
func (s *Server) health(c *gin.Context) {
	var down []string
	for _, chk := range s.cfg.Checks {
		ctx, cancel := context.WithTimeout(c.Request.Context(), healthCheckTimeout)
		err := chk.Check(ctx)
		cancel()
		if err != nil {
			s.cfg.Logger.WarnContext(c.Request.Context(), "health check failed",
				slog.String("dependency", chk.Name), slog.String("error", err.Error()))
			down = append(down, chk.Name)
		}
	}
	if len(down) == 0 {
		c.Status(http.StatusNoContent)
		return
	}
	c.Header("Retry-After", retryAfterUnavailable)
	c.AbortWithStatusJSON(http.StatusServiceUnavailable, unhealthyBody{
		httpError:   httpError{Code: "unhealthy", Detail: unavailableDetail(down)},
		Unavailable: down,
	})
}

// unavailableDetail says which dependencies are down, in words.
func unavailableDetail(down []string) string {
	if len(down) == 1 {
		return down[0] + " is unavailable"
	}
	return strings.Join(down[:len(down)-1], ", ") + " and " + down[len(down)-1] + " are unavailable"
}

func (s *Server) ping(c *gin.Context) { c.Status(http.StatusNoContent) }

// noContent answers 204.
func noContent(c *gin.Context) { c.Status(http.StatusNoContent) }

// Route is a method and path the API serves; path parameters are written
// as gin writes them (":app_id").
type Route struct {
	Method string
	Path   string
}

// Routes lists every route the API serves, for documentation (the SDK
// coverage list in docs/api.md is generated from it) and tests.
func (s *Server) Routes() []Route {
	var out []Route
	for _, r := range s.engine.Routes() {
		out = append(out, Route{Method: r.Method, Path: r.Path})
	}
	return out
}
