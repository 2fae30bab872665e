package postgres_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/secretbox"
	"github.com/hookd/hookd/pkg/webhook"
)

// authFixture is a database with a main secret, a raw connection to read
// what it stores, and an application.
type authFixture struct {
	ctx context.Context
	db  *postgres.DB
	raw *pgx.Conn
	app *webhook.Application
}

func newAuthFixture(t *testing.T) *authFixture {
	t.Helper()
	ctx := context.Background()
	box, _ := secretbox.New("main-secret")
	dsn := postgrestest.NewDSN(t)
	db, err := postgres.Open(ctx, dsn, postgres.Options{Box: box, MaxOpenConns: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	raw, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close(context.Background()) })
	org, _ := db.EnsureOrg(ctx, "acme")
	app := &webhook.Application{OrgID: org.ID, Name: "a"}
	if err := db.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	return &authFixture{ctx: ctx, db: db, raw: raw, app: app}
}

func (f *authFixture) endpoint(t *testing.T, url string, edit ...func(*webhook.Endpoint)) *webhook.Endpoint {
	t.Helper()
	ep := &webhook.Endpoint{
		OrgID: f.app.OrgID, AppID: f.app.ID, URL: url, Version: 1, Secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", Ordering: webhook.OrderingNone,
		Metadata: map[string]string{}, Headers: map[string]string{}, OldSecrets: []webhook.ExpiringSecret{},
	}
	for _, e := range edit {
		e(ep)
	}
	if err := f.db.CreateEndpoint(f.ctx, ep); err != nil {
		t.Fatal(err)
	}
	return ep
}

// rawRow returns every column of the endpoint's row as text.
func (f *authFixture) rawRow(t *testing.T, id string) string {
	t.Helper()
	var row string
	if err := f.raw.QueryRow(f.ctx, `SELECT row_to_json(e)::text FROM endpoints e WHERE id = $1`, id).Scan(&row); err != nil {
		t.Fatal(err)
	}
	return row
}

// The credentials of the URL, the mTLS identity and the OAuth secrets are
// stored sealed, and read back as they were written, by every read path.
func TestEndpointAuthStoredSealed(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	const url = "https://hook-user:hook-pass@example.com/h?x=1"
	ep := f.endpoint(t, url, func(e *webhook.Endpoint) {
		e.MTLS = &webhook.EndpointMTLS{Identity: "-----BEGIN PRIVATE KEY-----\nthe-private-key\n", ServerCACert: "the-ca"}
		e.OAuth = &webhook.EndpointOAuth{
			GrantType: "refreshToken", AuthMethod: "clientSecretJwt", ClientID: "client", TokenURL: "https://auth.example.com/token",
			ClientSecret: "the-client-secret", RefreshToken: "the-refresh-token", Scopes: []string{"a", "b"},
			ExtraParams: map[string]string{"audience": "x"}, JWT: &webhook.EndpointOAuthJWT{SecretBase64: "dGhlLWp3dC1rZXk=", SigningAlgorithm: "RS256", TokenExpirySecs: 60},
		}
	})
	row := f.rawRow(t, ep.ID)
	for _, secret := range []string{"hook-user", "hook-pass", "the-private-key", "the-ca", "the-client-secret", "the-refresh-token", "dGhlLWp3dC1rZXk"} {
		if strings.Contains(row, secret) {
			t.Errorf("the row holds %q in clear: %s", secret, row)
		}
	}
	if !strings.Contains(row, `"url":"https://example.com/h?x=1"`) {
		t.Errorf("the url column is not the URL without credentials: %s", row)
	}

	want, _ := json.Marshal(ep)
	found, err := f.db.FindEndpoint(f.ctx, f.app, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	byID, err := f.db.FindEndpointByID(f.ctx, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	page, err := f.db.ListEndpoints(f.ctx, f.app, webhook.ListOptions{Limit: 10})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("ListEndpoints = %v, %v", page, err)
	}
	msg := &webhook.Message{OrgID: f.app.OrgID, AppID: f.app.ID, EventType: "a", Payload: json.RawMessage(`{}`), RetentionDays: 90}
	ds, err := f.db.CreateMessage(f.ctx, msg, "")
	if err != nil || len(ds) != 1 {
		t.Fatalf("CreateMessage = %v, %v", ds, err)
	}
	job, err := f.db.LoadDelivery(f.ctx, ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]*webhook.Endpoint{"FindEndpoint": found, "FindEndpointByID": byID, "ListEndpoints": &page.Items[0], "LoadDelivery": &job.Endpoint} {
		if b, _ := json.Marshal(got); string(b) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", name, b, want)
		}
	}

	// Removing them clears the columns.
	err = f.db.UpdateEndpoint(f.ctx, ep, func(e *webhook.Endpoint) error {
		e.URL, e.MTLS, e.OAuth = "https://example.com/h", nil, nil
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var userinfo, mtls, oauth string
	err = f.raw.QueryRow(f.ctx, `SELECT url_userinfo, mtls, oauth FROM endpoints WHERE id = $1`, ep.ID).Scan(&userinfo, &mtls, &oauth)
	if err != nil || userinfo != "" || mtls != "" || oauth != "" {
		t.Errorf("after removing: %q %q %q, %v", userinfo, mtls, oauth, err)
	}
}

func TestSaveRefreshToken(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	ep := f.endpoint(t, "https://example.com/h", func(e *webhook.Endpoint) {
		e.OAuth = &webhook.EndpointOAuth{GrantType: "refreshToken", AuthMethod: "clientSecretBasic", ClientID: "c",
			ClientSecret: "s", TokenURL: "https://auth.example.com/token", RefreshToken: "rt-0"}
	})
	other := f.endpoint(t, "https://example.com/other")

	for _, tc := range []struct {
		name       string
		id         string
		old, new   string
		wantSaved  bool
		wantStored string
	}{
		{"the token in use is replaced", ep.ID, "rt-0", "rt-1", true, "rt-1"},
		{"a stale rotation is ignored", ep.ID, "rt-0", "rt-x", false, "rt-1"},
		{"the next rotation", ep.ID, "rt-1", "rt-2", true, "rt-2"},
		{"an endpoint without OAuth", other.ID, "rt-0", "rt-1", false, ""},
		{"an endpoint that is gone", "ep_gone", "rt-0", "rt-1", false, ""},
	} {
		saved, err := f.db.SaveRefreshToken(f.ctx, tc.id, tc.old, tc.new)
		if err != nil || saved != tc.wantSaved {
			t.Errorf("%s: saved %v, %v; want %v", tc.name, saved, err, tc.wantSaved)
		}
		if tc.wantStored == "" {
			continue
		}
		got, err := f.db.FindEndpointByID(f.ctx, tc.id)
		if err != nil || got.OAuth.RefreshToken != tc.wantStored || !got.UpdatedAt.Equal(ep.UpdatedAt) {
			t.Errorf("%s: stored %q (updatedAt %v, was %v), %v; want %q", tc.name, got.OAuth.RefreshToken, got.UpdatedAt, ep.UpdatedAt, err, tc.wantStored)
		}
	}
}

func TestVerifyEndpointAndPublishing(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	var challenge string
	ep := f.endpoint(t, "https://example.com/h", func(e *webhook.Endpoint) { challenge = e.StartVerification() })
	open := f.endpoint(t, "https://example.com/open")

	publish := func(eventType, payload, only string) []string {
		t.Helper()
		msg := &webhook.Message{OrgID: f.app.OrgID, AppID: f.app.ID, EventType: eventType, Payload: json.RawMessage(payload), RetentionDays: 90}
		ds, err := f.db.CreateMessage(f.ctx, msg, only)
		if err != nil {
			t.Fatal(err)
		}
		var to []string
		for _, d := range ds {
			to = append(to, d.EndpointID)
		}
		return to
	}
	// Pending: only its challenge, sent to it alone, reaches it.
	if to := publish("user.created", `{}`, ""); len(to) != 1 || to[0] != open.ID {
		t.Errorf("a message reached %v, want the verified endpoint alone", to)
	}
	if to := publish("user.created", `{}`, ep.ID); len(to) != 0 {
		t.Errorf("a message sent to the pending endpoint alone reached %v", to)
	}
	if to := publish(webhook.EventTypeVerification, string(webhook.VerificationPayload(challenge)), ep.ID); len(to) != 1 || to[0] != ep.ID {
		t.Errorf("the challenge reached %v", to)
	}
	if to := publish(webhook.EventTypeVerification, `{}`, ""); len(to) != 1 || to[0] != open.ID {
		t.Errorf("a verification message to every endpoint reached %v", to)
	}

	// Only the current challenge verifies it.
	for _, tc := range []struct {
		challenge string
		want      bool
	}{{"", false}, {"wrong", false}, {challenge, true}, {challenge, false}} {
		ok, err := f.db.VerifyEndpoint(f.ctx, ep.ID, tc.challenge)
		if err != nil || ok != tc.want {
			t.Errorf("VerifyEndpoint(%q) = %v, %v; want %v", tc.challenge, ok, err, tc.want)
		}
	}
	got, _ := f.db.FindEndpointByID(f.ctx, ep.ID)
	if got.Verification.Status != webhook.VerificationVerified || got.Verification.VerifiedAt == nil || got.Verification.Challenge != challenge {
		t.Errorf("after verification: %+v", got.Verification)
	}
	if to := publish("user.created", `{}`, ""); len(to) != 2 {
		t.Errorf("after verification a message reached %v, want both endpoints", to)
	}
}

func TestFindPublishedEndpoint(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t)
	ep := f.endpoint(t, "https://example.com/h")
	otherApp := &webhook.Application{OrgID: f.app.OrgID, Name: "b"}
	if err := f.db.CreateApp(f.ctx, otherApp); err != nil {
		t.Fatal(err)
	}
	opApp, err := f.db.OperationalApp(f.ctx, f.app.OrgID, true)
	if err != nil {
		t.Fatal(err)
	}
	opEp := &webhook.Endpoint{OrgID: f.app.OrgID, AppID: opApp.ID, URL: "https://example.com/ops", Version: 1, Secret: ep.Secret}
	if err := f.db.CreateEndpoint(f.ctx, opEp); err != nil {
		t.Fatal(err)
	}
	if got, err := f.db.FindPublishedEndpoint(f.ctx, f.app.ID, ep.ID); err != nil || got.ID != ep.ID {
		t.Errorf("FindPublishedEndpoint = %v, %v", got, err)
	}
	for name, ids := range map[string][2]string{
		"another application's": {otherApp.ID, ep.ID},
		"an operational one":    {opApp.ID, opEp.ID},
		"an unknown one":        {f.app.ID, "ep_nope"},
	} {
		if _, err := f.db.FindPublishedEndpoint(f.ctx, ids[0], ids[1]); webhook.ErrorCode(err) != webhook.ENOTFOUND {
			t.Errorf("%s: err = %v, want not found", name, err)
		}
	}
}
