package receivertest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// CA is a certificate authority made for one test.
type CA struct {
	Cert    *x509.Certificate
	CertPEM string
	key     *ecdsa.PrivateKey
}

// Cert is a certificate issued by a CA, with its private key.
type Cert struct {
	CertPEM, KeyPEM string
	TLS             tls.Certificate
}

// Identity returns the key and certificate in one PEM text, the form of
// Svix's EndpointMtlsConfigIn.identity.
func (c Cert) Identity() string { return c.KeyPEM + c.CertPEM }

// NewCA returns a new CA named name, valid for an hour.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{Cert: cert, CertPEM: pemOf("CERTIFICATE", der), key: key}
}

// Pool returns a pool holding the CA alone.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Issue returns a certificate for cn with a PKCS#8 EC key: a server
// certificate (IssueWith) or a client certificate.
func (ca *CA) Issue(t testing.TB, cn string, server bool) Cert {
	t.Helper()
	return ca.IssueWith(t, cn, server, "pkcs8")
}

// IssueWith returns a certificate for cn whose key is keyType: "ec" (an
// EC PRIVATE KEY block), "pkcs8" (EC, PRIVATE KEY) or "rsa" (2048 bits,
// PKCS#1). A server certificate is valid for 127.0.0.1, ::1, localhost
// and example.com; any other is a client certificate.
func (ca *CA) IssueWith(t testing.TB, cn string, server bool, keyType string) Cert {
	t.Helper()
	var key crypto.Signer
	var keyPEM string
	switch keyType {
	case "ec":
		k := newKey(t)
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		key, keyPEM = k, pemOf("EC PRIVATE KEY", der)
	case "pkcs8":
		k := newKey(t)
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		key, keyPEM = k, pemOf("PRIVATE KEY", der)
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		key, keyPEM = k, pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k))
	default:
		t.Fatalf("receivertest: unknown key type %q", keyType)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		tmpl.DNSNames = []string{"localhost", "example.com"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c := Cert{CertPEM: pemOf("CERTIFICATE", der), KeyPEM: keyPEM}
	if c.TLS, err = tls.X509KeyPair([]byte(c.CertPEM), []byte(c.KeyPEM)); err != nil {
		t.Fatal(err)
	}
	return c
}

// NewMTLSServer starts an https server on 127.0.0.1 whose certificate is
// issued by serverCA and which refuses any client without a certificate
// issued by clientCA: the TLS handshake fails, h never runs.
func NewMTLSServer(t testing.TB, serverCA, clientCA *CA, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{serverCA.Issue(t, "receiver", true).TLS},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCA.Pool(),
		MinVersion:   tls.VersionTLS12,
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}
