package signature

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	svix "github.com/svix/svix-webhooks/go"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	key := mustSecret(t, exampleSecret)
	other := mustSecret(t, SecretPrefix+strings.Repeat("QUJD", 8))
	const id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	body := []byte(`{"test": 2432232314}`)
	now := time.Unix(1614265330, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	good := Sign(key, id, now, body) // v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
	wrong := Sign(other, id, now, body)

	// h builds headers from alternating names and values.
	h := func(kv ...string) http.Header {
		hdr := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			hdr.Set(kv[i], kv[i+1])
		}
		return hdr
	}
	web := func(id, ts, sig string) http.Header {
		return h("webhook-id", id, "webhook-timestamp", ts, "webhook-signature", sig)
	}
	at := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	signedAt := func(d time.Duration) string { return Sign(key, id, now.Add(d), body) }

	tests := []struct {
		name      string
		key       Secret
		headers   http.Header
		body      []byte
		tolerance time.Duration
		want      error
	}{
		// Accepted.
		{"webhook headers", key, web(id, ts, good), body, 0, nil},
		{"svix headers", key, h("svix-id", id, "svix-timestamp", ts, "svix-signature", good), body, 0, nil},
		{"canonical header case", key, h("Webhook-Id", id, "Webhook-Timestamp", ts, "Webhook-Signature", good), body, 0, nil},
		{"second entry matches (rotation)", key, web(id, ts, wrong+" "+good), body, 0, nil},
		{"unknown versions skipped", key, web(id, ts, "v2,abc v1a,def "+good), body, 0, nil},
		{"repeated spaces", key, web(id, ts, "  "+wrong+"   "+good+" "), body, 0, nil},
		{"malformed entries skipped", key, web(id, ts, "v1 , v1, garbage "+good), body, 0, nil},
		{"webhook set preferred over a bad svix set", key,
			h("webhook-id", id, "webhook-timestamp", ts, "webhook-signature", good, "svix-id", "x", "svix-timestamp", "1", "svix-signature", "v1,x"), body, 0, nil},
		{"svix set used when the webhook set is incomplete", key,
			h("webhook-id", id, "svix-id", id, "svix-timestamp", ts, "svix-signature", good), body, 0, nil},
		{"explicit sign in timestamp", key, web(id, "+"+ts, good), body, 0, nil},

		// Timestamp tolerance, default 5 minutes, inclusive.
		{"5m old", key, web(id, at(-5*time.Minute), signedAt(-5*time.Minute)), body, 0, nil},
		{"5m ahead", key, web(id, at(5*time.Minute), signedAt(5*time.Minute)), body, 0, nil},
		{"5m1s old", key, web(id, at(-5*time.Minute-time.Second), signedAt(-5*time.Minute-time.Second)), body, 0, ErrTimestampTooOld},
		{"5m1s ahead", key, web(id, at(5*time.Minute+time.Second), signedAt(5*time.Minute+time.Second)), body, 0, ErrTimestampTooNew},
		{"negative tolerance is the default", key, web(id, at(-4*time.Minute), signedAt(-4*time.Minute)), body, -time.Second, nil},
		{"custom tolerance, inside", key, web(id, at(-time.Minute), signedAt(-time.Minute)), body, time.Minute, nil},
		{"custom tolerance, outside", key, web(id, at(-61*time.Second), signedAt(-61*time.Second)), body, time.Minute, ErrTimestampTooOld},
		{"far future", key, web(id, "9223372036854775807", good), body, 0, ErrTimestampTooNew},
		{"far past", key, web(id, "-9223372036854775808", good), body, 0, ErrTimestampTooOld},
		{"epoch", key, web(id, "0", good), body, 0, ErrTimestampTooOld},

		// Missing headers.
		{"no headers", key, http.Header{}, body, 0, ErrMissingHeaders},
		{"no id", key, h("webhook-timestamp", ts, "webhook-signature", good), body, 0, ErrMissingHeaders},
		{"no timestamp", key, h("webhook-id", id, "webhook-signature", good), body, 0, ErrMissingHeaders},
		{"no signature", key, h("webhook-id", id, "webhook-timestamp", ts), body, 0, ErrMissingHeaders},
		{"empty id", key, web("", ts, good), body, 0, ErrMissingHeaders},
		{"empty signature", key, web(id, ts, ""), body, 0, ErrMissingHeaders},
		{"prefixes mixed", key, h("webhook-id", id, "svix-timestamp", ts, "webhook-signature", good), body, 0, ErrMissingHeaders},

		// Invalid timestamp.
		{"timestamp not a number", key, web(id, "yesterday", good), body, 0, ErrInvalidTimestamp},
		{"timestamp with fraction", key, web(id, ts+".5", good), body, 0, ErrInvalidTimestamp},
		{"timestamp overflowing int64", key, web(id, "99999999999999999999", good), body, 0, ErrInvalidTimestamp},
		{"timestamp with spaces", key, web(id, " "+ts, good), body, 0, ErrInvalidTimestamp},

		// No matching signature.
		{"wrong key", other, web(id, ts, good), body, 0, ErrNoMatchingSignature},
		{"body changed", key, web(id, ts, good), []byte(`{"test":2432232314}`), 0, ErrNoMatchingSignature},
		{"body empty", key, web(id, ts, good), nil, 0, ErrNoMatchingSignature},
		{"id changed", key, web("msg_other", ts, good), body, 0, ErrNoMatchingSignature},
		{"timestamp changed", key, web(id, at(time.Second), good), body, 0, ErrNoMatchingSignature},
		{"signature of another timestamp", key, web(id, ts, signedAt(time.Second)), body, 0, ErrNoMatchingSignature},
		{"version v2 only", key, web(id, ts, "v2,"+strings.TrimPrefix(good, "v1,")), body, 0, ErrNoMatchingSignature},
		{"no version", key, web(id, ts, strings.TrimPrefix(good, "v1,")), body, 0, ErrNoMatchingSignature},
		{"upper-case version", key, web(id, ts, "V1,"+strings.TrimPrefix(good, "v1,")), body, 0, ErrNoMatchingSignature},
		{"truncated signature", key, web(id, ts, good[:len(good)-1]), body, 0, ErrNoMatchingSignature},
		{"unpadded signature", key, web(id, ts, strings.TrimSuffix(good, "=")), body, 0, ErrNoMatchingSignature},
		{"trailing junk after a comma", key, web(id, ts, good+",x"), body, 0, ErrNoMatchingSignature},
		{"entries separated by commas", key, web(id, ts, wrong+","+good), body, 0, ErrNoMatchingSignature},
		{"entries separated by a tab", key, web(id, ts, wrong+"\t"+good), body, 0, ErrNoMatchingSignature},
		{"raw hex instead of base64", key, web(id, ts, "v1,0123456789abcdef"), body, 0, ErrNoMatchingSignature},

		// Unusable key.
		{"nil key", nil, web(id, ts, good), body, 0, ErrInvalidSecret},
		{"empty key", Secret{}, web(id, ts, good), body, 0, ErrInvalidSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Verify(tt.key, tt.headers, tt.body, tt.tolerance, now)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestReferenceVerifiersAcceptRotation is the contract of §2.2: what hookd
// sends with two keys passes both reference verifiers and Verify, with each
// key alone, under both header prefixes.
func TestReferenceVerifiersAcceptRotation(t *testing.T) {
	t.Parallel()
	current, err := GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	previous := mustSecret(t, exampleSecret)
	const id = "msg_2bVxUn3RFnLYHa8z6ZKHMT9PqPX"
	body := []byte(`{"type":"invoice.paid","data":{"id":"in_1","amount":4200}}`)
	now := time.Now() // the reference verifiers compare against time.Now

	for _, prefix := range []string{PrefixWebhook, PrefixSvix} {
		names, err := HeadersFor(prefix)
		if err != nil {
			t.Fatal(err)
		}
		hdr := http.Header{}
		names.Set(hdr, id, now, SignatureHeader([]Secret{current, previous}, id, now, body))
		if n := len(strings.Fields(hdr.Get(names.Signature))); n != 2 {
			t.Fatalf("%s: signature header has %d entries, want 2", prefix, n)
		}

		for i, key := range []Secret{current, previous} {
			if err := Verify(key, hdr, body, 0, now); err != nil {
				t.Errorf("%s, key %d: Verify: %v", prefix, i, err)
			}

			sv, err := svix.NewWebhook(key.String())
			if err != nil {
				t.Fatal(err)
			}
			if err := sv.Verify(body, hdr); err != nil {
				t.Errorf("%s, key %d: svix: %v", prefix, i, err)
			}
			if err := sv.Verify(append(body, ' '), hdr); err == nil {
				t.Errorf("%s, key %d: svix accepted a changed body", prefix, i)
			}

			if prefix != PrefixWebhook {
				continue // the Standard Webhooks library reads webhook-* only
			}
			sw, err := standardwebhooks.NewWebhook(key.String())
			if err != nil {
				t.Fatal(err)
			}
			if err := sw.Verify(body, hdr); err != nil {
				t.Errorf("%s, key %d: standardwebhooks: %v", prefix, i, err)
			}
			if err := sw.Verify(append(body, ' '), hdr); err == nil {
				t.Errorf("%s, key %d: standardwebhooks accepted a changed body", prefix, i)
			}
		}
	}
}

// TestVerifyAcceptsReferenceSignatures checks the other direction: what the
// reference libraries sign, Verify accepts.
func TestVerifyAcceptsReferenceSignatures(t *testing.T) {
	t.Parallel()
	key := mustSecret(t, exampleSecret)
	const id = "msg_1"
	body := []byte(`{"a":1}`)
	now := time.Now()

	sw, err := standardwebhooks.NewWebhook(exampleSecret)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := sw.Sign(id, now, body)
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{}
	WebhookHeaders.Set(hdr, id, now, sig)
	if err := Verify(key, hdr, body, 0, now); err != nil {
		t.Errorf("standardwebhooks signature: %v", err)
	}

	sv, err := svix.NewWebhook(exampleSecret)
	if err != nil {
		t.Fatal(err)
	}
	if sig, err = sv.Sign(id, now, body); err != nil {
		t.Fatal(err)
	}
	hdr = http.Header{}
	SvixHeaders.Set(hdr, id, now, sig)
	if err := Verify(key, hdr, body, 0, now); err != nil {
		t.Errorf("svix signature: %v", err)
	}
}

func TestHeadersFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prefix  string
		want    HeaderNames
		wantErr bool
	}{
		// The two supported prefixes.
		{"webhook", HeaderNames{"webhook-id", "webhook-timestamp", "webhook-signature"}, false},
		{"svix", HeaderNames{"svix-id", "svix-timestamp", "svix-signature"}, false},

		// Anything else, including near misses.
		{"", HeaderNames{}, true},
		{"Webhook", HeaderNames{}, true},
		{"webhook-", HeaderNames{}, true},
		{"stripe", HeaderNames{}, true},
	}
	for _, tt := range tests {
		got, err := HeadersFor(tt.prefix)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("HeadersFor(%q) = %+v, %v; want %+v, error %v", tt.prefix, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestHeaderNamesSetOverrides(t *testing.T) {
	t.Parallel()
	hdr := http.Header{"Webhook-Signature": {"v1,forged"}, "Webhook-Id": {"a", "b"}}
	WebhookHeaders.Set(hdr, "msg_1", time.Unix(1614265330, 5), "v1,real")
	want := http.Header{
		"Webhook-Id":        {"msg_1"},
		"Webhook-Timestamp": {"1614265330"},
		"Webhook-Signature": {"v1,real"},
	}
	for k, v := range want {
		if got := hdr.Values(k); len(got) != 1 || got[0] != v[0] {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

// FuzzVerify checks that Verify never panics, that a signature made by Sign
// always verifies (here and in both reference libraries), and that Verify is
// never more lenient than the Standard Webhooks reference.
func FuzzVerify(f *testing.F) {
	key := mustSecret(f, exampleSecret)
	good := Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	f.Add("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", good, []byte(`{"test": 2432232314}`))
	f.Add("msg_1", "+01614265330", "v2,x "+good, []byte(`{"test": 2432232314}`))
	f.Add("", "", "", []byte(nil))
	f.Add("a.b", "-1", "v1,,, v1", []byte("."))

	sw, err := standardwebhooks.NewWebhook(exampleSecret)
	if err != nil {
		f.Fatal(err)
	}
	sv, err := svix.NewWebhook(exampleSecret)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id, ts, sigs string, body []byte) {
		unix, parseErr := strconv.ParseInt(ts, 10, 64)
		now := time.Unix(max(-maxTimestamp, min(unix, maxTimestamp)), 0)
		hdr := http.Header{}
		hdr.Set("webhook-id", id)
		hdr.Set("webhook-timestamp", ts)
		hdr.Set("webhook-signature", sigs)

		err := Verify(key, hdr, body, time.Second, now)
		if err == nil && sw.VerifyIgnoringTimestamp(body, hdr) != nil {
			t.Fatalf("Verify accepted what standardwebhooks rejects: id=%q ts=%q sigs=%q", id, ts, sigs)
		}
		if id == "" || parseErr != nil {
			return
		}

		hdr.Set("webhook-signature", Sign(key, id, time.Unix(unix, 0), body))
		if err := Verify(key, hdr, body, time.Second, now); err != nil {
			t.Fatalf("Verify rejected its own signature: %v (id=%q ts=%q)", err, id, ts)
		}
		if err := sw.VerifyIgnoringTimestamp(body, hdr); err != nil {
			t.Fatalf("standardwebhooks rejected Sign: %v (id=%q ts=%q)", err, id, ts)
		}
		if err := sv.VerifyIgnoringTimestamp(body, hdr); err != nil {
			t.Fatalf("svix rejected Sign: %v (id=%q ts=%q)", err, id, ts)
		}
	})
}
