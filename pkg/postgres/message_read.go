package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/hookd/hookd/pkg/webhook"
)

// expunged is what an attempt's response reads as once expunged.
const expunged = "EXPUNGED"

type attemptRow struct {
	ID                 string
	DeliveryID         string
	OrgID              string
	AppID              string
	MsgID              string
	EndpointID         string
	TaskKey            string
	URL                string
	Status             int
	ResponseStatusCode int
	Response           *string
	ResponseDurationMs int64
	TriggerType        int
	CreatedAt          time.Time
}

func (attemptRow) TableName() string { return "attempts" }

func (r *attemptRow) attempt() (webhook.Attempt, error) {
	a := webhook.Attempt{
		ID: r.ID, DeliveryID: r.DeliveryID, OrgID: r.OrgID, AppID: r.AppID, MessageID: r.MsgID,
		EndpointID: r.EndpointID, URL: r.URL, Status: webhook.MessageStatus(r.Status),
		StatusCode: r.ResponseStatusCode, DurationMs: r.ResponseDurationMs,
		TriggerType: webhook.TriggerType(r.TriggerType), CreatedAt: r.CreatedAt, Response: expunged,
	}
	if r.Response != nil {
		a.Response = *r.Response
	}
	return a, nil
}

// messageFilter applies the message-level filters of f to a query on
// messages (col is the message id column).
func messageFilter(q *gorm.DB, col string, f webhook.MessageFilter) *gorm.DB {
	if f.Before != nil {
		q = q.Where(col+" < ?", webhook.TimeID(webhook.PrefixMessage, *f.Before))
	}
	if f.After != nil {
		q = q.Where(col+" > ?", webhook.TimeID(webhook.PrefixMessage, *f.After))
	}
	return q
}

// messageContentFilter restricts col (a message id) to messages of the
// channel and event types in f, as a subquery.
func (db *DB) messageContentFilter(q *gorm.DB, col string, f webhook.MessageFilter) *gorm.DB {
	if f.Channel == "" && len(f.EventTypes) == 0 {
		return q
	}
	sub := db.read.Model(&messageRow{}).Select("id")
	sub = channelAndTypes(sub, f)
	return q.Where(col+" IN (?)", sub)
}

func channelAndTypes(q *gorm.DB, f webhook.MessageFilter) *gorm.DB {
	if f.Channel != "" {
		raw, _ := json.Marshal([]string{f.Channel})
		q = q.Where("channels @> ?::jsonb", string(raw))
	}
	if len(f.EventTypes) > 0 {
		q = q.Where("event_type IN ?", f.EventTypes)
	}
	return q
}

// ExpungeMessage implements webhook.MessageStore.
func (db *DB) ExpungeMessage(ctx context.Context, msg *webhook.Message) error {
	return db.gorm.WithContext(ctx).Model(&messageRow{}).Where("id = ?", msg.ID).Update("payload", nil).Error
}

// ListAttempts implements webhook.MessageStore. Like every list of
// messages, attempts and deliveries, it reads the replica (Options.ReadDSN).
func (db *DB) ListAttempts(ctx context.Context, app *webhook.Application, ep *webhook.Endpoint, msg *webhook.Message, f webhook.MessageFilter, opt webhook.ListOptions) (webhook.Page[webhook.Attempt], error) {
	q := db.read.WithContext(ctx).Where("app_id = ?", app.ID)
	if ep != nil {
		q = q.Where("endpoint_id = ?", ep.ID)
	}
	if msg != nil {
		from, to := deliveryRange(msg.ID, msg.ID)
		q = q.Where("msg_id = ? AND (delivery_id >= ? AND delivery_id < ? OR delivery_id < ?)", msg.ID, from, to, db.legacyEnd(ctx))
	}
	if f.EndpointID != "" {
		q = q.Where("endpoint_id = ?", f.EndpointID)
	}
	if f.Status != nil {
		q = q.Where("status = ?", int(*f.Status))
	}
	if c := f.StatusCodeClass; c != nil {
		if *c == 0 {
			q = q.Where("response_status_code < 100")
		} else {
			q = q.Where("response_status_code >= ? AND response_status_code < ?", *c, *c+100)
		}
	}
	if f.Before != nil {
		q = q.Where("id < ?", webhook.TimeID(webhook.PrefixAttempt, *f.Before))
	}
	if f.After != nil {
		q = q.Where("id > ?", webhook.TimeID(webhook.PrefixAttempt, *f.After))
	}
	q = db.messageContentFilter(q, "msg_id", f)
	var rows []attemptRow
	if err := paginate(q, "id", opt).Find(&rows).Error; err != nil {
		return webhook.Page[webhook.Attempt]{}, err
	}
	return pageOf(rows, opt, (*attemptRow).attempt)
}

// FindAttempt implements webhook.MessageStore.
func (db *DB) FindAttempt(ctx context.Context, msg *webhook.Message, attemptID string) (*webhook.Attempt, error) {
	var row attemptRow
	if err := db.gorm.WithContext(ctx).Where("msg_id = ? AND id = ?", msg.ID, attemptID).Take(&row).Error; err != nil {
		return nil, translate(err, "attempt")
	}
	a, _ := row.attempt()
	return &a, nil
}

// ExpungeAttempt implements webhook.MessageStore.
func (db *DB) ExpungeAttempt(ctx context.Context, a *webhook.Attempt) error {
	return db.gorm.WithContext(ctx).Model(&attemptRow{}).Where("id = ?", a.ID).Update("response", nil).Error
}

// ListEndpointMessages implements webhook.MessageStore.
func (db *DB) ListEndpointMessages(ctx context.Context, ep *webhook.Endpoint, f webhook.MessageFilter, opt webhook.ListOptions) (webhook.Page[webhook.EndpointMessage], error) {
	q := db.read.WithContext(ctx).Where("endpoint_id = ?", ep.ID)
	if f.Status != nil {
		q = q.Where("status = ?", int(*f.Status))
	}
	q = db.messageContentFilter(messageFilter(q, "msg_id", f), "msg_id", f)
	var rows []deliveryRow
	if err := paginate(q, "msg_id", opt).Find(&rows).Error; err != nil {
		return webhook.Page[webhook.EndpointMessage]{}, err
	}
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].MsgID
	}
	var msgs []messageRow
	if err := db.read.WithContext(ctx).Where("id IN ?", ids).Find(&msgs).Error; err != nil {
		return webhook.Page[webhook.EndpointMessage]{}, err
	}
	byID := make(map[string]*messageRow, len(msgs))
	for i := range msgs {
		byID[msgs[i].ID] = &msgs[i]
	}
	blockers, err := db.blockers(ctx, rows)
	if err != nil {
		return webhook.Page[webhook.EndpointMessage]{}, err
	}
	return pageOf(rows, opt, func(d *deliveryRow) (webhook.EndpointMessage, error) {
		em := webhook.EndpointMessage{Delivery: d.delivery(), WaitingFor: blockers[d.ID]}
		if m, ok := byID[d.MsgID]; ok {
			em.Message, _ = m.message()
		}
		return em, nil
	})
}

// ListMessageEndpoints implements webhook.MessageStore.
func (db *DB) ListMessageEndpoints(ctx context.Context, msg *webhook.Message, opt webhook.ListOptions) (webhook.Page[webhook.MessageEndpoint], error) {
	var rows []deliveryRow
	from, to := deliveryRange(msg.ID, msg.ID)
	q := db.read.WithContext(ctx).Where("msg_id = ? AND (id >= ? AND id < ? OR id < ?)", msg.ID, from, to, db.legacyEnd(ctx))
	if err := paginate(q, "endpoint_id", opt).Find(&rows).Error; err != nil {
		return webhook.Page[webhook.MessageEndpoint]{}, err
	}
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].EndpointID
	}
	var eps []endpointRow
	if err := db.read.WithContext(ctx).Where("id IN ?", ids).Find(&eps).Error; err != nil {
		return webhook.Page[webhook.MessageEndpoint]{}, err
	}
	byID := make(map[string]*endpointRow, len(eps))
	for i := range eps {
		byID[eps[i].ID] = &eps[i]
	}
	blockers, err := db.blockers(ctx, rows)
	if err != nil {
		return webhook.Page[webhook.MessageEndpoint]{}, err
	}
	return pageOf(rows, opt, func(d *deliveryRow) (webhook.MessageEndpoint, error) {
		me := webhook.MessageEndpoint{Delivery: d.delivery(), WaitingFor: blockers[d.ID]}
		var err error
		if e, ok := byID[d.EndpointID]; ok {
			me.Endpoint, err = db.endpointOf(e)
		}
		return me, err
	})
}

// EnsureDelivery implements webhook.MessageStore.
func (db *DB) EnsureDelivery(ctx context.Context, msg *webhook.Message, ep *webhook.Endpoint) (*webhook.Delivery, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	row := deliveryRow{
		ID: deliveryID(msg.ID, ep.ID), OrgID: msg.OrgID, AppID: msg.AppID, MsgID: msg.ID,
		EndpointID: ep.ID, Status: int(webhook.StatusFail), CreatedAt: now, UpdatedAt: now,
	}
	err := db.gorm.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error
	if err != nil {
		return nil, err
	}
	// A fresh row: gorm would add the primary key of row, the id that was
	// not inserted when the delivery already existed, to the conditions.
	var found deliveryRow
	if err := db.gorm.WithContext(ctx).Where("msg_id = ? AND endpoint_id = ?", msg.ID, ep.ID).Take(&found).Error; err != nil {
		return nil, translate(err, "delivery")
	}
	d := found.delivery()
	return &d, nil
}

// recoverable are the statuses recover restarts: failed and cancelled.
var recoverable = []int{int(webhook.StatusFail), int(webhook.StatusCanceled)}

// RecoverDeliveries implements webhook.MessageStore. The outer WHERE checks
// the status again, so a delivery that moved on (a resend succeeded) while
// the batch was being picked is left alone.
func (db *DB) RecoverDeliveries(ctx context.Context, endpointID string, since, until time.Time, after string, limit int) ([]webhook.Delivery, error) {
	found, _ := db.pool.Query(ctx, `
		-- The batch is picked once (MATERIALIZED): as a subquery of the
		-- UPDATE, "id IN (SELECT ... LIMIT n)" may be run again for each
		-- row and update more than n.
		WITH picked AS MATERIALIZED (
			SELECT id FROM deliveries
			WHERE endpoint_id = @endpoint_id AND status = ANY(@recoverable) AND msg_id >= @since AND msg_id < @until AND msg_id > @after
			ORDER BY msg_id LIMIT @limit
			FOR UPDATE)
		UPDATE deliveries SET status = @pending, round = round + 1, round_attempts = 0, reason = NULL,
			next_attempt_at = now(), reconcile_at = now() + make_interval(secs => @grace), updated_at = now()
		WHERE status = ANY(@recoverable) AND id IN (SELECT id FROM picked)
		RETURNING `+deliveryColumns, pgx.NamedArgs{
		"pending": int(webhook.StatusPending), "recoverable": recoverable, "grace": db.reconcileGrace.Seconds(),
		"endpoint_id": endpointID, "since": webhook.TimeID(webhook.PrefixMessage, since),
		"until": webhook.TimeID(webhook.PrefixMessage, until), "after": after, "limit": limit,
	})
	out, err := pgx.CollectRows(found, func(row pgx.CollectableRow) (webhook.Delivery, error) {
		r, err := pgx.RowToStructByName[deliveryRow](row)
		return r.delivery(), err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b webhook.Delivery) int { return strings.Compare(a.MessageID, b.MessageID) })
	return out, nil
}

// blockersSQL reads the heads of ordering keys, (endpoint, key) pairs given
// as two arrays, with their last attempt's response status.
const blockersSQL = `
SELECT k.endpoint_id, k.key, k.head_since AS since, d.msg_id AS message_id, d.status,
	d.round_attempts AS attempts, d.next_attempt_at,
	coalesce((SELECT a.response_status_code FROM attempts a WHERE a.delivery_id = d.id
		ORDER BY a.id DESC LIMIT 1), 0) AS last_status_code
FROM unnest(CAST(@endpoints AS text[]), CAST(@keys AS text[])) AS want(endpoint_id, key)
JOIN ordering_keys k ON k.endpoint_id = want.endpoint_id AND k.key = want.key
JOIN deliveries d ON d.id = k.head_delivery_id`

// blockers returns, by delivery id, what each held delivery of rows waits
// for: its ordering key's head. It reads the replica, like the lists that
// call it.
func (db *DB) blockers(ctx context.Context, rows []deliveryRow) (map[string]*webhook.Blocker, error) {
	var eps, keys []string
	for _, r := range rows {
		if r.Held && r.OrderingKey != nil {
			eps, keys = append(eps, r.EndpointID), append(keys, *r.OrderingKey)
		}
	}
	if len(eps) == 0 {
		return nil, nil
	}
	type headRow struct {
		EndpointID string
		Key        string
		webhook.Blocker
	}
	found, _ := db.replica.pgx.Query(ctx, blockersSQL, pgx.NamedArgs{"endpoints": eps, "keys": keys})
	rows2, err := pgx.CollectRows(found, pgx.RowToStructByName[headRow])
	if err != nil {
		return nil, fmt.Errorf("reading ordering keys: %w", err)
	}
	heads := make(map[[2]string]*webhook.Blocker, len(rows2))
	for i := range rows2 {
		heads[[2]string{rows2[i].EndpointID, rows2[i].Key}] = &rows2[i].Blocker
	}
	out := make(map[string]*webhook.Blocker, len(eps))
	for _, r := range rows {
		if r.Held && r.OrderingKey != nil {
			out[r.ID] = heads[[2]string{r.EndpointID, *r.OrderingKey}]
		}
	}
	return out, nil
}
