package egress

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"time"
)

// Defaults for the zero fields of Config.
const (
	DefaultConnectTimeout      = 5 * time.Second
	DefaultTLSHandshakeTimeout = 5 * time.Second
	DefaultTimeout             = 15 * time.Second
	DefaultMaxResponseBytes    = 20 << 10
	DefaultUserAgent           = "hookd"
	DefaultMaxTLSTransports    = 256
	DefaultMaxIdleConnsPerHost = 64
)

// Config configures a Client. The zero Config is usable: public addresses
// only, the Default* limits, no separate limit on waiting for headers.
type Config struct {
	// AllowedSubnets are let through although Reserved refuses them, e.g.
	// 127.0.0.0/8 for local tests or a private network of trusted
	// receivers. Nil allows public addresses only.
	AllowedSubnets []netip.Prefix

	// MaxIdleConnsPerHost is how many kept-alive connections to one
	// receiver (host and port) are kept for reuse: set it to the requests
	// in flight at once (the worker concurrency), or a busy receiver sees
	// connections opened and closed at every request beyond it. Zero or
	// less means DefaultMaxIdleConnsPerHost. Endpoints with TLS options of
	// their own keep a quarter of it in their own pools.
	MaxIdleConnsPerHost int

	// ConnectTimeout bounds establishing one TCP connection.
	// Zero or less means DefaultConnectTimeout.
	ConnectTimeout time.Duration

	// TLSHandshakeTimeout bounds the TLS handshake of https endpoints.
	// Zero or less means DefaultTLSHandshakeTimeout.
	TLSHandshakeTimeout time.Duration

	// ResponseHeaderTimeout bounds the wait for response headers once the
	// request is written. Zero or less means no limit beyond Timeout.
	ResponseHeaderTimeout time.Duration

	// Timeout bounds the whole exchange, from dialling to reading the
	// (capped) body. Zero or less means DefaultTimeout.
	Timeout time.Duration

	// MaxResponseBytes is how much of the response body, after
	// decompression, is read and kept; the rest is cut off (up to a bounded
	// amount more is read and discarded so the connection can be reused).
	// Zero or less means DefaultMaxResponseBytes.
	MaxResponseBytes int64

	// UserAgent is sent on requests that have no User-Agent header.
	// Empty means DefaultUserAgent.
	UserAgent string

	// Proxy, when set, is the egress proxy every request goes through, as
	// ParseProxyURL returns it: http://, https:// (TLS to the proxy) or
	// socks5://, with optional user:password for the proxy. hookd still
	// resolves each endpoint's name and checks the addresses itself, and
	// asks the proxy for a checked IP address, never for the name (see
	// the package documentation). Nil means direct connections.
	Proxy *url.URL

	// MaxTLSTransports bounds how many separate connection pools are kept
	// for endpoints with their own TLS options (WithTLS); the least
	// recently used is closed beyond it. Zero or less means
	// DefaultMaxTLSTransports.
	MaxTLSTransports int
}

// ParseProxyURL parses the value of HOOKD_EGRESS_PROXY (the form of Svix's
// proxy_addr): "http://host:port", "https://host:port" or
// "socks5://host:port", optionally with "user:password@" before the host.
// A missing port defaults to 80, 443 and 1080 respectively. Anything else
// (another scheme, socks5h, a path, a query) is an error that says what is
// wrong and never repeats the password.
func ParseProxyURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("egress proxy: not a URL")
	}
	var port string
	switch u.Scheme {
	case "http":
		port = "80"
	case "https":
		port = "443"
	case "socks5":
		port = "1080"
	default:
		return nil, fmt.Errorf("egress proxy: scheme %q is not supported: want http, https or socks5", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("egress proxy: %s:// URL without a host", u.Scheme)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("egress proxy: want %s://host:port with no path or query", u.Scheme)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	u.Path = ""
	return u, nil
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.TLSHandshakeTimeout <= 0 {
		c.TLSHandshakeTimeout = DefaultTLSHandshakeTimeout
	}
	if c.ResponseHeaderTimeout < 0 {
		c.ResponseHeaderTimeout = 0
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.MaxTLSTransports <= 0 {
		c.MaxTLSTransports = DefaultMaxTLSTransports
	}
	if c.MaxIdleConnsPerHost <= 0 {
		c.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	return c
}
