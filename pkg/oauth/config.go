package oauth

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/hookd/hookd/pkg/egress"
)

// GrantType is how a token is obtained (Svix's Oauth2GrantTypeInOut).
type GrantType string

// The grant types of EndpointOauthConfigIn.
const (
	// GrantClientCredentials asks for a token with the client's own
	// credentials (RFC 6749 §4.4).
	GrantClientCredentials GrantType = "clientCredentials"
	// GrantRefreshToken exchanges a refresh token obtained elsewhere for
	// access tokens (RFC 6749 §6). A rotated refresh token replaces it.
	GrantRefreshToken GrantType = "refreshToken"
)

// AuthMethod is how hookd authenticates to the token endpoint (Svix's
// Oauth2AuthMethodInOut).
type AuthMethod string

// The client authentication methods of EndpointOauthConfigIn.
const (
	// AuthClientSecretBasic sends client id and secret in an
	// "Authorization: Basic" header (RFC 6749 §2.3.1), the common case.
	AuthClientSecretBasic AuthMethod = "clientSecretBasic"
	// AuthClientSecretPost sends them as client_id and client_secret form
	// fields.
	AuthClientSecretPost AuthMethod = "clientSecretPost"
	// AuthClientSecretJWT sends a signed JWT client assertion (RFC 7523
	// §2.2) made from JWTParams, and no client secret.
	AuthClientSecretJWT AuthMethod = "clientSecretJwt"
)

// JWT signing algorithms for JWTParams.SigningAlgorithm.
const (
	// AlgRS256 is the one algorithm of Svix's OauthJwsSigningAlgorithm:
	// SecretBase64 is the base64 of an RSA private key (PEM or DER, PKCS#8
	// or PKCS#1).
	AlgRS256 = "RS256"
	// AlgHS256 is a hookd extension for authorization servers that expect
	// an HMAC-signed assertion (OpenID Connect's client_secret_jwt):
	// SecretBase64 is the base64 of the HMAC key, at least 32 bytes.
	AlgHS256 = "HS256"
)

// DefaultJWTExpiry is the lifetime of a client assertion when
// JWTParams.TokenExpiry is zero, as in Svix's API.
const DefaultJWTExpiry = 300 * time.Second

// reservedParams are the form fields hookd sets itself; ExtraParams may
// not override them.
var reservedParams = []string{
	"grant_type", "scope", "client_id", "client_secret", "refresh_token",
	"client_assertion", "client_assertion_type",
}

// reservedHeaders are the token request headers hookd sets itself.
var reservedHeaders = []string{"Content-Type", "Content-Length", "Host", "Transfer-Encoding"}

// Config is an endpoint's OAuth2 configuration, the fields of Svix's
// EndpointOauthConfigIn under their Go names. The zero value is invalid;
// Validate says what is missing.
//
// It holds secrets (ClientSecret, RefreshToken, JWT.SecretBase64): String
// and LogValue leave them out, and no error of this package contains them.
type Config struct {
	GrantType  GrantType
	AuthMethod AuthMethod
	// ClientID is required for every method.
	ClientID string
	// ClientSecret is required for clientSecretBasic and clientSecretPost,
	// and not used for clientSecretJwt.
	ClientSecret string
	// TokenURL is the authorization server's token endpoint, an absolute
	// http or https URL. It is reached through the egress guard like any
	// endpoint.
	TokenURL string
	// Scopes are sent space-separated in the scope field; nil sends none.
	Scopes []string
	// ExtraParams are added to the token request's form (e.g. audience).
	ExtraParams map[string]string
	// ExtraHeaders are added to the token request.
	ExtraHeaders map[string]string
	// RefreshToken is required for the refreshToken grant.
	RefreshToken string
	// JWT is required for clientSecretJwt.
	JWT *JWTParams
}

// JWTParams make the client assertion of clientSecretJwt (Svix's
// ClientSecretJwtParamsIn).
type JWTParams struct {
	// SecretBase64 is the base64 of the signing key (see AlgRS256, AlgHS256).
	SecretBase64 string
	// SigningAlgorithm is AlgRS256 or AlgHS256.
	SigningAlgorithm string
	// SecretID, when set, is the JWT header's kid.
	SecretID string
	// TokenExpiry is the assertion's lifetime. Zero means DefaultJWTExpiry.
	TokenExpiry time.Duration
}

// FieldError is the error of Validate: Field is the JSON name of the
// offending field in EndpointOauthConfigIn (e.g. "jwtParams.secretBase64"),
// for a 422 loc.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("oauth config: %s: %s", e.Field, e.Message)
}

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Validate reports the first problem of c as a *FieldError, or nil when a
// Source can be made from c. It checks the enums, the fields each grant
// and method need, that TokenURL is an absolute http(s) URL, that the JWT
// key parses, and that ExtraParams and ExtraHeaders neither are malformed
// nor override what hookd sets itself.
func (c Config) Validate() error {
	_, err := c.prepare()
	return err
}

// prepared is what a Source needs from a valid Config.
type prepared struct {
	tokenURL *url.URL
	jwtKey   any // *rsa.PrivateKey or []byte
	jwtTTL   time.Duration
}

func (c Config) prepare() (prepared, error) {
	var p prepared
	switch c.GrantType {
	case GrantClientCredentials:
	case GrantRefreshToken:
		if c.RefreshToken == "" {
			return p, fieldErr("refreshToken", "is required for the %s grant", GrantRefreshToken)
		}
	default:
		return p, fieldErr("grantType", "must be %q or %q", GrantClientCredentials, GrantRefreshToken)
	}
	if c.ClientID == "" {
		return p, fieldErr("clientId", "must not be empty")
	}
	u, err := url.Parse(c.TokenURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		return p, fieldErr("tokenUrl", "must be an absolute http or https URL without a fragment")
	}
	p.tokenURL = u

	switch c.AuthMethod {
	case AuthClientSecretBasic, AuthClientSecretPost:
		if c.ClientSecret == "" {
			return p, fieldErr("clientSecret", "is required for %s", c.AuthMethod)
		}
	case AuthClientSecretJWT:
		if p.jwtKey, p.jwtTTL, err = c.JWT.parse(); err != nil {
			return p, err
		}
	default:
		return p, fieldErr("authMethod", "must be %q, %q or %q", AuthClientSecretBasic, AuthClientSecretPost, AuthClientSecretJWT)
	}

	for _, k := range sortedKeys(c.ExtraParams) {
		if k == "" || slices.Contains(reservedParams, k) {
			return p, fieldErr("extraParams."+k, "cannot be set: hookd sets %s itself", strings.Join(reservedParams, ", "))
		}
	}
	for _, k := range sortedKeys(c.ExtraHeaders) {
		switch {
		case !httpguts.ValidHeaderFieldName(k):
			return p, fieldErr("extraHeaders", "%q is not a valid header name", k)
		case !httpguts.ValidHeaderFieldValue(c.ExtraHeaders[k]):
			return p, fieldErr("extraHeaders."+k, "is not a valid header value")
		case slices.Contains(reservedHeaders, http.CanonicalHeaderKey(k)),
			c.AuthMethod == AuthClientSecretBasic && http.CanonicalHeaderKey(k) == "Authorization":
			return p, fieldErr("extraHeaders."+k, "cannot be set: hookd sets it itself")
		}
	}
	return p, nil
}

// parse returns the signing key and assertion lifetime of j.
func (j *JWTParams) parse() (any, time.Duration, error) {
	if j == nil {
		return nil, 0, fieldErr("jwtParams", "is required for %s", AuthClientSecretJWT)
	}
	ttl := j.TokenExpiry
	switch {
	case ttl == 0:
		ttl = DefaultJWTExpiry
	case ttl < time.Second:
		return nil, 0, fieldErr("jwtParams.tokenExpirySecs", "must be at least 1 second")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(j.SecretBase64))
	if err != nil || len(raw) == 0 {
		return nil, 0, fieldErr("jwtParams.secretBase64", "must be non-empty standard base64")
	}
	switch j.SigningAlgorithm {
	case AlgRS256:
		key, err := parseRSAKey(raw)
		if err != nil {
			return nil, 0, fieldErr("jwtParams.secretBase64", "%s", err)
		}
		return key, ttl, nil
	case AlgHS256:
		if len(raw) < 32 {
			return nil, 0, fieldErr("jwtParams.secretBase64", "an HS256 key must be at least 32 bytes, got %d", len(raw))
		}
		return raw, ttl, nil
	}
	return nil, 0, fieldErr("jwtParams.signingAlgorithm", "must be %q (or the hookd extension %q)", AlgRS256, AlgHS256)
}

// parseRSAKey reads an RSA private key given as PEM or DER, PKCS#8 or
// PKCS#1. Its errors never contain key material.
func parseRSAKey(raw []byte) (*rsa.PrivateKey, error) {
	if block, _ := pem.Decode(raw); block != nil {
		raw = block.Bytes
	}
	if k, err := x509.ParsePKCS8PrivateKey(raw); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("an RS256 key must be an RSA private key, got %T", k)
		}
		return rk, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(raw); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("not an RSA private key (PEM or DER, PKCS#8 or PKCS#1)")
}

// fingerprint is a digest of the whole configuration, secrets included,
// that tells whether an endpoint's configuration changed.
func (c Config) fingerprint() string {
	b, _ := json.Marshal(c) // maps marshal in key order
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// String describes c without its secrets.
func (c Config) String() string {
	return fmt.Sprintf("oauth.Config{grantType: %s, authMethod: %s, clientId: %q, tokenUrl: %q, scopes: %q}",
		c.GrantType, c.AuthMethod, c.ClientID, egress.MaskUserinfo(c.TokenURL), c.Scopes)
}

// LogValue logs c without its secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("grantType", string(c.GrantType)),
		slog.String("authMethod", string(c.AuthMethod)),
		slog.String("clientId", c.ClientID),
		slog.String("tokenUrl", egress.MaskUserinfo(c.TokenURL)),
		slog.Any("scopes", c.Scopes),
	)
}

// String describes j without its key.
func (j *JWTParams) String() string {
	if j == nil {
		return "<nil>"
	}
	return fmt.Sprintf("oauth.JWTParams{signingAlgorithm: %s, secretId: %q, tokenExpiry: %s}", j.SigningAlgorithm, j.SecretID, j.TokenExpiry)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// GoString keeps secrets out of %#v as well.
func (c Config) GoString() string { return c.String() }
