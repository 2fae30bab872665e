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
	OrderingKey   *string
	CreatedAt     time.Time
}

func (messageRow) TableName() string { return "messages" }

func (r *messageRow) message() (webhook.Message, error) {
	m := webhook.Message{
		ID: r.ID, OrgID: r.OrgID, AppID: r.AppID, EventType: r.EventType, EventID: r.EventID,
		Channels: r.Channels, Tags: r.Tags, RetentionDays: r.RetentionDays, OrderingKey: r.OrderingKey,
		CreatedAt: r.CreatedAt,
	}
	if r.Payload != nil {
		m.Payload = json.RawMessage(*r.Payload)
	}
	return m, nil
}

// deliveryColumns are the columns of a deliveryRow.
const deliveryColumns = `id, org_id, app_id, msg_id, endpoint_id, status, round, round_attempts,
	next_attempt_at, reconcile_at, ordering_key, ordering_seq, held, reason, created_at, updated_at`

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
	OrderingKey   *string
	OrderingSeq   *int64
	Held          bool
	Reason        *string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (deliveryRow) TableName() string { return "deliveries" }

func (r *deliveryRow) delivery() webhook.Delivery {
	return webhook.Delivery{
		ID: r.ID, OrgID: r.OrgID, AppID: r.AppID, MessageID: r.MsgID, EndpointID: r.EndpointID,
		Status: webhook.MessageStatus(r.Status), Round: r.Round, RoundAttempts: r.RoundAttempts,
		NextAttemptAt: r.NextAttemptAt, OrderingKey: r.OrderingKey, Held: r.Held, Reason: deref(r.Reason),
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

// deref returns *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// createMessageSQL inserts a message and one delivery per matching
// endpoint in a single statement (one round trip, atomic):
//
//   - msg: the message.
//   - matched: the endpoints it goes to: webhook.Endpoint.Matches in SQL
//     (enabled, no filter or the event type in it, no channels or one
//     shared) and, for endpoints with a payload filter, the verdict the
//     publisher passed (@passed_ids matched; @failed_ids could not be
//     evaluated, with @failed_reasons; any other such endpoint is left
//     out); or with @only set that endpoint alone, whatever its filters.
//     Also the ordering key of each delivery
//     (webhook.Endpoint.OrderingKeyFor), none for a filtered-out one.
//   - keys: for each ordered delivery, its key's row is taken (its lock
//     serialises the key's publishes with the release of its head), its
//     number in the key is counted, and it becomes the key's head unless
//     the key has one already.
//   - the deliveries: due now (pending), held behind their key's head, or
//     cancelled with their reason when their filter failed.
//   - channel_rows, tag_rows: the message's channels and tags, one row
//     each, in message_channels and message_tags, where the message list
//     finds them in message order (messageFilesSQL).
//
// An endpoint pending verification gets its challenge alone (a
// webhook.verification message sent to it only, outside any ordering).
// A delivery's id is derived from its message and endpoint ids.
var createMessageSQL = `
WITH msg AS (
	INSERT INTO messages (id, org_id, app_id, event_type, event_id, channels, tags, payload, retention_days,
		ordering_key, traceparent, tracestate, created_at)
	VALUES (@id, @org_id, @app_id, @event_type, @event_id, CAST(@channels AS jsonb), CAST(@tags AS jsonb),
		@payload, @retention_days, @ordering_key, @traceparent, @tracestate, @now)
	RETURNING id
), matched AS (
	SELECT e.id AS endpoint_id, 'dlv_' || substr(@id, 5) || substr(e.id, 4) AS delivery_id,
		CASE WHEN @event_type = @verification_event OR f.id IS NOT NULL THEN NULL
			WHEN e.ordering = 'strict' THEN '' ELSE CAST(@ordering_key AS text) END AS ordering_key,
		f.reason
	FROM endpoints e
	LEFT JOIN unnest(CAST(@failed_ids AS text[]), CAST(@failed_reasons AS text[])) AS f(id, reason)
		ON f.id = e.id AND @only = ''
	WHERE e.app_id = @app_id AND NOT e.disabled
		AND (e.verification <> @pending_verification OR (@only <> '' AND @event_type = @verification_event))
		AND CASE WHEN @only = '' THEN
		(coalesce(jsonb_typeof(e.filter_types), 'null') <> 'array' OR jsonb_array_length(e.filter_types) = 0
			OR jsonb_exists(e.filter_types, @event_type))
		AND (coalesce(jsonb_typeof(e.channels), 'null') <> 'array' OR jsonb_array_length(e.channels) = 0
			OR jsonb_exists_any(e.channels, CAST(@channel_list AS text[])))
		AND (e.filter IS NULL OR e.id = ANY(CAST(@passed_ids AS text[])) OR f.id IS NOT NULL)
	ELSE e.id = @only END
), keys AS (
	INSERT INTO ordering_keys AS k (endpoint_id, key, last_seq, head_delivery_id, head_since)
	SELECT endpoint_id, ordering_key, 1, delivery_id, @now FROM matched
	WHERE ordering_key IS NOT NULL
	ORDER BY endpoint_id -- one lock order for every publish
	ON CONFLICT (endpoint_id, key) DO UPDATE SET
		last_seq = k.last_seq + 1,
		head_delivery_id = coalesce(k.head_delivery_id, excluded.head_delivery_id),
		head_since = CASE WHEN k.head_delivery_id IS NULL THEN excluded.head_since ELSE k.head_since END,
		alerted = k.alerted AND k.head_delivery_id IS NOT NULL
	RETURNING endpoint_id, last_seq, head_delivery_id
)` + messageFilesSQL + `
INSERT INTO deliveries (id, org_id, app_id, msg_id, endpoint_id, status, next_attempt_at, reconcile_at,
	ordering_key, ordering_seq, held, reason, created_at, updated_at)
SELECT m.delivery_id, @org_id, @app_id, msg.id, m.endpoint_id,
	CASE WHEN m.reason IS NULL THEN CAST(@pending AS smallint) ELSE CAST(@canceled AS smallint) END,
	CASE WHEN held OR m.reason IS NOT NULL THEN NULL ELSE CAST(@now AS timestamptz) END,
	CASE WHEN held OR m.reason IS NOT NULL THEN NULL ELSE CAST(@reconcile_at AS timestamptz) END,
	m.ordering_key, k.last_seq, held, m.reason, @now, @now
FROM msg, matched m
LEFT JOIN keys k ON k.endpoint_id = m.endpoint_id
CROSS JOIN LATERAL (SELECT coalesce(k.head_delivery_id <> m.delivery_id, false) AS held) h
RETURNING id, endpoint_id, ordering_key, held, reason`

// createMessageStmts are createMessageSQL, for the parents and for each
// day's partitions (dayStatement).
var createMessageStmts = newDayStatement(createMessageSQL, "messages", "message_channels", "message_tags", "deliveries")

// messageFilesSQL files a message's eventId (unique per application: a
// second one is a unique violation), channels and tags (@channel_list,
// @tag_list) under its application: steps of createMessageSQL.
const messageFilesSQL = `, event_ids AS (
	INSERT INTO message_event_ids (app_id, event_id, msg_id)
	SELECT @app_id, @event_id, msg.id FROM msg WHERE CAST(@event_id AS text) IS NOT NULL
), channel_rows AS (
	INSERT INTO message_channels (app_id, channel, msg_id)
	SELECT @app_id, c, msg.id FROM msg, unnest(CAST(@channel_list AS text[])) AS c
), tag_rows AS (
	INSERT INTO message_tags (app_id, tag, msg_id)
	SELECT @app_id, t, msg.id FROM msg, unnest(CAST(@tag_list AS text[])) AS t
)`

// CreateMessage implements webhook.MessageStore: PublishMessage without
// filter verdicts, so endpoints with a payload filter get no delivery
// unless onlyEndpoint names them. The Publisher evaluates filters and calls
// PublishMessage.
func (db *DB) CreateMessage(ctx context.Context, msg *webhook.Message, onlyEndpoint string) ([]webhook.Delivery, error) {
	return db.PublishMessage(ctx, msg, onlyEndpoint, webhook.FilterVerdicts{})
}

// PublishMessage implements delivery.PublishStore: the message and its
// deliveries are written by one statement (createMessageSQL), committed
// together with concurrent publishes (groupCommit): it returns once the
// commit holding it is done.
func (db *DB) PublishMessage(ctx context.Context, msg *webhook.Message, onlyEndpoint string, verdicts webhook.FilterVerdicts) ([]webhook.Delivery, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	msg.ID = webhook.NewID(webhook.PrefixMessage)
	msg.CreatedAt = now
	var deliveries []webhook.Delivery
	args := db.createMessageArgs(msg, onlyEndpoint, now, verdicts)
	err := db.onDay(createMessageStmts, webhook.PrefixMessage, msg.ID, func(stmt *namedStatement) error {
		return db.publishes.do(ctx, stmt, args, "", func(rows pgx.Rows) error {
			var err error
			deliveries, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (webhook.Delivery, error) {
				d := webhook.Delivery{
					OrgID: msg.OrgID, AppID: msg.AppID, MessageID: msg.ID,
					Status: webhook.StatusPending, CreatedAt: now, UpdatedAt: now,
				}
				var reason *string
				if err := row.Scan(&d.ID, &d.EndpointID, &d.OrderingKey, &d.Held, &reason); err != nil {
					return d, err
				}
				switch {
				case reason != nil:
					d.Status, d.Reason = webhook.StatusCanceled, *reason
				case !d.Held:
					d.NextAttemptAt = &now
				}
				return d, nil
			})
			return err
		})
	})
	if isForeignKeyViolation(err) {
		return nil, webhook.Errorf(webhook.ENOTFOUND, "application not found")
	}
	return deliveries, translate(err, "a message with this eventId")
}

// createMessageArgs are the arguments of createMessageSQL for msg.
func (db *DB) createMessageArgs(msg *webhook.Message, onlyEndpoint string, now time.Time, verdicts webhook.FilterVerdicts) pgx.NamedArgs {
	failedIDs := make([]string, 0, len(verdicts.Failed))
	failedReasons := make([]string, 0, len(verdicts.Failed))
	for _, f := range verdicts.Failed {
		failedIDs, failedReasons = append(failedIDs, f.EndpointID), append(failedReasons, webhook.StorableString(f.Reason))
	}
	return pgx.NamedArgs{
		"id": msg.ID, "org_id": msg.OrgID, "app_id": msg.AppID, "event_type": msg.EventType, "event_id": msg.EventID,
		"channels": jsonOrNull(msg.Channels), "tags": jsonOrNull(msg.Tags), "payload": string(msg.Payload),
		"retention_days": msg.RetentionDays, "ordering_key": msg.OrderingKey, "now": now,
		"pending": int(webhook.StatusPending), "canceled": int(webhook.StatusCanceled), "reconcile_at": now.Add(db.reconcileGrace),
		"only": onlyEndpoint, "channel_list": nonNil(msg.Channels), "tag_list": nonNil(msg.Tags),
		"pending_verification": string(webhook.VerificationPending), "verification_event": webhook.EventTypeVerification,
		"passed_ids": nonNil(verdicts.Passed), "failed_ids": failedIDs, "failed_reasons": failedReasons,
		"traceparent": nullIfEmpty(msg.Trace.Parent), "tracestate": nullIfEmpty(msg.Trace.State),
	}
}

// nullIfEmpty returns s, or nil (SQL NULL) for "".
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// traceContextOf returns the trace context a message's traceparent and
// tracestate columns hold.
func traceContextOf(parent, state *string) webhook.TraceContext {
	var tc webhook.TraceContext
	if parent != nil {
		tc.Parent = *parent
	}
	if state != nil {
		tc.State = *state
	}
	return tc
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
	// By id, then by eventId through message_event_ids: each reads one
	// partition of messages, where "id = x OR event_id = x" would read
	// every partition's indexes.
	var row messageRow
	err := db.gorm.WithContext(ctx).Where("app_id = ? AND id = ?", app.ID, idOrEventID).Take(&row).Error
	if webhook.ErrorCode(translate(err, "message")) == webhook.ENOTFOUND {
		var msgID string
		err = db.pool.QueryRow(ctx, "SELECT msg_id FROM message_event_ids WHERE app_id = $1 AND event_id = $2",
			app.ID, idOrEventID).Scan(&msgID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, webhook.Errorf(webhook.ENOTFOUND, "message not found")
		}
		if err == nil {
			err = db.gorm.WithContext(ctx).Where("app_id = ? AND id = ?", app.ID, msgID).Take(&row).Error
		}
	}
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
	DOrderingKey   *string
	DHeld          bool
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
	MTraceparent   *string
	MTracestate    *string
}

// loadDeliverySQL reads a delivery with its message and endpoint.
var loadDeliverySQL = `
SELECT ` + prefixed("e.", "", endpointSelect) + `,
	d.id AS d_id, d.status AS d_status, d.round AS d_round, d.round_attempts AS d_round_attempts,
	d.next_attempt_at AS d_next_attempt_at, d.ordering_key AS d_ordering_key, d.held AS d_held,
	d.created_at AS d_created_at, d.updated_at AS d_updated_at,
	m.id AS m_id, m.event_type AS m_event_type, m.event_id AS m_event_id, m.channels AS m_channels,
	m.tags AS m_tags, m.payload AS m_payload, m.retention_days AS m_retention_days, m.created_at AS m_created_at,
	m.traceparent AS m_traceparent, m.tracestate AS m_tracestate
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
		OrderingKey: r.DOrderingKey, Held: r.DHeld, CreatedAt: r.DCreatedAt, UpdatedAt: r.DUpdatedAt,
	}
	m := messageRow{
		ID: r.MID, OrgID: r.OrgID, AppID: r.AppID, EventType: r.MEventType, EventID: r.MEventID,
		Channels: r.MChannels, Tags: r.MTags, Payload: r.MPayload, RetentionDays: r.MRetentionDays, CreatedAt: r.MCreatedAt,
	}
	job := &webhook.DeliveryJob{Delivery: d.delivery()}
	job.Message, _ = m.message()
	job.Message.Trace = traceContextOf(r.MTraceparent, r.MTracestate)
	job.Endpoint, err = db.endpointOf(&r.endpointRow)
	return job, err
}

// RecordAttempt implements delivery.AttemptStore in one statement (see
// recordAttemptSQL), committed together with the records of concurrent
// callers (groupCommit): it returns once the commit holding it is done. A
// value Postgres refuses (a response it cannot store) is EINVALID; an
// attempt of an endpoint deleted meanwhile is not recorded (false, nil).
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
	// What came from a receiver must never fail the write (NUL, invalid
	// UTF-8): an unrecorded attempt would be sent again.
	a.URL, a.Response = webhook.StorableString(a.URL), webhook.StorableString(a.Response)
	args := pgx.NamedArgs{
		"id": a.ID, "delivery_id": a.DeliveryID, "org_id": a.OrgID, "app_id": a.AppID, "msg_id": a.MessageID,
		"endpoint_id": a.EndpointID, "task_key": rec.TaskKey, "url": a.URL, "status": int(a.Status),
		"status_code": a.StatusCode, "response": a.Response, "duration_ms": a.DurationMs,
		"trigger_type": int(a.TriggerType), "created_at": a.CreatedAt,
		"transition": rec.Transition.String(), "next_attempt_at": rec.NextAttemptAt, "reconcile_at": reconcileAt,
		"reason":    rec.Reason,
		"scheduled": a.TriggerType == webhook.TriggerScheduled, "round": rec.Round, "made_before": rec.Number - 1,
		"release_reconcile_at": a.CreatedAt.Add(db.reconcileGrace),
		"hour":                 a.CreatedAt.Truncate(time.Hour),
	}
	var r recordedRow
	err := db.onDay(recordAttemptStmts, webhook.PrefixDelivery, a.DeliveryID, func(stmt *namedStatement) error {
		return db.records.do(ctx, stmt, args, recordOrder(a.EndpointID, a.CreatedAt.Truncate(time.Hour)), func(rows pgx.Rows) error {
			var err error
			r, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[recordedRow])
			return err
		})
	})
	if isDataException(err) {
		return false, webhook.Errorf(webhook.EINVALID, "attempt of delivery %s: %v", a.DeliveryID, err)
	}
	if isForeignKeyViolation(err) {
		// The endpoint (and with it the delivery) was deleted while the
		// attempt was made: there is nothing left to record it in.
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("recording attempt of delivery %s: %w", a.DeliveryID, err)
	}
	if r.Released != nil {
		due := a.CreatedAt
		job := &webhook.DeliveryJob{Delivery: webhook.Delivery{ID: *r.Released, OrgID: a.OrgID, AppID: a.AppID,
			EndpointID: a.EndpointID, Status: webhook.StatusPending, NextAttemptAt: &due}}
		if r.MsgID != nil && r.Payload != nil {
			job.Delivery.MessageID = *r.MsgID
			job.Message = webhook.Message{ID: *r.MsgID, OrgID: a.OrgID, AppID: a.AppID, EventType: *r.EventType,
				EventID: r.EventID, Payload: json.RawMessage(*r.Payload), Trace: traceContextOf(r.Traceparent, r.Tracestate)}
		}
		rec.Released = job
	}
	return r.Inserted == 1, nil
}

// recordedRow is the row of recordAttemptSQL.
type recordedRow struct {
	Inserted    int
	Released    *string
	MsgID       *string
	EventType   *string
	EventID     *string
	Payload     *string
	Traceparent *string
	Tracestate  *string
}

// recordAttemptSQL records one attempt and applies its transition, in
// steps that all depend on the first:
//
//   - attempt: the attempt is inserted, unless one with its task key was
//     recorded before; then nothing else happens.
//   - endpoint_health: the endpoint's run of failures starts at a failed
//     attempt and ends at a successful one (an attempt its transformation
//     cancelled, status 4, is neither).
//   - attempt_hours: the endpoint's health aggregates count the attempt
//     (attemptHoursSQL, health_store.go).
//   - transition: the delivery takes the transition @transition: succeeded
//     (status success, nothing scheduled, no longer held), retry (status
//     sending, the next attempt at @next_attempt_at), exhausted and
//     endpoint_gone (status fail, nothing scheduled), cancelled (status
//     canceled with @reason, nothing scheduled), manual_failed
//     (unchanged). Any transition but cancelled clears the reason. A scheduled attempt applies it only while the delivery
//     still waits for exactly that attempt: not finished meanwhile (by a
//     resend), not recovered into another round, not past it.
//   - released: a transition that ended the delivery hands its ordering
//     key, if it is the key's head, to the next held delivery in the key's
//     order, which becomes due now; with none held the key goes idle
//     (hookd_release_ordering_key, which waits for the key's publishes in
//     flight).
//
// Its one row counts the attempts inserted (0 or 1) and names the released
// delivery, if any; its message's columns are NULL, the caller reads it
// (joining the released delivery's message here would make every run plan
// every partition of deliveries and messages: docs/scaling.md).
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
	WHERE id = @endpoint_id AND EXISTS (SELECT 1 FROM attempt) AND @status IN (0, 2)
	  AND CASE WHEN @status = 0 THEN failing_since IS NOT NULL ELSE failing_since IS NULL END
)` + attemptHoursSQL + `, transition AS (
	UPDATE deliveries SET
		status = CASE @transition WHEN 'succeeded' THEN 0 WHEN 'retry' THEN 3 WHEN 'cancelled' THEN 4 ELSE 2 END,
		next_attempt_at = CASE WHEN @transition = 'retry' THEN CAST(@next_attempt_at AS timestamptz) END,
		reconcile_at = CASE WHEN @transition = 'retry' THEN CAST(@reconcile_at AS timestamptz) END,
		held = held AND @transition NOT IN ('succeeded', 'cancelled'),
		reason = CASE WHEN @transition = 'cancelled' THEN CAST(@reason AS text) END,
		updated_at = @created_at,
		round_attempts = round_attempts + CASE WHEN @scheduled THEN 1 ELSE 0 END
	WHERE id = @delivery_id AND EXISTS (SELECT 1 FROM attempt) AND @transition <> 'manual_failed'
	  AND (NOT @scheduled OR (round = @round AND round_attempts = @made_before AND next_attempt_at IS NOT NULL))
	RETURNING ordering_key
), released AS (
	SELECT hookd_release_ordering_key(@endpoint_id, t.ordering_key, @delivery_id, @created_at,
		CAST(@release_reconcile_at AS timestamptz)) AS id
	FROM transition t
	WHERE @transition IN ('succeeded', 'exhausted', 'endpoint_gone', 'cancelled') AND t.ordering_key IS NOT NULL
)
SELECT (SELECT count(*) FROM attempt) AS inserted, r.id AS released, CAST(NULL AS text) AS msg_id,
	CAST(NULL AS text) AS event_type, CAST(NULL AS text) AS event_id, CAST(NULL AS text) AS payload,
	CAST(NULL AS text) AS traceparent, CAST(NULL AS text) AS tracestate
FROM (SELECT 1) AS one
LEFT JOIN released r ON r.id IS NOT NULL`

// recordAttemptStmts are recordAttemptSQL, for the parents and for each
// day's partitions (dayStatement).
var recordAttemptStmts = newDayStatement(recordAttemptSQL, "attempts", "deliveries")

// disabledEndpointColumns are what a disable statement returns.
const disabledEndpointColumns = `id, org_id, app_id, uid, failing_since`

// failScheduledSQL fails the scheduled and held deliveries of disabled
// endpoints (the CTE "disabled" must give their ids), so they show as
// failed and can be recovered once the endpoint is enabled again, and
// forgets their ordering keys.
const failScheduledSQL = `
, failed AS (
	UPDATE deliveries SET status = 2, next_attempt_at = NULL, reconcile_at = NULL, held = false, updated_at = now()
	WHERE endpoint_id IN (SELECT id FROM disabled) AND (next_attempt_at IS NOT NULL OR held)
), keys_idle AS (
	DELETE FROM ordering_keys WHERE endpoint_id IN (SELECT id FROM disabled)
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

// BlockedKeys implements delivery.OrderingStore.
func (db *DB) BlockedKeys(ctx context.Context, blockedBefore time.Time, limit int) ([]webhook.BlockedKey, error) {
	rows, _ := db.pool.Query(ctx, `
		WITH blocked AS (
			UPDATE ordering_keys k SET alerted = true
			WHERE (k.endpoint_id, k.key) IN (
				SELECT endpoint_id, key FROM ordering_keys
				WHERE head_since < @before AND NOT alerted AND head_delivery_id IS NOT NULL
				ORDER BY head_since LIMIT @limit FOR UPDATE SKIP LOCKED)
			  AND EXISTS (SELECT 1 FROM deliveries d WHERE d.endpoint_id = k.endpoint_id AND d.ordering_key = k.key AND d.held)
			RETURNING k.endpoint_id, k.key, k.head_delivery_id, k.head_since
		)
		SELECT h.org_id, h.app_id, b.endpoint_id, b.key, h.msg_id AS head_message_id, b.head_since AS since,
			(SELECT count(*) FROM deliveries d WHERE d.endpoint_id = b.endpoint_id AND d.ordering_key = b.key AND d.held) AS waiting
		FROM blocked b JOIN deliveries h ON h.id = b.head_delivery_id`,
		pgx.NamedArgs{"before": blockedBefore, "limit": limit})
	return pgx.CollectRows(rows, pgx.RowToStructByName[webhook.BlockedKey])
}

// TidyOrderingKeys implements delivery.OrderingStore.
func (db *DB) TidyOrderingKeys(ctx context.Context, idleBefore time.Time, limit int) ([]webhook.Delivery, error) {
	_, err := db.pool.Exec(ctx, `
		DELETE FROM ordering_keys WHERE (endpoint_id, key) IN (
			SELECT endpoint_id, key FROM ordering_keys
			WHERE head_delivery_id IS NULL AND head_since < @before
			LIMIT @limit FOR UPDATE SKIP LOCKED)
		  AND head_delivery_id IS NULL`, pgx.NamedArgs{"before": idleBefore, "limit": limit})
	if err != nil {
		return nil, fmt.Errorf("forgetting idle ordering keys: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	rows, _ := db.pool.Query(ctx, `
		SELECT released FROM (
			SELECT hookd_release_ordering_key(k.endpoint_id, k.key, k.head_delivery_id, @now, CAST(@reconcile_at AS timestamptz)) AS released
			FROM ordering_keys k
			WHERE k.head_delivery_id IS NOT NULL
			  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = k.head_delivery_id)
			LIMIT @limit) r
		WHERE released IS NOT NULL`,
		pgx.NamedArgs{"now": now, "reconcile_at": now.Add(db.reconcileGrace), "limit": limit})
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("handing on ordering keys whose head is gone: %w", err)
	}
	out := make([]webhook.Delivery, len(ids))
	for i, id := range ids {
		out[i] = webhook.Delivery{ID: id, Status: webhook.StatusPending, NextAttemptAt: &now}
	}
	return out, nil
}
