package postgres_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/webhook"
)

// setupPartitions is setupRetention with a connection of its own to the
// test database.
func setupPartitions(t *testing.T) (*retentionBundle, *pgx.Conn) {
	t.Helper()
	t.Parallel()
	ctx := context.Background()
	dsn := postgrestest.NewDSN(t)
	db, err := postgres.Open(ctx, dsn, postgres.Options{MaxOpenConns: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(ctx) })
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
	return &retentionBundle{t: t, ctx: ctx, db: db, app: app, ep: ep}, conn
}

// The partition bounds are computed in SQL by hookd_time_id: it must be
// webhook.TimeID exactly (to the microsecond, PostgreSQL's precision).
func TestTimeIDInSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, postgrestest.NewDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	times := []time.Time{time.Unix(1400000000, 0), time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC), time.Now().Truncate(time.Microsecond)}
	for range 50 {
		times = append(times, time.Unix(1400000000+rand.Int64N(1<<31), rand.Int64N(1e9)).Truncate(time.Microsecond))
	}
	for _, tm := range times {
		var got string
		if err := conn.QueryRow(ctx, "SELECT hookd_time_id('msg_', $1)", tm).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := webhook.TimeID(webhook.PrefixMessage, tm); got != want {
			t.Errorf("hookd_time_id(%s) = %s, want %s", tm.Format(time.RFC3339Nano), got, want)
		}
	}
}

// A message, its delivery, its attempt and its channels go to the
// partitions of its day; a lookup by id reads that partition alone.
func TestPartitionsHoldADayEach(t *testing.T) {
	f, conn := setupPartitions(t)
	msg := &webhook.Message{OrgID: f.app.OrgID, AppID: f.app.ID, EventType: "a", Channels: []string{"eu"},
		Payload: json.RawMessage(`{}`), RetentionDays: 90}
	ds, err := f.db.CreateMessage(f.ctx, msg, "")
	if err != nil || len(ds) != 1 {
		t.Fatalf("CreateMessage = %v, %v", ds, err)
	}
	attempt := f.attempt(msg, ds[0])
	suffix := "_p" + msg.CreatedAt.UTC().Format("20060102")
	for _, q := range []struct{ table, where, id string }{
		{"messages", "id", msg.ID},
		{"deliveries", "id", ds[0].ID},
		{"attempts", "id", attempt.ID},
		{"message_channels", "msg_id", msg.ID},
	} {
		var in string
		if err := conn.QueryRow(f.ctx, "SELECT tableoid::regclass::text FROM "+q.table+" WHERE "+q.where+" = $1", q.id).Scan(&in); err != nil {
			t.Fatalf("%s: %v", q.table, err)
		}
		if in != q.table+suffix {
			t.Errorf("the row of %s is in %s, want %s", q.table, in, q.table+suffix)
		}
	}
	for _, q := range []struct{ table, query string }{
		{"messages", "SELECT * FROM messages WHERE id = '" + msg.ID + "'"},
		{"deliveries", "SELECT * FROM deliveries WHERE id = '" + ds[0].ID + "'"},
		{"attempts", "SELECT * FROM attempts WHERE delivery_id = '" + ds[0].ID + "'"},
	} {
		rows, _ := conn.Query(f.ctx, "EXPLAIN "+q.query)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		plan := strings.Join(lines, "\n")
		if strings.Count(plan, " on "+q.table+"_p") != 1 || strings.Contains(plan, "_default") || strings.Contains(plan, "_legacy") {
			t.Errorf("%s reads other partitions than its day's:\n%s", q.query, plan)
		}
	}
}

// An eventId is unique per application across partitions while its
// message is kept, and free again once its partition is dropped.
func TestEventIDUniqueAcrossPartitions(t *testing.T) {
	f, _ := setupPartitions(t)
	eventID := "order-1"
	publish := func() error {
		msg := &webhook.Message{OrgID: f.app.OrgID, AppID: f.app.ID, EventType: "a", EventID: &eventID,
			Payload: json.RawMessage(`{}`), RetentionDays: 90}
		_, err := f.db.CreateMessage(f.ctx, msg, "")
		return err
	}
	if err := publish(); err != nil {
		t.Fatal(err)
	}
	if err := publish(); webhook.ErrorCode(err) != webhook.ECONFLICT {
		t.Fatalf("second message with the eventId: %v, want a conflict", err)
	}
	if _, err := f.db.DeleteOldMessages(f.ctx, time.Now().Add(48*time.Hour), 100); err != nil {
		t.Fatal(err)
	}
	if err := publish(); err != nil {
		t.Fatalf("eventId after its message was dropped: %v", err)
	}
}

// Retention drops the partitions of expired days whole, and only those;
// creating partitions is idempotent.
func TestRetentionDropsExpiredPartitions(t *testing.T) {
	f, conn := setupPartitions(t)
	old := time.Now().UTC().Add(-200 * day)
	if n, err := f.db.EnsurePartitions(f.ctx, old); err != nil || n != 8*5 {
		t.Fatalf("EnsurePartitions 200 days back = %d, %v; want 40 (8 days of 5 tables)", n, err)
	}
	if n, err := f.db.EnsurePartitions(f.ctx, old); err != nil || n != 0 {
		t.Fatalf("EnsurePartitions again = %d, %v; want 0", n, err)
	}
	oldID := webhook.TimeID(webhook.PrefixMessage, old.Add(time.Hour))
	_, err := conn.Exec(f.ctx, `INSERT INTO messages (id, org_id, app_id, event_type, payload, retention_days, created_at)
		VALUES ($1, $2, $3, 'a', '{}', 90, $4)`, oldID, f.app.OrgID, f.app.ID, old.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	recent, _, _ := f.publish(90)
	partitions := func() int {
		var n int
		if err := conn.QueryRow(f.ctx, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'messages'::regclass`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := partitions()
	if _, err := f.db.DeleteOldMessages(f.ctx, old.Add(5*day), 100); err != nil {
		t.Fatal(err)
	}
	// 200 to 196 days back are gone (each of the five days' partitions
	// ends before the limit), and the empty legacy partition.
	if got := before - partitions(); got != 6 {
		t.Errorf("%d messages partitions dropped, want 6 (5 days and the empty legacy one)", got)
	}
	if _, err := f.db.FindMessage(f.ctx, f.app, oldID); webhook.ErrorCode(err) != webhook.ENOTFOUND {
		t.Errorf("old message: %v, want not found", err)
	}
	if _, err := f.db.FindMessage(f.ctx, f.app, recent.ID); err != nil {
		t.Errorf("recent message: %v", err)
	}
}
