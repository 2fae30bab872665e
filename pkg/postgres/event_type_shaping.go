package postgres

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/webhook"
)

// nanosList is a retry schedule as its jsonb column holds it: a JSON array
// of nanoseconds, or NULL for none (nil). An empty, non-nil list is "[]":
// one attempt, no retry.
type nanosList []time.Duration

// Value implements driver.Valuer.
func (l nanosList) Value() (driver.Value, error) {
	if l == nil {
		return nil, nil
	}
	ns := make([]int64, len(l))
	for i, d := range l {
		ns[i] = int64(d)
	}
	b, err := json.Marshal(ns)
	return string(b), err
}

// Scan implements sql.Scanner.
func (l *nanosList) Scan(src any) error {
	var raw []byte
	switch v := src.(type) {
	case nil:
		*l = nil
		return nil
	case string:
		raw = []byte(v)
	case []byte:
		raw = v
	default:
		return fmt.Errorf("retry schedule: cannot scan %T", src)
	}
	var ns []int64
	if err := json.Unmarshal(raw, &ns); err != nil {
		return fmt.Errorf("retry schedule: %w", err)
	}
	if ns == nil { // JSON null
		*l = nil
		return nil
	}
	out := make(nanosList, len(ns))
	for i, n := range ns {
		out[i] = time.Duration(n)
	}
	*l = out
	return nil
}

// EventTypeRetrySchedule implements delivery.AttemptStore: the retry
// schedule of the event type name of the organisation orgID; ok is false
// when it has none, or does not exist (messages may use any name).
func (db *DB) EventTypeRetrySchedule(ctx context.Context, orgID, name string) ([]time.Duration, bool, error) {
	var l nanosList
	err := db.pool.QueryRow(ctx, `SELECT retry_schedule FROM event_types WHERE org_id = @org_id AND name = @name`,
		pgx.NamedArgs{"org_id": orgID, "name": name}).Scan(&l)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading the retry schedule of event type %s: %w", name, err)
	}
	return []time.Duration(l), l != nil, nil
}

// EnforcedEventTypes implements delivery.PublishStore: the event types of
// the organisation orgID that enforce their schema, with Name, Schemas and
// EnforceSchema set.
func (db *DB) EnforcedEventTypes(ctx context.Context, orgID string) ([]webhook.EventType, error) {
	rows, _ := db.pool.Query(ctx, `SELECT name, schemas FROM event_types WHERE org_id = @org_id AND enforce_schema`,
		pgx.NamedArgs{"org_id": orgID})
	type enforcedRow struct {
		Name    string
		Schemas *string
	}
	found, err := pgx.CollectRows(rows, pgx.RowToStructByName[enforcedRow])
	if err != nil {
		return nil, fmt.Errorf("reading the event types of %s that enforce their schema: %w", orgID, err)
	}
	out := make([]webhook.EventType, len(found))
	for i, r := range found {
		out[i] = webhook.EventType{OrgID: orgID, Name: r.Name, EnforceSchema: true}
		if r.Schemas != nil {
			out[i].Schemas = json.RawMessage(*r.Schemas)
		}
	}
	return out, nil
}
