package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/api"
	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/secretbox"
	"github.com/hookd/hookd/pkg/signature"
	"github.com/hookd/hookd/pkg/webhook"
)

// bundle is a running API on its own database with one organisation's key.
type bundle struct {
	t   *testing.T
	db  *postgres.DB
	url string
	key string // API key of organisation "acme"
}

type setupOptions struct {
	box          *secretbox.Box
	maxBodyBytes int64
	httpsOnly    bool
}

func setup(t *testing.T) *bundle {
	t.Helper()
	return setupWith(t, setupOptions{})
}

func setupWith(t *testing.T, opt setupOptions) *bundle {
	t.Helper()
	db := postgrestest.NewDB(t, opt.box)
	srv := api.New(api.Config{
		Store:        db,
		Checks:       []api.Checker{{Name: "postgres", Check: func(c *gin.Context) error { return db.Ping(c) }}},
		MaxBodyBytes: opt.maxBodyBytes,
		HTTPSOnly:    opt.httpsOnly,
		NewSecret: func() (string, error) {
			s, err := signature.GenerateSecret()
			return s.String(), err
		},
	})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	b := &bundle{t: t, db: db, url: ts.URL}
	b.key = b.newKey("acme")
	return b
}

// newKey creates an API key of organisation org.
func (b *bundle) newKey(org string) string {
	b.t.Helper()
	ctx := context.Background()
	o, err := b.db.EnsureOrg(ctx, org)
	if err != nil {
		b.t.Fatal(err)
	}
	token, key := webhook.NewAPIKey(o.ID)
	if err := b.db.CreateKey(ctx, key); err != nil {
		b.t.Fatal(err)
	}
	return token
}

// response is a finished request.
type response struct {
	status int
	header http.Header
	body   []byte
}

// decode unmarshals the body into a fresh T.
func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return v
}

// do sends body (nil, a string/[]byte sent as is, or a value JSON-encoded)
// with b's key.
func (b *bundle) do(method, path string, body any) response {
	b.t.Helper()
	return b.doWith(b.key, method, path, body, nil)
}

func (b *bundle) doWith(key, method, path string, body any, header http.Header) response {
	b.t.Helper()
	var r io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		r = bytes.NewBufferString(v)
	case []byte:
		r = bytes.NewBuffer(v)
	default:
		raw, err := json.Marshal(v)
		if err != nil {
			b.t.Fatal(err)
		}
		r = bytes.NewBuffer(raw)
	}
	req, err := http.NewRequest(method, b.url+path, r)
	if err != nil {
		b.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: raw}
}

// must fails the test unless r has the wanted status.
func (r response) must(t *testing.T, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.status, status, r.body)
	}
	return r
}

func TestHealth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.doWith("", http.MethodGet, "/api/v1/health", nil, nil).must(t, http.StatusNoContent)
	b.doWith("", http.MethodGet, "/api/v1/health/", nil, nil).must(t, http.StatusNoContent)
	b.doWith("", http.MethodHead, "/api/v1/health/ping", nil, nil).must(t, http.StatusNoContent)
}

func TestAuthRequired(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, key := range []string{"", "wrong-key-0123456789abcdefghij"} {
		r := b.doWith(key, http.MethodGet, "/api/v1/app", nil, nil).must(t, http.StatusUnauthorized)
		if e := decode[map[string]string](t, r); e["code"] != "unauthorized" || e["detail"] == "" {
			t.Fatalf("401 body = %s", r.body)
		}
	}
}
