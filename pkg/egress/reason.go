package egress

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// Reason returns why a request failed, for the people who own the endpoint:
// a short sentence that is stable across Go versions and operating systems,
// names at most the endpoint's host and the address it resolved to, and
// never contains hookd's internals (resolver addresses, Go type names, the
// URL's path or query) or bytes the receiver chose. err is an error of Do;
// the empty string for nil. The full error belongs in the operator's log.
//
// The reasons, by cause:
//
//	blocked: address 10.1.2.3 is not allowed: private address (RFC 1918)
//	the egress proxy refused the tunnel (403 Forbidden)
//	the egress proxy cannot be reached
//	the egress proxy failed to open the connection
//	DNS lookup failed for example.com: no such host
//	DNS lookup failed for example.com
//	DNS lookup timed out for example.com
//	connection refused
//	connection reset by the receiver
//	network unreachable / host unreachable
//	timed out connecting to the receiver
//	timed out after 15s
//	TLS handshake timed out after 5s
//	timed out after 10s waiting for the response headers
//	TLS handshake failed: certificate expired
//	TLS handshake failed: certificate not yet valid
//	TLS handshake failed: certificate signed by an unknown authority
//	TLS handshake failed: certificate is not valid for example.com
//	TLS handshake failed: the receiver does not speak TLS on this port
//	TLS handshake failed: the receiver sent alert "handshake failure"
//	TLS handshake failed
//	the receiver closed the connection without answering
//	the connection broke while reading the response body
//	the response is not valid HTTP
//	the response headers are too large
//	canceled: hookd stopped the request (shutting down)
//	request failed
//
// A Client's Reason states its own time limits; the zero Client's are the
// Default* ones.
func (c *Client) Reason(err error) string {
	if err == nil {
		return ""
	}
	if r := blockedReason(err); r != "" {
		return r
	}
	if r := proxyReason(err); r != "" {
		return r
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsReason(dnsErr)
	}
	if errors.Is(err, ErrTimeout) || isNetTimeout(err) {
		return c.timeoutReason(err)
	}
	if errors.Is(err, context.Canceled) {
		return "canceled: hookd stopped the request (shutting down)"
	}
	if r := tlsReason(err); r != "" {
		return r
	}
	if r := connReason(err); r != "" {
		return r
	}
	return "request failed"
}

func blockedReason(err error) string {
	var blocked *BlockedAddressError
	if errors.As(err, &blocked) {
		return fmt.Sprintf("blocked: address %s is not allowed: %s", blocked.IP, blocked.Reason)
	}
	if strings.Contains(err.Error(), "egress: refusing to dial") {
		return "blocked: only TCP connections to an IP address are allowed"
	}
	return ""
}

// proxyReason covers failures of HOOKD_EGRESS_PROXY, without naming it:
// the proxy is the operator's.
func proxyReason(err error) string {
	var pe *ProxyError
	msg := err.Error()
	switch {
	case errors.As(err, &pe):
		return fmt.Sprintf("the egress proxy refused the tunnel (%d %s)", pe.StatusCode, http.StatusText(pe.StatusCode))
	case strings.Contains(msg, "egress: connecting to proxy"), strings.Contains(msg, "egress: TLS handshake with proxy"):
		return "the egress proxy cannot be reached"
	case strings.Contains(msg, "egress: CONNECT through proxy"), strings.Contains(msg, "through SOCKS5 proxy"),
		strings.Contains(msg, "egress: SOCKS5 proxy"):
		return "the egress proxy failed to open the connection"
	}
	return ""
}

func dnsReason(e *net.DNSError) string {
	switch {
	case e.IsNotFound:
		return fmt.Sprintf("DNS lookup failed for %s: no such host", e.Name)
	case e.IsTimeout:
		return fmt.Sprintf("DNS lookup timed out for %s", e.Name)
	}
	return fmt.Sprintf("DNS lookup failed for %s", e.Name)
}

func isNetTimeout(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// timeoutReason names the time limit that ran out.
func (c *Client) timeoutReason(err error) string {
	total, handshake, headers := DefaultTimeout, DefaultTLSHandshakeTimeout, time.Duration(0)
	if c != nil {
		total, handshake, headers = c.timeout, c.transport.TLSHandshakeTimeout, c.transport.ResponseHeaderTimeout
	}
	msg := err.Error()
	var opErr *net.OpError
	switch {
	case strings.Contains(msg, "TLS handshake timeout"):
		return fmt.Sprintf("TLS handshake timed out after %s", handshake)
	case strings.Contains(msg, "timeout awaiting response headers"):
		return fmt.Sprintf("timed out after %s waiting for the response headers", headers)
	case errors.As(err, &opErr) && opErr.Op == "dial" && !errors.Is(err, context.DeadlineExceeded):
		return "timed out connecting to the receiver"
	}
	return fmt.Sprintf("timed out after %s", total)
}

func tlsReason(err error) string {
	const failed = "TLS handshake failed"
	var (
		invalid   x509.CertificateInvalidError
		unknown   x509.UnknownAuthorityError
		hostname  x509.HostnameError
		record    tls.RecordHeaderError
		alert     tls.AlertError
		verifyErr *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		if invalid.Cert != nil && time.Now().Before(invalid.Cert.NotBefore) {
			return failed + ": certificate not yet valid"
		}
		return failed + ": certificate expired"
	case errors.As(err, &invalid):
		return failed + ": certificate not valid for this use"
	case errors.As(err, &unknown):
		return failed + ": certificate signed by an unknown authority"
	case errors.As(err, &hostname):
		return failed + ": certificate is not valid for " + hostname.Host
	case errors.As(err, &record), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return failed + ": the receiver does not speak TLS on this port"
	case errors.As(err, &alert):
		return fmt.Sprintf("%s: the receiver sent alert %q", failed, strings.TrimPrefix(alert.Error(), "tls: "))
	case remoteAlert(err) != "":
		// Over TCP, crypto/tls reports the peer's alert as "remote error:
		// tls: <Go's name for the alert code>" (e.g. "certificate
		// required" from a receiver that wants a client certificate).
		return fmt.Sprintf("%s: the receiver sent alert %q", failed, remoteAlert(err))
	case errors.As(err, &verifyErr), strings.Contains(err.Error(), "tls: "):
		return failed
	}
	return ""
}

// remoteAlert returns the name of the TLS alert the peer sent, as
// crypto/tls names it, or "".
func remoteAlert(err error) string {
	const marker = "remote error: tls: "
	msg := err.Error()
	i := strings.LastIndex(msg, marker)
	if i < 0 {
		return ""
	}
	name := msg[i+len(marker):]
	for _, c := range name {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != ' ' && c != '(' && c != ')' {
			return ""
		}
	}
	return name
}

// connReason covers connections refused, broken or answered with
// something that is not HTTP.
func connReason(err error) string {
	msg := err.Error()
	readingBody := strings.Contains(msg, "reading response body")
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case readingBody:
		return "the connection broke while reading the response body"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset by the receiver"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the receiver closed the connection without answering"
	case strings.Contains(msg, "server response headers exceeded"):
		return "the response headers are too large"
	case strings.Contains(msg, "malformed HTTP"), strings.Contains(msg, "http2: "):
		return "the response is not valid HTTP"
	}
	return ""
}
