package signature

import (
	"fmt"
	"log/slog"
	"strings"
)

// Type is the kind of an endpoint's signing key. Its text is the value of
// the hookd extension signatureType and of HOOKD_DEFAULT_SIGNATURE_TYPE.
type Type string

// The two signature types of the Standard Webhooks specification.
const (
	// TypeHMAC keys are shared secrets ("whsec_…"); they sign "v1,"
	// entries with HMAC-SHA256.
	TypeHMAC Type = "hmac"
	// TypeEd25519 keys are Ed25519 key pairs ("whsk_…", public half
	// "whpk_…"); they sign "v1a," entries.
	TypeEd25519 Type = "ed25519"
)

// Entry versions: the text before the comma of a signature entry.
const (
	VersionHMAC    = "v1"
	VersionEd25519 = "v1a"
)

// ParseType returns the Type named s, exactly "hmac" or "ed25519"; anything
// else is an error naming both.
func ParseType(s string) (Type, error) {
	switch t := Type(s); t {
	case TypeHMAC, TypeEd25519:
		return t, nil
	}
	return "", fmt.Errorf("unknown signature type %q: want %q or %q", s, TypeHMAC, TypeEd25519)
}

// Version returns the entry version that keys of type t sign with: "v1"
// for TypeHMAC, "v1a" for TypeEd25519, "" for an unknown type.
func (t Type) Version() string {
	switch t {
	case TypeHMAC:
		return VersionHMAC
	case TypeEd25519:
		return VersionEd25519
	}
	return ""
}

// Key is one signing key of an endpoint: a Secret (HMAC) or a PrivateKey
// (Ed25519). The interface is sealed: only this package implements it, so
// that every Key signs in a format receivers can verify.
//
// String returns the key's text form ("whsec_…" or "whsk_…", which
// ParseKey reads back); LogValue keeps it out of structured logs.
type Key interface {
	Type() Type
	String() string
	slog.LogValuer

	// appendEntry appends the signature entry "<version>,<base64>" of
	// msgID.unix.body to dst.
	appendEntry(dst []byte, msgID string, unix int64, body []byte) []byte
	// entryLen is the length of the entry appendEntry appends.
	entryLen() int
}

// ParseKey reads any secret an endpoint may hold, choosing its type by
// prefix:
//
//   - "whsk_<base64 of 64 bytes>": an Ed25519 private key, as ParsePrivateKey;
//   - anything else: an HMAC secret with an optional "whsec_" prefix, as
//     ParseSecret.
//
// A public key ("whpk_…") is refused with an error that says so, since it
// cannot sign. Every error wraps ErrInvalidSecret and never contains the
// key.
func ParseKey(s string) (Key, error) {
	switch {
	case strings.HasPrefix(s, PrivateKeyPrefix):
		return ParsePrivateKey(s)
	case strings.HasPrefix(s, PublicKeyPrefix):
		return nil, fmt.Errorf("%w: a %q public key cannot sign; give the %q private key", ErrInvalidSecret, PublicKeyPrefix, PrivateKeyPrefix)
	}
	return ParseSecret(s)
}

// ValidKey reports whether ParseKey accepts s.
func ValidKey(s string) bool {
	_, err := ParseKey(s)
	return err == nil
}

// NormalizeKey checks s with ParseKey and returns the form in which an
// endpoint keeps it: an HMAC secret given without its prefix gets
// "whsec_", anything else is returned as given, so that a key always reads
// back as it was written. The error is ParseKey's.
func NormalizeKey(s string) (string, Type, error) {
	k, err := ParseKey(s)
	if err != nil {
		return "", "", err
	}
	if k.Type() == TypeHMAC && !strings.HasPrefix(s, SecretPrefix) {
		s = SecretPrefix + s
	}
	return s, k.Type(), nil
}

// GenerateKey returns a new random key of type t: a Secret of
// GeneratedSecretSize bytes for TypeHMAC, a PrivateKey for TypeEd25519.
// It fails for an unknown type or when the system's random source fails.
func GenerateKey(t Type) (Key, error) {
	switch t {
	case TypeHMAC:
		return GenerateSecret()
	case TypeEd25519:
		return GeneratePrivateKey()
	}
	return nil, fmt.Errorf("generating webhook key: unknown signature type %q", t)
}
