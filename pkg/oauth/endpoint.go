package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/hookd/hookd/pkg/egress"
	"github.com/hookd/hookd/pkg/webhook"
)

// ConfigOf returns the Config of an endpoint's OAuth configuration, as the
// API stores it.
func ConfigOf(o *webhook.EndpointOAuth) Config {
	c := Config{
		GrantType:    GrantType(o.GrantType),
		AuthMethod:   AuthMethod(o.AuthMethod),
		ClientID:     o.ClientID,
		ClientSecret: o.ClientSecret,
		TokenURL:     o.TokenURL,
		Scopes:       o.Scopes,
		ExtraParams:  o.ExtraParams,
		ExtraHeaders: o.ExtraHeaders,
		RefreshToken: o.RefreshToken,
	}
	if j := o.JWT; j != nil {
		c.JWT = &JWTParams{
			SecretBase64:     j.SecretBase64,
			SigningAlgorithm: j.SigningAlgorithm,
			SecretID:         j.SecretID,
			TokenExpiry:      time.Duration(j.TokenExpirySecs) * time.Second,
		}
	}
	return c
}

// Endpoints sends the deliveries of endpoints that authenticate with
// OAuth2: it implements delivery.TokenSender with a Pool, so that all the
// attempts to one endpoint in a process share its token.
type Endpoints struct {
	pool *Pool
	doer Doer
}

// NewEndpoints returns Endpoints whose token requests and deliveries go
// through doer (the egress client deliveries use). cfg.OnRefreshToken is
// called with the endpoint's id as key: it should store the rotated
// refresh token (see Options.OnRefreshToken).
func NewEndpoints(doer Doer, cfg PoolConfig) *Endpoints {
	return &Endpoints{pool: NewPool(doer, cfg), doer: doer}
}

// SendWithToken implements delivery.TokenSender: req goes to ep with ep's
// bearer token (Source.Do), with opts (e.g. the endpoint's TLS options).
// When no token can be had (the authorization server refuses, cannot be
// reached, or the endpoint's configuration does not validate), nothing is
// sent and the error is a *TokenFailure.
func (e *Endpoints) SendWithToken(ctx context.Context, ep *webhook.Endpoint, req *http.Request, opts ...egress.Option) (*egress.Response, error) {
	if ep.OAuth == nil {
		return nil, &TokenFailure{Reason: "oauth: the endpoint has no OAuth configuration"}
	}
	src, err := e.pool.Source(ep.ID, ConfigOf(ep.OAuth))
	if err != nil {
		var fe *FieldError
		reason := "oauth: the endpoint's OAuth configuration is invalid"
		if errors.As(err, &fe) {
			reason += ": " + fe.Field + " " + fe.Message
		}
		return nil, &TokenFailure{Reason: reason, Err: err}
	}
	res, err := src.Do(ctx, req, opts...)
	var noToken *NoTokenError
	if errors.As(err, &noToken) {
		return nil, &TokenFailure{Reason: e.reasonOf(noToken.Err), Err: err}
	}
	return res, err
}

// TokenFailure is the error of Endpoints.SendWithToken when no token could
// be had: nothing was sent to the endpoint. Reason is what the attempt
// records, a stable sentence without secrets or the authorization
// server's own words (its error code only when it is a plain RFC 6749
// code); Err, for the operator's log, says more.
type TokenFailure struct {
	Reason string
	Err    error
}

func (f *TokenFailure) Error() string {
	if f.Err == nil {
		return f.Reason
	}
	return f.Err.Error()
}

func (f *TokenFailure) Unwrap() error { return f.Err }

// AttemptReason is Reason (delivery records it for the attempt).
func (f *TokenFailure) AttemptReason() string { return f.Reason }

// reasonOf returns the reason of Token's error err: the authorization
// server's status and error code, or why the token request failed, in the
// egress client's words when it has them.
func (e *Endpoints) reasonOf(err error) string {
	var te *TokenError
	if errors.As(err, &te) {
		reason := fmt.Sprintf("oauth: token endpoint answered %d", te.StatusCode)
		if plainCode.MatchString(te.Code) {
			reason += " " + te.Code
		}
		return reason
	}
	detail := "the token request failed"
	if r, ok := e.doer.(interface{ Reason(error) string }); ok {
		detail = "the token request failed: " + r.Reason(err)
	}
	return "oauth: no token: " + detail
}

// plainCode matches the error codes of RFC 6749 and its extensions
// (invalid_client, invalid_grant, ...).
var plainCode = regexp.MustCompile(`^[a-z][a-z_]{0,63}$`)
