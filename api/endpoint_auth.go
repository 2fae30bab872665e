package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/egress"
	"github.com/hookd/hookd/pkg/oauth"
	"github.com/hookd/hookd/pkg/webhook"
)

// Endpoint authentication, in the shapes of Svix's hosted API: mTLS
// (EndpointMtlsConfigIn/Out, EndpointMtlsOut) and OAuth2
// (EndpointOauthConfigIn/Out, EndpointOauthOut). The secrets they hold are
// stored sealed and never shown.

// mtlsIn is EndpointMtlsConfigIn with the hookd extension serverCaCert.
type mtlsIn struct {
	Identity     Opt[string] `json:"identity"`
	ServerCACert Opt[string] `json:"serverCaCert"`
}

// mtlsConfigOut is EndpointMtlsConfigOut, an empty object in Svix's
// schema, with the hookd extension serverCaCert (certificates are public;
// the identity, which holds a private key, is never shown).
type mtlsConfigOut struct {
	ServerCACert *string `json:"serverCaCert"`
}

// mtlsOut is EndpointMtlsOut.
type mtlsOut struct {
	Enabled bool           `json:"enabled"`
	Config  *mtlsConfigOut `json:"config"`
}

func mtlsConfigOutOf(m *webhook.EndpointMTLS) *mtlsConfigOut {
	out := &mtlsConfigOut{}
	if m.ServerCACert != "" {
		ca := m.ServerCACert
		out.ServerCACert = &ca
	}
	return out
}

// getMTLS (GET .../mtls) answers the configuration, 404 when there is none.
func (s *Server) getMTLS(c *gin.Context) {
	ep := pathEndpoint(c)
	if ep.MTLS == nil {
		fail(c, webhook.Errorf(webhook.ENOTFOUND, "the endpoint has no mTLS configuration"))
		return
	}
	c.PureJSON(http.StatusOK, mtlsConfigOutOf(ep.MTLS))
}

// getMTLSConfig (GET .../mtls-config) answers whether mTLS is configured,
// and how.
func (s *Server) getMTLSConfig(c *gin.Context) {
	out := mtlsOut{}
	if m := pathEndpoint(c).MTLS; m != nil {
		out.Enabled, out.Config = true, mtlsConfigOutOf(m)
	}
	c.PureJSON(http.StatusOK, out)
}

// putMTLS (PUT .../mtls) replaces the configuration. identity is required
// unless serverCaCert is given; both are checked as deliveries will use
// them. 204.
func (s *Server) putMTLS(c *gin.Context) {
	var in mtlsIn
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	cfg := webhook.EndpointMTLS{Identity: in.Identity.V, ServerCACert: in.ServerCACert.V}
	v := &webhook.ValidationError{}
	required(v, strings.TrimSpace(cfg.Identity) != "" || strings.TrimSpace(cfg.ServerCACert) != "", "body", "identity")
	if strings.TrimSpace(cfg.Identity) != "" {
		if _, err := egress.ParseTLSOptions(cfg.Identity, ""); err != nil {
			v.Add(tlsMessage(err), "body", "identity")
		}
	}
	if strings.TrimSpace(cfg.ServerCACert) != "" {
		if _, err := egress.ParseTLSOptions("", cfg.ServerCACert); err != nil {
			v.Add(tlsMessage(err), "body", "serverCaCert")
		}
	}
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	s.saveAuth(c, func(ep *webhook.Endpoint) { ep.MTLS = &cfg })
}

// tlsMessage is the part of a TLS options error that a 422 shows.
func tlsMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), egress.ErrInvalidTLSOptions.Error()+": ")
	msg = strings.TrimPrefix(msg, "mTLS identity: ")
	return strings.TrimPrefix(msg, "serverCaCert: ")
}

// deleteMTLS (DELETE .../mtls) removes the configuration. 204.
func (s *Server) deleteMTLS(c *gin.Context) {
	s.saveAuth(c, func(ep *webhook.Endpoint) { ep.MTLS = nil })
}

// oauthIn is EndpointOauthConfigIn.
type oauthIn struct {
	GrantType    *string           `json:"grantType"`
	AuthMethod   *string           `json:"authMethod"`
	JWTParams    *jwtParamsIn      `json:"jwtParams"`
	ClientID     *string           `json:"clientId"`
	ClientSecret *string           `json:"clientSecret"`
	TokenURL     *string           `json:"tokenUrl"`
	Scopes       []string          `json:"scopes"`
	ExtraParams  map[string]string `json:"extraParams"`
	RefreshToken *string           `json:"refreshToken"`
	ExtraHeaders map[string]string `json:"extraHeaders"`
}

// jwtParamsIn is ClientSecretJwtParamsIn.
type jwtParamsIn struct {
	SecretBase64     *string `json:"secretBase64"`
	SigningAlgorithm *string `json:"signingAlgorithm"`
	SecretID         *string `json:"secretId"`
	TokenExpirySecs  *int64  `json:"tokenExpirySecs"`
}

// oauthConfigOut is EndpointOauthConfigOut: no client secret, refresh token
// or JWT key, as in Svix's API.
type oauthConfigOut struct {
	GrantType    string            `json:"grantType"`
	AuthMethod   string            `json:"authMethod"`
	ClientID     string            `json:"clientId"`
	TokenURL     string            `json:"tokenUrl"`
	Scopes       []string          `json:"scopes"`
	ExtraParams  map[string]string `json:"extraParams"`
	ExtraHeaders map[string]string `json:"extraHeaders"`
}

// oauthOut is EndpointOauthOut.
type oauthOut struct {
	Enabled bool            `json:"enabled"`
	Config  *oauthConfigOut `json:"config"`
}

func oauthConfigOutOf(o *webhook.EndpointOAuth) *oauthConfigOut {
	return &oauthConfigOut{
		GrantType: o.GrantType, AuthMethod: o.AuthMethod, ClientID: o.ClientID,
		TokenURL: egress.MaskUserinfo(o.TokenURL), Scopes: o.Scopes,
		ExtraParams: o.ExtraParams, ExtraHeaders: o.ExtraHeaders,
	}
}

// oauthOf checks in and returns the configuration it describes. The
// token URL follows the rules of endpoint URLs (https only when they must
// be).
func (s *Server) oauthOf(in *oauthIn) (*webhook.EndpointOAuth, error) {
	v := &webhook.ValidationError{}
	required(v, in.GrantType != nil, "body", "grantType")
	required(v, in.AuthMethod != nil, "body", "authMethod")
	required(v, in.ClientID != nil, "body", "clientId")
	required(v, in.TokenURL != nil, "body", "tokenUrl")
	if j := in.JWTParams; j != nil {
		required(v, j.SecretBase64 != nil, "body", "jwtParams", "secretBase64")
		required(v, j.SigningAlgorithm != nil, "body", "jwtParams", "signingAlgorithm")
		if j.TokenExpirySecs != nil && *j.TokenExpirySecs < 0 {
			v.Add("must be at least 0", "body", "jwtParams", "tokenExpirySecs")
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if msg := webhook.CheckEndpointURL(*in.TokenURL, s.cfg.HTTPSOnly); msg != "" {
		return nil, webhook.Invalid(msg, "body", "tokenUrl")
	}
	o := &webhook.EndpointOAuth{
		GrantType: *in.GrantType, AuthMethod: *in.AuthMethod, ClientID: *in.ClientID,
		ClientSecret: deref(in.ClientSecret), TokenURL: *in.TokenURL, Scopes: in.Scopes,
		ExtraParams: in.ExtraParams, ExtraHeaders: in.ExtraHeaders, RefreshToken: deref(in.RefreshToken),
	}
	if j := in.JWTParams; j != nil {
		o.JWT = &webhook.EndpointOAuthJWT{
			SecretBase64: *j.SecretBase64, SigningAlgorithm: *j.SigningAlgorithm, SecretID: deref(j.SecretID),
		}
		if j.TokenExpirySecs != nil {
			o.JWT.TokenExpirySecs = *j.TokenExpirySecs
		}
	}
	if err := oauth.ConfigOf(o).Validate(); err != nil {
		var fe *oauth.FieldError
		if errors.As(err, &fe) {
			return nil, webhook.Invalid(fe.Message, append([]string{"body"}, strings.Split(fe.Field, ".")...)...)
		}
		return nil, webhook.Invalid(err.Error(), "body")
	}
	return o, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// getOAuth (GET .../oauth) answers the configuration without its secrets,
// 404 when there is none.
func (s *Server) getOAuth(c *gin.Context) {
	ep := pathEndpoint(c)
	if ep.OAuth == nil {
		fail(c, webhook.Errorf(webhook.ENOTFOUND, "the endpoint has no OAuth configuration"))
		return
	}
	c.PureJSON(http.StatusOK, oauthConfigOutOf(ep.OAuth))
}

// getOAuthConfig (GET .../oauth-config) answers whether OAuth is
// configured, and how.
func (s *Server) getOAuthConfig(c *gin.Context) {
	out := oauthOut{}
	if o := pathEndpoint(c).OAuth; o != nil {
		out.Enabled, out.Config = true, oauthConfigOutOf(o)
	}
	c.PureJSON(http.StatusOK, out)
}

// putOAuth (PUT .../oauth) replaces the configuration, secrets included:
// the next delivery fetches a token with it. 204.
func (s *Server) putOAuth(c *gin.Context) {
	var in oauthIn
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	cfg, err := s.oauthOf(&in)
	if err != nil {
		fail(c, err)
		return
	}
	s.saveAuth(c, func(ep *webhook.Endpoint) { ep.OAuth = cfg })
}

// deleteOAuth (DELETE .../oauth) removes the configuration. 204.
func (s *Server) deleteOAuth(c *gin.Context) {
	s.saveAuth(c, func(ep *webhook.Endpoint) { ep.OAuth = nil })
}

// saveAuth applies change to the path's endpoint under its row lock and
// answers 204.
func (s *Server) saveAuth(c *gin.Context, change func(*webhook.Endpoint)) {
	err := s.cfg.Store.UpdateEndpoint(c.Request.Context(), pathEndpoint(c), func(ep *webhook.Endpoint) error {
		change(ep)
		return nil
	})
	if err != nil {
		fail(c, err)
		return
	}
	s.endpointChanged(c, webhook.EventEndpointUpdated, pathEndpoint(c))
	noContent(c)
}
