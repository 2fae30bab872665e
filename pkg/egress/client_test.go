package egress

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// All traffic in these tests goes to servers on 127.0.0.1 and ::1.

var loopbackOnly = prefixes("127.0.0.0/8", "::1/128")

// server is an httptest server on a loopback address that counts the
// connections it accepts.
type server struct {
	*httptest.Server
	conns atomic.Int64
}

// startServer starts h on addr ("127.0.0.1:0" or "[::1]:0"), skipping the
// test when the address family is unavailable.
func startServer(t *testing.T, addr string, h http.Handler) *server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	s := &server{Server: httptest.NewUnstartedServer(h)}
	s.Listener.Close()
	s.Listener = ln
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *server) port() string {
	return fmt.Sprint(netip.MustParseAddrPort(s.Listener.Addr().String()).Port())
}

func ok(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }

func post(t *testing.T, c *Client, url string, opts ...Option) (*Response, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c.DoWith(t.Context(), req, opts...)
}

func TestDoRefusesLoopbackWithoutWhitelist(t *testing.T) {
	t.Parallel()
	v4 := startServer(t, "127.0.0.1:0", http.HandlerFunc(ok))
	v6 := startServer(t, "[::1]:0", http.HandlerFunc(ok))

	tests := []struct {
		name   string
		url    string
		wantIP string
	}{
		// Literal addresses.
		{"IPv4 loopback", "http://127.0.0.1:" + v4.port() + "/", "127.0.0.1"},
		{"IPv4 loopback, other host", "http://127.0.0.2:" + v4.port() + "/", "127.0.0.2"},
		{"IPv6 loopback", "http://[::1]:" + v6.port() + "/", "::1"},
		{"IPv4-mapped IPv6 loopback", "http://[::ffff:127.0.0.1]:" + v4.port() + "/", "127.0.0.1"},

		// A name that resolves to loopback (from /etc/hosts: no DNS query).
		{"localhost", "http://localhost:" + v4.port() + "/", ""},
		{"https is refused the same way", "https://127.0.0.1:" + v4.port() + "/", "127.0.0.1"},
	}
	guarded := New(Config{Timeout: 5 * time.Second})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := post(t, guarded, tt.url)
			if resp != nil {
				t.Errorf("got a response: %d", resp.StatusCode)
			}
			var blocked *BlockedAddressError
			if !errors.As(err, &blocked) {
				t.Fatalf("error %v (%T) is not a *BlockedAddressError", err, err)
			}
			if !blocked.IP.IsLoopback() || (tt.wantIP != "" && blocked.IP.String() != tt.wantIP) {
				t.Errorf("blocked IP %s, want loopback %s", blocked.IP, tt.wantIP)
			}
			if !strings.Contains(err.Error(), "loopback address not allowed") {
				t.Errorf("error %q does not say why", err)
			}
		})
	}

	// The servers saw nothing. A whitelisted request now makes exactly one
	// connection; had a refused one connected, it would have been accepted
	// (and counted) first.
	allowed := New(Config{AllowedSubnets: loopbackOnly})
	for _, s := range []*server{v4, v6} {
		resp, err := post(t, allowed, s.URL)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || string(resp.Body) != "ok" {
			t.Errorf("whitelisted request: %d %q", resp.StatusCode, resp.Body)
		}
		if n := s.conns.Load(); n != 1 {
			t.Errorf("%s accepted %d connections, want 1 (the whitelisted one)", s.URL, n)
		}
	}
}

func TestDoSendsRequest(t *testing.T) {
	t.Parallel()
	type seen struct{ method, ua, body, custom string }
	got := make(chan seen, 1)
	s := startServer(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.UserAgent(), string(b), r.Header.Get("X-Custom")}
		w.Header().Set("X-Reply", "yes")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "accepted")
	}))

	tests := []struct {
		name   string
		cfgUA  string
		reqUA  string
		wantUA string
	}{
		// User-Agent: the request's, else the configured one, else the default.
		{"default user agent", "", "", DefaultUserAgent},
		{"configured user agent", "hookd/1.2.3", "", "hookd/1.2.3"},
		{"request user agent wins", "hookd/1.2.3", "custom/1", "custom/1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Config{AllowedSubnets: loopbackOnly, UserAgent: tt.cfgUA})
			t.Cleanup(c.CloseIdleConnections)
			req, err := http.NewRequest(http.MethodPost, s.URL+"/hook?token=x", strings.NewReader(`{"a":1}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Custom", "v")
			if tt.reqUA != "" {
				req.Header.Set("User-Agent", tt.reqUA)
			}
			before := req.Header.Clone()
			resp, err := c.Do(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			if want := (seen{"POST", tt.wantUA, `{"a":1}`, "v"}); <-got != want {
				t.Errorf("server saw something else than %+v", want)
			}
			if resp.StatusCode != http.StatusAccepted || string(resp.Body) != "accepted" || resp.Truncated ||
				resp.Header.Get("X-Reply") != "yes" || resp.Duration <= 0 {
				t.Errorf("response = %+v", resp)
			}
			if fmt.Sprint(req.Header) != fmt.Sprint(before) {
				t.Errorf("Do modified the request headers: %v, was %v", req.Header, before)
			}
		})
	}
}

func TestDoDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	target := startServer(t, "127.0.0.1:0", http.HandlerFunc(ok))
	for _, code := range []int{
		// Every redirect status comes back as the response.
		http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect,
	} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			t.Parallel()
			redirector := startServer(t, "127.0.0.1:0", http.RedirectHandler(target.URL+"/landed", code))
			resp, err := post(t, New(Config{AllowedSubnets: loopbackOnly}), redirector.URL)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != code || resp.Header.Get("Location") != target.URL+"/landed" {
				t.Errorf("response %d, Location %q; want %d to the target", resp.StatusCode, resp.Header.Get("Location"), code)
			}
		})
	}
	t.Cleanup(func() {
		if n := target.conns.Load(); n != 0 {
			t.Errorf("redirect target accepted %d connections, want 0", n)
		}
	})
}

// silentListener accepts connections and never answers, until the test ends.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { <-done; c.Close() }()
		}
	}()
	t.Cleanup(func() { close(done); ln.Close() })
	return "http://" + ln.Addr().String() + "/"
}

func TestDoTimeouts(t *testing.T) {
	t.Parallel()
	silent := silentListener(t)
	slowBody := startServer(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "0123456789")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))

	tests := []struct {
		name     string
		cfg      Config
		url      string
		wantText string // in the error message
		wantBody string // partial body, when the headers arrived
	}{
		// A server that never answers is cut at Timeout, or earlier at ResponseHeaderTimeout.
		{"total timeout", Config{Timeout: 200 * time.Millisecond}, silent, "timed out after", ""},
		{"response header timeout", Config{Timeout: time.Minute, ResponseHeaderTimeout: 100 * time.Millisecond}, silent, "timeout awaiting response headers", ""},

		// A body that stalls is cut at Timeout, keeping what arrived.
		{"body read timeout", Config{Timeout: 200 * time.Millisecond}, slowBody.URL, "reading response body", "0123456789"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.cfg.AllowedSubnets = loopbackOnly
			start := time.Now()
			resp, err := post(t, New(tt.cfg), tt.url)
			elapsed := time.Since(start)
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("error %v does not match ErrTimeout", err)
			}
			if !strings.Contains(err.Error(), tt.wantText) || !strings.HasPrefix(err.Error(), "egress: POST to 127.0.0.1:") {
				t.Errorf("error %q, want it to contain %q", err, tt.wantText)
			}
			if elapsed > 5*time.Second {
				t.Errorf("took %v", elapsed)
			}
			if tt.wantBody == "" {
				if resp != nil {
					t.Errorf("response %+v, want none", resp)
				}
				return
			}
			if resp == nil || resp.StatusCode != http.StatusOK || string(resp.Body) != tt.wantBody {
				t.Errorf("response %+v, want 200 with %q", resp, tt.wantBody)
			}
		})
	}
}

func TestDoCallerCancellation(t *testing.T) {
	t.Parallel()
	silent := silentListener(t)
	c := New(Config{AllowedSubnets: loopbackOnly})
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	req, err := http.NewRequest(http.MethodPost, silent, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(ctx, req)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Errorf("error %v: want context.Canceled and not ErrTimeout", err)
	}
}

func TestDoErrorOmitsPathAndQuery(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused

	_, err = post(t, New(Config{AllowedSubnets: loopbackOnly}), "http://"+addr+"/hooks/secret-path?token=secret-token")
	if err == nil {
		t.Fatal("request to a closed port succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, "secret") || !strings.HasPrefix(msg, "egress: POST to "+addr+": ") {
		t.Errorf("error %q must name the host only", msg)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("error %v does not wrap the *net.OpError", err)
	}
}

func TestDoCapsResponseBody(t *testing.T) {
	t.Parallel()
	const limit = 1000
	pattern := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'a' + byte(i%26)
		}
		return b
	}
	var sawGzip atomic.Bool
	s := startServer(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(r.URL.Query().Get("n"), &n)
		if r.URL.Query().Get("gzip") == "" {
			w.Write(pattern(n))
			return
		}
		sawGzip.Store(strings.Contains(r.Header.Get("Accept-Encoding"), "gzip"))
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		zw.Write(pattern(n))
		zw.Close()
	}))
	c := New(Config{AllowedSubnets: loopbackOnly, MaxResponseBytes: limit})

	tests := []struct {
		name string
		n    int
		gzip bool
	}{
		// Plain bodies around the limit.
		{"empty", 0, false},
		{"one below", limit - 1, false},
		{"exactly the limit", limit, false},
		{"one above", limit + 1, false},
		{"10 MiB", 10 << 20, false},

		// Compressed bodies are capped after decompression.
		{"gzip below", 10, true},
		{"gzip one above", limit + 1, true},
		{"gzip 10 MiB", 10 << 20, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := fmt.Sprintf("%s/?n=%d", s.URL, tt.n)
			if tt.gzip {
				url += "&gzip=1"
			}
			resp, err := post(t, c, url)
			if err != nil {
				t.Fatal(err)
			}
			want := pattern(min(tt.n, limit))
			if !bytes.Equal(resp.Body, want) {
				t.Errorf("body has %d bytes (%.20q...), want %d bytes of the pattern", len(resp.Body), resp.Body, len(want))
			}
			if resp.Truncated != (tt.n > limit) {
				t.Errorf("Truncated = %v for %d bytes", resp.Truncated, tt.n)
			}
			if tt.gzip && !sawGzip.Load() {
				t.Error("client did not ask for gzip")
			}
		})
	}
}

func TestDoReusesConnections(t *testing.T) {
	t.Parallel()
	const limit = 1 << 10
	tests := []struct {
		name      string
		size      int
		wantConns int64
	}{
		// Bodies read whole, or drained within the bound, keep the connection.
		{"small body", 100, 1},
		{"truncated but drained", maxDrainBytes / 2, 1},

		// Bodies too large to drain close it.
		{"too large to drain", 4 * maxDrainBytes, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := bytes.Repeat([]byte("x"), tt.size)
			s := startServer(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(body) }))
			c := New(Config{AllowedSubnets: loopbackOnly, MaxResponseBytes: limit})
			for range 5 {
				if _, err := post(t, c, s.URL); err != nil {
					t.Fatal(err)
				}
			}
			if n := s.conns.Load(); n != tt.wantConns {
				t.Errorf("5 requests used %d connections, want %d", n, tt.wantConns)
			}
		})
	}
}

func TestDoNegotiatesHTTP2OverTLS(t *testing.T) {
	t.Parallel()
	var proto atomic.Int64
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto.Store(int64(r.ProtoMajor))
	}))
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)

	c := New(Config{AllowedSubnets: loopbackOnly})
	roots := x509.NewCertPool()
	roots.AddCert(s.Certificate())
	c.transport.TLSClientConfig.RootCAs = roots

	resp, err := post(t, c, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || proto.Load() != 2 {
		t.Errorf("status %d over HTTP/%d, want 200 over HTTP/2", resp.StatusCode, proto.Load())
	}
}

func TestNewTransport(t *testing.T) {
	t.Parallel()
	c := New(Config{})
	tr := c.transport
	if tr.Proxy != nil {
		t.Error("Proxy is set: environment proxies would bypass the guard")
	}
	if tr.MaxIdleConnsPerHost != DefaultMaxIdleConnsPerHost || !tr.ForceAttemptHTTP2 || tr.DisableKeepAlives {
		t.Errorf("transport: idle per host %d, HTTP/2 %v, keep-alives disabled %v",
			tr.MaxIdleConnsPerHost, tr.ForceAttemptHTTP2, tr.DisableKeepAlives)
	}
	if tr.TLSHandshakeTimeout != DefaultTLSHandshakeTimeout || c.timeout != DefaultTimeout ||
		c.maxBody != DefaultMaxResponseBytes || c.userAgent != DefaultUserAgent {
		t.Errorf("defaults not applied: %+v", c)
	}
	// The idle connections kept per receiver follow the concurrency.
	if tr := New(Config{MaxIdleConnsPerHost: 2000}).transport; tr.MaxIdleConnsPerHost != 2000 || tr.MaxIdleConns < 2000 {
		t.Errorf("MaxIdleConnsPerHost 2000: transport keeps %d per host, %d in all", tr.MaxIdleConnsPerHost, tr.MaxIdleConns)
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   Config
		want Config
	}{
		// Zero and negative values take the defaults.
		{"zero", Config{}, Config{
			ConnectTimeout: DefaultConnectTimeout, TLSHandshakeTimeout: DefaultTLSHandshakeTimeout,
			Timeout: DefaultTimeout, MaxResponseBytes: DefaultMaxResponseBytes, UserAgent: DefaultUserAgent,
			MaxTLSTransports: DefaultMaxTLSTransports, MaxIdleConnsPerHost: DefaultMaxIdleConnsPerHost,
		}},
		{"negative", Config{ConnectTimeout: -1, TLSHandshakeTimeout: -1, ResponseHeaderTimeout: -1, Timeout: -1, MaxResponseBytes: -1, MaxTLSTransports: -1, MaxIdleConnsPerHost: -1}, Config{
			ConnectTimeout: DefaultConnectTimeout, TLSHandshakeTimeout: DefaultTLSHandshakeTimeout,
			Timeout: DefaultTimeout, MaxResponseBytes: DefaultMaxResponseBytes, UserAgent: DefaultUserAgent,
			MaxTLSTransports: DefaultMaxTLSTransports, MaxIdleConnsPerHost: DefaultMaxIdleConnsPerHost,
		}},

		// Set values are kept.
		{"set", Config{ConnectTimeout: 1, TLSHandshakeTimeout: 2, ResponseHeaderTimeout: 3, Timeout: 4, MaxResponseBytes: 5, UserAgent: "u", MaxTLSTransports: 6, MaxIdleConnsPerHost: 7},
			Config{ConnectTimeout: 1, TLSHandshakeTimeout: 2, ResponseHeaderTimeout: 3, Timeout: 4, MaxResponseBytes: 5, UserAgent: "u", MaxTLSTransports: 6, MaxIdleConnsPerHost: 7}},
	}
	for _, tt := range tests {
		if got := tt.in.withDefaults(); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: withDefaults() = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// Do keeps the plain signature that callers' interfaces (the delivery
// core's Sender) expect; options go through DoWith.
var _ interface {
	Do(context.Context, *http.Request) (*Response, error)
} = (*Client)(nil)
