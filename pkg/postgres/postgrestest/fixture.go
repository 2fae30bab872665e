package postgrestest

import (
	"context"
	"testing"

	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/webhook"
)

// TestSecret is the signing secret of the endpoints NewAppWithEndpoint
// creates.
const TestSecret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"

// NewAppWithEndpoint creates, in db, the organisation "acme", an
// application of it and one enabled endpoint of that application (to
// https://example.com/h, signed with TestSecret), failing t on any error.
func NewAppWithEndpoint(t testing.TB, db *postgres.DB) (*webhook.Application, *webhook.Endpoint) {
	t.Helper()
	ctx := context.Background()
	org, err := db.EnsureOrg(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	app := &webhook.Application{OrgID: org.ID, Name: "a"}
	if err := db.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	return app, NewEndpoint(t, db, app)
}

// NewEndpoint creates another endpoint of app like NewAppWithEndpoint's.
func NewEndpoint(t testing.TB, db *postgres.DB, app *webhook.Application) *webhook.Endpoint {
	t.Helper()
	ep := &webhook.Endpoint{OrgID: app.OrgID, AppID: app.ID, URL: "https://example.com/h", Version: 1, Secret: TestSecret}
	if err := db.CreateEndpoint(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	return ep
}
