package signature

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// PrivateKeyPrefix starts the text form of an Ed25519 private key.
const PrivateKeyPrefix = "whsk_"

// ed25519EntryLen is the length of one "v1a,<base64 signature>" entry:
// padded base64 of 64 bytes is 88 characters.
const ed25519EntryLen = len(VersionEd25519) + 1 + (ed25519.SignatureSize+2)/3*4

// PrivateKey is an Ed25519 signing key, in the 64-byte form of
// crypto/ed25519 (the 32-byte seed followed by the public key), which is
// also what Svix's server encodes after "whsk_".
//
// String returns the full key so that it can be shown to its owner; to keep
// it out of structured logs, PrivateKey implements slog.LogValuer and logs as
// "[REDACTED]".
type PrivateKey ed25519.PrivateKey

// GeneratePrivateKey returns a new key pair from crypto/rand. The error is
// only non-nil if the system's random source fails.
func GeneratePrivateKey() (PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating Ed25519 webhook key: %w", err)
	}
	return PrivateKey(priv), nil
}

// ParsePrivateKey decodes "whsk_" followed by the standard base64 (with
// padding) of the 64-byte key. The last 32 bytes must be the public key of
// the first 32, as Svix's server also requires; a bare 32-byte seed is
// refused, so that the key reads back exactly as it was given. The error
// wraps ErrInvalidSecret and never contains the key.
func ParsePrivateKey(s string) (PrivateKey, error) {
	body, ok := strings.CutPrefix(s, PrivateKeyPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: an Ed25519 private key starts with %q", ErrInvalidSecret, PrivateKeyPrefix)
	}
	b, err := base64.StdEncoding.DecodeString(body)
	if err != nil || !isBase64Text(body) {
		return nil, fmt.Errorf("%w: not valid standard base64 (with padding) after %q", ErrInvalidSecret, PrivateKeyPrefix)
	}
	if len(b) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: an Ed25519 private key is %d bytes (seed and public key), got %d",
			ErrInvalidSecret, ed25519.PrivateKeySize, len(b))
	}
	derived := ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
	if !bytes.Equal(derived[ed25519.SeedSize:], b[ed25519.SeedSize:]) {
		return nil, fmt.Errorf("%w: the last 32 bytes of the Ed25519 key are not the public key of its first 32", ErrInvalidSecret)
	}
	return PrivateKey(b), nil
}

// Type returns TypeEd25519.
func (k PrivateKey) Type() Type { return TypeEd25519 }

// Public returns the public half of k, for receivers.
func (k PrivateKey) Public() PublicKey {
	return PublicKey(bytes.Clone(k[ed25519.SeedSize:]))
}

// String returns "whsk_" followed by the standard base64 of the 64-byte
// key. ParsePrivateKey(k.String()) returns k.
func (k PrivateKey) String() string {
	return PrivateKeyPrefix + base64.StdEncoding.EncodeToString(k)
}

// LogValue keeps private keys out of slog output.
func (k PrivateKey) LogValue() slog.Value {
	return slog.StringValue("[REDACTED]")
}

func (k PrivateKey) entryLen() int { return ed25519EntryLen }

// appendEntry appends "v1a,<base64 Ed25519 signature of msgID.unix.body>".
// Ed25519 hashes its message twice, so the content is assembled once.
func (k PrivateKey) appendEntry(dst []byte, msgID string, unix int64, body []byte) []byte {
	sig := ed25519.Sign(ed25519.PrivateKey(k), signedContent(msgID, unix, body))
	dst = append(dst, VersionEd25519...)
	dst = append(dst, ',')
	return base64.StdEncoding.AppendEncode(dst, sig)
}

// isBase64Text reports whether s holds only characters of the standard
// base64 alphabet: the decoder would skip line breaks, but a key must read
// back exactly as it was given.
func isBase64Text(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isSecretChar(s[i]) {
			return false
		}
	}
	return true
}

// signedContent returns msgID + "." + unix + "." + body.
func signedContent(msgID string, unix int64, body []byte) []byte {
	b := make([]byte, 0, len(msgID)+22+len(body))
	b = append(b, msgID...)
	b = append(b, '.')
	b = strconv.AppendInt(b, unix, 10)
	b = append(b, '.')
	return append(b, body...)
}
