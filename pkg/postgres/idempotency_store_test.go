package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/webhook"
)

func TestIdempotencyStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := postgrestest.NewDSN(t)
	db, err := postgres.Open(ctx, dsn, postgres.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	key1 := webhook.IdempotencyScope{OrgID: "org_1", Principal: "key_1"}
	key2 := webhook.IdempotencyScope{OrgID: "org_1", Principal: "key_2"}
	other := webhook.IdempotencyScope{OrgID: "org_2", Principal: "key_3"}

	// A new key is claimed; a second claim sees it in flight.
	if prev, err := db.BeginIdempotent(ctx, key1, "k1", "POST /a"); err != nil || prev != nil {
		t.Fatalf("first claim = %+v, %v; want a claim", prev, err)
	}
	if prev, err := db.BeginIdempotent(ctx, key1, "k1", "POST /a"); err != nil || prev == nil || prev.StatusCode != 0 {
		t.Fatalf("second claim = %+v, %v; want in flight", prev, err)
	}
	// Keys are per principal: another key of the same organisation, or
	// another organisation, has a key space of its own.
	for _, scope := range []webhook.IdempotencyScope{key2, other} {
		if prev, err := db.BeginIdempotent(ctx, scope, "k1", "POST /a"); err != nil || prev != nil {
			t.Fatalf("claim of %+v = %+v, %v; want a claim of its own", scope, prev, err)
		}
	}
	// A finished key replays its response, to its principal only.
	if err := db.FinishIdempotent(ctx, key1, "k1", 201, []byte(`{"id":"x"}`)); err != nil {
		t.Fatal(err)
	}
	prev, err := db.BeginIdempotent(ctx, key1, "k1", "POST /a")
	if err != nil || prev == nil || prev.StatusCode != 201 || string(prev.Body) != `{"id":"x"}` || prev.Request != "POST /a" {
		t.Fatalf("replay = %+v, %v", prev, err)
	}
	if prev, err := db.BeginIdempotent(ctx, key2, "k1", "POST /a"); err != nil || prev == nil || prev.StatusCode != 0 {
		t.Fatalf("key2's claim after key1 finished = %+v, %v; want its own, still in flight", prev, err)
	}
	// An abandoned claim can be taken again.
	if err := db.AbandonIdempotent(ctx, other, "k1"); err != nil {
		t.Fatal(err)
	}
	if prev, err := db.BeginIdempotent(ctx, other, "k1", "POST /a"); err != nil || prev != nil {
		t.Fatalf("claim after abandon = %+v, %v", prev, err)
	}

	// Expired records are deleted in batches, fresh ones kept.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO idempotency_keys (org_id, key, request, created_at)
		SELECT 'org_1', 'old' || g, 'POST /a', now() - interval '25 hours' FROM generate_series(1, 5) g`); err != nil {
		t.Fatal(err)
	}
	if n, err := db.DeleteExpiredIdempotencyKeys(ctx, 3); err != nil || n != 3 {
		t.Fatalf("first batch deleted %d, %v; want 3", n, err)
	}
	if n, err := db.DeleteExpiredIdempotencyKeys(ctx, 3); err != nil || n != 2 {
		t.Fatalf("second batch deleted %d, %v; want 2", n, err)
	}
	var left int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM idempotency_keys`).Scan(&left); err != nil || left != 3 {
		t.Fatalf("%d keys left, %v; want the 3 fresh ones", left, err)
	}
}
