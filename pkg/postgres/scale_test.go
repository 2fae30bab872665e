package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/webhook"
)

// TestAtScale times the statements of publishing, delivering, listing,
// searching and retention on the database HOOKD_SCALE_DSN, loaded by
// `hookd bench load` (its application "load"), and prints each one's
// median of 20 runs (warm) and the plans of the main ones, EXPLAIN
// (ANALYZE, BUFFERS), for docs/scaling.md ("At scale"), to
// HOOKD_SCALE_REPORT if set. It publishes a few messages and, last, drops
// the oldest day's partitions (retention). Skipped unless HOOKD_SCALE_DSN
// is set.
func TestAtScale(t *testing.T) {
	dsn := os.Getenv("HOOKD_SCALE_DSN")
	if dsn == "" {
		t.Skip("HOOKD_SCALE_DSN is not set")
	}
	ctx := context.Background()
	db, err := Open(ctx, dsn, Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	org, err := db.EnsureOrg(ctx, "load")
	if err != nil {
		t.Fatal(err)
	}
	app, err := db.FindApp(ctx, org.ID, "load")
	if err != nil {
		t.Fatalf("no application \"load\": run hookd bench load first: %v", err)
	}
	var eps []string
	if err := db.pool.QueryRow(ctx, "SELECT array_agg(id ORDER BY url) FROM endpoints WHERE app_id = $1", app.ID).Scan(&eps); err != nil {
		t.Fatal(err)
	}
	ep, err := db.FindEndpointByID(ctx, eps[0])
	if err != nil {
		t.Fatal(err)
	}
	var messages, partitions int
	var oldest, middle string
	err = db.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM messages),
		(SELECT count(*) FROM pg_inherits WHERE inhparent = 'messages'::regclass),
		(SELECT min(id) FROM messages), (SELECT id FROM messages WHERE app_id = $1 ORDER BY id OFFSET (SELECT count(*) / 2 FROM messages WHERE app_id = $1) LIMIT 1)`,
		app.ID).Scan(&messages, &partitions, &oldest, &middle)
	if err != nil {
		t.Fatal(err)
	}
	var report strings.Builder
	fmt.Fprintf(&report, "%d messages, %d partitions of messages\n\n| statement | median of 20 | slowest |\n| --- | --- | --- |\n", messages, partitions)
	measure := func(name string, run func() error) {
		t.Helper()
		var times []time.Duration
		for range 20 {
			start := time.Now()
			if err := run(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			times = append(times, time.Since(start))
		}
		slices.Sort(times)
		fmt.Fprintf(&report, "| %s | %.2f ms | %.2f ms |\n", name, ms(times[len(times)/2]), ms(times[len(times)-1]))
	}
	var plans strings.Builder
	plan := func(name, query string, args pgx.NamedArgs) {
		t.Helper()
		fmt.Fprintf(&plans, "**%s**\n\n```\n%s\n```\n\n", name, explain(t, db, query, args))
	}

	// Publishing and delivering: a message to the app's two endpoints
	// (filter types and channels match both), then its first attempt.
	var last *webhook.Message
	var lastDelivery string
	publish := func() error {
		msg := &webhook.Message{OrgID: org.ID, AppID: app.ID, EventType: "order.created", Channels: []string{"eu"},
			Payload: json.RawMessage(`{"id":1,"type":"order.created","amount":12,"currency":"eur"}`), RetentionDays: 90}
		ds, err := db.PublishMessage(ctx, msg, "", webhook.FilterVerdicts{})
		if err == nil {
			last, lastDelivery = msg, ds[0].ID
		}
		return err
	}
	measure("publish (message, 2 deliveries, channel)", publish)
	measure("load a delivery (a retry's first read)", func() error { _, err := db.LoadDelivery(ctx, lastDelivery); return err })
	n := 0
	measure("record an attempt (success)", func() error {
		if err := publish(); err != nil {
			return err
		}
		n++
		_, err := db.RecordAttempt(ctx, &webhook.AttemptRecord{
			Attempt: webhook.Attempt{DeliveryID: lastDelivery, OrgID: org.ID, AppID: app.ID, MessageID: last.ID,
				EndpointID: ep.ID, URL: ep.URL, Status: webhook.StatusSuccess, StatusCode: 200, TriggerType: webhook.TriggerScheduled},
			TaskKey: fmt.Sprintf("s:0:%d", n), Round: 0, Number: 1, Transition: webhook.Succeeded,
		})
		return err
	})
	measure("reconciler: due deliveries (none)", func() error { _, err := db.DueDeliveries(ctx, 500); return err })
	measure("find a message by id (15 days old)", func() error { _, err := db.FindMessage(ctx, app, middle); return err })
	measure("find a message by eventId", func() error { _, err := db.FindMessage(ctx, app, "no-such-event"); return nilIfNotFound(err) })

	// Lists and search (pages of 50, without payloads, with their counts).
	st := func(s webhook.MessageStatus) *webhook.MessageStatus { return &s }
	fifteen := time.Now().Add(-15 * 24 * time.Hour)
	for _, s := range []struct {
		name string
		f    webhook.MessageFilter
		opt  webhook.ListOptions
	}{
		{"message list, newest page", webhook.MessageFilter{}, webhook.ListOptions{}},
		{"message list, a page 15 days back", webhook.MessageFilter{Before: &fifteen}, webhook.ListOptions{}},
		{"search: event type of 0.01 %", webhook.MessageFilter{EventTypes: []string{"account.closed"}}, webhook.ListOptions{}},
		{"search: channel of 0.1 %", webhook.MessageFilter{Channel: "project-7"}, webhook.ListOptions{}},
		{"search: status fail (1.5 %)", webhook.MessageFilter{Status: st(webhook.StatusFail)}, webhook.ListOptions{}},
		{"search: eventId prefix", webhook.MessageFilter{EventIDPrefix: "load-2026"}, webhook.ListOptions{}},
	} {
		s.opt.Limit = webhook.DefaultLimit
		s.f.OmitPayload = true
		measure(s.name, func() error {
			page, err := db.ListMessages(ctx, app, s.f, s.opt)
			if err == nil {
				_, err = db.CountDeliveries(ctx, idsOf(page.Items))
			}
			return err
		})
		if s.name == "message list, newest page" || s.name == "search: status fail (1.5 %)" {
			q, args := listMessagesWindowSQL(app.ID, s.f, s.opt, listWindows(s.f, s.opt, time.Now())[0])
			plan(s.name+" (its first window)", q, args)
			q, args = listMessagesSQL(app.ID, s.f, s.opt)
			plan(s.name+" (unwindowed, as before: every partition is planned)", q, args)
		}
	}
	old := &webhook.Message{ID: middle, AppID: app.ID}
	measure("attempts of a message (15 days old)", func() error {
		_, err := db.ListAttempts(ctx, app, nil, old, webhook.MessageFilter{}, webhook.ListOptions{Limit: webhook.DefaultLimit})
		return err
	})
	measure("endpoint's messages, newest page", func() error {
		_, err := db.ListEndpointMessages(ctx, ep, webhook.MessageFilter{}, webhook.ListOptions{Limit: webhook.DefaultLimit})
		return err
	})
	measure("endpoint stats, last 24 h", func() error {
		_, err := db.EndpointStats(ctx, ep, time.Now().Add(-24*time.Hour), time.Now())
		return err
	})

	// Plans of the delivery path.
	msg := &webhook.Message{ID: webhook.NewID(webhook.PrefixMessage), OrgID: org.ID, AppID: app.ID, EventType: "order.created",
		Channels: []string{"eu"}, Payload: json.RawMessage(`{}`), RetentionDays: 90}
	plan("publish", createMessageSQL, db.createMessageArgs(msg, "", time.Now().UTC(), webhook.FilterVerdicts{}))
	plan("load a delivery", loadDeliverySQL, pgx.NamedArgs{"id": lastDelivery})

	// Retention: a batch of payload expiry, then the oldest day dropped.
	measure("retention: examine 1,000 messages for expired payloads", func() error {
		_, _, _, _, err := db.ExpirePayloads(ctx, time.Now(), oldest, webhook.TimeID(webhook.PrefixMessage, time.Now()), 1000)
		return err
	})
	oldestAt, _ := webhook.IDTime(webhook.PrefixMessage, oldest)
	cutoff := oldestAt.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	var dayRows int
	if err := db.pool.QueryRow(ctx, "SELECT count(*) FROM messages WHERE id < $1", webhook.TimeID(webhook.PrefixMessage, cutoff)).Scan(&dayRows); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	dropped, err := db.DropExpiredPartitions(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&report, "| retention: drop the oldest day (%d messages; %s) | %.2f ms (once) | |\n",
		dayRows, strings.Join(dropped, ", "), ms(time.Since(start)))

	out := report.String() + "\n" + plans.String()
	t.Log(out)
	if path := os.Getenv("HOOKD_SCALE_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// nilIfNotFound turns ENOTFOUND into nil, for lookups expected to find
// nothing.
func nilIfNotFound(err error) error {
	if webhook.ErrorCode(err) == webhook.ENOTFOUND {
		return nil
	}
	return err
}
