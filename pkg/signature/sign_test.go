package signature

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	svix "github.com/svix/svix-webhooks/go"
)

// exampleSecret is the secret of the Standard Webhooks and Svix documentation.
const exampleSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func mustSecret(t testing.TB, s string) Secret {
	t.Helper()
	k, err := ParseSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSign(t *testing.T) {
	t.Parallel()
	key := mustSecret(t, exampleSecret)
	tests := []struct {
		name  string
		msgID string
		ts    time.Time
		body  string
		want  string
	}{
		// The published example of the Standard Webhooks specification.
		{"specification example", "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), `{"test": 2432232314}`,
			"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},

		// Sub-second precision and time zones do not change the signature.
		{"nanoseconds are truncated", "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 999_999_999), `{"test": 2432232314}`,
			"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
		{"time zone is irrelevant", "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0).In(time.FixedZone("X", 3600)), `{"test": 2432232314}`,
			"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Sign(key, tt.msgID, tt.ts, []byte(tt.body)); got != tt.want {
				t.Errorf("Sign = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSignMatchesReferences compares Sign with both reference libraries on
// inputs at the edges of the signed content.
func TestSignMatchesReferences(t *testing.T) {
	t.Parallel()
	long := SecretPrefix + strings.Repeat("QUJD", 25) // 75-byte key, longer than the SHA-256 block
	tests := []struct {
		name   string
		secret string
		msgID  string
		ts     time.Time
		body   []byte
	}{
		// Ordinary deliveries.
		{"json body", exampleSecret, "msg_2bVxUn3RFnLYHa8z6ZKHMT9PqPX", time.Unix(1700000000, 0), []byte(`{"type":"invoice.paid","data":{"id":1}}`)},
		{"1 MiB body", exampleSecret, "msg_big", time.Unix(1700000000, 0), bytes.Repeat([]byte("x"), 1<<20)},

		// Edges of the signed content.
		{"empty body", exampleSecret, "msg_1", time.Unix(1700000000, 0), nil},
		{"empty id", exampleSecret, "", time.Unix(1700000000, 0), []byte("{}")},
		{"id and body with dots", exampleSecret, "a.b.c", time.Unix(1700000000, 0), []byte("1.2.3")},
		{"unix epoch", exampleSecret, "msg_1", time.Unix(0, 0), []byte("{}")},
		{"negative timestamp", exampleSecret, "msg_1", time.Unix(-1, 0), []byte("{}")},
		{"binary body", exampleSecret, "msg_1", time.Unix(1700000000, 0), []byte{0, 0xff, '\n', ' '}},
		{"key longer than a block", long, "msg_1", time.Unix(1700000000, 0), []byte("{}")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Sign(mustSecret(t, tt.secret), tt.msgID, tt.ts, tt.body)

			sw, err := standardwebhooks.NewWebhook(tt.secret)
			if err != nil {
				t.Fatal(err)
			}
			want, err := sw.Sign(tt.msgID, tt.ts, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("Sign = %q, standardwebhooks = %q", got, want)
			}

			sv, err := svix.NewWebhook(tt.secret)
			if err != nil {
				t.Fatal(err)
			}
			want, err = sv.Sign(tt.msgID, tt.ts, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("Sign = %q, svix = %q", got, want)
			}
		})
	}
}

func TestSignatureHeader(t *testing.T) {
	t.Parallel()
	k1 := mustSecret(t, exampleSecret)
	k2 := mustSecret(t, SecretPrefix+strings.Repeat("QUJD", 8))
	ts := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	id := "msg_p5jXN8AQM9LWM0D4loKWxJek"
	s1, s2 := Sign(k1, id, ts, body), Sign(k2, id, ts, body)

	tests := []struct {
		name string
		keys []Secret
		want string
	}{
		// No keys: nothing to send.
		{"nil", nil, ""},
		{"empty", []Secret{}, ""},

		// One entry per key, in order, separated by one space.
		{"one key", []Secret{k1}, s1},
		{"two keys", []Secret{k1, k2}, s1 + " " + s2},
		{"order kept", []Secret{k2, k1}, s2 + " " + s1},
		{"three keys", []Secret{k1, k2, k1}, s1 + " " + s2 + " " + s1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := SignatureHeader(tt.keys, id, ts, body); got != tt.want {
				t.Errorf("SignatureHeader = %q, want %q", got, tt.want)
			}
		})
	}
}

func BenchmarkSign(b *testing.B) {
	key := mustSecret(b, exampleSecret)
	ts := time.Unix(1700000000, 0)
	for _, size := range []int{256, 4 << 10, 64 << 10} {
		body := bytes.Repeat([]byte("a"), size)
		b.Run(fmt.Sprint(size, "B"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				Sign(key, "msg_2bVxUn3RFnLYHa8z6ZKHMT9PqPX", ts, body)
			}
		})
	}
}

func BenchmarkSignatureHeader2Keys(b *testing.B) {
	keys := []Secret{mustSecret(b, exampleSecret), mustSecret(b, SecretPrefix+strings.Repeat("QUJD", 8))}
	ts := time.Unix(1700000000, 0)
	body := bytes.Repeat([]byte("a"), 1<<10)
	b.ReportAllocs()
	for b.Loop() {
		SignatureHeader(keys, "msg_2bVxUn3RFnLYHa8z6ZKHMT9PqPX", ts, body)
	}
}
