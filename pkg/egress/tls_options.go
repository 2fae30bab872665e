package egress

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// ErrInvalidTLSOptions is wrapped by every error of ParseTLSOptions.
var ErrInvalidTLSOptions = errors.New("invalid TLS options")

// TLSOptions are the TLS settings of one endpoint: a client certificate to
// present (mutual TLS) and the certificate authorities that its server's
// certificate must chain to. Make them with ParseTLSOptions and pass them
// to Client.DoWith with WithTLS.
//
// A TLSOptions is immutable and safe for concurrent use. It holds a
// private key: String and LogValue never show it.
type TLSOptions struct {
	cert    *tls.Certificate // nil: no client certificate
	roots   *x509.CertPool   // nil: the system's roots
	nRoots  int
	subject string
	// key identifies the transport these options get: a digest of the PEM
	// they were parsed from.
	key string
}

// ParseTLSOptions reads an endpoint's TLS material:
//
//   - identity (EndpointMtlsConfigIn.identity): a PEM private key (PKCS#8,
//     PKCS#1 or SEC 1, unencrypted) and its PEM certificate, optionally
//     followed by intermediate certificates, in any order;
//   - serverCA (the hookd extension serverCaCert): one or more PEM
//     certificates. When given, the endpoint's server certificate must
//     chain to one of them, and the system's roots are not consulted for
//     it, as for a private PKI.
//
// Either may be empty; when both are, ParseTLSOptions returns nil and no
// error, and nil options mean the shared default transport. Errors wrap
// ErrInvalidTLSOptions, say which input is wrong and why, and never contain
// key material.
func ParseTLSOptions(identity, serverCA string) (*TLSOptions, error) {
	if strings.TrimSpace(identity) == "" && strings.TrimSpace(serverCA) == "" {
		return nil, nil
	}
	o := &TLSOptions{key: digest(identity, serverCA)}
	if strings.TrimSpace(identity) != "" {
		cert, err := parseIdentity(identity)
		if err != nil {
			return nil, err
		}
		o.cert = cert
		o.subject = cert.Leaf.Subject.String()
	}
	if strings.TrimSpace(serverCA) != "" {
		roots, n, err := parseCAs(serverCA)
		if err != nil {
			return nil, err
		}
		o.roots, o.nRoots = roots, n
	}
	return o, nil
}

func parseIdentity(identity string) (*tls.Certificate, error) {
	var certs, keys int
	for rest := []byte(identity); ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch {
		case block.Type == "CERTIFICATE":
			certs++
		case block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "":
			return nil, fmt.Errorf("%w: mTLS identity: the private key is encrypted; give it unencrypted", ErrInvalidTLSOptions)
		case strings.HasSuffix(block.Type, "PRIVATE KEY"):
			keys++
		}
	}
	switch {
	case certs == 0:
		return nil, fmt.Errorf("%w: mTLS identity: no PEM CERTIFICATE block", ErrInvalidTLSOptions)
	case keys == 0:
		return nil, fmt.Errorf("%w: mTLS identity: no PEM private key block", ErrInvalidTLSOptions)
	case keys > 1:
		return nil, fmt.Errorf("%w: mTLS identity: %d private keys, want one", ErrInvalidTLSOptions, keys)
	}
	cert, err := tls.X509KeyPair([]byte(identity), []byte(identity))
	if err != nil {
		return nil, fmt.Errorf("%w: mTLS identity: %s", ErrInvalidTLSOptions, strings.TrimPrefix(err.Error(), "tls: "))
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%w: mTLS identity: %v", ErrInvalidTLSOptions, err)
		}
	}
	return &cert, nil
}

func parseCAs(serverCA string) (*x509.CertPool, int, error) {
	pool := x509.NewCertPool()
	n := 0
	for rest := []byte(serverCA); ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		n++
		if block.Type != "CERTIFICATE" {
			return nil, 0, fmt.Errorf("%w: serverCaCert: PEM block %d is a %q, want CERTIFICATE", ErrInvalidTLSOptions, n, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: serverCaCert: certificate %d: %v", ErrInvalidTLSOptions, n, err)
		}
		pool.AddCert(cert)
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("%w: serverCaCert: no PEM CERTIFICATE block", ErrInvalidTLSOptions)
	}
	return pool, n, nil
}

// digest returns a hex SHA-256 of the inputs, each preceded by its length
// so that no two different pairs give the same bytes.
func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(p))))
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// tlsConfig returns the client configuration of the options' transport.
func (o *TLSOptions) tlsConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: o.roots}
	if o.cert != nil {
		cfg.Certificates = []tls.Certificate{*o.cert}
	}
	return cfg
}

// String describes the options without their key material.
func (o *TLSOptions) String() string {
	if o == nil {
		return "TLSOptions{}"
	}
	identity := "none"
	if o.cert != nil {
		identity = fmt.Sprintf("%q", o.subject)
	}
	return fmt.Sprintf("TLSOptions{identity: %s, serverCA: %d certificates}", identity, o.nRoots)
}

// LogValue logs the options as String describes them.
func (o *TLSOptions) LogValue() slog.Value {
	return slog.StringValue(o.String())
}
