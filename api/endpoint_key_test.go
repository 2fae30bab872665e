package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hookd/hookd/api"
	"github.com/hookd/hookd/pkg/signature"
	"github.com/hookd/hookd/pkg/webhook"
)

// The test vector's key (pkg/signature's tests): its public key is known.
const (
	testPrivateKey = "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg=="
	testPublicKey  = "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4="
)

type publicKeyJSON struct {
	Key  string           `json:"key"`
	JWKS signature.JWKSet `json:"jwks"`
}

func TestEndpointEd25519Keys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{}).ID
	path := func(ep string) string { return "/api/v1/app/" + app + "/endpoint/" + ep }

	// A key given reads back as given; a generated one has the type asked for.
	given := b.createEndpoint(app, map[string]any{"secret": testPrivateKey})
	if got := b.secret(app, given.ID); got != testPrivateKey {
		t.Errorf("secret = %q, want the whsk_ key given", got)
	}
	out := mustKeys(t, b.do(http.MethodGet, path(given.ID), nil).must(t, http.StatusOK).body, "signatureType", "verification")
	if string(out["signatureType"]) != `"ed25519"` || string(out["verification"]) != "null" {
		t.Errorf("signatureType %s, verification %s", out["signatureType"], out["verification"])
	}
	generated := b.createEndpoint(app, map[string]any{"signatureType": "ed25519"})
	if got := b.secret(app, generated.ID); !strings.HasPrefix(got, "whsk_") || !signature.ValidKey(got) {
		t.Errorf("generated secret = %q, want a whsk_ key", got)
	}
	hmac := b.createEndpoint(app, map[string]any{})
	if got := b.secret(app, hmac.ID); !strings.HasPrefix(got, "whsec_") {
		t.Errorf("default secret = %q, want whsec_", got)
	}

	// What is refused, and where.
	for _, tc := range []struct {
		name string
		body map[string]any
		loc  string
		msg  string
	}{
		{"a public key as secret", map[string]any{"secret": testPublicKey}, "secret", "public key cannot sign"},
		{"a bare seed", map[string]any{"secret": "whsk_" + strings.Repeat("A", 43) + "="}, "secret", "64"},
		{"an unknown type", map[string]any{"signatureType": "rsa"}, "signatureType", `"hmac" or "ed25519"`},
		{"a secret of the other type", map[string]any{"secret": "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "signatureType": "ed25519"}, "signatureType", "hmac key"},
	} {
		tc.body["url"] = "https://example.com/hook"
		v := mustInvalid(t, b.do(http.MethodPost, "/api/v1/app/"+app+"/endpoint", tc.body), "body", tc.loc)
		if !strings.Contains(v.Detail[0].Msg, tc.msg) {
			t.Errorf("%s: message %q, want it to say %q", tc.name, v.Detail[0].Msg, tc.msg)
		}
	}

	// PATCH to the other type sets a new key at once; PUT of the same type
	// leaves it alone.
	b.do(http.MethodPatch, path(hmac.ID), map[string]any{"signatureType": "ed25519"}).must(t, http.StatusOK)
	stored, _ := b.storedEndpoint(app, hmac.ID)
	if !strings.HasPrefix(stored.Secret, "whsk_") || len(stored.OldSecrets) != 0 {
		t.Errorf("after PATCH signatureType: %q, %d old secrets", stored.Secret, len(stored.OldSecrets))
	}
	b.do(http.MethodPut, path(hmac.ID), map[string]any{"url": "https://example.com/x", "signatureType": "ed25519"}).must(t, http.StatusOK)
	if again, _ := b.storedEndpoint(app, hmac.ID); again.Secret != stored.Secret {
		t.Error("PUT with the key's own type changed the key")
	}

	// Rotation to the other type keeps the old key signing; the public
	// keys are those that sign now, newest first.
	b.do(http.MethodPost, path(given.ID)+"/secret/rotate", map[string]any{"signatureType": "hmac"}).must(t, http.StatusNoContent)
	if got := b.secret(app, given.ID); !strings.HasPrefix(got, "whsec_") {
		t.Errorf("rotated to %q, want an HMAC secret", got)
	}
	pk := decode[publicKeyJSON](t, b.do(http.MethodGet, path(given.ID)+"/public-key", nil).must(t, http.StatusOK))
	if pk.Key != testPublicKey || len(pk.JWKS.Keys) != 1 || pk.JWKS.Keys[0].X != "1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4" {
		t.Errorf("public key during the rotation = %+v", pk)
	}
	b.do(http.MethodPost, path(given.ID)+"/secret/rotate", map[string]any{"signatureType": "ed25519"}).must(t, http.StatusNoContent)
	current := b.secret(app, given.ID)
	k, err := signature.ParsePrivateKey(current)
	if err != nil {
		t.Fatalf("rotated to %q: %v", current, err)
	}
	pk = decode[publicKeyJSON](t, b.do(http.MethodGet, path(given.ID)+"/public-key", nil).must(t, http.StatusOK))
	keys, err := signature.ParseJWKSet(mustJSON(t, pk.JWKS))
	if err != nil || pk.Key != k.Public().String() || len(keys) != 2 || keys[0].String() != pk.Key || keys[1].String() != testPublicKey {
		t.Errorf("public keys = %+v, %v; want the new key, then the rotated-out one", pk, err)
	}
	// A rotation without a type keeps the current one.
	b.do(http.MethodPost, path(given.ID)+"/secret/rotate", nil).must(t, http.StatusNoContent)
	if got := b.secret(app, given.ID); !strings.HasPrefix(got, "whsk_") || got == current {
		t.Errorf("rotated without a type to %q, want a new whsk_ key", got)
	}
	// Several rotated-out Ed25519 keys: newest first.
	seq := b.createEndpoint(app, map[string]any{"secret": testPrivateKey})
	b.do(http.MethodPost, path(seq.ID)+"/secret/rotate", nil).must(t, http.StatusNoContent)
	second := b.secret(app, seq.ID)
	b.do(http.MethodPost, path(seq.ID)+"/secret/rotate", nil).must(t, http.StatusNoContent)
	third := b.secret(app, seq.ID)
	pk = decode[publicKeyJSON](t, b.do(http.MethodGet, path(seq.ID)+"/public-key", nil).must(t, http.StatusOK))
	var order []string
	for _, k := range []string{third, second} {
		p, _ := signature.ParsePrivateKey(k)
		order = append(order, p.Public().String())
	}
	keys, _ = signature.ParseJWKSet(mustJSON(t, pk.JWKS))
	if len(keys) != 3 || keys[0].String() != order[0] || keys[1].String() != order[1] || keys[2].String() != testPublicKey {
		t.Errorf("the key set after two rotations is not newest first: %+v", pk.JWKS)
	}
	mustError(t, b.do(http.MethodGet, path(generated.ID+"x")+"/public-key", nil), http.StatusNotFound, "not_found")
	plain := b.createEndpoint(app, map[string]any{})
	mustError(t, b.do(http.MethodGet, path(plain.ID)+"/public-key", nil), http.StatusNotFound, "not_found")
}

func TestDefaultSignatureType(t *testing.T) {
	t.Parallel()
	b := setupConfigured(t, func(c *api.Config) { c.SignatureType = signature.TypeEd25519 })
	app := b.createApp(map[string]any{}).ID
	ep := b.createEndpoint(app, map[string]any{})
	if got := b.secret(app, ep.ID); !strings.HasPrefix(got, "whsk_") {
		t.Errorf("secret = %q, want whsk_ by default", got)
	}
	hmac := b.createEndpoint(app, map[string]any{"signatureType": "hmac"})
	if got := b.secret(app, hmac.ID); !strings.HasPrefix(got, "whsec_") {
		t.Errorf("secret = %q, want the whsec_ asked for", got)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The well-known key sets: served without authentication when publishing
// is on; one identical 404 for everything else.
func TestPublishedKeys(t *testing.T) {
	t.Parallel()
	for _, publish := range []bool{false, true} {
		b := setupConfigured(t, func(c *api.Config) { c.PublishPublicKeys = publish })
		app := b.createApp(map[string]any{}).ID
		other := b.createApp(map[string]any{}).ID
		ed := b.createEndpoint(app, map[string]any{"secret": testPrivateKey})
		hmac := b.createEndpoint(app, map[string]any{})
		op := b.createOperational(map[string]any{"secret": testPrivateKey})
		opApp := b.internalApp("acme").ID

		get := func(path string) response {
			t.Helper()
			return b.doWith("", http.MethodGet, path, nil, nil)
		}
		ok := get("/.well-known/webhook-keys/" + app + "/" + ed.ID)
		if publish {
			ok.must(t, http.StatusOK)
			keys, err := signature.ParseJWKSet(ok.body)
			if err != nil || len(keys) != 1 || keys[0].String() != testPublicKey {
				t.Errorf("published keys %s: %v", ok.body, err)
			}
			if cc := ok.header.Get("Cache-Control"); !strings.Contains(cc, "max-age=300") {
				t.Errorf("Cache-Control %q", cc)
			}
		}
		misses := []string{
			"/.well-known/webhook-keys/" + app + "/" + hmac.ID,
			"/.well-known/webhook-keys/" + other + "/" + ed.ID,
			"/.well-known/webhook-keys/" + opApp + "/" + op.ID,
			"/.well-known/webhook-keys/" + app + "/ep_2zzzzzzzzzzzzzzzzzzzzzzzzzz",
			"/.well-known/webhook-keys/" + app + "/not-an-id",
			"/.well-known/webhook-keys/myapp/" + ed.ID,
		}
		if !publish {
			misses = append(misses, "/.well-known/webhook-keys/"+app+"/"+ed.ID)
		}
		var first []byte
		for _, p := range misses {
			r := get(p)
			mustError(t, r, http.StatusNotFound, "not_found")
			if first == nil {
				first = r.body
			}
			if !bytes.Equal(r.body, first) || r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("publish=%v %s: %s (Cache-Control %q), want the same 404 as every miss (%s)", publish, p, r.body, r.header.Get("Cache-Control"), first)
			}
		}
	}
}

// storedEndpointByID reads an endpoint by id alone.
func (b *bundle) storedEndpointByID(id string) *webhook.Endpoint {
	b.t.Helper()
	ep, err := b.db.FindEndpointByID(context.Background(), id)
	if err != nil {
		b.t.Fatal(err)
	}
	return ep
}
