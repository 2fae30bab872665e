package api

import (
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/webhook"
)

// Portal token lifetimes: the contract allows 1 hour to 7 days.
const (
	minPortalExpiry = time.Hour
	maxPortalExpiry = 7 * 24 * time.Hour
)

// appPortalAccessIn is the contract's AppPortalAccessIn; capabilities,
// readOnly and sessionId are accepted and ignored.
type appPortalAccessIn struct {
	Application *applicationIn `json:"application"`
	Expiry      Opt[int64]     `json:"expiry"`
	// FeatureFlags gate which event types the token sees.
	FeatureFlags Opt[[]string] `json:"featureFlags"`
}

type appPortalAccessOut struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// appPortalAccess issues a token scoped to one application (created first
// when the path names none and the body carries "application") and the URL
// of the portal that uses it. The token travels in the URL's fragment, which
// browsers never send to servers or in Referer headers.
func (s *Server) appPortalAccess(c *gin.Context) {
	var in appPortalAccessIn
	if c.Request.ContentLength != 0 {
		if err := bind(c, &in); err != nil {
			fail(c, err)
			return
		}
	}
	ttl := s.cfg.PortalTokenTTL
	if in.Expiry.Set && !in.Expiry.Null {
		if in.Expiry.V < int64(minPortalExpiry/time.Second) || in.Expiry.V > int64(maxPortalExpiry/time.Second) {
			fail(c, webhook.Invalid("must be between 3600 and 604800 seconds", "body", "expiry"))
			return
		}
		ttl = time.Duration(in.Expiry.V) * time.Second
	}
	var flags []string
	if f := in.FeatureFlags; f.Set && !f.Null {
		v := &webhook.ValidationError{}
		webhook.CheckFeatureFlags(v, f.V, "body", "featureFlags")
		if err := v.Err(); err != nil {
			fail(c, err)
			return
		}
		flags = f.V
	}
	app, err := s.findOrCreateApp(c, in.Application, false)
	if err != nil {
		fail(c, err)
		return
	}
	token, pt := webhook.NewPortalToken(app.OrgID, app.ID, s.cfg.Now().Add(ttl))
	pt.FeatureFlags = flags
	if err := s.cfg.Store.CreatePortalToken(c.Request.Context(), pt); err != nil {
		fail(c, err)
		return
	}
	fragment := url.Values{"token": {token}, "app": {app.ID}}.Encode()
	c.PureJSON(http.StatusOK, appPortalAccessOut{URL: s.publicURL(c) + "/portal/#" + fragment, Token: token})
}

// publicURL is where browsers reach hookd: PublicURL, or the request's host.
func (s *Server) publicURL(c *gin.Context) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host
}

// logout revokes the app-portal token the request carries; it answers 204
// and the token gets 401 from then on. API keys cannot log out (403).
func (s *Server) logout(c *gin.Context) {
	if principal(c).AppID == "" {
		fail(c, webhook.Errorf(webhook.EFORBIDDEN, "only app-portal tokens can log out"))
		return
	}
	if err := s.cfg.Store.RevokePortalToken(c.Request.Context(), webhook.HashToken(token(c))); err != nil {
		fail(c, err)
		return
	}
	noContent(c)
}
