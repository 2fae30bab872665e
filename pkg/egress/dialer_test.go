package egress

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hookd/hookd/internal/receivertest"
)

// testProxy is a local egress proxy that records what it is asked for.
type testProxy struct {
	url   *url.URL
	conns atomic.Int64

	mu      sync.Mutex
	targets []string // CONNECT targets, or SOCKS5 targets as "ip:port"
	auth    []string // Proxy-Authorization headers
	domains int      // SOCKS5 requests that named a domain instead of an IP
}

func (p *testProxy) record(target, auth string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.targets = append(p.targets, target)
	p.auth = append(p.auth, auth)
}

func (p *testProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...)
}

// tunnel copies between a and b until both directions end.
func tunnel(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if c, ok := dst.(interface{ CloseWrite() error }); ok {
			c.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
	a.Close()
	b.Close()
}

// startConnectProxy starts an HTTP proxy (over TLS when useTLS) that
// answers CONNECT with status, or opens the tunnel when status is 200.
func startConnectProxy(t *testing.T, useTLS bool, status int) (*testProxy, *httptest.Server) {
	t.Helper()
	p := &testProxy{}
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.record(r.Host, r.Header.Get("Proxy-Authorization"))
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		if status != http.StatusOK {
			w.WriteHeader(status)
			return
		}
		upstream, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			upstream.Close()
			return
		}
		io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
		if n := brw.Reader.Buffered(); n > 0 {
			b, _ := brw.Reader.Peek(n)
			upstream.Write(b)
		}
		tunnel(conn, upstream)
	}))
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			p.conns.Add(1)
		}
	}
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	if useTLS {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	p.url, _ = url.Parse(s.URL)
	return p, s
}

// startSOCKS5Proxy starts a SOCKS5 proxy without authentication that
// supports CONNECT to IPv4, IPv6 and domain targets.
func startSOCKS5Proxy(t *testing.T) *testProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &testProxy{url: &url.URL{Scheme: "socks5", Host: ln.Addr().String()}}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			go p.serveSOCKS5(conn)
		}
	}()
	return p
}

func (p *testProxy) serveSOCKS5(conn net.Conn) {
	defer conn.Close()
	head := make([]byte, 2)
	if _, err := io.ReadFull(conn, head); err != nil || head[0] != 5 {
		return
	}
	if _, err := io.ReadFull(conn, make([]byte, head[1])); err != nil {
		return
	}
	conn.Write([]byte{5, 0}) // no authentication
	req := make([]byte, 4)
	if _, err := io.ReadFull(conn, req); err != nil || req[1] != 1 {
		return
	}
	var host string
	switch req[3] {
	case 1, 4:
		b := make([]byte, map[byte]int{1: 4, 4: 16}[req[3]])
		io.ReadFull(conn, b)
		ip, _ := netip.AddrFromSlice(b)
		host = ip.String()
	case 3:
		n := make([]byte, 1)
		io.ReadFull(conn, n)
		b := make([]byte, n[0])
		io.ReadFull(conn, b)
		host = string(b)
		p.mu.Lock()
		p.domains++
		p.mu.Unlock()
	}
	port := make([]byte, 2)
	io.ReadFull(conn, port)
	target := net.JoinHostPort(host, fmt.Sprint(binary.BigEndian.Uint16(port)))
	p.record(target, "")
	upstream, err := net.Dial("tcp", target)
	if err != nil {
		conn.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0}) // connection refused
		return
	}
	conn.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	tunnel(conn, upstream)
}

// fakeDNS answers for the names of these tests without a DNS query.
func fakeDNS(_ context.Context, host string) ([]netip.Addr, error) {
	answers := map[string][]string{
		"example.com":    {"127.0.0.1"},
		"metadata.test":  {"169.254.169.254"},
		"private.test":   {"10.0.0.1", "192.168.1.1"},
		"mixed.test":     {"10.0.0.1", "127.0.0.1"},
		"ipv6-only.test": {"::1"},
	}
	var out []netip.Addr
	for _, a := range answers[host] {
		out = append(out, netip.MustParseAddr(a))
	}
	if out == nil {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}

// proxiedClient returns a Client using p, resolving with fakeDNS, trusting
// proxyServer's certificate for an https proxy.
func proxiedClient(t *testing.T, p *testProxy, proxyServer *httptest.Server, allowed []netip.Prefix) *Client {
	t.Helper()
	c := New(Config{AllowedSubnets: allowed, Proxy: p.url})
	c.dialer.lookup = fakeDNS
	if proxyServer != nil && proxyServer.TLS != nil {
		c.dialer.proxyTLS.RootCAs = proxyServer.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	}
	return c
}

type proxyKind struct {
	name  string
	start func(t *testing.T) (*testProxy, *httptest.Server)
}

var proxyKinds = []proxyKind{
	{"http", func(t *testing.T) (*testProxy, *httptest.Server) { return startConnectProxy(t, false, http.StatusOK) }},
	{"https", func(t *testing.T) (*testProxy, *httptest.Server) { return startConnectProxy(t, true, http.StatusOK) }},
	{"socks5", func(t *testing.T) (*testProxy, *httptest.Server) { return startSOCKS5Proxy(t), nil }},
}

// TestDoThroughProxy proves that with a proxy every request goes through
// it, that the proxy is asked for the checked IP address and never for the
// name, and that the receiver still sees the name (Host header, SNI).
func TestDoThroughProxy(t *testing.T) {
	t.Parallel()
	type seen struct{ host, uri, sni string }
	got := make(chan seen, 1)
	record := func(w http.ResponseWriter, r *http.Request) {
		s := seen{host: r.Host, uri: r.RequestURI}
		if r.TLS != nil {
			s.sni = r.TLS.ServerName
		}
		got <- s
	}
	plain := startServer(t, "127.0.0.1:0", http.HandlerFunc(record))
	ca := receivertest.NewCA(t, "receiver CA")
	secure := startTLSServer(t, &tls.Config{Certificates: []tls.Certificate{ca.IssueWith(t, "receiver", true, "ec").TLS}}, record)
	securePort := fmt.Sprint(netip.MustParseAddrPort(secure.Listener.Addr().String()).Port())
	trustReceiver := WithTLS(mustTLS(t, "", ca.CertPEM))

	tests := []struct {
		name       string
		url        string
		opts       []Option
		wantTarget string
		want       seen
	}{
		// Plain http is tunnelled too: the request keeps its Host and origin-form target.
		{"http by name", "http://example.com:" + plain.port() + "/hook?x=1", nil,
			"127.0.0.1:" + plain.port(), seen{"example.com:" + plain.port(), "/hook?x=1", ""}},
		{"http by IP", "http://127.0.0.1:" + plain.port() + "/", nil,
			"127.0.0.1:" + plain.port(), seen{"127.0.0.1:" + plain.port(), "/", ""}},
		{"refused address skipped", "http://mixed.test:" + plain.port() + "/", nil,
			"127.0.0.1:" + plain.port(), seen{"mixed.test:" + plain.port(), "/", ""}},

		// https: the tunnel goes to the IP, TLS to the name.
		{"https by name", "https://example.com:" + securePort + "/hook", []Option{trustReceiver},
			"127.0.0.1:" + securePort, seen{"example.com:" + securePort, "/hook", "example.com"}},
	}
	for _, kind := range proxyKinds {
		t.Run(kind.name, func(t *testing.T) {
			p, ps := kind.start(t)
			c := proxiedClient(t, p, ps, loopbackOnly)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					before := len(p.seen())
					resp, err := post(t, c, tt.url, tt.opts...)
					if err != nil {
						t.Fatal(err)
					}
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("status %d", resp.StatusCode)
					}
					if s := <-got; s != tt.want {
						t.Errorf("receiver saw %+v, want %+v", s, tt.want)
					}
					targets := p.seen()[before:]
					if len(targets) != 1 || targets[0] != tt.wantTarget {
						t.Errorf("proxy was asked for %q, want [%s]", targets, tt.wantTarget)
					}
				})
			}
			if p.domains != 0 {
				t.Errorf("the SOCKS5 proxy was given %d names", p.domains)
			}
		})
	}
}

// TestProxyRefusesBlockedAddressFirst: a refused address is refused by
// hookd before the proxy is asked anything.
func TestProxyRefusesBlockedAddressFirst(t *testing.T) {
	t.Parallel()
	target := startServer(t, "127.0.0.1:0", http.HandlerFunc(ok))
	tests := []struct {
		name   string
		url    string
		wantIP string
	}{
		// Names resolved by hookd to refused addresses.
		{"name of a loopback address", "http://example.com:" + target.port() + "/", "127.0.0.1"},
		{"name of the metadata address", "http://metadata.test/latest/meta-data/", "169.254.169.254"},
		{"name of private addresses only", "https://private.test/", "10.0.0.1"},
		{"IPv6-only loopback name", "http://ipv6-only.test:" + target.port() + "/", "::1"},

		// Literal addresses.
		{"loopback literal", "http://127.0.0.1:" + target.port() + "/", "127.0.0.1"},
		{"mapped loopback literal", "http://[::ffff:127.0.0.1]:" + target.port() + "/", "127.0.0.1"},
	}
	for _, kind := range proxyKinds {
		t.Run(kind.name, func(t *testing.T) {
			p, ps := kind.start(t)
			c := proxiedClient(t, p, ps, nil)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					resp, err := post(t, c, tt.url)
					var blocked *BlockedAddressError
					if resp != nil || !errors.As(err, &blocked) {
						t.Fatalf("response %v, error %v; want a *BlockedAddressError", resp, err)
					}
					if blocked.IP.String() != tt.wantIP {
						t.Errorf("blocked %s, want %s", blocked.IP, tt.wantIP)
					}
				})
			}
			if n := p.conns.Load(); n != 0 {
				t.Errorf("the proxy accepted %d connections, want 0", n)
			}
		})
	}
	if n := target.conns.Load(); n != 0 {
		t.Errorf("the target accepted %d connections, want 0", n)
	}
}

func TestProxyErrors(t *testing.T) {
	t.Parallel()
	target := startServer(t, "127.0.0.1:0", http.HandlerFunc(ok))

	t.Run("proxy refuses the tunnel", func(t *testing.T) {
		t.Parallel()
		p, ps := startConnectProxy(t, false, http.StatusProxyAuthRequired)
		_, err := post(t, proxiedClient(t, p, ps, loopbackOnly), "http://example.com:"+target.port()+"/")
		var perr *ProxyError
		if !errors.As(err, &perr) || perr.StatusCode != http.StatusProxyAuthRequired {
			t.Fatalf("error %v, want a *ProxyError with 407", err)
		}
		if want := "answered 407 Proxy Authentication Required to CONNECT 127.0.0.1:" + target.port(); !strings.Contains(err.Error(), want) {
			t.Errorf("error %q, want %q", err, want)
		}
	})

	t.Run("proxy credentials", func(t *testing.T) {
		t.Parallel()
		p, _ := startConnectProxy(t, false, http.StatusOK)
		withAuth, err := ParseProxyURL("http://hookd:s%3Acret@" + p.url.Host)
		if err != nil {
			t.Fatal(err)
		}
		c := New(Config{AllowedSubnets: loopbackOnly, Proxy: withAuth})
		if _, err := post(t, c, "http://127.0.0.1:"+target.port()+"/"); err != nil {
			t.Fatal(err)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.auth) != 1 || p.auth[0] != "Basic aG9va2Q6czpjcmV0" { // hookd:s:cret
			t.Errorf("Proxy-Authorization = %q", p.auth)
		}
	})

	t.Run("proxy down", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		down := &testProxy{url: &url.URL{Scheme: "http", Host: ln.Addr().String()}}
		ln.Close()
		_, err = post(t, proxiedClient(t, down, nil, loopbackOnly), "http://example.com:"+target.port()+"/secret?token=x")
		if err == nil || !strings.Contains(err.Error(), "connecting to proxy "+down.url.Host) || strings.Contains(err.Error(), "secret") {
			t.Errorf("error %v, want one naming the proxy and not the path", err)
		}
	})

	t.Run("unknown name", func(t *testing.T) {
		t.Parallel()
		p, ps := startConnectProxy(t, false, http.StatusOK)
		_, err := post(t, proxiedClient(t, p, ps, loopbackOnly), "http://nowhere.test/")
		var dnsErr *net.DNSError
		if !errors.As(err, &dnsErr) || !strings.Contains(err.Error(), "resolving nowhere.test") {
			t.Errorf("error %v, want a DNS error", err)
		}
		if p.conns.Load() != 0 {
			t.Error("the proxy was asked")
		}
	})
}

func TestParseProxyURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    string // "" means an error
		wantErr string
	}{
		// Accepted, with default ports.
		{"http://proxy.internal:3128", "http://proxy.internal:3128", ""},
		{"http://proxy.internal", "http://proxy.internal:80", ""},
		{"https://proxy.internal", "https://proxy.internal:443", ""},
		{"socks5://10.0.0.5", "socks5://10.0.0.5:1080", ""},
		{"socks5://[fd00::5]:1080/", "socks5://[fd00::5]:1080", ""},
		{"http://user:pa%20ss@proxy.internal:8080", "http://user:pa%20ss@proxy.internal:8080", ""},

		// Refused.
		{"", "", `scheme "" is not supported`},
		{"proxy.internal:3128", "", `scheme "proxy.internal" is not supported`},
		{"socks5h://proxy.internal", "", `scheme "socks5h" is not supported`},
		{"ftp://proxy.internal", "", `scheme "ftp" is not supported`},
		{"http://", "", "URL without a host"},
		{"http://proxy.internal/path", "", "no path or query"},
		{"http://proxy.internal/?x=1", "", "no path or query"},
		{"http://user:secret@proxy internal", "", "not a URL"},
	}
	for _, tt := range tests {
		got, err := ParseProxyURL(tt.in)
		if tt.want == "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "secret") {
				t.Errorf("ParseProxyURL(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseProxyURL(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}
