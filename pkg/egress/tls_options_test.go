package egress

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hookd/hookd/internal/receivertest"
)

func TestParseTLSOptions(t *testing.T) {
	t.Parallel()
	ca := receivertest.NewCA(t, "client CA")
	ec := ca.IssueWith(t, "ec client", false, "ec")
	pkcs8 := ca.IssueWith(t, "pkcs8 client", false, "pkcs8")
	rsa := ca.IssueWith(t, "rsa client", false, "rsa")
	other := ca.IssueWith(t, "other", false, "ec")
	encrypted := "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"

	tests := []struct {
		name      string
		identity  string
		serverCA  string
		wantNil   bool
		wantErr   string // "" means accepted
		wantShown string // in String()
	}{
		// Nothing given: no options.
		{"both empty", "", "", true, "", ""},
		{"blank", " \n", "\n", true, "", ""},

		// Identities, key and certificate in either order.
		{"EC key then certificate", ec.KeyPEM + ec.CertPEM, "", false, "", `identity: "CN=ec client", serverCA: 0`},
		{"certificate then key", ec.CertPEM + ec.KeyPEM, "", false, "", `"CN=ec client"`},
		{"PKCS#8 key", pkcs8.KeyPEM + pkcs8.CertPEM, "", false, "", `"CN=pkcs8 client"`},
		{"RSA PKCS#1 key", rsa.KeyPEM + rsa.CertPEM, "", false, "", `"CN=rsa client"`},
		{"with a chain certificate", ec.KeyPEM + ec.CertPEM + ca.CertPEM, "", false, "", `"CN=ec client"`},
		{"text around the blocks", "key:\n" + ec.KeyPEM + "cert:\n" + ec.CertPEM + "end\n", "", false, "", `"CN=ec client"`},

		// Broken identities.
		{"certificate only", ec.CertPEM, "", false, "no PEM private key block", ""},
		{"key only", ec.KeyPEM, "", false, "no PEM CERTIFICATE block", ""},
		{"key of another certificate", other.KeyPEM + ec.CertPEM, "", false, "private key does not match public key", ""},
		{"two keys", ec.KeyPEM + other.KeyPEM + ec.CertPEM, "", false, "2 private keys, want one", ""},
		{"encrypted key", encrypted + ec.CertPEM, "", false, "the private key is encrypted", ""},
		{"not PEM", "hello", "", false, "no PEM CERTIFICATE block", ""},
		{"corrupt certificate", ec.KeyPEM + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "", false, "mTLS identity: ", ""},

		// Server CAs.
		{"one CA", "", ca.CertPEM, false, "", "identity: none, serverCA: 1 certificates"},
		{"two CAs", "", ca.CertPEM + receivertest.NewCA(t, "second").CertPEM, false, "", "serverCA: 2 certificates"},
		{"identity and CA", ec.KeyPEM + ec.CertPEM, ca.CertPEM, false, "", `identity: "CN=ec client", serverCA: 1 certificates`},
		{"CA not PEM", "", "hello", false, "serverCaCert: no PEM CERTIFICATE block", ""},
		{"key in the CA input", "", ca.CertPEM + ec.KeyPEM, false, `PEM block 2 is a "EC PRIVATE KEY", want CERTIFICATE`, ""},
		{"corrupt CA", "", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", false, "serverCaCert: certificate 1: ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, err := ParseTLSOptions(tt.identity, tt.serverCA)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrInvalidTLSOptions) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want ErrInvalidTLSOptions with %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "PRIVATE KEY-----") {
					t.Errorf("error %q repeats key material", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (o == nil) != tt.wantNil {
				t.Fatalf("options = %v, want nil %v", o, tt.wantNil)
			}
			if !strings.Contains(o.String(), tt.wantShown) {
				t.Errorf("String() = %q, want it to contain %q", o, tt.wantShown)
			}
		})
	}
}

func TestTLSOptionsHideKey(t *testing.T) {
	t.Parallel()
	c := receivertest.NewCA(t, "ca").IssueWith(t, "client", false, "pkcs8")
	o, err := ParseTLSOptions(c.KeyPEM+c.CertPEM, "")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "tls", o)
	keyBody := strings.Split(c.KeyPEM, "\n")[1][:16]
	for _, shown := range []string{fmt.Sprint(o), fmt.Sprintf("%v %+v %s", o, o, o), buf.String()} {
		if strings.Contains(shown, keyBody) || strings.Contains(shown, "PRIVATE") {
			t.Errorf("%q shows the key", shown)
		}
	}
}

// tlsServer starts a TLS server on 127.0.0.1 with cfg, counting the
// connections it accepts and the requests that reach h.
type tlsServer struct {
	*httptest.Server
	conns, requests atomic.Int64
}

func startTLSServer(t *testing.T, cfg *tls.Config, h http.HandlerFunc) *tlsServer {
	t.Helper()
	s := &tlsServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		h(w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	s.TLS = cfg
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func mustTLS(t *testing.T, identity, serverCA string) *TLSOptions {
	t.Helper()
	o, err := ParseTLSOptions(identity, serverCA)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestDoPresentsClientCertificate is mutual TLS against a receiver that
// requires and verifies a client certificate: it accepts hookd's identity
// and refuses a request without one, or with one from another CA.
func TestDoPresentsClientCertificate(t *testing.T) {
	t.Parallel()
	serverCA, clientCA, rogueCA := receivertest.NewCA(t, "server CA"), receivertest.NewCA(t, "client CA"), receivertest.NewCA(t, "rogue CA")
	serverCert := serverCA.IssueWith(t, "receiver", true, "ec")
	hookd := clientCA.IssueWith(t, "hookd sender", false, "pkcs8")
	rogue := rogueCA.IssueWith(t, "hookd sender", false, "pkcs8")

	seen := make(chan string, 10)
	s := startTLSServer(t, &tls.Config{
		Certificates: []tls.Certificate{serverCert.TLS},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCA.Pool(),
	}, func(w http.ResponseWriter, r *http.Request) {
		seen <- r.TLS.PeerCertificates[0].Subject.CommonName
	})
	c := New(Config{AllowedSubnets: loopbackOnly})

	tests := []struct {
		name    string
		opts    []Option
		wantErr string // "" means accepted
	}{
		// Accepted: hookd's identity, and the receiver's private CA trusted.
		{"identity and server CA", []Option{WithTLS(mustTLS(t, hookd.KeyPEM+hookd.CertPEM, serverCA.CertPEM))}, ""},

		// Refused by the receiver.
		{"no identity", []Option{WithTLS(mustTLS(t, "", serverCA.CertPEM))}, "certificate required"},
		// (Go sends no certificate that the receiver's CA list excludes.)
		{"identity from another CA", []Option{WithTLS(mustTLS(t, rogue.KeyPEM+rogue.CertPEM, serverCA.CertPEM))}, "certificate required"},

		// Refused by hookd: the receiver's CA is not trusted.
		{"identity without server CA", []Option{WithTLS(mustTLS(t, hookd.KeyPEM+hookd.CertPEM, ""))}, "certificate signed by unknown authority"},
		{"no options", nil, "certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.requests.Load()
			resp, err := post(t, c, s.URL+"/hook", tt.opts...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d", resp.StatusCode)
				}
				if cn := <-seen; cn != "hookd sender" {
					t.Errorf("receiver saw client %q", cn)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one with %q", err, tt.wantErr)
			}
			if n := s.requests.Load() - before; n != 0 {
				t.Errorf("%d requests reached the handler", n)
			}
		})
	}
}

// TestDoTrustsPrivateCAOnlyWithServerCA: a receiver whose certificate comes
// from a private CA is trusted with that CA as serverCaCert, and not with
// the system's roots nor with another CA.
func TestDoTrustsPrivateCAOnlyWithServerCA(t *testing.T) {
	t.Parallel()
	private := receivertest.NewCA(t, "private CA")
	s := startTLSServer(t, &tls.Config{Certificates: []tls.Certificate{private.IssueWith(t, "receiver", true, "rsa").TLS}},
		func(w http.ResponseWriter, r *http.Request) {})
	c := New(Config{AllowedSubnets: loopbackOnly})

	if _, err := post(t, c, s.URL); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("without serverCaCert: %v", err)
	}
	if _, err := post(t, c, s.URL, WithTLS(mustTLS(t, "", receivertest.NewCA(t, "other").CertPEM))); err == nil {
		t.Error("another CA was trusted")
	}
	resp, err := post(t, c, s.URL, WithTLS(mustTLS(t, "", private.CertPEM)))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("with serverCaCert: %v %v", resp, err)
	}
	if n := s.requests.Load(); n != 1 {
		t.Errorf("%d requests reached the receiver, want 1", n)
	}
}

// TestTLSTransportsPooled: equal options share one pool (and connection),
// different options get their own, the number of pools is bounded, and the
// shared pool is untouched.
func TestTLSTransportsPooled(t *testing.T) {
	t.Parallel()
	ca := receivertest.NewCA(t, "CA")
	s := startTLSServer(t, &tls.Config{Certificates: []tls.Certificate{ca.IssueWith(t, "receiver", true, "ec").TLS}},
		func(w http.ResponseWriter, r *http.Request) {})
	c := New(Config{AllowedSubnets: loopbackOnly, MaxTLSTransports: 2})
	identity := func() string { i := ca.IssueWith(t, "client", false, "ec"); return i.KeyPEM + i.CertPEM }

	a := identity()
	for range 3 { // parsed anew each time, as a worker would per attempt
		if _, err := post(t, c, s.URL, WithTLS(mustTLS(t, a, ca.CertPEM))); err != nil {
			t.Fatal(err)
		}
	}
	if n, pools := s.conns.Load(), c.tlsTransports.len(); n != 1 || pools != 1 {
		t.Errorf("3 requests with equal options: %d connections, %d pools; want 1 and 1", n, pools)
	}
	for range 2 {
		if _, err := post(t, c, s.URL, WithTLS(mustTLS(t, identity(), ca.CertPEM))); err != nil {
			t.Fatal(err)
		}
	}
	if n, pools := s.conns.Load(), c.tlsTransports.len(); n != 3 || pools != 2 {
		t.Errorf("two more identities: %d connections, %d pools; want 3 and at most 2", n, pools)
	}
	if _, ok := c.tlsTransports.byKey[mustTLS(t, a, ca.CertPEM).key]; ok {
		t.Error("the least recently used pool was kept beyond the bound")
	}
	if c.transport.TLSClientConfig.RootCAs != nil || len(c.transport.TLSClientConfig.Certificates) != 0 {
		t.Error("the shared transport took TLS options")
	}
}

// TestTLSOptionsKeepGuard: a pool of its own does not escape the guard.
func TestTLSOptionsKeepGuard(t *testing.T) {
	t.Parallel()
	ca := receivertest.NewCA(t, "CA")
	s := startTLSServer(t, &tls.Config{Certificates: []tls.Certificate{ca.IssueWith(t, "receiver", true, "ec").TLS}},
		func(w http.ResponseWriter, r *http.Request) {})
	id := ca.IssueWith(t, "client", false, "ec")
	_, err := post(t, New(Config{}), s.URL, WithTLS(mustTLS(t, id.KeyPEM+id.CertPEM, ca.CertPEM)))
	var blocked *BlockedAddressError
	if !errors.As(err, &blocked) {
		t.Fatalf("error %v, want a *BlockedAddressError", err)
	}
	if s.conns.Load() != 0 {
		t.Error("the receiver was connected to")
	}
}
