package signature

import (
	"bytes"
	"encoding/base64"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

func TestParseSecret(t *testing.T) {
	t.Parallel()

	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xA5}, n)) }
	tests := []struct {
		name    string
		in      string
		wantLen int // decoded bytes; 0 means an error is expected
	}{
		// Accepted: with and without prefix, at both length limits.
		{"reference example with prefix", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 24},
		{"reference example without prefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 24},
		{"24 bytes is 32 chars, the minimum", SecretPrefix + b64(24), 24},
		{"64 bytes with padding", SecretPrefix + b64(64), 64},
		{"75 bytes is 100 chars, the maximum", SecretPrefix + b64(75), 75},
		{"padding", b64(35), 35},
		{"all alphabet classes", "whsec_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/AA==", 49},
		{"23 bytes: 32 chars with padding match the pattern", b64(23), 23},

		// Rejected by length.
		{"empty", "", 0},
		{"prefix only", SecretPrefix, 0},
		{"31 chars", strings.Repeat("A", 31), 0},
		{"101 chars", strings.Repeat("A", 101), 0},

		// Rejected by alphabet.
		{"url-safe alphabet", SecretPrefix + strings.Repeat("-_", 16), 0},
		{"space", SecretPrefix + strings.Repeat("A", 31) + " ", 0},
		{"newline", SecretPrefix + strings.Repeat("A", 31) + "\n", 0},
		{"non-ASCII", SecretPrefix + strings.Repeat("A", 30) + "é", 0},
		{"upper-case prefix", "WHSEC_" + b64(24), 0},
		{"double prefix", SecretPrefix + SecretPrefix + b64(24), 0},
		{"other prefix", "whsk_" + b64(24), 0},

		// Rejected by base64 decoding although the pattern matches.
		{"length not a multiple of 4", strings.Repeat("A", 33), 0},
		{"padding in the middle", "AA==" + strings.Repeat("A", 32), 0},
		{"only padding", strings.Repeat("=", 32), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSecret(tt.in)
			if tt.wantLen == 0 {
				if err == nil {
					t.Fatalf("ParseSecret(%q) = %x, want error", tt.in, []byte(got))
				}
				if !errors.Is(err, ErrInvalidSecret) {
					t.Errorf("error %v does not match ErrInvalidSecret", err)
				}
				if Valid(tt.in) {
					t.Errorf("Valid(%q) = true, want false", tt.in)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSecret(%q): %v", tt.in, err)
			}
			if len(got) != tt.wantLen {
				t.Errorf("decoded %d bytes, want %d", len(got), tt.wantLen)
			}
			if !Valid(tt.in) {
				t.Errorf("Valid(%q) = false, want true", tt.in)
			}
			if want := SecretPrefix + strings.TrimPrefix(tt.in, SecretPrefix); got.String() != want {
				t.Errorf("String() = %q, want %q", got.String(), want)
			}
		})
	}
}

func TestParseSecretErrorHidesSecret(t *testing.T) {
	t.Parallel()
	in := "whsec_" + strings.Repeat("Zq", 16) + "!"
	_, err := ParseSecret(in)
	if err == nil || strings.Contains(err.Error(), "ZqZq") {
		t.Fatalf("error %q must exist and not repeat the secret", err)
	}
}

func TestGenerateSecret(t *testing.T) {
	t.Parallel()
	a, err := GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != GeneratedSecretSize {
		t.Errorf("len = %d, want %d", len(a), GeneratedSecretSize)
	}
	if bytes.Equal(a, b) {
		t.Error("two generated secrets are equal")
	}
	parsed, err := ParseSecret(a.String())
	if err != nil {
		t.Fatalf("ParseSecret(String()) of a generated secret: %v", err)
	}
	if !bytes.Equal(parsed, a) {
		t.Error("String/ParseSecret round trip changed the key")
	}
}

func TestSecretLogValueRedacts(t *testing.T) {
	t.Parallel()
	k, err := ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "secret", k)
	if strings.Contains(buf.String(), "MfKQ") || !strings.Contains(buf.String(), "[REDACTED]") {
		t.Errorf("log line %q leaks the secret or lacks the redaction", buf.String())
	}
}

func FuzzParseSecret(f *testing.F) {
	f.Add("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	f.Add("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	f.Add(strings.Repeat("=", 32))
	f.Add(strings.Repeat("A", 33))
	f.Add("whsec_")
	pattern := regexp.MustCompile(SecretPattern)
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseSecret(s)
		decoded, decErr := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, SecretPrefix))
		want := pattern.MatchString(s) && decErr == nil && len(decoded) > 0
		if (err == nil) != want {
			t.Fatalf("ParseSecret(%q) error = %v, want success = %v", s, err, want)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidSecret) {
				t.Fatalf("error %v does not match ErrInvalidSecret", err)
			}
			return
		}
		again, err := ParseSecret(k.String())
		if err != nil || !bytes.Equal(again, k) {
			t.Fatalf("round trip of %q: %x, %v", s, []byte(again), err)
		}
	})
}
