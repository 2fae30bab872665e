package postgres

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/webhook"
)

// TestSearchAtScale loads HOOKD_SEARCH_ROWS messages (10000000 for the
// figures of docs/scaling.md, "Search") into the database hookd_bench_search
// (kept for the next run; `make db/reset` drops it), runs the searches of
// the message list, and reports each one's time (the median of 5 runs,
// warm) and its plan, EXPLAIN (ANALYZE, BUFFERS), in the test log and, when
// HOOKD_SEARCH_REPORT names a file, there. It fails when a search takes
// 100 ms or more. Skipped unless HOOKD_SEARCH_ROWS is set.
func TestSearchAtScale(t *testing.T) {
	rows, _ := strconv.Atoi(os.Getenv("HOOKD_SEARCH_ROWS"))
	if rows <= 0 {
		t.Skip("HOOKD_SEARCH_ROWS is not set")
	}
	ctx := context.Background()
	db := openScratch(t, "hookd_bench_search", false)
	app := loadSearchFixture(t, db, "search", rows)
	// A small application beside the big one: its searches must not walk
	// the big one's rows.
	small := loadSearchFixture(t, db, "small", 2000)
	var report strings.Builder
	fmt.Fprintf(&report, "%d messages, %d deliveries\n\n", rows, count(t, db, "deliveries"))
	mid := time.Now().Add(-40 * 24 * time.Hour)
	st := func(s webhook.MessageStatus) *webhook.MessageStatus { return &s }
	for _, s := range []struct {
		name string
		f    webhook.MessageFilter
		opt  webhook.ListOptions
		app  *webhook.Application // nil: the big one
	}{
		{"newest page", webhook.MessageFilter{}, webhook.ListOptions{}, nil},
		{"a page 40 days back (after=, ascending)", webhook.MessageFilter{After: &mid}, webhook.ListOptions{Ascending: true}, nil},
		{"event type, 40 % of messages", webhook.MessageFilter{EventTypes: []string{"order.created"}}, webhook.ListOptions{}, nil},
		{"event type, 0.01 %", webhook.MessageFilter{EventTypes: []string{"account.closed"}}, webhook.ListOptions{}, nil},
		{"two event types", webhook.MessageFilter{EventTypes: []string{"account.closed", "invoice.voided"}}, webhook.ListOptions{}, nil},
		{"channel, 50 %", webhook.MessageFilter{Channel: "eu"}, webhook.ListOptions{}, nil},
		{"channel, 5 %", webhook.MessageFilter{Channel: "c5pct"}, webhook.ListOptions{}, nil},
		{"channel, 1 %", webhook.MessageFilter{Channel: "c1pct"}, webhook.ListOptions{}, nil},
		{"channel, 0.5 %", webhook.MessageFilter{Channel: "c05pct"}, webhook.ListOptions{}, nil},
		{"channel, 0.1 %", webhook.MessageFilter{Channel: "project-7"}, webhook.ListOptions{}, nil},
		{"tag, 0.1 %", webhook.MessageFilter{Tag: "tag-7"}, webhook.ListOptions{}, nil},
		{"eventId prefix, 6 messages", webhook.MessageFilter{EventIDPrefix: "order-123456"}, webhook.ListOptions{}, nil},
		{"eventId prefix, 5 million", webhook.MessageFilter{EventIDPrefix: "order-"}, webhook.ListOptions{}, nil},
		{"status fail (1.5 %)", webhook.MessageFilter{Status: st(webhook.StatusFail)}, webhook.ListOptions{}, nil},
		{"status sending (0.5 %)", webhook.MessageFilter{Status: st(webhook.StatusSending)}, webhook.ListOptions{}, nil},
		{"status pending (0.5 %)", webhook.MessageFilter{Status: st(webhook.StatusPending)}, webhook.ListOptions{}, nil},
		{"status canceled (0.5 %)", webhook.MessageFilter{Status: st(webhook.StatusCanceled)}, webhook.ListOptions{}, nil},
		{"status success (97 %)", webhook.MessageFilter{Status: st(webhook.StatusSuccess)}, webhook.ListOptions{}, nil},
		{"status fail and an event type", webhook.MessageFilter{Status: st(webhook.StatusFail), EventTypes: []string{"invoice.paid"}}, webhook.ListOptions{}, nil},
		{"status fail, 40 days back", webhook.MessageFilter{Status: st(webhook.StatusFail), Before: &mid}, webhook.ListOptions{}, nil},
		{"status sending and an event type of 0.01 % (none match)", webhook.MessageFilter{Status: st(webhook.StatusSending), EventTypes: []string{"account.closed"}}, webhook.ListOptions{}, nil},
		// Filters nothing matches: an index walk must not read every message.
		{"no such channel", webhook.MessageFilter{Channel: "project-none"}, webhook.ListOptions{}, nil},
		{"no such tag", webhook.MessageFilter{Tag: "tag-none"}, webhook.ListOptions{}, nil},
		{"no such event type", webhook.MessageFilter{EventTypes: []string{"none.such"}}, webhook.ListOptions{}, nil},
		{"no such eventId prefix", webhook.MessageFilter{EventIDPrefix: "refund-"}, webhook.ListOptions{}, nil},
		// The small application, beside the big one.
		{"small app: newest page", webhook.MessageFilter{}, webhook.ListOptions{}, small},
		{"small app: channel", webhook.MessageFilter{Channel: "project-7"}, webhook.ListOptions{}, small},
		{"small app: status fail", webhook.MessageFilter{Status: st(webhook.StatusFail)}, webhook.ListOptions{}, small},
		{"small app: event type", webhook.MessageFilter{EventTypes: []string{"order.created"}}, webhook.ListOptions{}, small},
	} {
		target := app
		if s.app != nil {
			target = s.app
		}
		s.opt.Limit = webhook.DefaultLimit
		s.f.OmitPayload = true // search's default (with_content=false)
		var times []time.Duration
		var found int
		for range 5 {
			start := time.Now()
			page, err := db.ListMessages(ctx, target, s.f, s.opt)
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if _, err := db.CountDeliveries(ctx, idsOf(page.Items)); err != nil {
				t.Fatal(err)
			}
			times = append(times, time.Since(start))
			found = len(page.Items)
		}
		first := times[0]
		slices.Sort(times)
		median := times[len(times)/2]
		query, args := listMessagesSQL(target.ID, s.f, s.opt)
		plan := explain(t, db, query, args)
		fmt.Fprintf(&report, "### %s: %d found, %.1f ms (median of 5; first run %.1f ms)\n\n```\n%s\n```\n\n",
			s.name, found, ms(median), ms(first), plan)
		if median >= 100*time.Millisecond {
			t.Errorf("%s: %v, want under 100 ms", s.name, median)
		}
	}
	t.Log(report.String())
	if path := os.Getenv("HOOKD_SEARCH_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(report.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// openScratch opens (creating it, or dropping it first when fresh) the
// migrated database name on the test server, for the measurements that
// keep their data: it is not a postgrestest database, which imports this
// package.
func openScratch(t *testing.T, name string, fresh bool) *DB {
	t.Helper()
	ctx := context.Background()
	server := os.Getenv("HOOKD_TEST_DB_DSN")
	if server == "" {
		server = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	if fresh {
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		_ = conn.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
	}
	dsn, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	dsn.Path = "/" + name
	db, err := Open(ctx, dsn.String(), Options{MaxOpenConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func idsOf(msgs []webhook.Message) []string {
	out := make([]string, len(msgs))
	for i := range msgs {
		out[i] = msgs[i].ID
	}
	return out
}

// explain returns the plan of query with args, as EXPLAIN (ANALYZE,
// BUFFERS) prints it. The named arguments are rewritten as pgx does.
func explain(t *testing.T, db *DB, query string, args pgx.NamedArgs) string {
	t.Helper()
	rows, err := db.pool.Query(context.Background(), "EXPLAIN (ANALYZE, BUFFERS) "+query, args)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

func count(t *testing.T, db *DB, table string) int {
	t.Helper()
	var n int
	if err := db.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// searchEventTypes are the fixture's event types and their shares of the
// messages, in per mille; account.closed is every 10,000th message.
var searchEventTypes = []struct {
	name     string
	permille int
}{
	{"order.created", 400}, {"order.paid", 200}, {"invoice.paid", 150}, {"invoice.voided", 100},
	{"user.created", 80}, {"user.updated", 70},
}

// loadSearchFixture fills the fixture's application uid with n messages over
// the last 80 days (if it does not hold them yet) and returns it. Every
// message has a delivery to one endpoint, every tenth one to a second:
// 97 % succeeded, 1.5 % failed, 0.5 % each pending, sending and canceled.
// Channels: "project-<i mod 1000>" and "eu" or "us", and "c5pct" on every
// 20th message, "c1pct" on every 100th, "c05pct" on every 200th; every
// tenth message
// has a tag "tag-<i/10 mod 100>"; every other an eventId "order-<i>".
// Rows are written with COPY, ids made from their times.
func loadSearchFixture(t *testing.T, db *DB, uid string, n int) *webhook.Application {
	t.Helper()
	ctx := context.Background()
	org, err := db.EnsureOrg(ctx, "search")
	if err != nil {
		t.Fatal(err)
	}
	app, err := db.FindApp(ctx, org.ID, uid)
	if webhook.ErrorCode(err) == webhook.ENOTFOUND {
		app = &webhook.Application{OrgID: org.ID, Name: uid, UID: &uid}
		err = db.CreateApp(ctx, app)
	}
	if err != nil {
		t.Fatal(err)
	}
	var have int
	if err := db.pool.QueryRow(ctx, "SELECT count(*) FROM messages WHERE app_id = $1", app.ID).Scan(&have); err != nil {
		t.Fatal(err)
	}
	if have >= n {
		return app
	} else if have > 0 {
		t.Fatalf("application %s holds %d messages, not %d: drop hookd_bench_search first", uid, have, n)
	}
	var eps []*webhook.Endpoint
	for i := range 2 {
		ep := &webhook.Endpoint{OrgID: org.ID, AppID: app.ID, URL: fmt.Sprintf("https://example.com/%d", i), Version: 1,
			Secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"}
		if err := db.CreateEndpoint(ctx, ep); err != nil {
			t.Fatal(err)
		}
		eps = append(eps, ep)
	}
	start := time.Now().Add(-80 * 24 * time.Hour).UTC()
	step := 80 * 24 * time.Hour / time.Duration(n)
	// The days' partitions, so that the rows go in them, as they would
	// have day after day.
	if _, err := db.ensurePartitions(ctx, start, 82); err != nil {
		t.Fatal(err)
	}
	msgTime := func(i int) time.Time { return start.Add(time.Duration(i) * step) }
	began := time.Now()
	i := 0
	copied, err := db.pool.CopyFrom(ctx, pgx.Identifier{"messages"},
		[]string{"id", "org_id", "app_id", "event_type", "event_id", "channels", "tags", "payload", "retention_days", "created_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			i++
			at := msgTime(i)
			eventType := "account.closed"
			if i%10000 != 0 {
				r := i % 1000
				for _, et := range searchEventTypes {
					if r < et.permille {
						eventType = et.name
						break
					}
					r -= et.permille
				}
			}
			var eventID, tags any
			if i%2 == 0 {
				eventID = "order-" + strconv.Itoa(i)
			}
			if i%10 == 0 {
				tags = fmt.Sprintf(`["tag-%d"]`, i/10%100)
			}
			region := `"eu"`
			if i%2 == 1 {
				region = `"us"`
			}
			if i%20 == 0 {
				region += `, "c5pct"`
			}
			if i%100 == 0 {
				region += `, "c1pct"`
			}
			if i%200 == 7 {
				region += `, "c05pct"`
			}
			return []any{
				webhook.TimeID(webhook.PrefixMessage, at), org.ID, app.ID, eventType, eventID,
				fmt.Sprintf(`["project-%d", %s]`, i%1000, region), tags,
				fmt.Sprintf(`{"id":%d,"type":%q,"amount":%d,"currency":"eur"}`, i, eventType, i%10000), 90, at,
			}, nil
		}))
	if err != nil {
		t.Fatalf("copying messages: %v", err)
	}
	t.Logf("copied %d messages in %v", copied, time.Since(began))
	began = time.Now()
	// Their channels and tags, as publishing files them (messageFilesSQL).
	for _, stmt := range []string{
		`INSERT INTO message_channels (app_id, channel, msg_id)
		 SELECT m.app_id, c, m.id FROM messages m, jsonb_array_elements_text(m.channels) AS c WHERE m.app_id = $1`,
		`INSERT INTO message_tags (app_id, tag, msg_id)
		 SELECT m.app_id, t, m.id FROM messages m, jsonb_array_elements_text(m.tags) AS t
		 WHERE m.app_id = $1 AND m.tags IS NOT NULL`,
	} {
		if _, err := db.pool.Exec(ctx, stmt, app.ID); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("filed their channels and tags in %v", time.Since(began))
	began, i = time.Now(), 0
	delivery := func(i int, ep *webhook.Endpoint, status webhook.MessageStatus) []any {
		at := msgTime(i)
		msgID := webhook.TimeID(webhook.PrefixMessage, at)
		attempts, next := 1, any(nil)
		switch status {
		case webhook.StatusPending:
			attempts, next = 0, at
		case webhook.StatusSending:
			next = at.Add(time.Hour)
		}
		return []any{"dlv_" + msgID[4:] + ep.ID[3:], org.ID, app.ID, msgID, ep.ID, int(status), attempts, next, at, at}
	}
	var pending [][]any
	copied, err = db.pool.CopyFrom(ctx, pgx.Identifier{"deliveries"},
		[]string{"id", "org_id", "app_id", "msg_id", "endpoint_id", "status", "round_attempts", "next_attempt_at", "created_at", "updated_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if len(pending) == 0 {
				if i == n {
					return nil, nil
				}
				i++
				status := webhook.StatusSuccess
				switch r := (i * 7919) % 1000; {
				case r < 15:
					status = webhook.StatusFail
				case r < 20:
					status = webhook.StatusSending
				case r < 25:
					status = webhook.StatusPending
				case r < 30:
					status = webhook.StatusCanceled
				}
				pending = append(pending, delivery(i, eps[0], status))
				if i%10 == 0 {
					pending = append(pending, delivery(i, eps[1], webhook.StatusSuccess))
				}
			}
			row := pending[0]
			pending = pending[1:]
			return row, nil
		}))
	if err != nil {
		t.Fatalf("copying deliveries: %v", err)
	}
	t.Logf("copied %d deliveries in %v", copied, time.Since(began))
	if _, err := db.pool.Exec(ctx, "VACUUM ANALYZE messages"); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"deliveries", "message_channels", "message_tags"} {
		if _, err := db.pool.Exec(ctx, "VACUUM ANALYZE "+table); err != nil {
			t.Fatal(err)
		}
	}
	return app
}
