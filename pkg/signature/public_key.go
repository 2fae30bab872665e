package signature

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// PublicKeyPrefix starts the text form of an Ed25519 public key.
const PublicKeyPrefix = "whpk_"

// ErrInvalidPublicKey is wrapped by the errors of ParsePublicKey and
// ParseJWKSet, and returned by VerifyEd25519 for a key of the wrong size.
var ErrInvalidPublicKey = errors.New("invalid webhook public key")

// PublicKey is the 32-byte public half of a PrivateKey: what a receiver
// needs to verify "v1a" signatures. It is not secret.
type PublicKey ed25519.PublicKey

// ParsePublicKey decodes "whpk_" followed by the standard base64 (with
// padding) of the 32-byte key. The prefix may be left out. The error wraps
// ErrInvalidPublicKey.
func ParsePublicKey(s string) (PublicKey, error) {
	body, _ := strings.CutPrefix(s, PublicKeyPrefix)
	b, err := base64.StdEncoding.DecodeString(body)
	if err != nil || !isBase64Text(body) {
		return nil, fmt.Errorf("%w: not valid standard base64 (with padding) after the optional %q prefix", ErrInvalidPublicKey, PublicKeyPrefix)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: an Ed25519 public key is %d bytes, got %d", ErrInvalidPublicKey, ed25519.PublicKeySize, len(b))
	}
	return PublicKey(b), nil
}

// String returns "whpk_" followed by the standard base64 of the key.
// ParsePublicKey(k.String()) returns k.
func (k PublicKey) String() string {
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(k)
}

// KeyID returns the JWK thumbprint of k (RFC 7638 with the members of
// RFC 8037: SHA-256 over {"crv":"Ed25519","kty":"OKP","x":"…"}, in
// unpadded base64url). It depends on the key alone, so it is the same in
// every process and after every restart, and any JOSE library computes
// the same value.
func (k PublicKey) KeyID() string {
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(k) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// JWK returns k as a JSON Web Key (RFC 8037): kty "OKP", crv "Ed25519", x
// the unpadded base64url of the key, kid its KeyID, use "sig" and alg
// "EdDSA".
func (k PublicKey) JWK() JWK {
	return JWK{
		Kty: "OKP",
		Crv: "Ed25519",
		X:   base64.RawURLEncoding.EncodeToString(k),
		Kid: k.KeyID(),
		Use: "sig",
		Alg: "EdDSA",
	}
}

// JWK is one JSON Web Key, with the members an Ed25519 public key uses.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
}

// JWKSet is a JSON Web Key Set (RFC 7517 §5): {"keys":[…]}.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// NewJWKSet returns the set of keys, in the order given (newest first, by
// convention). Keys is an empty array, never null, when there are none.
func NewJWKSet(keys ...PublicKey) JWKSet {
	set := JWKSet{Keys: make([]JWK, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.JWK())
	}
	return set
}

// PublicKey returns the Ed25519 key that j holds. It fails, wrapping
// ErrInvalidPublicKey, when j is not an OKP Ed25519 key or x does not
// decode to 32 bytes.
func (j JWK) PublicKey() (PublicKey, error) {
	if j.Kty != "OKP" || j.Crv != "Ed25519" {
		return nil, fmt.Errorf("%w: JWK kty %q crv %q is not an Ed25519 key", ErrInvalidPublicKey, j.Kty, j.Crv)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(j.X, "="))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: JWK x is not the unpadded base64url of %d bytes", ErrInvalidPublicKey, ed25519.PublicKeySize)
	}
	return PublicKey(b), nil
}

// ParseJWKSet reads a JSON Web Key Set, such as the one hookd publishes for
// an endpoint, and returns its Ed25519 keys in order. Keys of other types
// and keys whose "use" is set to anything but "sig" are skipped, so that a
// set can grow new kinds of keys without breaking receivers. It fails,
// wrapping ErrInvalidPublicKey, when data is not a key set, when an
// Ed25519 key is malformed, or when no usable key remains.
func ParseJWKSet(data []byte) ([]PublicKey, error) {
	var set JWKSet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("%w: not a JSON Web Key Set: %w", ErrInvalidPublicKey, err)
	}
	var keys []PublicKey
	for i, j := range set.Keys {
		if j.Kty != "OKP" || j.Crv != "Ed25519" || (j.Use != "" && j.Use != "sig") {
			continue
		}
		k, err := j.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: the key set holds no Ed25519 signing key", ErrInvalidPublicKey)
	}
	return keys, nil
}
