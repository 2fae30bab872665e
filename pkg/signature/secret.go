package signature

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// SecretPrefix starts the text form of every secret.
const SecretPrefix = "whsec_"

// SecretPattern is the shape of a secret's text form, as in Svix's API
// document: an optional SecretPrefix followed by 32 to 100 base64 characters.
// It is exported for validation messages; Valid implements it (and more).
const SecretPattern = `^(whsec_)?[a-zA-Z0-9+/=]{32,100}$`

// GeneratedSecretSize is the number of random bytes in a generated secret.
const GeneratedSecretSize = 24

const (
	minSecretChars = 32
	maxSecretChars = 100
)

// ErrInvalidSecret is wrapped by every error of ParseSecret, and returned by
// Verify when given an empty key.
var ErrInvalidSecret = errors.New("invalid webhook secret")

// Secret is an HMAC key: the decoded bytes of a "whsec_<base64>" string.
//
// String returns the full secret so that it can be shown to its owner; to
// keep it out of structured logs, Secret implements slog.LogValuer and logs
// as "[REDACTED]".
type Secret []byte

// GenerateSecret returns GeneratedSecretSize bytes from crypto/rand.
// The error is only non-nil if the system's random source fails.
func GenerateSecret() (Secret, error) {
	b := make([]byte, GeneratedSecretSize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("generating webhook secret: %w", err)
	}
	return Secret(b), nil
}

// ParseSecret decodes a secret given as SecretPattern describes, with or
// without the "whsec_" prefix. The error wraps ErrInvalidSecret and says
// which rule failed; it never contains the secret itself.
func ParseSecret(s string) (Secret, error) {
	body, _ := strings.CutPrefix(s, SecretPrefix)
	if n := len(body); n < minSecretChars || n > maxSecretChars {
		return nil, fmt.Errorf("%w: want %d to %d base64 characters after the optional %q prefix, got %d",
			ErrInvalidSecret, minSecretChars, maxSecretChars, SecretPrefix, n)
	}
	for i := 0; i < len(body); i++ {
		if !isSecretChar(body[i]) {
			return nil, fmt.Errorf("%w: character %d is not in the base64 alphabet [A-Za-z0-9+/=]",
				ErrInvalidSecret, len(s)-len(body)+i+1)
		}
	}
	key, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("%w: not valid standard base64 (with padding)", ErrInvalidSecret)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("%w: empty key", ErrInvalidSecret)
	}
	return Secret(key), nil
}

// Valid reports whether ParseSecret accepts s: s matches SecretPattern and
// decodes to a non-empty key. API validation uses it so that every stored
// secret can sign.
func Valid(s string) bool {
	_, err := ParseSecret(s)
	return err == nil
}

// String returns the text form of the secret: SecretPrefix followed by the
// standard base64 encoding of its bytes. ParseSecret(k.String()) returns k.
func (k Secret) String() string {
	return SecretPrefix + base64.StdEncoding.EncodeToString(k)
}

// LogValue keeps secrets out of slog output.
func (k Secret) LogValue() slog.Value {
	return slog.StringValue("[REDACTED]")
}

func isSecretChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '+' || c == '/' || c == '='
}
