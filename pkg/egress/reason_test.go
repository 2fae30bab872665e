package egress

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// rawServer accepts connections on 127.0.0.1 and hands each to serve.
func rawServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// readRequest reads one request from c, body included.
func readRequest(c net.Conn) {
	if req, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
		_, _ = req.Body.Read(make([]byte, 1<<10))
	}
}

// certificate returns a self-signed certificate for 127.0.0.1 valid
// between notBefore and notAfter.
func certificate(t *testing.T, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "receiver"},
		NotBefore: notBefore, NotAfter: notAfter,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tlsReceiver serves ok over TLS with cert.
func tlsReceiver(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	s := httptest.NewUnstartedServer(http.HandlerFunc(ok))
	s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // the client hangs up on purpose
	s.StartTLS()
	t.Cleanup(s.Close)
	return s.URL
}

// Every failure a receiver (or its network) can cause, made for real on
// loopback, maps to its stable reason.
func TestReasonOfRealFailures(t *testing.T) {
	t.Parallel()
	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return "http://" + ln.Addr().String()
	}()
	hangUp := rawServer(t, readRequest)
	reset := rawServer(t, func(c net.Conn) {
		readRequest(c)
		_ = c.(*net.TCPConn).SetLinger(0) // close with RST
	})
	garbage := rawServer(t, func(c net.Conn) {
		readRequest(c)
		_, _ = c.Write([]byte("this is not HTTP\r\n\r\n"))
	})
	shortBody := rawServer(t, func(c net.Conn) {
		readRequest(c)
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten.."))
	})
	hugeHeaders := rawServer(t, func(c net.Conn) {
		readRequest(c)
		_, _ = fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 100<<10))
	})
	plain := startServer(t, "127.0.0.1:0", http.HandlerFunc(ok))
	silent := silentListener(t)
	now := time.Now()
	expired := tlsReceiver(t, certificate(t, now.Add(-48*time.Hour), now.Add(-24*time.Hour)))
	notYet := tlsReceiver(t, certificate(t, now.Add(24*time.Hour), now.Add(48*time.Hour)))
	untrusted := tlsReceiver(t, certificate(t, now.Add(-time.Hour), now.Add(time.Hour)))

	tests := []struct {
		name string
		cfg  Config
		url  string
		want string
	}{
		// The guard and the network.
		{"private address", Config{}, "http://10.1.2.3/hook", "blocked: address 10.1.2.3 is not allowed: private address (RFC 1918)"},
		{"loopback without whitelist", Config{}, plain.URL, "blocked: address 127.0.0.1 is not allowed: loopback address"},
		{"unknown host", Config{}, "http://does-not-exist.invalid/hook", "DNS lookup "},
		{"connection refused", Config{}, closed, "connection refused"},

		// Receivers that answer something other than HTTP, or nothing.
		{"closed without answering", Config{}, "http://" + hangUp, "the receiver closed the connection without answering"},
		{"reset", Config{}, "http://" + reset, "connection reset by the receiver"},
		{"not HTTP", Config{}, "http://" + garbage, "the response is not valid HTTP"},
		{"body cut short", Config{}, "http://" + shortBody, "the connection broke while reading the response body"},
		{"headers too large", Config{}, "http://" + hugeHeaders, "the response headers are too large"},

		// Time limits, each named with its configured value.
		{"total timeout", Config{Timeout: 200 * time.Millisecond}, silent, "timed out after 200ms"},
		{"response header timeout", Config{Timeout: time.Minute, ResponseHeaderTimeout: 100 * time.Millisecond}, silent,
			"timed out after 100ms waiting for the response headers"},

		// TLS.
		{"certificate expired", Config{}, expired, "TLS handshake failed: certificate expired"},
		{"certificate not yet valid", Config{}, notYet, "TLS handshake failed: certificate not yet valid"},
		{"unknown authority", Config{}, untrusted, "TLS handshake failed: certificate signed by an unknown authority"},
		{"TLS to a plain HTTP port", Config{}, strings.Replace(plain.URL, "http:", "https:", 1),
			"TLS handshake failed: the receiver does not speak TLS on this port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.cfg.AllowedSubnets == nil && !strings.Contains(tt.name, "without whitelist") {
				tt.cfg.AllowedSubnets = loopbackOnly
			}
			c := New(tt.cfg)
			_, err := post(t, c, tt.url)
			if err == nil {
				t.Fatal("request succeeded")
			}
			got := c.Reason(err)
			if strings.HasSuffix(tt.want, " ") {
				if !strings.HasPrefix(got, tt.want) || !strings.Contains(got, "does-not-exist.invalid") {
					t.Errorf("Reason(%v) = %q, want %q... naming the host", err, got, tt.want)
				}
			} else if got != tt.want {
				t.Errorf("Reason(%v) = %q, want %q", err, got, tt.want)
			}
			checkSafe(t, got)
		})
	}
}

// checkSafe fails when a reason leaks what it must not.
func checkSafe(t *testing.T, reason string) {
	t.Helper()
	if !utf8.ValidString(reason) || strings.Contains(reason, "\x00") {
		t.Errorf("reason %q is not storable text", reason)
	}
	for _, leak := range []string{":53", "10.9.8.7", "10.0.0.53", "dial tcp", "egress:", "*", "x509:", "/hook", "Post "} {
		if strings.Contains(reason, leak) {
			t.Errorf("reason %q contains %q", reason, leak)
		}
	}
}

func TestReasonOfCancellation(t *testing.T) {
	t.Parallel()
	c := New(Config{AllowedSubnets: loopbackOnly})
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	req, err := http.NewRequest(http.MethodPost, silentListener(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(ctx, req)
	if got := c.Reason(err); got != "canceled: hookd stopped the request (shutting down)" {
		t.Errorf("Reason(%v) = %q", err, got)
	}
}

// Errors that are hard to cause on loopback, built as Go reports them.
func TestReasonOfConstructedErrors(t *testing.T) {
	t.Parallel()
	op := func(err error) error {
		return fmt.Errorf("egress: POST to example.com: %w", &net.OpError{Op: "dial", Net: "tcp", Err: err})
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"DNS timeout", op(&net.DNSError{Err: "i/o timeout", Name: "example.com", Server: "10.0.0.53:53", IsTimeout: true}),
			"DNS lookup timed out for example.com"},
		{"DNS server failure", op(&net.DNSError{Err: "server misbehaving", Name: "example.com", Server: "10.0.0.53:53", IsTemporary: true}),
			"DNS lookup failed for example.com"},
		{"DNS not found, as in the issue", op(&net.DNSError{Err: "no such host", Name: "example.com", Server: "10.9.8.7:53", IsNotFound: true}),
			"DNS lookup failed for example.com: no such host"},
		{"network unreachable", op(os.NewSyscallError("connect", syscall.ENETUNREACH)), "network unreachable"},
		{"host unreachable", op(os.NewSyscallError("connect", syscall.EHOSTUNREACH)), "host unreachable"},
		{"hostname mismatch", &tls.CertificateVerificationError{Err: x509.HostnameError{Host: "example.com", Certificate: &x509.Certificate{}}},
			"TLS handshake failed: certificate is not valid for example.com"},
		{"alert", fmt.Errorf("egress: POST to example.com: %w", tls.AlertError(40)), `TLS handshake failed: the receiver sent alert "handshake failure"`},
		{"a remote alert over TCP", fmt.Errorf("egress: POST to example.com: %w", &net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}),
			`TLS handshake failed: the receiver sent alert "certificate required"`},
		{"a remote alert of an unknown code", fmt.Errorf("egress: POST to example.com: %w", &net.OpError{Op: "remote error", Err: errors.New("tls: alert(200)")}),
			`TLS handshake failed: the receiver sent alert "alert(200)"`},
		{"TLS handshake timeout", fmt.Errorf("egress: POST to example.com: %w after 5s: %w", ErrTimeout, errors.New("net/http: TLS handshake timeout")),
			"TLS handshake timed out after 5s"},
		{"dial timeout", op(timeoutErr{}), "timed out connecting to the receiver"},
		{"anything else", errors.New("endpoint ep_1 has an unusable secret"), "request failed"},
		{"a guard refusal that is not an address", errors.New(`egress: refusing to dial x network "udp": only TCP is allowed`),
			"blocked: only TCP connections to an IP address are allowed"},
		{"a proxy that refuses", fmt.Errorf("egress: POST to example.com: %w", &ProxyError{Proxy: "10.0.0.5:3128", Target: "203.0.113.7:443", StatusCode: 403}),
			"the egress proxy refused the tunnel (403 Forbidden)"},
		{"a proxy that is down", fmt.Errorf("egress: POST to example.com: egress: connecting to proxy 10.0.0.5:3128: %w", op(os.NewSyscallError("connect", syscall.ECONNREFUSED))),
			"the egress proxy cannot be reached"},
		{"a SOCKS5 proxy that fails", errors.New("egress: POST to example.com: egress: through SOCKS5 proxy 10.0.0.5:1080 to 203.0.113.7:443: general failure"),
			"the egress proxy failed to open the connection"},
		{"blocked IPv6", &BlockedAddressError{IP: netip.MustParseAddr("fd00::1"), Reason: "unique local address (private)"},
			"blocked: address fd00::1 is not allowed: unique local address (private)"},
	}
	c := New(Config{TLSHandshakeTimeout: 5 * time.Second})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.Reason(tt.err)
			if got != tt.want {
				t.Errorf("Reason(%v) = %q, want %q", tt.err, got, tt.want)
			}
			checkSafe(t, got)
		})
	}
	// A nil Client states the default limits.
	var none *Client
	if got := none.Reason(fmt.Errorf("x: %w", ErrTimeout)); got != "timed out after 15s" {
		t.Errorf("nil Client: %q", got)
	}
}

// timeoutErr is a net.Error that timed out, as the dialer reports it.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
