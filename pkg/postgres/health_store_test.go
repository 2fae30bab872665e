package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/webhook"
)

// The health aggregates add up their slots per hour, leave out what is too
// old, are swept after 31 days and go with their endpoint.
func TestEndpointHealthAggregates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := postgrestest.NewDSN(t)
	db, err := postgres.Open(ctx, dsn, postgres.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	app, first := postgrestest.NewAppWithEndpoint(t, db)
	eps := []*webhook.Endpoint{first, postgrestest.NewEndpoint(t, db, app)}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	now := time.Now().UTC()
	hour := now.Truncate(time.Hour)
	for _, r := range []struct {
		ep                 int
		at                 time.Time
		slot               int
		attempts, failures int
	}{
		{0, hour, 0, 3, 1},
		{0, hour, 5, 2, 2},                           // the same hour, another slot
		{0, hour.Add(-30 * time.Hour), 1, 10, 0},     // days only
		{0, hour.Add(-40 * 24 * time.Hour), 0, 7, 7}, // swept
		{1, hour.Add(-2 * time.Hour), 0, 4, 0},
	} {
		if _, err := conn.Exec(ctx, `INSERT INTO endpoint_attempt_hours (endpoint_id, hour, slot, attempts, failures)
			VALUES ($1, $2, $3, $4, $5)`, eps[r.ep].ID, r.at, r.slot, r.attempts, r.failures); err != nil {
			t.Fatal(err)
		}
	}

	h, err := db.EndpointHealth(ctx, eps[0], now)
	if err != nil {
		t.Fatal(err)
	}
	if h.Attempts != 5 || h.Failures != 3 || h.Hourly[webhook.HealthHours-1].Attempts != 5 {
		t.Errorf("24 h of the first endpoint: %d attempts, %d failures, current hour %+v; want 5, 3, 5 attempts", h.Attempts, h.Failures, h.Hourly[webhook.HealthHours-1])
	}
	var days int64
	for _, d := range h.Daily {
		days += d.Attempts
	}
	if days != 15 {
		t.Errorf("30 days of the first endpoint: %d attempts, want 15", days)
	}
	all, err := db.AppEndpointHealth(ctx, app, now, 10)
	if err != nil || len(all) != 2 {
		t.Fatalf("AppEndpointHealth = %+v, %v", all, err)
	}
	if all[0].EndpointID != eps[1].ID || all[0].Attempts != 4 || all[1].Attempts != 5 || all[1].Failures != 3 || all[1].Hourly != nil {
		t.Errorf("AppEndpointHealth = %+v, want the second endpoint (4 attempts) first, then the first (5, 3), without buckets", all)
	}

	if n, err := db.DeleteOldHealthHours(ctx, 100); err != nil || n != 1 {
		t.Errorf("DeleteOldHealthHours deleted %d, %v; want the row 40 days old", n, err)
	}
	if err := db.DeleteEndpoint(ctx, eps[0]); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM endpoint_attempt_hours`).Scan(&left); err != nil || left != 1 {
		t.Errorf("%d rows left after deleting the first endpoint, %v; want the second's one", left, err)
	}
}
