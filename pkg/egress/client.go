package egress

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

const (
	// maxIdleConns caps the kept-alive connections of one pool, all
	// receivers together (at least Config.MaxIdleConnsPerHost).
	maxIdleConns    = 1024
	idleConnTimeout = 90 * time.Second
	// maxResponseHeaderBytes bounds response headers (net/http's default
	// is 1 MiB); they are kept with the attempt.
	maxResponseHeaderBytes = 64 << 10
	// maxDrainBytes is how much of a body beyond MaxResponseBytes is read
	// and discarded to keep the connection; larger bodies close it.
	maxDrainBytes = 64 << 10
)

// ErrTimeout is wrapped by the errors of Do when a time limit ran out:
// Config.Timeout, one of the per-phase limits, or the caller's deadline.
var ErrTimeout = errors.New("timed out")

// Response is what came back from an endpoint.
type Response struct {
	StatusCode int
	Header     http.Header
	// Body holds at most Config.MaxResponseBytes of the decompressed body.
	Body []byte
	// Truncated reports that the body was longer than Body.
	Truncated bool
	// Duration runs from the start of Do, connecting included, to the end
	// of reading Body.
	Duration time.Duration
}

// Client sends requests to endpoints. It is safe for concurrent use, and
// one Client should serve all deliveries so that connections are reused.
type Client struct {
	cfg       Config // with defaults
	dialer    *dialer
	transport *http.Transport // for requests without TLS options
	timeout   time.Duration
	maxBody   int64
	userAgent string

	// tlsMu guards tlsTransports, and makes creating a transport for new
	// TLS options atomic, so that concurrent first requests share one pool.
	tlsMu         sync.Mutex
	tlsTransports *transportCache
}

// New returns a Client for cfg (see Config for the meaning of zero fields).
func New(cfg Config) *Client {
	cfg = cfg.withDefaults()
	c := &Client{
		cfg:       cfg,
		dialer:    newDialer(cfg, NewGuard(cfg.AllowedSubnets)),
		timeout:   cfg.Timeout,
		maxBody:   cfg.MaxResponseBytes,
		userAgent: cfg.UserAgent,
	}
	c.transport = c.newTransport(&tls.Config{MinVersion: tls.VersionTLS12}, cfg.MaxIdleConnsPerHost)
	c.tlsTransports = newTransportCache(cfg.MaxTLSTransports)
	return c
}

// newTransport returns a transport that dials through c.dialer (guard and
// proxy) with the given TLS configuration.
func (c *Client) newTransport(tlsConfig *tls.Config, idlePerHost int) *http.Transport {
	return &http.Transport{
		Proxy:                  nil, // never from the environment: the guard must see the real peer
		DialContext:            c.dialer.DialContext,
		ForceAttemptHTTP2:      true, // a custom DialContext turns HTTP/2 off unless asked for
		TLSClientConfig:        tlsConfig,
		TLSHandshakeTimeout:    c.cfg.TLSHandshakeTimeout,
		ResponseHeaderTimeout:  c.cfg.ResponseHeaderTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxIdleConns:           max(maxIdleConns, idlePerHost),
		MaxIdleConnsPerHost:    idlePerHost,
		IdleConnTimeout:        idleConnTimeout,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
	}
}

// Option changes how DoWith sends one request.
type Option func(*requestOptions)

type requestOptions struct {
	tls *TLSOptions
}

// WithTLS sends the request with the endpoint's TLS options: its client
// certificate and its server CAs. Requests with equal options share a
// connection pool of their own (at most Config.MaxTLSTransports such pools
// are kept); nil options use the shared pool. Every pool dials through the
// same guard and proxy.
func WithTLS(o *TLSOptions) Option {
	return func(r *requestOptions) { r.tls = o }
}

// Do sends req (which it does not modify) within Config.Timeout and reads
// the response as Response describes. Any status code, 3xx included, is a
// Response and not an error. The User-Agent header defaults to
// Config.UserAgent, and gzip is asked for and decoded unless req sets
// Accept-Encoding. Credentials in the URL ("https://user:password@host/")
// are sent as an "Authorization: Basic" header, unless req sets
// Authorization itself, and never in the request line.
//
// Errors:
//   - a *BlockedAddressError, unwrapped, when the guard refused the address
//     dialled (for a host with several addresses that all failed, the
//     error of the first one tried);
//   - an error wrapping ErrTimeout when a time limit ran out;
//   - otherwise an error "egress: <method> to <host>: <cause>" wrapping the
//     cause (e.g. *net.OpError, *ProxyError, context.Canceled).
//
// Errors never contain the URL's credentials, path or query, which may
// hold secrets. When the headers arrived but reading the body failed, Do
// returns both the Response (with the part of the body read) and the error.
func (c *Client) Do(ctx context.Context, req *http.Request) (*Response, error) {
	return c.DoWith(ctx, req)
}

// DoWith is Do with per-request options, such as WithTLS for an endpoint
// with TLS options of its own.
func (c *Client) DoWith(ctx context.Context, req *http.Request, opts ...Option) (*Response, error) {
	var o requestOptions
	for _, opt := range opts {
		opt(&o)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req = req.Clone(ctx)
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	moveUserinfo(req)

	client := &http.Client{
		Transport: c.transportFor(o.tls),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return nil, requestError(ctx, req, time.Since(start), err)
	}
	defer resp.Body.Close()
	body, truncated, err := readCapped(resp.Body, c.maxBody)
	out := &Response{
		StatusCode: resp.StatusCode,
		Header:     resp.Header,
		Body:       body,
		Truncated:  truncated,
		Duration:   time.Since(start),
	}
	if err != nil {
		return out, requestError(ctx, req, out.Duration, fmt.Errorf("reading response body: %w", err))
	}
	// Read what is left, within bounds, so the connection can be reused.
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrainBytes)
	return out, nil
}

// transportFor returns the transport of o: the shared one for nil, else
// the cached one for equal options, created on first use.
func (c *Client) transportFor(o *TLSOptions) *http.Transport {
	if o == nil {
		return c.transport
	}
	c.tlsMu.Lock()
	defer c.tlsMu.Unlock()
	if t, ok := c.tlsTransports.get(o.key); ok {
		return t
	}
	// Endpoints with their own TLS options are single hosts: a smaller
	// idle pool is enough.
	t := c.newTransport(o.tlsConfig(), max(1, c.cfg.MaxIdleConnsPerHost/4))
	if evicted := c.tlsTransports.add(o.key, t); evicted != nil {
		// Requests under way on it finish; its idle connections close
		// now, and those it gets back close after IdleConnTimeout.
		evicted.CloseIdleConnections()
	}
	return t
}

// CloseIdleConnections closes the kept-alive connections that are idle, in
// the shared pool and in the pools of TLS options.
func (c *Client) CloseIdleConnections() {
	c.transport.CloseIdleConnections()
	c.tlsMu.Lock()
	pools := c.tlsTransports.all()
	c.tlsMu.Unlock()
	for _, t := range pools {
		t.CloseIdleConnections()
	}
}

// readCapped reads up to limit bytes of r, and one more to learn whether
// the body was longer.
func readCapped(r io.Reader, limit int64) (body []byte, truncated bool, err error) {
	body, err = io.ReadAll(io.LimitReader(r, limit+1))
	if int64(len(body)) > limit {
		return body[:limit], true, err
	}
	return body, false, err
}

func requestError(ctx context.Context, req *http.Request, elapsed time.Duration, err error) error {
	var blocked *BlockedAddressError
	if errors.As(err, &blocked) {
		return blocked
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // its message repeats the full URL
	}
	if isTimeout(ctx, err) {
		return fmt.Errorf("egress: %s to %s: %w after %s: %w",
			req.Method, req.URL.Host, ErrTimeout, elapsed.Round(time.Millisecond), err)
	}
	return fmt.Errorf("egress: %s to %s: %w", req.Method, req.URL.Host, err)
}

func isTimeout(ctx context.Context, err error) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}
