package delivery

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/hookd/hookd/pkg/egress"
	"github.com/hookd/hookd/pkg/webhook"
)

// Endpoint authentication: an endpoint's deliveries may present a client
// certificate and trust a private CA (webhook.EndpointMTLS), carry an
// OAuth2 bearer token (webhook.EndpointOAuth, through a TokenSender), and
// send the credentials of their URL as Basic authorization (package egress
// does that for every request).

// TokenSender sends the requests of endpoints that authenticate with
// OAuth2. It is implemented outside this package (oauth.Endpoints, wired in
// cmd/hookd), since OAuth2 clients are not standard library.
type TokenSender interface {
	// SendWithToken sends req, with ep's access token as "Authorization:
	// Bearer", through the same egress client as the Attempter's Sender
	// (guard, proxy, limits) with opts. The token is fetched when none is
	// cached; when the receiver answers 401, it is fetched again and req
	// is sent once more. A failure to get a token sends nothing to ep; its
	// error has an AttemptReason method that says why, for the attempt's
	// record (e.g. "oauth: token endpoint answered 400 invalid_client").
	// Other errors are the egress client's.
	SendWithToken(ctx context.Context, ep *webhook.Endpoint, req *http.Request, opts ...egress.Option) (*egress.Response, error)
}

// errNoTokenSender fails attempts to OAuth endpoints in an Attempter
// without a TokenSender.
var errNoTokenSender = &failure{reason: "oauth: this worker has no OAuth2 client configured"}

// reasoned is a failure that gives its own reason for the attempt's record:
// failures of endpoint authentication and verification, which the Sender's
// Reason does not know. The reason is a stable sentence of hookd's, with
// nothing the receiver chose.
type reasoned interface {
	AttemptReason() string
}

// failure is a failure of this package, recorded as reason.
type failure struct {
	reason string
	err    error // the cause, for the operator's log; nil: reason says all
}

func (f *failure) Error() string {
	if f.err == nil {
		return f.reason
	}
	return f.reason + ": " + f.err.Error()
}

func (f *failure) Unwrap() error { return f.err }

// AttemptReason implements reasoned.
func (f *failure) AttemptReason() string { return f.reason }

// reason is what a failed attempt records for err: its own reason when it
// has one, else the Sender's.
func (a *Attempter) reason(err error) string {
	var r reasoned
	if errors.As(err, &r) {
		return r.AttemptReason()
	}
	return a.Send.Reason(err)
}

// sendAs sends req to ep with ep's authentication: its TLS options, and
// its OAuth2 token when it has an OAuth configuration.
func (a *Attempter) sendAs(ctx context.Context, ep *webhook.Endpoint, req *http.Request) (*egress.Response, error) {
	var opts []egress.Option
	if ep.MTLS != nil {
		o, err := a.tls.options(ep)
		if err != nil {
			return nil, err
		}
		opts = append(opts, egress.WithTLS(o))
	}
	if ep.OAuth != nil {
		if a.OAuth == nil {
			return nil, errNoTokenSender
		}
		return a.OAuth.SendWithToken(ctx, ep, req, opts...)
	}
	return a.Send.DoWith(ctx, req, opts...)
}

// maxTLSEntries bounds the endpoints whose parsed TLS options are kept.
const maxTLSEntries = 10000

// tlsCache keeps each endpoint's parsed TLS options, so that its PEM is
// parsed once per configuration rather than once per attempt. The zero
// value is ready to use.
type tlsCache struct {
	mu      sync.Mutex
	entries map[string]tlsEntry // by endpoint id
}

type tlsEntry struct {
	cfg  webhook.EndpointMTLS
	opts *egress.TLSOptions
}

// options returns the TLS options of ep's MTLS configuration. Its errors
// never contain key material.
func (c *tlsCache) options(ep *webhook.Endpoint) (*egress.TLSOptions, error) {
	c.mu.Lock()
	e, ok := c.entries[ep.ID]
	c.mu.Unlock()
	if ok && e.cfg == *ep.MTLS {
		return e.opts, nil
	}
	opts, err := egress.ParseTLSOptions(ep.MTLS.Identity, ep.MTLS.ServerCACert)
	if err != nil {
		// The message is the parser's own, and never holds key material.
		return nil, &failure{reason: "mTLS configuration unusable: " +
			strings.TrimPrefix(err.Error(), egress.ErrInvalidTLSOptions.Error()+": ")}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxTLSEntries {
		c.entries = map[string]tlsEntry{}
	}
	c.entries[ep.ID] = tlsEntry{cfg: *ep.MTLS, opts: opts}
	return opts, nil
}
