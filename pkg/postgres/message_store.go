package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"time"

	"github.com/hookd/hookd/pkg/webhook"
)

type messageRow struct {
	ID            string
	OrgID         string
	AppID         string
	EventType     string
	EventID       *string
	Channels      []string `gorm:"serializer:json"`
	Tags          []string `gorm:"serializer:json"`
	Payload       *string
	RetentionDays int
	CreatedAt     time.Time
}

func (messageRow) TableName() string { return "messages" }

func (r *messageRow) message() (webhook.Message, error) {
	m := webhook.Message{
		ID: r.ID, OrgID: r.OrgID, AppID: r.AppID, EventType: r.EventType, EventID: r.EventID,
		Channels: r.Channels, Tags: r.Tags, RetentionDays: r.RetentionDays, CreatedAt: r.CreatedAt,
	}
	if r.Payload != nil {
		m.Payload = json.RawMessage(*r.Payload)
	}
	return m, nil
}

type deliveryRow struct {
	ID            string
	OrgID         string
	AppID         string
	MsgID         string
	EndpointID    string
	Status        int
	Round         int
	RoundAttempts int
	NextAttemptAt *time.Time
	ReconcileAt   *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (deliveryRow) TableName() string { return "deliveries" }

func (r *deliveryRow) delivery() webhook.Delivery {
	return webhook.Delivery{
		ID: r.ID, OrgID: r.OrgID, AppID: r.AppID, MessageID: r.MsgID, EndpointID: r.EndpointID,
		Status: webhook.MessageStatus(r.Status), Round: r.Round, RoundAttempts: r.RoundAttempts,
		NextAttemptAt: r.NextAttemptAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

// createMessageSQL inserts a message and one pending delivery per matching
// endpoint in a single statement (one round trip, atomic). The matching is
// webhook.Endpoint.Matches in SQL: enabled, no filter or the event type in
// it, no channels or one shared; with @only set, that endpoint alone.
// A delivery's id is derived from its message and endpoint ids.
const createMessageSQL = `
WITH msg AS (
	INSERT INTO messages (id, org_id, app_id, event_type, event_id, channels, tags, payload, retention_days, created_at)
	VALUES ($1, $2, $3, $4, $5, CAST($6 AS jsonb), CAST($7 AS jsonb), $8, $9, $10)
	RETURNING id
)
INSERT INTO deliveries (id, org_id, app_id, msg_id, endpoint_id, status, next_attempt_at, reconcile_at, created_at, updated_at)
SELECT 'dlv_' || substr(msg.id, 5) || substr(e.id, 4), $2, $3, msg.id, e.id, $11, $10, $12, $10, $10
FROM msg JOIN endpoints e ON e.app_id = $3 AND NOT e.disabled
WHERE CASE WHEN $13 = '' THEN
	(coalesce(jsonb_typeof(e.filter_types), 'null') <> 'array' OR jsonb_array_length(e.filter_types) = 0
		OR jsonb_exists(e.filter_types, $4))
	AND (coalesce(jsonb_typeof(e.channels), 'null') <> 'array' OR jsonb_array_length(e.channels) = 0
		OR jsonb_exists_any(e.channels, CAST($14 AS text[])))
ELSE e.id = $13 END
RETURNING id, endpoint_id`

// CreateMessage implements webhook.MessageStore: the message and one pending
// delivery per matching endpoint are written by one statement.
func (db *DB) CreateMessage(ctx context.Context, msg *webhook.Message, onlyEndpoint string) ([]webhook.Delivery, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	msg.ID = webhook.NewID(webhook.PrefixMessage)
	msg.CreatedAt = now
	chans := msg.Channels
	if chans == nil {
		chans = []string{}
	}
	rows, err := db.sql.QueryContext(ctx, createMessageSQL,
		msg.ID, msg.OrgID, msg.AppID, msg.EventType, msg.EventID,
		jsonOrNull(msg.Channels), jsonOrNull(msg.Tags), string(msg.Payload), msg.RetentionDays, now,
		int(webhook.StatusPending), now.Add(db.reconcileGrace), onlyEndpoint, chans,
	)
	if isForeignKeyViolation(err) {
		return nil, webhook.Errorf(webhook.ENOTFOUND, "application not found")
	}
	if err != nil {
		return nil, translate(err, "a message with this eventId")
	}
	defer rows.Close()
	var deliveries []webhook.Delivery
	for rows.Next() {
		d := webhook.Delivery{
			OrgID: msg.OrgID, AppID: msg.AppID, MessageID: msg.ID,
			Status: webhook.StatusPending, NextAttemptAt: &now, CreatedAt: now, UpdatedAt: now,
		}
		if err := rows.Scan(&d.ID, &d.EndpointID); err != nil {
			return nil, err
		}
		deliveries = append(deliveries, d)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "a message with this eventId")
	}
	return deliveries, nil
}

// jsonOrNull returns list as a JSON array, or nil (SQL NULL) for nil.
func jsonOrNull(list []string) any {
	if list == nil {
		return nil
	}
	raw, _ := json.Marshal(list)
	return string(raw)
}

// FindMessage implements webhook.MessageStore.
func (db *DB) FindMessage(ctx context.Context, app *webhook.Application, idOrEventID string) (*webhook.Message, error) {
	var row messageRow
	err := db.gorm.WithContext(ctx).
		Where("app_id = ? AND (id = ? OR event_id = ?)", app.ID, idOrEventID, idOrEventID).
		Order(clauseIDFirst(idOrEventID)).Take(&row).Error
	if err != nil {
		return nil, translate(err, "message")
	}
	m, _ := row.message()
	return &m, nil
}

// loadDeliverySQL reads a delivery with its message and endpoint.
const loadDeliverySQL = `
SELECT d.id, d.org_id, d.app_id, d.msg_id, d.endpoint_id, d.status, d.round, d.round_attempts,
	d.next_attempt_at, d.created_at, d.updated_at,
	m.event_type, m.event_id, m.channels, m.payload, m.retention_days, m.created_at,
	e.uid, e.url, e.description, e.version, e.disabled, e.filter_types, e.channels, e.metadata,
	e.throttle_rate, e.headers, e.secret, e.old_secrets, e.created_at, e.updated_at
FROM deliveries d
JOIN messages m ON m.id = d.msg_id
JOIN endpoints e ON e.id = d.endpoint_id
WHERE d.id = $1`

// LoadDelivery implements webhook.DeliveryStore in one round trip.
func (db *DB) LoadDelivery(ctx context.Context, id string) (*webhook.DeliveryJob, error) {
	var (
		d                                         deliveryRow
		m                                         messageRow
		e                                         endpointRow
		msgChannels, epFilter, epChannels, epMeta []byte
	)
	err := db.sql.QueryRowContext(ctx, loadDeliverySQL, id).Scan(
		&d.ID, &d.OrgID, &d.AppID, &d.MsgID, &d.EndpointID, &d.Status, &d.Round, &d.RoundAttempts,
		&d.NextAttemptAt, &d.CreatedAt, &d.UpdatedAt,
		&m.EventType, &m.EventID, &msgChannels, &m.Payload, &m.RetentionDays, &m.CreatedAt,
		&e.UID, &e.URL, &e.Description, &e.Version, &e.Disabled, &epFilter, &epChannels, &epMeta,
		&e.ThrottleRate, &e.Headers, &e.Secret, &e.OldSecrets, &e.CreatedAt, &e.UpdatedAt,
	)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, webhook.Errorf(webhook.ENOTFOUND, "delivery not found")
	}
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		raw []byte
		dst any
	}{{msgChannels, &m.Channels}, {epFilter, &e.FilterTypes}, {epChannels, &e.Channels}, {epMeta, &e.Metadata}} {
		if len(f.raw) > 0 {
			if err := json.Unmarshal(f.raw, f.dst); err != nil {
				return nil, fmt.Errorf("delivery %s: decoding a JSON column: %w", id, err)
			}
		}
	}
	m.ID, m.OrgID, m.AppID = d.MsgID, d.OrgID, d.AppID
	e.ID, e.OrgID, e.AppID = d.EndpointID, d.OrgID, d.AppID
	job := &webhook.DeliveryJob{Delivery: d.delivery()}
	job.Message, _ = m.message()
	job.Endpoint, err = db.endpointOf(&e)
	return job, err
}

// RecordAttempt implements webhook.DeliveryStore in one statement: the
// attempt is inserted unless its task key was recorded before, and only then
// is the delivery moved on (for a scheduled attempt, only if the delivery is
// still at that attempt of that round).
func (db *DB) RecordAttempt(ctx context.Context, rec *webhook.AttemptRecord) (bool, error) {
	a := &rec.Attempt
	// The time is taken before the id, as for messages, so that the id
	// sorts at or after its timestamp: the before/after filters compare ids.
	a.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	a.ID = webhook.NewID(webhook.PrefixAttempt)
	var reconcileAt *time.Time
	if rec.NextAttemptAt != nil {
		t := rec.NextAttemptAt.Add(db.reconcileGrace)
		reconcileAt = &t
	}
	scheduled := a.TriggerType == webhook.TriggerScheduled
	// What came from a receiver must never fail the write (NUL, invalid
	// UTF-8): an unrecorded attempt would be sent again.
	a.URL, a.Response = webhook.StorableString(a.URL), webhook.StorableString(a.Response)
	res, err := db.sql.ExecContext(ctx, recordAttemptSQL,
		a.ID, a.DeliveryID, a.OrgID, a.AppID, a.MessageID, a.EndpointID, rec.TaskKey, a.URL, int(a.Status),
		a.StatusCode, a.Response, a.DurationMs, int(a.TriggerType), a.CreatedAt,
		int(rec.Status), rec.NextAttemptAt, reconcileAt,
		scheduled, rec.KeepState, rec.Round, rec.Number-1,
	)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// recordAttemptSQL inserts an attempt unless its task key was recorded
// before and, only then, moves the delivery on: for a scheduled attempt
// ($18) only if the delivery is still waiting for that attempt of that round
// (not finished meanwhile, e.g. by a resend), never when the state is kept
// ($19). Its row count is the attempts inserted.
const recordAttemptSQL = `
WITH ins AS (
	INSERT INTO attempts (id, delivery_id, org_id, app_id, msg_id, endpoint_id, task_key, url, status,
		response_status_code, response, response_duration_ms, trigger_type, created_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
	ON CONFLICT (delivery_id, task_key) DO NOTHING
	RETURNING 1
), health AS (
	-- the endpoint's run of failures: starts at its first failure, ends at a success
	UPDATE endpoints SET failing_since = CASE WHEN $9 = 0 THEN NULL ELSE $14 END
	WHERE id = $6 AND EXISTS (SELECT 1 FROM ins)
	  AND CASE WHEN $9 = 0 THEN failing_since IS NOT NULL ELSE failing_since IS NULL END
), upd AS (
	UPDATE deliveries SET
		status = $15, next_attempt_at = $16, reconcile_at = $17, updated_at = $14,
		round_attempts = round_attempts + CASE WHEN $18 THEN 1 ELSE 0 END
	WHERE id = $2 AND EXISTS (SELECT 1 FROM ins) AND NOT $19
	  AND (NOT $18 OR (round = $20 AND round_attempts = $21 AND next_attempt_at IS NOT NULL))
)
SELECT 1 FROM ins`

// disabledEndpointColumns are what a disable statement returns.
const disabledEndpointColumns = `id, org_id, app_id, uid, failing_since`

// failScheduledSQL fails the scheduled deliveries of disabled endpoints
// (the CTE "disabled" must give their ids), so they show as failed and can
// be recovered once the endpoint is enabled again.
const failScheduledSQL = `
, failed AS (
	UPDATE deliveries SET status = 2, next_attempt_at = NULL, reconcile_at = NULL, updated_at = now()
	WHERE endpoint_id IN (SELECT id FROM disabled) AND next_attempt_at IS NOT NULL
)
SELECT ` + disabledEndpointColumns + ` FROM disabled`

// DisableFailingEndpoints implements webhook.DeliveryStore.
func (db *DB) DisableFailingEndpoints(ctx context.Context, failingBefore time.Time) ([]webhook.DisabledEndpoint, error) {
	return db.disable(ctx, `WITH disabled AS (
		UPDATE endpoints SET disabled = true, updated_at = now()
		WHERE NOT disabled AND failing_since < $1
		RETURNING `+disabledEndpointColumns+`)`+failScheduledSQL, failingBefore)
}

// DisableEndpoint implements webhook.DeliveryStore.
func (db *DB) DisableEndpoint(ctx context.Context, id string) (webhook.DisabledEndpoint, bool, error) {
	out, err := db.disable(ctx, `WITH disabled AS (
		UPDATE endpoints SET disabled = true, updated_at = now()
		WHERE id = $1 AND NOT disabled
		RETURNING `+disabledEndpointColumns+`)`+failScheduledSQL, id)
	if err != nil || len(out) == 0 {
		return webhook.DisabledEndpoint{}, false, err
	}
	return out[0], true, nil
}

func (db *DB) disable(ctx context.Context, query string, arg any) ([]webhook.DisabledEndpoint, error) {
	rows, err := db.sql.QueryContext(ctx, query, arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []webhook.DisabledEndpoint
	for rows.Next() {
		var d webhook.DisabledEndpoint
		if err := rows.Scan(&d.ID, &d.OrgID, &d.AppID, &d.UID, &d.FailingSince); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DueDeliveries implements webhook.DeliveryStore.
func (db *DB) DueDeliveries(ctx context.Context, limit int) ([]webhook.Delivery, error) {
	var rows []deliveryRow
	err := db.gorm.WithContext(ctx).Raw(`
		UPDATE deliveries SET reconcile_at = now() + make_interval(secs => ?)
		WHERE id IN (
			SELECT id FROM deliveries
			WHERE reconcile_at < now() AND next_attempt_at IS NOT NULL
			ORDER BY reconcile_at
			LIMIT ? FOR UPDATE SKIP LOCKED)
		RETURNING *`, db.reconcileGrace.Seconds(), limit).Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	out := make([]webhook.Delivery, len(rows))
	for i := range rows {
		out[i] = rows[i].delivery()
	}
	return out, nil
}
