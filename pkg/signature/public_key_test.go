package signature

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func mustPublicKey(t testing.TB, s string) PublicKey {
	t.Helper()
	k, err := ParsePublicKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParsePublicKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		wantErr string // "" means accepted
	}{
		// Accepted, with and without prefix.
		{"Svix's public key", svixPublicKey, ""},
		{"without prefix", strings.TrimPrefix(svixPublicKey, PublicKeyPrefix), ""},

		// Refused.
		{"empty", "", "is 32 bytes, got 0"},
		{"private key", svixPrivateKey, "not valid standard base64"},
		{"64 bytes", PublicKeyPrefix + strings.TrimPrefix(svixPrivateKey, PrivateKeyPrefix), "is 32 bytes, got 64"},
		{"unpadded", strings.TrimSuffix(svixPublicKey, "="), "not valid standard base64"},
		{"base64url", PublicKeyPrefix + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), "not valid standard base64"},
		{"line break", svixPublicKey[:20] + "\n" + svixPublicKey[20:], "not valid standard base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := ParsePublicKey(tt.in)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrInvalidPublicKey) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParsePublicKey(%q) = %v, want ErrInvalidPublicKey with %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.String() != svixPublicKey {
				t.Errorf("String() = %q, want %q", k.String(), svixPublicKey)
			}
		})
	}
}

// TestKeyIDThumbprint checks KeyID against the JWK thumbprint example of
// RFC 8037, appendix A.3.
func TestKeyIDThumbprint(t *testing.T) {
	t.Parallel()
	x, err := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := PublicKey(x).KeyID(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("KeyID = %q, want RFC 8037's %q", got, want)
	}
}

func TestJWKSet(t *testing.T) {
	t.Parallel()
	svixPub := mustPublicKey(t, svixPublicKey)
	other, err := GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	set := NewJWKSet(svixPub, other.Public())
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4","kid":"` +
		svixPub.KeyID() + `","use":"sig","alg":"EdDSA"},`
	if !strings.HasPrefix(string(data), want) {
		t.Errorf("JSON = %s\nwant prefix %s", data, want)
	}

	keys, err := ParseJWKSet(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || !bytes.Equal(keys[0], svixPub) || !bytes.Equal(keys[1], other.Public()) {
		t.Errorf("ParseJWKSet = %v", keys)
	}

	if data, _ := json.Marshal(NewJWKSet()); string(data) != `{"keys":[]}` {
		t.Errorf("empty set = %s", data)
	}
}

func TestParseJWKSet(t *testing.T) {
	t.Parallel()
	x := "1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4"
	ed := `{"kty":"OKP","crv":"Ed25519","x":"` + x + `"}`
	tests := []struct {
		name     string
		in       string
		wantKeys int
		wantErr  string
	}{
		// Usable sets.
		{"one key, minimal members", `{"keys":[` + ed + `]}`, 1, ""},
		{"padded x is tolerated", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `="}]}`, 1, ""},
		{"other key types skipped", `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"},{"kty":"OKP","crv":"X25519","x":"` + x + `"},` + ed + `]}`, 1, ""},
		{"encryption keys skipped", `{"keys":[{"kty":"OKP","crv":"Ed25519","use":"enc","x":"` + x + `"},` + ed + `]}`, 1, ""},

		// Unusable.
		{"not JSON", `keys`, 0, "not a JSON Web Key Set"},
		{"no keys", `{"keys":[]}`, 0, "no Ed25519 signing key"},
		{"only RSA", `{"keys":[{"kty":"RSA"}]}`, 0, "no Ed25519 signing key"},
		{"short x", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}`, 0, "key 0: invalid webhook public key"},
		{"standard base64 x", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"+/+/` + x[4:] + `"}]}`, 0, "not the unpadded base64url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keys, err := ParseJWKSet([]byte(tt.in))
			if tt.wantErr != "" {
				if !errors.Is(err, ErrInvalidPublicKey) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want ErrInvalidPublicKey with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(keys) != tt.wantKeys {
				t.Fatalf("ParseJWKSet = %d keys, %v; want %d", len(keys), err, tt.wantKeys)
			}
			if keys[0].String() != svixPublicKey {
				t.Errorf("key = %s", keys[0])
			}
		})
	}
}

func TestVerifyEd25519(t *testing.T) {
	t.Parallel()
	priv := mustKey(t, svixPrivateKey).(PrivateKey)
	pub := priv.Public()
	other, err := GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	hmacKey := mustSecret(t, exampleSecret)
	body := []byte(exampleBody)
	now := time.Unix(exampleUnix, 0)
	ts := strconv.FormatInt(exampleUnix, 10)
	sign := func(keys ...Key) string { return SignatureHeader(keys, exampleMsgID, now, body) }
	good := sign(priv) // svixV1a
	web := func(id, ts, sig string) http.Header {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)
		return h
	}
	old := now.Add(-6 * time.Minute)

	tests := []struct {
		name    string
		key     PublicKey
		headers http.Header
		body    []byte
		want    error
	}{
		// Accepted.
		{"Svix's vector", pub, web(exampleMsgID, ts, svixV1a), body, nil},
		{"after an HMAC entry", pub, web(exampleMsgID, ts, sign(hmacKey, priv)), body, nil},
		{"second Ed25519 entry (rotation)", pub, web(exampleMsgID, ts, sign(other, priv)), body, nil},
		{"svix headers", pub, http.Header{"Svix-Id": {exampleMsgID}, "Svix-Timestamp": {ts}, "Svix-Signature": {good}}, body, nil},

		// Refused: no matching v1a entry.
		{"other key", other.Public(), web(exampleMsgID, ts, good), body, ErrNoMatchingSignature},
		{"body changed", pub, web(exampleMsgID, ts, good), []byte(`{"test":2432232314}`), ErrNoMatchingSignature},
		{"id changed", pub, web("msg_other", ts, good), body, ErrNoMatchingSignature},
		{"HMAC entry only", pub, web(exampleMsgID, ts, sign(hmacKey)), body, ErrNoMatchingSignature},
		{"v1a signature labelled v1", pub, web(exampleMsgID, ts, "v1,"+strings.TrimPrefix(good, "v1a,")), body, ErrNoMatchingSignature},
		{"unpadded signature", pub, web(exampleMsgID, ts, strings.TrimSuffix(good, "==")), body, ErrNoMatchingSignature},
		{"truncated signature", pub, web(exampleMsgID, ts, good[:len(good)-8]+"AAAA"), body, ErrNoMatchingSignature},
		{"not base64", pub, web(exampleMsgID, ts, "v1a,!!!!"), body, ErrNoMatchingSignature},
		{"empty signature", pub, web(exampleMsgID, ts, "v1a,"), body, ErrNoMatchingSignature},

		// Refused before any signature is checked.
		{"too old", pub, web(exampleMsgID, strconv.FormatInt(old.Unix(), 10), SignatureHeader([]Key{priv}, exampleMsgID, old, body)), body, ErrTimestampTooOld},
		{"missing headers", pub, http.Header{}, body, ErrMissingHeaders},
		{"bad timestamp", pub, web(exampleMsgID, "soon", good), body, ErrInvalidTimestamp},
		{"short key", pub[:31], web(exampleMsgID, ts, good), body, ErrInvalidPublicKey},
		{"nil key", nil, web(exampleMsgID, ts, good), body, ErrInvalidPublicKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := VerifyEd25519(tt.key, tt.headers, tt.body, 0, now)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("VerifyEd25519 = %v, want %v", err, tt.want)
			}
		})
	}

	// An HMAC verifier never mistakes a v1a entry for its own.
	if err := Verify(hmacKey, web(exampleMsgID, ts, good), body, 0, now); !errors.Is(err, ErrNoMatchingSignature) {
		t.Errorf("Verify(hmac) of a v1a-only header = %v", err)
	}
}

// FuzzVerifyEd25519 checks that VerifyEd25519 never panics, accepts what
// the package signs, and accepts only what crypto/ed25519 verifies.
func FuzzVerifyEd25519(f *testing.F) {
	priv := mustKey(f, svixPrivateKey).(PrivateKey)
	pub := priv.Public()
	f.Add(exampleMsgID, int64(exampleUnix), svixV1a, []byte(exampleBody))
	f.Add("", int64(0), "v1a,", []byte(nil))
	f.Add("a.b", int64(-1), "v1a,,, v1a", []byte("."))
	f.Fuzz(func(t *testing.T, id string, unix int64, sigs string, body []byte) {
		unix = max(-maxTimestamp, min(unix, maxTimestamp))
		now := time.Unix(unix, 0)
		hdr := http.Header{}
		WebhookHeaders.Set(hdr, id, now, sigs)
		if VerifyEd25519(pub, hdr, body, 0, now) == nil {
			found := false
			for e := range strings.SplitSeq(sigs, " ") {
				raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(e, "v1a,"))
				found = found || (strings.HasPrefix(e, "v1a,") && err == nil &&
					ed25519.Verify(ed25519.PublicKey(pub), []byte(id+"."+strconv.FormatInt(unix, 10)+"."+string(body)), raw))
			}
			if !found {
				t.Fatalf("VerifyEd25519 accepted what crypto/ed25519 rejects: %q %d %q", id, unix, sigs)
			}
		}
		if id == "" {
			return
		}
		hdr.Set("webhook-signature", SignatureHeader([]Key{priv}, id, now, body))
		if err := VerifyEd25519(pub, hdr, body, 0, now); err != nil {
			t.Fatalf("VerifyEd25519 rejected its own signature: %v", err)
		}
	})
}
