package postgres_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/webhook"
)

// Every filter of the message list, the status (the worst of a message's
// deliveries) among them, in both orders and across pages.
func TestListMessagesFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := postgrestest.NewDSN(t)
	db := openDSN(t, dsn)
	org, _ := db.EnsureOrg(ctx, "acme")
	app := &webhook.Application{OrgID: org.ID, Name: "a"}
	if err := db.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	var eps []*webhook.Endpoint
	for range 2 {
		ep := &webhook.Endpoint{OrgID: org.ID, AppID: app.ID, URL: "https://example.com/h", Version: 1,
			Secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"}
		if err := db.CreateEndpoint(ctx, ep); err != nil {
			t.Fatal(err)
		}
		eps = append(eps, ep)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var msgs []*webhook.Message
	start := time.Now()
	for i, m := range []struct {
		eventType, eventID string
		channels, tags     []string
		statuses           []webhook.MessageStatus // per endpoint; none: no delivery
		want               *webhook.MessageStatus
	}{
		{"a", "order-1", []string{"c1"}, []string{"t1"}, statuses(0, 0), status(0)},
		{"b", "order-2", nil, nil, statuses(0, 2), status(2)},
		{"a", "refund-1", nil, []string{"t2"}, statuses(3, 1), status(3)},
		{"a", "order_3", []string{"c2"}, nil, statuses(1), status(1)},
		{"b", "", nil, nil, statuses(4, 0), status(4)},
		{"a", "", nil, nil, nil, nil},
	} {
		msg := &webhook.Message{OrgID: org.ID, AppID: app.ID, EventType: m.eventType, Channels: m.channels, Tags: m.tags,
			Payload: json.RawMessage(`{"i":1}`), RetentionDays: 90}
		if m.eventID != "" {
			msg.EventID = &m.eventID
		}
		only := "ep_none"
		if len(m.statuses) > 0 {
			only = ""
		}
		if _, err := db.CreateMessage(ctx, msg, only); err != nil {
			t.Fatal(err)
		}
		for j, ep := range eps {
			if j >= len(m.statuses) {
				if _, err := conn.Exec(ctx, `DELETE FROM deliveries WHERE msg_id = $1 AND endpoint_id = $2`, msg.ID, ep.ID); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if _, err := conn.Exec(ctx, `UPDATE deliveries SET status = $1::int WHERE msg_id = $2 AND endpoint_id = $3`,
				int(m.statuses[j]), msg.ID, ep.ID); err != nil {
				t.Fatal(err)
			}
		}
		counts, err := db.CountDeliveries(ctx, []string{msg.ID})
		if err != nil {
			t.Fatal(err)
		}
		worst, ok := counts[msg.ID].Worst()
		if (m.want == nil) != !ok || (ok && worst != *m.want) {
			t.Fatalf("message %d: counts %+v give %v %v, want %v", i, counts[msg.ID], worst, ok, m.want)
		}
		msgs = append(msgs, msg)
	}
	ids := func(i ...int) []string {
		out := []string{}
		for _, n := range i {
			out = append(out, msgs[n].ID)
		}
		return out
	}
	mid := msgs[2].CreatedAt
	for _, tc := range []struct {
		name string
		f    webhook.MessageFilter
		want []string // oldest first
	}{
		{"all", webhook.MessageFilter{}, ids(0, 1, 2, 3, 4, 5)},
		{"success", webhook.MessageFilter{Status: status(0)}, ids(0)},
		{"pending", webhook.MessageFilter{Status: status(1)}, ids(3)},
		{"fail", webhook.MessageFilter{Status: status(2)}, ids(1)},
		{"sending", webhook.MessageFilter{Status: status(3)}, ids(2)},
		{"canceled", webhook.MessageFilter{Status: status(4)}, ids(4)},
		{"event types", webhook.MessageFilter{EventTypes: []string{"b"}}, ids(1, 4)},
		{"two event types", webhook.MessageFilter{EventTypes: []string{"a", "b"}}, ids(0, 1, 2, 3, 4, 5)},
		{"channel", webhook.MessageFilter{Channel: "c2"}, ids(3)},
		{"tag", webhook.MessageFilter{Tag: "t2"}, ids(2)},
		{"eventId prefix", webhook.MessageFilter{EventIDPrefix: "order"}, ids(0, 1, 3)},
		{"eventId prefix with -", webhook.MessageFilter{EventIDPrefix: "order-"}, ids(0, 1)},
		{"whole eventId", webhook.MessageFilter{EventIDPrefix: "refund-1"}, ids(2)},
		{"before", webhook.MessageFilter{Before: &mid}, ids(0, 1)},
		{"after", webhook.MessageFilter{After: &start, Status: status(0), EventTypes: []string{"a"}}, ids(0)},
		{"without payloads", webhook.MessageFilter{OmitPayload: true, Tag: "t1"}, ids(0)},
	} {
		for _, asc := range []bool{false, true} {
			var got []string
			opt := webhook.ListOptions{Limit: 2, Ascending: asc}
			for pages := 0; ; pages++ {
				page, err := db.ListMessages(ctx, app, tc.f, opt)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				for _, m := range page.Items {
					got = append(got, m.ID)
					if (m.Payload == nil) != tc.f.OmitPayload {
						t.Fatalf("%s: payload %q with OmitPayload %v", tc.name, m.Payload, tc.f.OmitPayload)
					}
				}
				if !page.More || pages > 5 {
					break
				}
				opt.Cursor = page.Items[len(page.Items)-1].ID
			}
			want := slices.Clone(tc.want)
			if !asc {
				slices.Reverse(want)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s (ascending %v): %v, want %v", tc.name, asc, got, want)
			}
		}
	}
}

func status(s webhook.MessageStatus) *webhook.MessageStatus { return &s }

func statuses(s ...webhook.MessageStatus) []webhook.MessageStatus { return s }

// openDSN opens the migrated test database dsn for t.
func openDSN(t *testing.T, dsn string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// A message's channels and tags are filed with it, and go with it: when it
// is deleted past retention, and with its application.
func TestMessageFilesGoWithTheMessage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := postgrestest.NewDSN(t)
	db := openDSN(t, dsn)
	org, _ := db.EnsureOrg(ctx, "acme")
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	filed := func() (n int) {
		t.Helper()
		if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM message_channels) + (SELECT count(*) FROM message_tags)`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	var apps []*webhook.Application
	for range 2 {
		app := &webhook.Application{OrgID: org.ID, Name: "a"}
		if err := db.CreateApp(ctx, app); err != nil {
			t.Fatal(err)
		}
		msg := &webhook.Message{OrgID: org.ID, AppID: app.ID, EventType: "a", Channels: []string{"eu", "b2b"},
			Tags: []string{"vip"}, Payload: json.RawMessage(`{}`), RetentionDays: 90}
		if _, err := db.CreateMessage(ctx, msg, ""); err != nil {
			t.Fatal(err)
		}
		apps = append(apps, app)
	}
	if n := filed(); n != 6 {
		t.Fatalf("%d channel and tag rows, want 6", n)
	}
	if err := db.DeleteApp(ctx, org.ID, apps[0].ID); err != nil {
		t.Fatal(err)
	}
	if n := filed(); n != 3 {
		t.Fatalf("%d rows after deleting an application, want 3", n)
	}
	if _, err := db.DeleteOldMessages(ctx, time.Now().Add(time.Minute), 10); err != nil {
		t.Fatal(err)
	}
	if n := filed(); n != 0 {
		t.Fatalf("%d rows after the messages were deleted, want none", n)
	}
}
