package postgres

import (
	"context"
	"encoding/json"

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
	var rows []struct {
		ID         string
		EndpointID string
	}
	err := db.gorm.WithContext(ctx).Raw(createMessageSQL,
		msg.ID, msg.OrgID, msg.AppID, msg.EventType, msg.EventID,
		jsonOrNull(msg.Channels), jsonOrNull(msg.Tags), string(msg.Payload), msg.RetentionDays, now,
		int(webhook.StatusPending), now.Add(db.reconcileGrace), onlyEndpoint, chans,
	).Scan(&rows).Error
	if err != nil {
		return nil, translate(err, "a message with this eventId")
	}
	deliveries := make([]webhook.Delivery, len(rows))
	for i, r := range rows {
		deliveries[i] = webhook.Delivery{
			ID: r.ID, OrgID: msg.OrgID, AppID: msg.AppID, MessageID: msg.ID, EndpointID: r.EndpointID,
			Status: webhook.StatusPending, NextAttemptAt: &now, CreatedAt: now, UpdatedAt: now,
		}
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

// jobRow is a delivery joined with its message and endpoint.
type jobRow struct {
	ID            string     `gorm:"column:d_id"`
	OrgID         string     `gorm:"column:d_org_id"`
	AppID         string     `gorm:"column:d_app_id"`
	MsgID         string     `gorm:"column:d_msg_id"`
	EndpointID    string     `gorm:"column:d_endpoint_id"`
	Status        int        `gorm:"column:d_status"`
	Round         int        `gorm:"column:d_round"`
	RoundAttempts int        `gorm:"column:d_round_attempts"`
	NextAttemptAt *time.Time `gorm:"column:d_next_attempt_at"`
	CreatedAt     time.Time  `gorm:"column:d_created_at"`
	UpdatedAt     time.Time  `gorm:"column:d_updated_at"`
	EventType     string     `gorm:"column:m_event_type"`
	EventID       *string    `gorm:"column:m_event_id"`
	MsgChannels   []string   `gorm:"column:m_channels;serializer:json"`
	Payload       *string    `gorm:"column:m_payload"`
	RetentionDays int        `gorm:"column:m_retention_days"`
	MsgCreatedAt  time.Time  `gorm:"column:m_created_at"`
	// The endpoint's columns, prefixed e_.
	EpUID          *string           `gorm:"column:e_uid"`
	EpURL          string            `gorm:"column:e_url"`
	EpDescription  string            `gorm:"column:e_description"`
	EpVersion      int               `gorm:"column:e_version"`
	EpDisabled     bool              `gorm:"column:e_disabled"`
	EpFilterTypes  []string          `gorm:"column:e_filter_types;serializer:json"`
	EpChannels     []string          `gorm:"column:e_channels;serializer:json"`
	EpMetadata     map[string]string `gorm:"column:e_metadata;serializer:json"`
	EpThrottleRate *int              `gorm:"column:e_throttle_rate"`
	EpHeaders      string            `gorm:"column:e_headers"`
	EpSecret       string            `gorm:"column:e_secret"`
	EpOldSecrets   string            `gorm:"column:e_old_secrets"`
	EpCreatedAt    time.Time         `gorm:"column:e_created_at"`
	EpUpdatedAt    time.Time         `gorm:"column:e_updated_at"`
}

// LoadDelivery implements webhook.DeliveryStore in one round trip.
func (db *DB) LoadDelivery(ctx context.Context, id string) (*webhook.DeliveryJob, error) {
	var rows []jobRow
	err := db.gorm.WithContext(ctx).Raw(`
		SELECT d.id AS d_id, d.org_id AS d_org_id, d.app_id AS d_app_id, d.msg_id AS d_msg_id,
			d.endpoint_id AS d_endpoint_id, d.status AS d_status, d.round AS d_round,
			d.round_attempts AS d_round_attempts, d.next_attempt_at AS d_next_attempt_at,
			d.created_at AS d_created_at, d.updated_at AS d_updated_at,
			m.event_type AS m_event_type, m.event_id AS m_event_id, m.channels AS m_channels,
			m.payload AS m_payload, m.retention_days AS m_retention_days, m.created_at AS m_created_at,
			e.uid AS e_uid, e.url AS e_url, e.description AS e_description, e.version AS e_version,
			e.disabled AS e_disabled, e.filter_types AS e_filter_types, e.channels AS e_channels,
			e.metadata AS e_metadata, e.throttle_rate AS e_throttle_rate, e.headers AS e_headers,
			e.secret AS e_secret, e.old_secrets AS e_old_secrets,
			e.created_at AS e_created_at, e.updated_at AS e_updated_at
		FROM deliveries d
		JOIN messages m ON m.id = d.msg_id
		JOIN endpoints e ON e.id = d.endpoint_id
		WHERE d.id = ?`, id).Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, webhook.Errorf(webhook.ENOTFOUND, "delivery not found")
	}
	r := &rows[0]
	m := messageRow{
		ID: r.MsgID, OrgID: r.OrgID, AppID: r.AppID, EventType: r.EventType, EventID: r.EventID,
		Channels: r.MsgChannels, Payload: r.Payload, RetentionDays: r.RetentionDays, CreatedAt: r.MsgCreatedAt,
	}
	e := endpointRow{
		ID: r.EndpointID, OrgID: r.OrgID, AppID: r.AppID, UID: r.EpUID, URL: r.EpURL,
		Description: r.EpDescription, Version: r.EpVersion, Disabled: r.EpDisabled,
		FilterTypes: r.EpFilterTypes, Channels: r.EpChannels, Metadata: r.EpMetadata,
		ThrottleRate: r.EpThrottleRate, Headers: r.EpHeaders, Secret: r.EpSecret, OldSecrets: r.EpOldSecrets,
		CreatedAt: r.EpCreatedAt, UpdatedAt: r.EpUpdatedAt,
	}
	d := deliveryRow{
		ID: r.ID, OrgID: r.OrgID, AppID: r.AppID, MsgID: r.MsgID, EndpointID: r.EndpointID, Status: r.Status,
		Round: r.Round, RoundAttempts: r.RoundAttempts, NextAttemptAt: r.NextAttemptAt,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
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
	var recorded []int
	err := db.gorm.WithContext(ctx).Raw(`
		WITH ins AS (
			INSERT INTO attempts (id, delivery_id, org_id, app_id, msg_id, endpoint_id, task_key, url, status,
				response_status_code, response, response_duration_ms, trigger_type, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (delivery_id, task_key) DO NOTHING
			RETURNING 1
		), upd AS (
			UPDATE deliveries SET
				status = ?, next_attempt_at = ?, reconcile_at = ?, updated_at = ?,
				round_attempts = round_attempts + CASE WHEN ? THEN 1 ELSE 0 END
			WHERE id = ? AND EXISTS (SELECT 1 FROM ins) AND NOT ?
			  AND (NOT ? OR (round = ? AND round_attempts = ?))
		)
		SELECT 1 FROM ins`,
		a.ID, a.DeliveryID, a.OrgID, a.AppID, a.MessageID, a.EndpointID, rec.TaskKey, a.URL, int(a.Status),
		a.StatusCode, a.Response, a.DurationMs, int(a.TriggerType), a.CreatedAt,
		int(rec.Status), rec.NextAttemptAt, reconcileAt, a.CreatedAt,
		scheduled,
		a.DeliveryID, rec.KeepState,
		scheduled, rec.Round, rec.Number-1,
	).Scan(&recorded).Error
	if err != nil {
		return false, err
	}
	return len(recorded) == 1, nil
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
