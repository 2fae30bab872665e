package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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

// deliveryColumns are the columns of a deliveryRow.
const deliveryColumns = `id, org_id, app_id, msg_id, endpoint_id, status, round, round_attempts,
	next_attempt_at, reconcile_at, created_at, updated_at`

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
// it, no channels or one shared; with @only set, that endpoint alone. An
// endpoint pending verification gets its challenge alone (a
// webhook.verification message sent to it only).
// A delivery's id is derived from its message and endpoint ids.
const createMessageSQL = `
WITH msg AS (
	INSERT INTO messages (id, org_id, app_id, event_type, event_id, channels, tags, payload, retention_days, created_at)
	VALUES (@id, @org_id, @app_id, @event_type, @event_id, CAST(@channels AS jsonb), CAST(@tags AS jsonb),
		@payload, @retention_days, @now)
	RETURNING id
)
INSERT INTO deliveries (id, org_id, app_id, msg_id, endpoint_id, status, next_attempt_at, reconcile_at, created_at, updated_at)
SELECT 'dlv_' || substr(msg.id, 5) || substr(e.id, 4), @org_id, @app_id, msg.id, e.id, @pending, @now, @reconcile_at, @now, @now
FROM msg JOIN endpoints e ON e.app_id = @app_id AND NOT e.disabled
	AND (e.verification <> @pending_verification OR (@only <> '' AND @event_type = @verification_event))
WHERE CASE WHEN @only = '' THEN
	(coalesce(jsonb_typeof(e.filter_types), 'null') <> 'array' OR jsonb_array_length(e.filter_types) = 0
		OR jsonb_exists(e.filter_types, @event_type))
	AND (coalesce(jsonb_typeof(e.channels), 'null') <> 'array' OR jsonb_array_length(e.channels) = 0
		OR jsonb_exists_any(e.channels, CAST(@channel_list AS text[])))
ELSE e.id = @only END
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
	rows, err := db.pool.Query(ctx, createMessageSQL, pgx.NamedArgs{
		"id": msg.ID, "org_id": msg.OrgID, "app_id": msg.AppID, "event_type": msg.EventType, "event_id": msg.EventID,
		"channels": jsonOrNull(msg.Channels), "tags": jsonOrNull(msg.Tags), "payload": string(msg.Payload),
		"retention_days": msg.RetentionDays, "now": now, "pending": int(webhook.StatusPending),
		"reconcile_at": now.Add(db.reconcileGrace), "only": onlyEndpoint, "channel_list": chans,
		"pending_verification": string(webhook.VerificationPending), "verification_event": webhook.EventTypeVerification,
	})
	if err != nil {
		return nil, translate(err, "a message with this eventId")
	}
	deliveries, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (webhook.Delivery, error) {
		d := webhook.Delivery{
			OrgID: msg.OrgID, AppID: msg.AppID, MessageID: msg.ID,
			Status: webhook.StatusPending, NextAttemptAt: &now, CreatedAt: now, UpdatedAt: now,
		}
		return d, row.Scan(&d.ID, &d.EndpointID)
	})
	if isForeignKeyViolation(err) {
		return nil, webhook.Errorf(webhook.ENOTFOUND, "application not found")
	}
	return deliveries, translate(err, "a message with this eventId")
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

// jobRow is a row of loadDeliverySQL: the endpoint's columns under their
// own names, the delivery's prefixed d_ and the message's m_.
type jobRow struct {
	endpointRow
	DID            string
	DStatus        int
	DRound         int
	DRoundAttempts int
	DNextAttemptAt *time.Time
	DCreatedAt     time.Time
	DUpdatedAt     time.Time
	MID            string
	MEventType     string
	MEventID       *string
	MChannels      []string
	MTags          []string
	MPayload       *string
	MRetentionDays int
	MCreatedAt     time.Time
}

// loadDeliverySQL reads a delivery with its message and endpoint.
var loadDeliverySQL = `
SELECT ` + prefixed("e.", "", endpointSelect) + `,
	d.id AS d_id, d.status AS d_status, d.round AS d_round, d.round_attempts AS d_round_attempts,
	d.next_attempt_at AS d_next_attempt_at, d.created_at AS d_created_at, d.updated_at AS d_updated_at,
	m.id AS m_id, m.event_type AS m_event_type, m.event_id AS m_event_id, m.channels AS m_channels,
	m.tags AS m_tags, m.payload AS m_payload, m.retention_days AS m_retention_days, m.created_at AS m_created_at
FROM deliveries d
JOIN messages m ON m.id = d.msg_id
JOIN endpoints e ON e.id = d.endpoint_id
WHERE d.id = @id`

// LoadDelivery implements delivery.AttemptStore in one round trip.
func (db *DB) LoadDelivery(ctx context.Context, id string) (*webhook.DeliveryJob, error) {
	rows, _ := db.pool.Query(ctx, loadDeliverySQL, pgx.NamedArgs{"id": id})
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[jobRow])
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, webhook.Errorf(webhook.ENOTFOUND, "delivery not found")
	}
	if err != nil {
		return nil, fmt.Errorf("loading delivery %s: %w", id, err)
	}
	d := deliveryRow{
		ID: r.DID, OrgID: r.OrgID, AppID: r.AppID, MsgID: r.MID, EndpointID: r.ID, Status: r.DStatus,
		Round: r.DRound, RoundAttempts: r.DRoundAttempts, NextAttemptAt: r.DNextAttemptAt,
		CreatedAt: r.DCreatedAt, UpdatedAt: r.DUpdatedAt,
	}
	m := messageRow{
		ID: r.MID, OrgID: r.OrgID, AppID: r.AppID, EventType: r.MEventType, EventID: r.MEventID,
		Channels: r.MChannels, Tags: r.MTags, Payload: r.MPayload, RetentionDays: r.MRetentionDays, CreatedAt: r.MCreatedAt,
	}
	job := &webhook.DeliveryJob{Delivery: d.delivery()}
	job.Message, _ = m.message()
	job.Endpoint, err = db.endpointOf(&r.endpointRow)
	return job, err
}

// RecordAttempt implements delivery.AttemptStore in one statement (see
// recordAttemptSQL). A value Postgres refuses (a response it cannot store)
// is EINVALID.
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
	var inserted int
	err := db.pool.QueryRow(ctx, recordAttemptSQL, pgx.NamedArgs{
		"id": a.ID, "delivery_id": a.DeliveryID, "org_id": a.OrgID, "app_id": a.AppID, "msg_id": a.MessageID,
		"endpoint_id": a.EndpointID, "task_key": rec.TaskKey, "url": a.URL, "status": int(a.Status),
		"status_code": a.StatusCode, "response": a.Response, "duration_ms": a.DurationMs,
		"trigger_type": int(a.TriggerType), "created_at": a.CreatedAt,
		"transition": rec.Transition.String(), "next_attempt_at": rec.NextAttemptAt, "reconcile_at": reconcileAt,
		"scheduled": a.TriggerType == webhook.TriggerScheduled, "round": rec.Round, "made_before": rec.Number - 1,
	}).Scan(&inserted)
	if isDataException(err) {
		return false, webhook.Errorf(webhook.EINVALID, "attempt of delivery %s: %v", a.DeliveryID, err)
	}
	if err != nil {
		return false, fmt.Errorf("recording attempt of delivery %s: %w", a.DeliveryID, err)
	}
	return inserted == 1, nil
}

// recordAttemptSQL records one attempt and applies its transition, in three
// steps that all depend on the first:
//
//   - attempt: the attempt is inserted, unless one with its task key was
//     recorded before; then nothing else happens.
//   - endpoint_health: the endpoint's run of failures starts at a failed
//     attempt and ends at a successful one.
//   - transition: the delivery takes the transition @transition: succeeded
//     (status success, nothing scheduled), retry (status sending, the next
//     attempt at @next_attempt_at), exhausted and endpoint_gone (status
//     fail, nothing scheduled), manual_failed (unchanged). A scheduled
//     attempt applies it only while the delivery still waits for exactly
//     that attempt: not finished meanwhile (by a resend), not recovered
//     into another round, not past it.
//
// Its one row counts the attempts inserted (0 or 1).
const recordAttemptSQL = `
WITH attempt AS (
	INSERT INTO attempts (id, delivery_id, org_id, app_id, msg_id, endpoint_id, task_key, url, status,
		response_status_code, response, response_duration_ms, trigger_type, created_at)
	VALUES (@id, @delivery_id, @org_id, @app_id, @msg_id, @endpoint_id, @task_key, @url, @status,
		@status_code, @response, @duration_ms, @trigger_type, @created_at)
	ON CONFLICT (delivery_id, task_key) DO NOTHING
	RETURNING 1
), endpoint_health AS (
	UPDATE endpoints SET failing_since = CASE WHEN @status = 0 THEN NULL ELSE @created_at END
	WHERE id = @endpoint_id AND EXISTS (SELECT 1 FROM attempt)
	  AND CASE WHEN @status = 0 THEN failing_since IS NOT NULL ELSE failing_since IS NULL END
), transition AS (
	UPDATE deliveries SET
		status = CASE @transition WHEN 'succeeded' THEN 0 WHEN 'retry' THEN 3 ELSE 2 END,
		next_attempt_at = CASE WHEN @transition = 'retry' THEN CAST(@next_attempt_at AS timestamptz) END,
		reconcile_at = CASE WHEN @transition = 'retry' THEN CAST(@reconcile_at AS timestamptz) END,
		updated_at = @created_at,
		round_attempts = round_attempts + CASE WHEN @scheduled THEN 1 ELSE 0 END
	WHERE id = @delivery_id AND EXISTS (SELECT 1 FROM attempt) AND @transition <> 'manual_failed'
	  AND (NOT @scheduled OR (round = @round AND round_attempts = @made_before AND next_attempt_at IS NOT NULL))
)
SELECT count(*) FROM attempt`

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
		WHERE NOT disabled AND failing_since < @failing_before
		RETURNING `+disabledEndpointColumns+`)`+failScheduledSQL, pgx.NamedArgs{"failing_before": failingBefore})
}

// DisableEndpoint implements delivery.AttemptStore.
func (db *DB) DisableEndpoint(ctx context.Context, id string) (webhook.DisabledEndpoint, bool, error) {
	out, err := db.disable(ctx, `WITH disabled AS (
		UPDATE endpoints SET disabled = true, updated_at = now()
		WHERE id = @id AND NOT disabled
		RETURNING `+disabledEndpointColumns+`)`+failScheduledSQL, pgx.NamedArgs{"id": id})
	if err != nil || len(out) == 0 {
		return webhook.DisabledEndpoint{}, false, err
	}
	return out[0], true, nil
}

func (db *DB) disable(ctx context.Context, query string, args pgx.NamedArgs) ([]webhook.DisabledEndpoint, error) {
	rows, _ := db.pool.Query(ctx, query, args)
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (webhook.DisabledEndpoint, error) {
		var d webhook.DisabledEndpoint
		return d, row.Scan(&d.ID, &d.OrgID, &d.AppID, &d.UID, &d.FailingSince)
	})
}

// DueDeliveries implements delivery.ReconcileStore.
func (db *DB) DueDeliveries(ctx context.Context, limit int) ([]webhook.Delivery, error) {
	rows, _ := db.pool.Query(ctx, `
		UPDATE deliveries SET reconcile_at = now() + make_interval(secs => @grace)
		WHERE id IN (
			SELECT id FROM deliveries
			WHERE reconcile_at < now() AND next_attempt_at IS NOT NULL
			ORDER BY reconcile_at
			LIMIT @limit FOR UPDATE SKIP LOCKED)
		RETURNING `+deliveryColumns, pgx.NamedArgs{"grace": db.reconcileGrace.Seconds(), "limit": limit})
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (webhook.Delivery, error) {
		r, err := pgx.RowToStructByName[deliveryRow](row)
		return r.delivery(), err
	})
}
