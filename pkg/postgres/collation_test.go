package postgres_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/webhook"
)

// IDs must sort by creation time even in a database whose default
// collation is linguistic (en-US here, as in many Postgres images).
func TestIDsSortByTimeUnderALinguisticCollation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, postgrestest.ServerDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	name := postgrestest.DatabaseName("icu")
	_, err = admin.Exec(ctx, `CREATE DATABASE `+name+` TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`)
	if err != nil {
		t.Skipf("no ICU collation on this server: %v", err)
	}
	// Its own connection: admin is closed when the test function returns,
	// before the cleanups run.
	t.Cleanup(func() { postgrestest.DropDatabase(t, name) })
	dsn := postgrestest.DSNFor(name)
	db, err := postgres.Open(ctx, dsn, postgres.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	org, _ := db.EnsureOrg(ctx, "acme")
	app := &webhook.Application{OrgID: org.ID, Name: "a"}
	if err := db.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 300; i++ {
		m := &webhook.Message{OrgID: org.ID, AppID: app.ID, EventType: "a", Payload: json.RawMessage(`{}`), RetentionDays: 90}
		if _, err := db.CreateMessage(ctx, m, ""); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	page, err := db.ListMessages(ctx, app, webhook.MessageFilter{}, webhook.ListOptions{Limit: 300, Ascending: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range page.Items {
		if m.ID != ids[i] {
			t.Fatalf("message %d in list order is %s, created as %s: ids do not sort by time", i, m.ID, ids[i])
		}
	}
}
