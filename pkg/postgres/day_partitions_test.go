package postgres_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/webhook"
)

// The publish and the attempt record name the partitions of their
// message's day: a record does not wait for a lock on another day's
// partition of deliveries, as a statement through the parent would (its
// generic plan locks every partition before it prunes them).
func TestHotStatementsNameTheDaysPartitions(t *testing.T) {
	b, conn := setupPartitions(t)
	msg := &webhook.Message{OrgID: b.app.OrgID, AppID: b.app.ID, EventType: "a", Channels: []string{"eu"},
		Tags: []string{"t1"}, Payload: json.RawMessage(`{"a":1}`), RetentionDays: 30}
	msg.ID = webhook.NewID(webhook.PrefixMessage) // its day, for the check below
	if !b.db.NamesPartitionsOf(msg.ID) {
		t.Fatal("today's partitions are not known")
	}
	ds, err := b.db.CreateMessage(b.ctx, msg, "")
	if err != nil || len(ds) != 1 {
		t.Fatalf("CreateMessage = %v, %v", ds, err)
	}
	day := strings.ReplaceAll(msg.CreatedAt.UTC().Format(time.DateOnly), "-", "")
	for table, key := range map[string]string{"messages": "id", "deliveries": "msg_id", "message_channels": "msg_id", "message_tags": "msg_id"} {
		var got string
		if err := conn.QueryRow(b.ctx, "SELECT tableoid::regclass::text FROM "+table+" WHERE "+key+" = $1", msg.ID).Scan(&got); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if want := table + "_p" + day; got != want {
			t.Errorf("%s row in %s, want %s", table, got, want)
		}
	}

	// Another day's partition of deliveries, locked by a transaction.
	tx, err := conn.Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(b.ctx)
	later := "deliveries_p" + time.Now().UTC().AddDate(0, 0, 3).Format("20060102")
	if _, err := tx.Exec(b.ctx, "LOCK TABLE "+later+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	recorded := make(chan *webhook.Attempt, 1)
	go func() { recorded <- b.attempt(msg, ds[0]) }()
	select {
	case <-recorded:
	case <-time.After(10 * time.Second):
		_ = tx.Rollback(b.ctx)
		<-recorded
		t.Fatalf("the attempt record waited for the lock on %s: it went through the parent", later)
	}
	if err := tx.Rollback(b.ctx); err != nil {
		t.Fatal(err)
	}
	var table string
	var status int
	err = conn.QueryRow(b.ctx, `SELECT a.tableoid::regclass::text, d.status FROM attempts a
		JOIN deliveries d ON d.id = a.delivery_id WHERE a.delivery_id = $1`, ds[0].ID).Scan(&table, &status)
	if err != nil {
		t.Fatal(err)
	}
	if table != "attempts_p"+day || status != int(webhook.StatusSuccess) {
		t.Errorf("attempt in %s, delivery status %d; want attempts_p%s, %d", table, status, day, webhook.StatusSuccess)
	}
}

// A partition dropped behind a process's back (by another process's
// retention, say) costs its statements nothing but a second run through
// the parent, and the days are read again.
func TestHotStatementsGoThroughTheParentWhenAPartitionIsGone(t *testing.T) {
	b, conn := setupPartitions(t)
	id := webhook.NewID(webhook.PrefixMessage)
	if !b.db.NamesPartitionsOf(id) {
		t.Fatal("today's partitions are not known")
	}
	day := strings.ReplaceAll(time.Now().UTC().Format(time.DateOnly), "-", "")
	if _, err := conn.Exec(b.ctx, "DROP TABLE message_tags_p"+day); err != nil {
		t.Fatal(err)
	}
	msg := &webhook.Message{OrgID: b.app.OrgID, AppID: b.app.ID, EventType: "a", Tags: []string{"t1"},
		Payload: json.RawMessage(`{"a":1}`), RetentionDays: 30}
	ds, err := b.db.CreateMessage(b.ctx, msg, "")
	if err != nil || len(ds) != 1 {
		t.Fatalf("CreateMessage with a partition gone = %v, %v", ds, err)
	}
	var table string
	if err := conn.QueryRow(b.ctx, "SELECT tableoid::regclass::text FROM message_tags WHERE msg_id = $1", msg.ID).Scan(&table); err != nil {
		t.Fatal(err)
	}
	if table != "message_tags_default" {
		t.Errorf("tag row in %s, want message_tags_default", table)
	}
	if b.db.NamesPartitionsOf(msg.ID) {
		t.Error("the day is still named after one of its partitions was dropped")
	}
	b.attempt(msg, ds[0]) // through the parents now
}
