package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"

	"github.com/hookd/hookd/pkg/webhook"
)

// Migration 00070 converts an installation that has data: the rows stay
// readable in the legacy partitions, eventIds stay unique, what the
// foreign keys cascaded still goes, and new rows go to the day partitions
// from tomorrow on. HOOKD_MIGRATION_ROWS=n loads n messages first (with a
// delivery and an attempt each) and logs how long the migration took, the
// time it holds its locks (docs/scaling.md).
func TestMigrationPartitionsAnExistingInstallation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openFresh(t)
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db.sql, fsys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 60); err != nil {
		t.Fatal(err)
	}
	org, err := db.EnsureOrg(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	app := &webhook.Application{OrgID: org.ID, Name: "a"}
	if err := db.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	ep := &webhook.Endpoint{OrgID: org.ID, AppID: app.ID, URL: "https://example.com/h", Version: 1,
		Secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"}
	if err := db.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	// Rows as the code before 00070 wrote them (the statement of the time
	// had no eventIds table).
	eventID := "order-1"
	msgID := webhook.NewID(webhook.PrefixMessage)
	dlvID := deliveryID(msgID, ep.ID)
	if n, _ := strconv.Atoi(os.Getenv("HOOKD_MIGRATION_ROWS")); n > 0 {
		began := time.Now()
		_, err := db.pool.Exec(ctx, `
			WITH m AS (
				INSERT INTO messages (id, org_id, app_id, event_type, event_id, channels, payload, retention_days, created_at)
				SELECT 'msg_' || lpad(i::text, 27, '0'), @org, @app, 'a', 'e-' || i, '["eu"]', '{"i":1}', 90, now() - interval '1 day'
				FROM generate_series(1, @n) AS i RETURNING id
			), c AS (INSERT INTO message_channels (app_id, channel, msg_id) SELECT @app, 'eu', id FROM m),
			d AS (
				INSERT INTO deliveries (id, org_id, app_id, msg_id, endpoint_id, status, created_at, updated_at)
				SELECT 'dlv_' || substr(id, 5) || substr(@ep, 4), @org, @app, id, @ep, 0, now(), now() FROM m RETURNING id, msg_id
			)
			INSERT INTO attempts (id, delivery_id, org_id, app_id, msg_id, endpoint_id, task_key, url, status,
				response_status_code, response, response_duration_ms, trigger_type, created_at)
			SELECT 'atmpt_' || substr(d.id, 5, 27), d.id, @org, @app, d.msg_id, @ep, 's:0:1', 'https://example.com/h', 0,
				200, 'ok', 10, 0, now() FROM d`,
			pgx.NamedArgs{"org": org.ID, "app": app.ID, "ep": ep.ID, "n": n})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
			t.Fatal(err)
		}
		t.Logf("loaded %d messages with a delivery and an attempt each in %v", n, time.Since(began))
	}
	_, err = db.pool.Exec(ctx, `
		WITH m AS (
			INSERT INTO messages (id, org_id, app_id, event_type, event_id, channels, payload, retention_days, created_at)
			VALUES (@msg, @org, @app, 'a', @event_id, '["eu"]', '{}', 90, now()) RETURNING id
		), c AS (
			INSERT INTO message_channels (app_id, channel, msg_id) SELECT @app, 'eu', id FROM m
		), d AS (
			INSERT INTO deliveries (id, org_id, app_id, msg_id, endpoint_id, status, created_at, updated_at)
			SELECT @dlv, @org, @app, id, @ep, 0, now(), now() FROM m RETURNING id
		)
		INSERT INTO attempts (id, delivery_id, org_id, app_id, msg_id, endpoint_id, task_key, url, status,
			response_status_code, response, response_duration_ms, trigger_type, created_at)
		SELECT @atmpt, id, @org, @app, @msg, @ep, 's:0:1', 'https://example.com/h', 0, 200, 'ok', 10, 0, now() FROM d`,
		pgx.NamedArgs{"msg": msgID, "dlv": dlvID, "atmpt": webhook.NewID(webhook.PrefixAttempt),
			"org": org.ID, "app": app.ID, "ep": ep.ID, "event_id": eventID})
	if err != nil {
		t.Fatal(err)
	}

	// A resend to another endpoint made a delivery with an id of its own
	// time before 00070 (EnsureDelivery), and its attempt.
	ep2 := &webhook.Endpoint{OrgID: org.ID, AppID: app.ID, URL: "https://example.com/2", Version: 1,
		Secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"}
	if err := db.CreateEndpoint(ctx, ep2); err != nil {
		t.Fatal(err)
	}
	_, err = db.pool.Exec(ctx, `
		WITH d AS (
			INSERT INTO deliveries (id, org_id, app_id, msg_id, endpoint_id, status, created_at, updated_at)
			VALUES (@dlv, @org, @app, @msg, @ep, 2, now(), now()) RETURNING id
		)
		INSERT INTO attempts (id, delivery_id, org_id, app_id, msg_id, endpoint_id, task_key, url, status,
			response_status_code, response, response_duration_ms, trigger_type, created_at)
		SELECT @atmpt, id, @org, @app, @msg, @ep, 'm:1', 'https://example.com/2', 2, 500, 'no', 10, 1, now() FROM d`,
		pgx.NamedArgs{"msg": msgID, "dlv": webhook.NewID(webhook.PrefixDelivery), "atmpt": webhook.NewID(webhook.PrefixAttempt),
			"org": org.ID, "app": app.ID, "ep": ep2.ID})
	if err != nil {
		t.Fatal(err)
	}

	began := time.Now()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("migration 00070 took %v", time.Since(began))

	// The old rows are read as before.
	msg, err := db.FindMessage(ctx, app, eventID)
	if err != nil || msg.ID != msgID {
		t.Fatalf("FindMessage(eventId) = %v, %v", msg, err)
	}
	if job, err := db.LoadDelivery(ctx, dlvID); err != nil || job.Message.ID != msgID {
		t.Fatalf("LoadDelivery = %v, %v", job, err)
	}
	page, err := db.ListMessages(ctx, app, webhook.MessageFilter{Channel: "eu"}, webhook.ListOptions{Limit: 10})
	if err != nil || len(page.Items) == 0 || page.Items[0].ID != msgID {
		t.Fatalf("ListMessages(channel) = %+v, %v", page.Items, err)
	}
	// The resend's delivery and attempt are found with the message's.
	counts, err := db.CountDeliveries(ctx, []string{msgID})
	if err != nil || counts[msgID].Success != 1 || counts[msgID].Fail != 1 {
		t.Errorf("CountDeliveries = %+v, %v; want a success and a failure", counts[msgID], err)
	}
	if eps, err := db.ListMessageEndpoints(ctx, msg, webhook.ListOptions{Limit: 10}); err != nil || len(eps.Items) != 2 {
		t.Errorf("ListMessageEndpoints = %d, %v; want 2", len(eps.Items), err)
	}
	if as, err := db.ListAttempts(ctx, app, nil, msg, webhook.MessageFilter{}, webhook.ListOptions{Limit: 10}); err != nil || len(as.Items) != 2 {
		t.Errorf("ListAttempts(message) = %d, %v; want 2", len(as.Items), err)
	}
	var where string
	if err := db.pool.QueryRow(ctx, "SELECT tableoid::regclass::text FROM attempts WHERE delivery_id = $1", dlvID).Scan(&where); err != nil || where != "attempts_legacy" {
		t.Fatalf("the old attempt is in %q (%v), want attempts_legacy", where, err)
	}
	// Its eventId is still taken.
	again := &webhook.Message{OrgID: org.ID, AppID: app.ID, EventType: "a", EventID: &eventID, Payload: json.RawMessage(`{}`), RetentionDays: 90}
	if _, err := db.CreateMessage(ctx, again, ""); webhook.ErrorCode(err) != webhook.ECONFLICT {
		t.Fatalf("eventId of a message from before the migration: %v, want a conflict", err)
	}
	// The partitions of the coming days exist.
	var days int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'messages'::regclass
		AND inhrelid::regclass::text LIKE 'messages\_p%'`).Scan(&days); err != nil || days < PartitionsAhead {
		t.Fatalf("%d day partitions (%v), want at least %d", days, err, PartitionsAhead)
	}
	// Deleting the endpoint still takes its deliveries and attempts.
	if err := db.DeleteEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := db.pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM deliveries WHERE endpoint_id = $1) + (SELECT count(*) FROM attempts WHERE endpoint_id = $1)", ep.ID).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d deliveries and attempts left after deleting their endpoint (%v)", left, err)
	}
}

// openFresh opens a new, empty database of its own (dropped at cleanup) on
// the test server, unmigrated.
func openFresh(t *testing.T) *DB {
	t.Helper()
	ctx := context.Background()
	server := os.Getenv("HOOKD_TEST_DB_DSN")
	if server == "" {
		server = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "hookd_test_convert_" + hex.EncodeToString(b)
	u.Path = "/" + name
	db, err := Open(ctx, u.String(), Options{MaxOpenConns: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = db.Close()
		if err := DropDatabase(context.Background(), u.String()); err != nil {
			t.Errorf("dropping %s: %v", name, err)
		}
	})
	return db
}

// hookd's sessions run without JIT: a statement over many partitions is
// costed high enough to be compiled for seconds (docs/scaling.md).
func TestSessionsRunWithoutJIT(t *testing.T) {
	t.Parallel()
	db := openFresh(t)
	var jit string
	if err := db.pool.QueryRow(context.Background(), "SHOW jit").Scan(&jit); err != nil || jit != "off" {
		t.Fatalf("jit = %q, %v; want off", jit, err)
	}
}
