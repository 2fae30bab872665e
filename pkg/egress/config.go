package egress

import (
	"net/netip"
	"time"
)

// Defaults for the zero fields of Config.
const (
	DefaultConnectTimeout      = 5 * time.Second
	DefaultTLSHandshakeTimeout = 5 * time.Second
	DefaultTimeout             = 15 * time.Second
	DefaultMaxResponseBytes    = 20 << 10
	DefaultUserAgent           = "hookd"
)

// Config configures a Client. The zero Config is usable: public addresses
// only, the Default* limits, no separate limit on waiting for headers.
type Config struct {
	// AllowedSubnets are let through although Reserved refuses them, e.g.
	// 127.0.0.0/8 for local tests or a private network of trusted
	// receivers. Nil allows public addresses only.
	AllowedSubnets []netip.Prefix

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
	return c
}
