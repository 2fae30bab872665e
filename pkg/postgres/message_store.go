package postgres

import (
	"context"
	"encoding/json"

	"time"

	"gorm.io/gorm"

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

// CreateMessage implements webhook.MessageStore: the message and one pending
// delivery per matching endpoint are written in one transaction.
func (db *DB) CreateMessage(ctx context.Context, msg *webhook.Message, onlyEndpoint string) ([]webhook.Delivery, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	msg.ID = webhook.NewID(webhook.PrefixMessage)
	msg.CreatedAt = now
	payload := string(msg.Payload)
	row := messageRow{
		ID: msg.ID, OrgID: msg.OrgID, AppID: msg.AppID, EventType: msg.EventType, EventID: msg.EventID,
		Channels: msg.Channels, Tags: msg.Tags, Payload: &payload, RetentionDays: msg.RetentionDays, CreatedAt: now,
	}
	var deliveries []webhook.Delivery
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			return translate(err, "a message with this eventId")
		}
		var endpoints []endpointRow
		q := tx.Select("id", "filter_types", "channels").Where("app_id = ? AND NOT disabled", msg.AppID)
		if onlyEndpoint != "" {
			q = q.Where("id = ?", onlyEndpoint)
		}
		if err := q.Find(&endpoints).Error; err != nil {
			return err
		}
		rows := make([]deliveryRow, 0, len(endpoints))
		reconcileAt := now.Add(db.reconcileGrace)
		for _, e := range endpoints {
			ep := webhook.Endpoint{FilterTypes: e.FilterTypes, Channels: e.Channels}
			if onlyEndpoint == "" && !ep.Matches(msg) {
				continue
			}
			rows = append(rows, deliveryRow{
				ID: webhook.NewID(webhook.PrefixDelivery), OrgID: msg.OrgID, AppID: msg.AppID,
				MsgID: msg.ID, EndpointID: e.ID, Status: int(webhook.StatusPending),
				NextAttemptAt: &now, ReconcileAt: &reconcileAt, CreatedAt: now, UpdatedAt: now,
			})
		}
		if len(rows) == 0 {
			return nil
		}
		if err := tx.Create(&rows).Error; err != nil {
			return err
		}
		for i := range rows {
			deliveries = append(deliveries, rows[i].delivery())
		}
		return nil
	})
	return deliveries, err
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

// LoadDelivery implements webhook.DeliveryStore.
func (db *DB) LoadDelivery(ctx context.Context, id string) (*webhook.DeliveryJob, error) {
	var d deliveryRow
	if err := db.gorm.WithContext(ctx).Where("id = ?", id).Take(&d).Error; err != nil {
		return nil, translate(err, "delivery")
	}
	var m messageRow
	if err := db.gorm.WithContext(ctx).Where("id = ?", d.MsgID).Take(&m).Error; err != nil {
		return nil, translate(err, "message")
	}
	var e endpointRow
	if err := db.gorm.WithContext(ctx).Where("id = ?", d.EndpointID).Take(&e).Error; err != nil {
		return nil, translate(err, "endpoint")
	}
	job := &webhook.DeliveryJob{Delivery: d.delivery()}
	job.Message, _ = m.message()
	var err error
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
