package postgres_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
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
	app, ep := postgrestest.NewAppWithEndpoint(t, db)
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

// The message list looks for a page in the newest days' partitions first,
// then further back: pages across days come out whole and in order, with
// and without filters, both ways.
func TestMessageListAcrossDays(t *testing.T) {
	f, conn := setupPartitions(t)
	now := time.Now().UTC()
	var want []string // newest first
	for _, back := range []int{40, 10, 3, 1, 0} {
		at := now.Add(-time.Duration(back) * day)
		if _, err := f.db.EnsurePartitions(f.ctx, at); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			t0 := at.Add(-time.Duration(i+1) * time.Minute)
			id := webhook.TimeID(webhook.PrefixMessage, t0)
			status := 0
			if i == 1 {
				status = 2
			}
			_, err := conn.Exec(f.ctx, `WITH m AS (
					INSERT INTO messages (id, org_id, app_id, event_type, payload, retention_days, created_at)
					VALUES ($1, $2, $3, 'a', '{}', 90, $4) RETURNING id)
				INSERT INTO deliveries (id, org_id, app_id, msg_id, endpoint_id, status, created_at, updated_at)
				SELECT 'dlv_' || substr(id, 5) || substr($5, 4), $2, $3, id, $5, $6, $4, $4 FROM m`,
				id, f.app.OrgID, f.app.ID, t0, f.ep.ID, status)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, id)
		}
	}
	slices.Sort(want)
	slices.Reverse(want)
	walk := func(filter webhook.MessageFilter, asc bool) []string {
		t.Helper()
		var got []string
		opt := webhook.ListOptions{Limit: 2, Ascending: asc}
		for range 20 {
			page, err := f.db.ListMessages(f.ctx, f.app, filter, opt)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range page.Items {
				got = append(got, m.ID)
			}
			if !page.More {
				return got
			}
			opt.Cursor = got[len(got)-1]
		}
		t.Fatal("more than 20 pages")
		return nil
	}
	if got := walk(webhook.MessageFilter{}, false); !slices.Equal(got, want) {
		t.Errorf("newest first:\n got %v\nwant %v", got, want)
	}
	asc := slices.Clone(want)
	slices.Reverse(asc)
	since := now.Add(-50 * day)
	if got := walk(webhook.MessageFilter{After: &since}, true); !slices.Equal(got, asc) {
		t.Errorf("oldest first from 50 days back:\n got %v\nwant %v", got, asc)
	}
	fail := webhook.StatusFail
	var failed []string
	for i, id := range want {
		if i%3 == 1 {
			failed = append(failed, id)
		}
	}
	if got := walk(webhook.MessageFilter{Status: &fail}, false); !slices.Equal(got, failed) {
		t.Errorf("failed, newest first:\n got %v\nwant %v", got, failed)
	}
}
