package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/webhook"
)

// TestPublishIndexCost measures what migration 00050 adds to publishing
// (two indexes, and a row per channel and tag): it runs createMessageSQL
// under EXPLAIN (ANALYZE, BUFFERS, WAL) for 2,000 messages (to one
// endpoint, without and with channels and tags), then the statement and
// indexes as they were before, alternately, and reports the WAL records
// and bytes per message (docs/scaling.md, "Search"). Skipped
// unless HOOKD_PUBLISH_COST is set; it uses the database
// hookd_bench_publish_cost, dropped first and kept afterwards.
func TestPublishIndexCost(t *testing.T) {
	if os.Getenv("HOOKD_PUBLISH_COST") == "" {
		t.Skip("HOOKD_PUBLISH_COST is not set")
	}
	ctx := context.Background()
	db := openScratch(t, "hookd_bench_publish_cost", true)
	org, _ := db.EnsureOrg(ctx, "cost")
	app := &webhook.Application{OrgID: org.ID, Name: "cost"}
	if err := db.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	ep := &webhook.Endpoint{OrgID: org.ID, AppID: app.ID, URL: "https://example.com/h", Version: 1,
		Secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"}
	if err := db.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	// Before 00050: the statement without its channel and tag rows, and
	// without the two indexes.
	before := strings.Replace(createMessageSQL, messageFilesSQL, "", 1)
	// measure returns the medians over 2,000 publishes of the WAL records
	// and bytes each wrote: medians, since the full-page images written on
	// a page's first change after a checkpoint come at random (the server
	// is shared) and dwarf a row.
	measure := func(query string, channels, tags []string) (records, walBytes float64) {
		const n = 2000
		var recs, bytes []float64
		for i := 0; i < n; i++ {
			msg := &webhook.Message{ID: webhook.NewID(webhook.PrefixMessage), OrgID: org.ID, AppID: app.ID,
				EventType: "invoice.paid", Channels: channels, Tags: tags, RetentionDays: 90,
				Payload: json.RawMessage(`{"type":"invoice.paid","amount":4200,"currency":"eur"}`)}
			eventID := "evt-" + msg.ID[4:]
			msg.EventID = &eventID
			rows, err := db.pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, WAL) "+query, db.createMessageArgs(msg, "", time.Now().UTC(), webhook.FilterVerdicts{}))
			if err != nil {
				t.Fatal(err)
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			r, b := insertWAL(lines)
			recs, bytes = append(recs, r), append(bytes, b)
		}
		slices.Sort(recs)
		slices.Sort(bytes)
		return recs[n/2], bytes[n/2]
	}
	indexes := map[string]string{
		"messages_app_event_type": "messages (app_id, event_type, id)",
		"deliveries_app_status":   "deliveries (app_id, status, msg_id) WHERE status <> 0",
	}
	report := ""
	// Alternately with and without, twice, so that neither gets the fresh
	// table's first pages alone.
	for round := range 4 {
		with := round%2 == 0
		query := before
		for name, def := range indexes {
			stmt := "DROP INDEX IF EXISTS " + name
			if with {
				stmt, query = "CREATE INDEX IF NOT EXISTS "+name+" ON "+def, createMessageSQL
			}
			if _, err := db.pool.Exec(ctx, stmt); err != nil {
				t.Fatal(err)
			}
		}
		for _, shape := range []struct {
			name           string
			channels, tags []string
		}{{"without channels or tags", nil, nil}, {"with 2 channels and a tag", []string{"eu", "project-1"}, []string{"vip"}}} {
			records, bytes := measure(query, shape.channels, shape.tags)
			report += fmt.Sprintf("00050 %-5v %s: %.0f WAL records, %.0f bytes per message (medians)\n", with, shape.name, records, bytes)
		}
	}
	t.Log("\n" + report)
}

// insertWAL sums the WAL records and bytes of a publish's EXPLAIN
// (ANALYZE, WAL): the top node's (which holds what the CTEs it reads
// wrote) and those of the inserts of the CTEs that nothing reads
// (message_channels, message_tags), each on a detail line of its node.
func insertWAL(lines []string) (records, bytes float64) {
	want := true // the top node's details come first
	for i, l := range lines {
		if i > 0 && strings.Contains(l, "->") {
			want = strings.Contains(l, "Insert on message_channels") || strings.Contains(l, "Insert on message_tags")
			continue
		}
		if m := walRe.FindStringSubmatch(l); m != nil && want {
			r, _ := strconv.ParseFloat(m[1], 64)
			b, _ := strconv.ParseFloat(m[2], 64)
			records, bytes, want = records+r, bytes+b, false
		}
	}
	return records, bytes
}

// walRe reads a WAL line of EXPLAIN: records, then (after the full-page
// images, if any) bytes.
var walRe = regexp.MustCompile(`WAL: records=(\d+).*bytes=(\d+)`)
