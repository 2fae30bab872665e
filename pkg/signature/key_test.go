package signature

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	svix "github.com/svix/svix-webhooks/go"
)

// The Ed25519 test vector of Svix's server (its worker tests sign the
// specification's example message with this key and expect this entry; the
// specification's example header shows the same entry).
const (
	svixPrivateKey = "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg=="
	svixPublicKey  = "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4="
	svixV1a        = "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg=="

	exampleMsgID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	exampleUnix  = 1614265330
	exampleBody  = `{"test": 2432232314}`
)

func mustKey(t testing.TB, s string) Key {
	t.Helper()
	k, err := ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSvixEd25519Vector reproduces Svix's test vector and checks the
// signature with crypto/ed25519 alone, following the specification: the
// signed content is id + "." + timestamp + "." + body, the entry is "v1a,"
// and the standard base64 of the 64-byte signature.
func TestSvixEd25519Vector(t *testing.T) {
	t.Parallel()
	key := mustKey(t, svixPrivateKey)
	if key.Type() != TypeEd25519 || key.String() != svixPrivateKey {
		t.Fatalf("ParseKey = %v %q", key.Type(), key.String())
	}

	got := SignatureHeader([]Key{key}, exampleMsgID, time.Unix(exampleUnix, 0), []byte(exampleBody))
	if got != svixV1a {
		t.Errorf("signature header = %q, want Svix's %q", got, svixV1a)
	}

	pub := key.(PrivateKey).Public()
	if pub.String() != svixPublicKey {
		t.Errorf("public key = %q, want %q", pub.String(), svixPublicKey)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(got, "v1a,"))
	if err != nil {
		t.Fatal(err)
	}
	content := exampleMsgID + "." + "1614265330" + "." + exampleBody
	if !ed25519.Verify(ed25519.PublicKey(pub), []byte(content), raw) {
		t.Error("crypto/ed25519 rejects the signature")
	}
	if ed25519.Verify(ed25519.PublicKey(pub), []byte(content+" "), raw) {
		t.Error("crypto/ed25519 accepts the signature for another body")
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	seed := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	full := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	otherPub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32))[32:]
	mismatched := base64.StdEncoding.EncodeToString(append(bytes.Clone(full[:32]), otherPub...))

	tests := []struct {
		name     string
		in       string
		wantType Type   // "" means an error is expected
		wantErr  string // part of the error message
	}{
		// HMAC secrets, as ParseSecret reads them.
		{"whsec", exampleSecret, TypeHMAC, ""},
		{"bare base64 is HMAC", strings.TrimPrefix(exampleSecret, SecretPrefix), TypeHMAC, ""},
		{"HMAC too short", "whsec_QUJD", "", "want 32 to 100 base64 characters"},

		// Ed25519 private keys.
		{"Svix's key", svixPrivateKey, TypeEd25519, ""},
		{"generated form", PrivateKeyPrefix + base64.StdEncoding.EncodeToString(full), TypeEd25519, ""},
		{"seed only", PrivateKeyPrefix + seed, "", "is 64 bytes (seed and public key), got 32"},
		{"public half does not match", PrivateKeyPrefix + mismatched, "", "are not the public key of its first 32"},
		{"Svix's altered key", "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlaaaaaaaaaaAJ6p9lMicMFs6Kvg==", "", "not the public key"},
		{"truncated base64", strings.TrimSuffix(svixPrivateKey, "g=="), "", "not valid standard base64"},
		{"url-safe alphabet", strings.NewReplacer("/", "_", "+", "-").Replace(svixPrivateKey), "", "not valid standard base64"},
		{"unpadded", strings.TrimSuffix(svixPrivateKey, "=="), "", "not valid standard base64"},
		{"prefix only", PrivateKeyPrefix, "", "got 0"},
		{"trailing newline", svixPrivateKey + "\n", "", ""},

		// Public keys cannot sign.
		{"public key", svixPublicKey, "", `a "whpk_" public key cannot sign`},

		// Nothing.
		{"empty", "", "", "got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := ParseKey(tt.in)
			if tt.wantType == "" {
				if err == nil {
					t.Fatalf("ParseKey(%q) = %v, want error", tt.in, k.Type())
				}
				if !errors.Is(err, ErrInvalidSecret) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q: want ErrInvalidSecret and %q", err, tt.wantErr)
				}
				if body := strings.TrimPrefix(strings.TrimPrefix(tt.in, PrivateKeyPrefix), SecretPrefix); len(body) > 8 && strings.Contains(err.Error(), body[:8]) {
					t.Errorf("error %q repeats the key", err)
				}
				if ValidKey(tt.in) {
					t.Error("ValidKey = true")
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKey(%q): %v", tt.in, err)
			}
			if k.Type() != tt.wantType {
				t.Errorf("type %q, want %q", k.Type(), tt.wantType)
			}
			again, err := ParseKey(k.String())
			if err != nil || again.String() != k.String() {
				t.Errorf("round trip: %v, %v", again, err)
			}
			if !ValidKey(tt.in) {
				t.Error("ValidKey = false")
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	t.Parallel()
	for _, typ := range []Type{TypeHMAC, TypeEd25519} {
		a, err := GenerateKey(typ)
		if err != nil {
			t.Fatal(err)
		}
		b, err := GenerateKey(typ)
		if err != nil {
			t.Fatal(err)
		}
		if a.Type() != typ || a.String() == b.String() {
			t.Errorf("%s: types %q, equal keys %v", typ, a.Type(), a.String() == b.String())
		}
		parsed, err := ParseKey(a.String())
		if err != nil || parsed.String() != a.String() || parsed.Type() != typ {
			t.Errorf("%s: ParseKey(String()) = %v, %v", typ, parsed, err)
		}
	}
	if _, err := GenerateKey("rsa"); err == nil || !strings.Contains(err.Error(), `unknown signature type "rsa"`) {
		t.Errorf("GenerateKey(rsa) error = %v", err)
	}
}

func TestNormalizeKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		typ      Type
	}{
		{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", TypeHMAC},
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", TypeHMAC},
		{svixPrivateKey, svixPrivateKey, TypeEd25519},
	} {
		got, typ, err := NormalizeKey(tc.in)
		if err != nil || got != tc.want || typ != tc.typ {
			t.Errorf("NormalizeKey(%q) = %q, %q, %v; want %q, %q", tc.in, got, typ, err, tc.want, tc.typ)
		}
	}
	for _, bad := range []string{"", "too-short", svixPublicKey, "whsk_" + strings.Repeat("A", 44)} {
		if _, _, err := NormalizeKey(bad); !errors.Is(err, ErrInvalidSecret) {
			t.Errorf("NormalizeKey(%q) error = %v, want ErrInvalidSecret", bad, err)
		}
	}
}

func TestParseType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in          string
		want        Type
		wantVersion string
	}{
		// The two types and their entry versions.
		{"hmac", TypeHMAC, "v1"},
		{"ed25519", TypeEd25519, "v1a"},

		// Anything else.
		{"HMAC", "", ""},
		{"Ed25519", "", ""},
		{"", "", ""},
		{"v1a", "", ""},
	}
	for _, tt := range tests {
		got, err := ParseType(tt.in)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("ParseType(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if got.Version() != tt.wantVersion {
			t.Errorf("Type(%q).Version() = %q, want %q", tt.in, got.Version(), tt.wantVersion)
		}
	}
}

// TestSignatureHeaderMixed is rotation between an HMAC secret and an
// Ed25519 key: one header carries a v1 and a v1a entry, and each receiver
// (hookd's verifiers and the reference HMAC libraries, which skip v1a)
// finds its own.
func TestSignatureHeaderMixed(t *testing.T) {
	t.Parallel()
	hmacKey := mustSecret(t, exampleSecret)
	edKey := mustKey(t, svixPrivateKey).(PrivateKey)
	ts := time.Unix(exampleUnix, 0)
	body := []byte(exampleBody)

	tests := []struct {
		name string
		keys []Key
		want string
	}{
		// The entries of the specification's example, in key order.
		{"hmac then ed25519", []Key{hmacKey, edKey}, Sign(hmacKey, exampleMsgID, ts, body) + " " + svixV1a},
		{"ed25519 then hmac", []Key{edKey, hmacKey}, svixV1a + " " + Sign(hmacKey, exampleMsgID, ts, body)},
		{"ed25519 alone", []Key{edKey}, svixV1a},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		if got := SignatureHeader(tt.keys, exampleMsgID, ts, body); got != tt.want {
			t.Errorf("%s: SignatureHeader = %q, want %q", tt.name, got, tt.want)
		}
	}
	// The generic form takes a []PrivateKey too.
	if got := SignatureHeader([]PrivateKey{edKey}, exampleMsgID, ts, body); got != svixV1a {
		t.Errorf("SignatureHeader([]PrivateKey) = %q", got)
	}

	now := time.Now()
	hdr := http.Header{}
	WebhookHeaders.Set(hdr, exampleMsgID, now, SignatureHeader([]Key{hmacKey, edKey}, exampleMsgID, now, body))
	if err := Verify(hmacKey, hdr, body, 0, now); err != nil {
		t.Errorf("Verify(hmac): %v", err)
	}
	if err := VerifyEd25519(edKey.Public(), hdr, body, 0, now); err != nil {
		t.Errorf("VerifyEd25519: %v", err)
	}
	sw, err := standardwebhooks.NewWebhook(exampleSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.Verify(body, hdr); err != nil {
		t.Errorf("standardwebhooks with a mixed header: %v", err)
	}
	sv, err := svix.NewWebhook(exampleSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := sv.Verify(body, hdr); err != nil {
		t.Errorf("svix with a mixed header: %v", err)
	}
}

func TestPrivateKeyLogValueRedacts(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	var k Key = mustKey(t, svixPrivateKey)
	logger.Info("x", "key", k, "typed", k.(PrivateKey))
	if strings.Contains(buf.String(), "6Xb/") || strings.Count(buf.String(), "[REDACTED]") != 2 {
		t.Errorf("log line %q leaks the key or lacks the redaction", buf.String())
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add(svixPrivateKey)
	f.Add(svixPublicKey)
	f.Add(exampleSecret)
	f.Add("whsk_")
	f.Add("whsk_" + strings.Repeat("A", 86) + "==")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidSecret) {
				t.Fatalf("error %v does not match ErrInvalidSecret", err)
			}
			return
		}
		again, err := ParseKey(k.String())
		if err != nil || again.String() != k.String() || again.Type() != k.Type() {
			t.Fatalf("round trip of %q: %v, %v", s, again, err)
		}
		if pk, ok := k.(PrivateKey); ok {
			sig := SignatureHeader([]Key{k}, "msg_1", time.Unix(1, 0), []byte("{}"))
			raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sig, "v1a,"))
			if !ed25519.Verify(ed25519.PublicKey(pk.Public()), []byte("msg_1.1.{}"), raw) {
				t.Fatalf("a parsed key %q signs what its public key rejects", s)
			}
		}
	})
}
