package oauth

import (
	"context"
	"fmt"
	"net/http"
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
}

// NewEndpoints returns Endpoints whose token requests and deliveries go
// through doer (the egress client deliveries use). cfg.OnRefreshToken is
// called with the endpoint's id as key: it should store the rotated
// refresh token (see Options.OnRefreshToken).
func NewEndpoints(doer Doer, cfg PoolConfig) *Endpoints {
	return &Endpoints{pool: NewPool(doer, cfg)}
}

// SendWithToken implements delivery.TokenSender: req goes to ep with ep's
// bearer token (Source.Do), with opts (e.g. the endpoint's TLS options).
// An endpoint without OAuth configuration, or with one that does not
// validate, fails without sending anything.
func (e *Endpoints) SendWithToken(ctx context.Context, ep *webhook.Endpoint, req *http.Request, opts ...egress.Option) (*egress.Response, error) {
	if ep.OAuth == nil {
		return nil, fmt.Errorf("oauth: endpoint %s has no OAuth configuration", ep.ID)
	}
	src, err := e.pool.Source(ep.ID, ConfigOf(ep.OAuth))
	if err != nil {
		return nil, fmt.Errorf("oauth: endpoint %s: %w", ep.ID, err)
	}
	return src.Do(ctx, req, opts...)
}
