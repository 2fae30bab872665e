package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/webhook"
)

// TestPublishIndexCost measures what the indexes of migration 00050 add to
// publishing: it runs createMessageSQL under EXPLAIN (ANALYZE, BUFFERS, WAL)
// for 2,000 messages (to one endpoint, without and with channels and tags)
// with those indexes and again without them, and reports the WAL bytes and
// the buffers written per message (docs/scaling.md, "Search"). Skipped
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
	measure := func(channels, tags []string) (walBytes, dirtied float64) {
		const n = 2000
		for i := 0; i < n; i++ {
			msg := &webhook.Message{ID: webhook.NewID(webhook.PrefixMessage), OrgID: org.ID, AppID: app.ID,
				EventType: "invoice.paid", Channels: channels, Tags: tags, RetentionDays: 90,
				Payload: json.RawMessage(`{"type":"invoice.paid","amount":4200,"currency":"eur"}`)}
			eventID := "evt-" + strconv.Itoa(i) + "-" + msg.ID[4:12]
			msg.EventID = &eventID
			chans := channels
			if chans == nil {
				chans = []string{}
			}
			now := time.Now().UTC()
			rows, err := db.pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, WAL) "+createMessageSQL, pgx.NamedArgs{
				"id": msg.ID, "org_id": org.ID, "app_id": app.ID, "event_type": msg.EventType, "event_id": msg.EventID,
				"channels": jsonOrNull(channels), "tags": jsonOrNull(tags), "payload": string(msg.Payload),
				"retention_days": 90, "ordering_key": nil, "now": now, "pending": 1, "reconcile_at": now.Add(time.Minute),
				"only": "", "channel_list": chans,
			})
			if err != nil {
				t.Fatal(err)
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			// The top node's line carries the statement's totals.
			for _, l := range lines {
				if m := walBytesRe.FindStringSubmatch(l); m != nil {
					b, _ := strconv.ParseFloat(m[1], 64)
					walBytes += b
					break
				}
			}
			for _, l := range lines {
				if m := dirtiedRe.FindStringSubmatch(l); m != nil {
					d, _ := strconv.ParseFloat(m[1], 64)
					dirtied += d
					break
				}
			}
		}
		return walBytes / n, dirtied / n
	}
	indexes := map[string]string{
		"messages_app_event_type": "messages (app_id, event_type, id)",
		"messages_channels":       "messages USING gin (channels jsonb_path_ops) WHERE channels IS NOT NULL",
		"messages_tags":           "messages USING gin (tags jsonb_path_ops) WHERE tags IS NOT NULL",
		"deliveries_app_status":   "deliveries (app_id, status, msg_id) WHERE status <> 0",
	}
	report := ""
	// Alternately with and without the indexes, twice, so that neither
	// gets the fresh table's first pages alone.
	for round := range 4 {
		with := round%2 == 0
		for name, def := range indexes {
			stmt := "DROP INDEX IF EXISTS " + name
			if with {
				stmt = "CREATE INDEX IF NOT EXISTS " + name + " ON " + def
			}
			if _, err := db.pool.Exec(ctx, stmt); err != nil {
				t.Fatal(err)
			}
		}
		for _, shape := range []struct {
			name           string
			channels, tags []string
		}{{"without channels or tags", nil, nil}, {"with 2 channels and a tag", []string{"eu", "project-1"}, []string{"vip"}}} {
			wal, dirtied := measure(shape.channels, shape.tags)
			report += fmt.Sprintf("indexes %-5v %s: %.0f WAL bytes, %.2f buffers dirtied per message\n", with, shape.name, wal, dirtied)
		}
	}
	t.Log("\n" + report)
}

var (
	walBytesRe = regexp.MustCompile(`WAL: .*bytes=(\d+)`)
	dirtiedRe  = regexp.MustCompile(`dirtied=(\d+)`)
)
