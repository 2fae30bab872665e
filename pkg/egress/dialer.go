package egress

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/net/proxy"
)

// dialer opens the connections of every transport of a Client, so that
// all of them, whatever their TLS options, go through the same guard and
// the same proxy.
//
// Without a proxy it dials directly, and the guard runs as the socket's
// Control function on the very address being connected to. With a proxy,
// hookd resolves the name itself, checks every address with the guard and
// asks the proxy for a tunnel to a checked IP address: the proxy never
// resolves an endpoint's name, so DNS answers that change between the
// check and the connection cannot reach a refused address. Plain http
// endpoints are tunnelled with CONNECT too, like https ones: a proxy that
// forwards an absolute-form request must replace the Host header with the
// URL's authority (RFC 9112, section 3.2.2), which for an IP address would
// break name-based virtual hosting; inside a tunnel the request keeps
// its Host and its origin-form target.
type dialer struct {
	guard   *Guard
	direct  *net.Dialer // guarded by Control
	timeout time.Duration

	proxy     *url.URL
	toProxy   *net.Dialer         // unguarded: the proxy is the operator's own
	proxyTLS  *tls.Config         // for https:// proxies
	socks     proxy.ContextDialer // for socks5:// proxies
	userAgent string

	// lookup resolves names when a proxy is used; tests replace it.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

func newDialer(cfg Config, guard *Guard) *dialer {
	d := &dialer{
		guard:     guard,
		direct:    &net.Dialer{Timeout: cfg.ConnectTimeout, Control: guard.control},
		timeout:   cfg.ConnectTimeout + cfg.TLSHandshakeTimeout,
		proxy:     cfg.Proxy,
		toProxy:   &net.Dialer{Timeout: cfg.ConnectTimeout},
		userAgent: cfg.UserAgent,
		lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		},
	}
	if d.proxy == nil {
		return d
	}
	switch d.proxy.Scheme {
	case "https":
		d.proxyTLS = &tls.Config{ServerName: d.proxy.Hostname(), MinVersion: tls.VersionTLS12}
	case "socks5":
		var auth *proxy.Auth
		if u := d.proxy.User; u != nil {
			password, _ := u.Password()
			auth = &proxy.Auth{User: u.Username(), Password: password}
		}
		// SOCKS5 only fails here for a network other than "tcp".
		if s, err := proxy.SOCKS5("tcp", d.proxy.Host, auth, d.toProxy); err == nil {
			d.socks = s.(proxy.ContextDialer)
		}
	}
	return d
}

// DialContext connects to addr ("host:port", as http.Transport asks).
func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.proxy == nil {
		return d.direct.DialContext(ctx, network, addr)
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("egress: dialing %q: %w", addr, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("egress: dialing %q: bad port", addr)
	}
	addrs, err := d.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	// Try the allowed addresses in the resolver's order; report the first
	// refusal only when no address was allowed.
	var refused, failed error
	for _, ip := range addrs {
		if err := d.guard.Check(ip); err != nil {
			refused = firstErr(refused, err)
			continue
		}
		conn, err := d.viaProxy(ctx, netip.AddrPortFrom(ip.Unmap(), uint16(port)))
		if err == nil {
			return conn, nil
		}
		failed = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr(failed, refused)
}

// resolve returns the addresses of host, which may be an IP literal.
func (d *dialer) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	addrs, err := d.lookup(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("egress: resolving %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("egress: resolving %s: no addresses", host)
	}
	return addrs, nil
}

// viaProxy returns a connection to target tunnelled through the proxy,
// within the connect and TLS handshake timeouts.
func (d *dialer) viaProxy(ctx context.Context, target netip.AddrPort) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if d.proxy.Scheme == "socks5" {
		if d.socks == nil {
			return nil, fmt.Errorf("egress: SOCKS5 proxy %s is unusable", d.proxy.Host)
		}
		conn, err := d.socks.DialContext(ctx, "tcp", target.String())
		if err != nil {
			return nil, fmt.Errorf("egress: through SOCKS5 proxy %s to %s: %w", d.proxy.Host, target, err)
		}
		return conn, nil
	}

	conn, err := d.toProxy.DialContext(ctx, "tcp", d.proxy.Host)
	if err != nil {
		return nil, fmt.Errorf("egress: connecting to proxy %s: %w", d.proxy.Host, err)
	}
	if d.proxyTLS != nil {
		tlsConn := tls.Client(conn, d.proxyTLS)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("egress: TLS handshake with proxy %s: %w", d.proxy.Host, err)
		}
		conn = tlsConn
	}
	tunnel, err := d.connect(ctx, conn, target.String())
	if err != nil {
		conn.Close()
		return nil, err
	}
	return tunnel, nil
}

// connect asks an HTTP proxy on conn for a tunnel to target. The exchange
// is bounded by ctx: its end (deadline or cancellation) interrupts the I/O.
func (d *dialer) connect(ctx context.Context, conn net.Conn, target string) (net.Conn, error) {
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	req := &http.Request{
		Method: http.MethodConnect,
		URL:    &url.URL{Opaque: target},
		Host:   target,
		Header: http.Header{"User-Agent": {d.userAgent}},
	}
	if u := d.proxy.User; u != nil {
		password, _ := u.Password()
		req.Header.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+password)))
	}
	var resp *http.Response
	br := bufio.NewReader(conn)
	err := req.Write(conn)
	if err == nil {
		resp, err = http.ReadResponse(br, req)
	}
	if !stop() {
		return nil, fmt.Errorf("egress: CONNECT through proxy %s to %s: %w", d.proxy.Host, target, context.Cause(ctx))
	}
	if err != nil {
		return nil, fmt.Errorf("egress: CONNECT through proxy %s to %s: %w", d.proxy.Host, target, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &ProxyError{Proxy: d.proxy.Host, Target: target, StatusCode: resp.StatusCode}
	}
	if br.Buffered() > 0 {
		return &bufferedConn{Conn: conn, r: br}, nil
	}
	return conn, nil
}

// ProxyError is the error of a tunnel that an HTTP proxy refused.
type ProxyError struct {
	// Proxy is the proxy's host:port, Target the address asked for.
	Proxy, Target string
	// StatusCode is the proxy's answer to CONNECT, e.g. 403 or 407.
	StatusCode int
}

func (e *ProxyError) Error() string {
	return fmt.Sprintf("egress: proxy %s answered %d %s to CONNECT %s",
		e.Proxy, e.StatusCode, http.StatusText(e.StatusCode), e.Target)
}

// bufferedConn is a connection whose first bytes were already read into r.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return errors.New("egress: no address to dial")
}
