package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/webhook"
)

// replayArgs are the arguments every replay statement shares: the
// endpoint, its application, and the batch's range of message ids.
func replayArgs(b webhook.ReplayBatch) pgx.NamedArgs {
	return pgx.NamedArgs{
		"endpoint_id": b.EndpointID, "app_id": b.AppID, "after": b.After,
		"since_id": webhook.TimeID(webhook.PrefixMessage, b.Since),
		"until_id": webhook.TimeID(webhook.PrefixMessage, b.Until),
	}
}

// Where a batch ends: the Scan-th row of its range after After, by message
// id (an index walk that reads ids alone), or nothing when fewer remain.
const (
	deliveryRangeEndSQL = `
SELECT msg_id FROM deliveries
WHERE endpoint_id = @endpoint_id AND msg_id >= @since_id AND msg_id > @after AND msg_id < @until_id
ORDER BY msg_id OFFSET @skip LIMIT 1`
	messageRangeEndSQL = `
SELECT id FROM messages
WHERE app_id = @app_id AND id >= @since_id AND id > @after AND id < @until_id
ORDER BY id OFFSET @skip LIMIT 1`
)

// batchEnd sets args' up_to to the last message id of b's batch (query is
// one of the range-end statements) and returns the step it makes: its
// ScannedTo, and Done when the range ends within it.
func (db *DB) batchEnd(ctx context.Context, query string, b webhook.ReplayBatch, args pgx.NamedArgs) (webhook.ReplayStep, error) {
	args["skip"] = max(b.Scan, 1) - 1
	rows, _ := db.pool.Query(ctx, query, args)
	end, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[string])
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		args["up_to"] = args["until_id"]
		return webhook.ReplayStep{ScannedTo: args["until_id"].(string), Done: true}, nil
	case err != nil:
		return webhook.ReplayStep{}, fmt.Errorf("finding the end of a replay batch: %w", err)
	}
	args["up_to"] = end
	return webhook.ReplayStep{ScannedTo: end}, nil
}

// replayFilterSQL returns the conditions of f on a delivery d and its
// message m, adding their arguments to args.
func replayFilterSQL(f webhook.ReplayFilter, args pgx.NamedArgs) string {
	var where []string
	if len(f.EventTypes) > 0 {
		args["event_types"] = f.EventTypes
		where = append(where, "m.event_type = ANY(@event_types)")
	}
	if f.Channel != "" {
		args["channel"] = jsonArray(f.Channel)
		where = append(where, "m.channels @> CAST(@channel AS jsonb)")
	}
	if f.Tag != "" {
		args["tag"] = jsonArray(f.Tag)
		where = append(where, "m.tags @> CAST(@tag AS jsonb)")
	}
	if f.Status != nil {
		args["status"] = int(*f.Status)
		where = append(where, "d.status = @status")
	}
	if c := f.StatusCodeClass; c != nil {
		last := "(SELECT a.response_status_code FROM attempts a WHERE a.delivery_id = d.id ORDER BY a.id DESC LIMIT 1)"
		if *c == 0 {
			where = append(where, last+" < 100")
		} else {
			args["class"] = *c
			where = append(where, last+" >= @class AND "+last+" < @class + 100")
		}
	}
	if len(where) == 0 {
		return "true"
	}
	return strings.Join(where, " AND ")
}

// replayDeliveriesSQL restarts, in a new round, the deliveries of the
// batch's range that match the filter (%s), in message order:
//
//   - picked: the batch's deliveries that match, locked, picked once;
//     those whose message's payload was expunged or expired are left as
//     they are (there is nothing to send, and a replay must not turn a
//     success into a dead letter);
//   - numbered: their position, which spaces their due times;
//   - the update: each becomes pending, due at @start plus its position
//     times @spacing, in a new round with the whole retry schedule, and no
//     longer held (a replay is sent now, outside its ordering key's order:
//     the key's release passes over it). The attempt already queued for
//     its old round finds itself stale and does nothing. Each comes back
//     with its message, which its first attempt carries.
var replayDeliveriesSQL = `
WITH picked AS MATERIALIZED (
	SELECT d.id, d.msg_id FROM deliveries d
	JOIN messages m ON m.id = d.msg_id
	WHERE d.endpoint_id = @endpoint_id AND d.msg_id >= @since_id AND d.msg_id > @after
	  AND d.msg_id <= @up_to AND d.msg_id < @until_id AND m.payload IS NOT NULL AND %s
	ORDER BY d.msg_id
	FOR UPDATE OF d
), numbered AS (
	SELECT id, row_number() OVER (ORDER BY msg_id) - 1 AS n FROM picked
)
UPDATE deliveries d SET status = 1, round = d.round + 1, round_attempts = 0, held = false, reason = NULL,
	next_attempt_at = CAST(@start AS timestamptz) + n.n * make_interval(secs => @spacing),
	reconcile_at = CAST(@start AS timestamptz) + n.n * make_interval(secs => @spacing) + make_interval(secs => @grace),
	updated_at = @now
FROM numbered n, messages m
WHERE d.id = n.id AND m.id = d.msg_id
RETURNING ` + deliveryColumnsOf("d.") + `, m.event_type AS m_event_type, m.event_id AS m_event_id, m.payload AS m_payload,
	m.traceparent AS m_traceparent, m.tracestate AS m_tracestate`

// replayedRow is a row of replayDeliveriesSQL: a delivery and what its
// first attempt needs of its message.
type replayedRow struct {
	deliveryRow
	MEventType   string
	MEventID     *string
	MPayload     *string
	MTraceparent *string
	MTracestate  *string
}

// deliveryColumnsOf is deliveryColumns of the table alias t ("d.").
func deliveryColumnsOf(t string) string { return prefixed(t, "", deliveryColumns) }

// ReplayDeliveries runs one batch of a bulk replay (webhook.ReplayBatch):
// it finds where the batch ends, then restarts the matching deliveries in
// one statement (replayDeliveriesSQL) and returns them.
func (db *DB) ReplayDeliveries(ctx context.Context, b webhook.ReplayBatch) (webhook.ReplayStep, error) {
	args := replayArgs(b)
	step, err := db.batchEnd(ctx, deliveryRangeEndSQL, b, args)
	if err != nil {
		return step, err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	args["start"], args["spacing"], args["grace"], args["now"] = b.Start.UTC(), b.Spacing.Seconds(), db.reconcileGrace.Seconds(), now
	rows, _ := db.pool.Query(ctx, fmt.Sprintf(replayDeliveriesSQL, replayFilterSQL(b.Filter, args)), args)
	replayed, err := pgx.CollectRows(rows, pgx.RowToStructByName[replayedRow])
	if err != nil {
		return step, fmt.Errorf("replaying deliveries of %s: %w", b.EndpointID, err)
	}
	slices.SortFunc(replayed, func(x, y replayedRow) int { return strings.Compare(x.MsgID, y.MsgID) })
	for _, r := range replayed {
		d := r.delivery()
		step.Queued = append(step.Queued, d)
		m := webhook.Message{ID: d.MessageID, OrgID: d.OrgID, AppID: d.AppID, EventType: r.MEventType, EventID: r.MEventID,
			Trace: traceContextOf(r.MTraceparent, r.MTracestate)}
		if r.MPayload != nil {
			m.Payload = json.RawMessage(*r.MPayload)
		}
		step.Messages = append(step.Messages, m)
	}
	return step, nil
}

// sortByMessage sorts deliveries by message id (RETURNING has no order).
func sortByMessage(ds []webhook.Delivery) {
	slices.SortFunc(ds, func(a, b webhook.Delivery) int { return strings.Compare(a.MessageID, b.MessageID) })
}

// collectDeliveries reads rows of deliveryColumns, in message order.
func collectDeliveries(rows pgx.Rows) ([]webhook.Delivery, error) {
	found, err := pgx.CollectRows(rows, pgx.RowToStructByName[deliveryRow])
	out := make([]webhook.Delivery, len(found))
	for i := range found {
		out[i] = found[i].delivery()
	}
	sortByMessage(out)
	return out, err
}

// missingSQL reads the messages of the batch's range that the endpoint
// never received (it has no delivery of them) and that match its event
// types and channels as webhook.Endpoint.Matches does; expunged and expired
// ones, which cannot be sent, are left out.
const missingSQL = `
SELECT ` + messageSelect + `, m.traceparent, m.tracestate FROM messages m
WHERE m.app_id = @app_id AND m.id >= @since_id AND m.id > @after AND m.id <= @up_to AND m.id < @until_id
  AND m.payload IS NOT NULL
  AND (cardinality(CAST(@filter_types AS text[])) = 0 OR m.event_type = ANY(@filter_types))
  AND (cardinality(CAST(@channels AS text[])) = 0 OR jsonb_exists_any(m.channels, @channels))
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.msg_id = m.id AND d.endpoint_id = @endpoint_id)
ORDER BY m.id`

// missingArgs adds ep's filter to args.
func missingArgs(ep *webhook.Endpoint, args pgx.NamedArgs) pgx.NamedArgs {
	args["filter_types"], args["channels"], args["with_content"] = nonNil(ep.FilterTypes), nonNil(ep.Channels), true
	return args
}

func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// MissingMessages returns the messages of one batch of a replay-missing
// (webhook.ReplayBatch) that ep never received and that match its event
// types and channels, with their payloads, oldest first.
func (db *DB) MissingMessages(ctx context.Context, ep *webhook.Endpoint, b webhook.ReplayBatch) ([]webhook.Message, webhook.ReplayStep, error) {
	args := missingArgs(ep, replayArgs(b))
	step, err := db.batchEnd(ctx, messageRangeEndSQL, b, args)
	if err != nil {
		return nil, step, err
	}
	rows, _ := db.pool.Query(ctx, missingSQL, args)
	type missingRow struct {
		messageRow
		Traceparent *string
		Tracestate  *string
	}
	found, err := pgx.CollectRows(rows, pgx.RowToStructByName[missingRow])
	if err != nil {
		return nil, step, fmt.Errorf("reading messages %s missed: %w", ep.ID, err)
	}
	msgs := make([]webhook.Message, len(found))
	for i := range found {
		msgs[i], _ = found[i].message()
		msgs[i].Trace = traceContextOf(found[i].Traceparent, found[i].Tracestate)
	}
	return msgs, step, nil
}

// createReplayDeliveriesSQL creates a delivery of each message of
// @msg_ids to the endpoint, pending and due at @start plus its position
// times @spacing, unordered (a replay is not held behind an ordering key).
// Its id is derived from its message and endpoint as at publish, so a
// batch run twice creates each once; a delivery a resend created meanwhile
// is left alone.
const createReplayDeliveriesSQL = `
INSERT INTO deliveries (id, org_id, app_id, msg_id, endpoint_id, status, next_attempt_at, reconcile_at,
	created_at, updated_at)
SELECT 'dlv_' || substr(w.msg_id, 5) || substr(@endpoint_id, 4), @org_id, @app_id, w.msg_id, @endpoint_id, 1,
	CAST(@start AS timestamptz) + (w.n - 1) * make_interval(secs => @spacing),
	CAST(@start AS timestamptz) + (w.n - 1) * make_interval(secs => @spacing) + make_interval(secs => @grace),
	@now, @now
FROM unnest(CAST(@msg_ids AS text[])) WITH ORDINALITY AS w(msg_id, n)
ON CONFLICT DO NOTHING
RETURNING ` + deliveryColumns

// CreateReplayDeliveries creates the deliveries of a replay-missing batch
// (createReplayDeliveriesSQL) and returns those it created.
func (db *DB) CreateReplayDeliveries(ctx context.Context, ep *webhook.Endpoint, msgIDs []string, start time.Time, spacing time.Duration) ([]webhook.Delivery, error) {
	if len(msgIDs) == 0 {
		return nil, nil
	}
	rows, _ := db.pool.Query(ctx, createReplayDeliveriesSQL, pgx.NamedArgs{
		"endpoint_id": ep.ID, "org_id": ep.OrgID, "app_id": ep.AppID, "msg_ids": msgIDs,
		"start": start.UTC(), "spacing": spacing.Seconds(), "grace": db.reconcileGrace.Seconds(),
		"now": time.Now().UTC().Truncate(time.Microsecond),
	})
	out, err := collectDeliveries(rows)
	if err != nil {
		return nil, fmt.Errorf("creating deliveries to %s: %w", ep.ID, err)
	}
	return out, nil
}

// OutstandingReplays counts the deliveries to endpointID of messages in
// [low, high] that are due and not attempted yet in their round (what a
// replay queued and the workers have not reached), and returns the lowest
// of their message ids ("" when none). It reads deliveries_app_status, so
// it costs about one index entry per delivery counted.
func (db *DB) OutstandingReplays(ctx context.Context, appID, endpointID, low, high string) (int, string, error) {
	rows, _ := db.pool.Query(ctx, `
		SELECT count(*) AS n, coalesce(min(msg_id), '') AS lowest FROM deliveries
		WHERE app_id = @app_id AND status = 1 AND msg_id >= @low AND msg_id <= @high
		  AND endpoint_id = @endpoint_id AND round_attempts = 0 AND next_attempt_at IS NOT NULL`,
		pgx.NamedArgs{"app_id": appID, "endpoint_id": endpointID, "low": low, "high": high})
	type outstanding struct {
		N      int
		Lowest string
	}
	o, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[outstanding])
	if err != nil {
		return 0, "", fmt.Errorf("counting the replays to %s not attempted yet: %w", endpointID, err)
	}
	return o.N, o.Lowest, nil
}

// PreviewBulkReplay implements webhook.BulkStore.
func (db *DB) PreviewBulkReplay(ctx context.Context, b webhook.ReplayBatch, limit int) (webhook.ReplayPreview, error) {
	args := replayArgs(b)
	args["limit"] = limit
	query := `
		SELECT d.msg_id, count(*) OVER () AS total FROM deliveries d
		JOIN messages m ON m.id = d.msg_id
		WHERE d.endpoint_id = @endpoint_id AND d.msg_id >= @since_id AND d.msg_id < @until_id
		  AND m.payload IS NOT NULL AND ` +
		replayFilterSQL(b.Filter, args) + `
		ORDER BY d.msg_id LIMIT @limit`
	return db.preview(ctx, query, args)
}

// PreviewReplayMissing implements webhook.BulkStore.
func (db *DB) PreviewReplayMissing(ctx context.Context, ep *webhook.Endpoint, b webhook.ReplayBatch, limit int) (webhook.ReplayPreview, error) {
	args := missingArgs(ep, replayArgs(b))
	args["limit"], args["up_to"], args["with_content"] = limit, args["until_id"], false
	query := `SELECT m.id AS msg_id, count(*) OVER () AS total FROM (` + missingSQL + `) m LIMIT @limit`
	return db.preview(ctx, query, args)
}

// preview runs a preview query, whose rows are the first message ids
// with the count of all (a window over the whole result, computed before
// the LIMIT).
func (db *DB) preview(ctx context.Context, query string, args pgx.NamedArgs) (webhook.ReplayPreview, error) {
	rows, _ := db.pool.Query(ctx, query, args)
	type previewRow struct {
		MsgID string
		Total int
	}
	found, err := pgx.CollectRows(rows, pgx.RowToStructByName[previewRow])
	if err != nil {
		return webhook.ReplayPreview{}, fmt.Errorf("previewing a replay: %w", err)
	}
	p := webhook.ReplayPreview{First: make([]string, 0, len(found))}
	for _, r := range found {
		p.Count = r.Total
		p.First = append(p.First, r.MsgID)
	}
	return p, nil
}

// MarkEndpointCancelled implements webhook.BulkStore.
func (db *DB) MarkEndpointCancelled(ctx context.Context, ep *webhook.Endpoint, at time.Time) error {
	_, err := db.pool.Exec(ctx, `UPDATE endpoints SET cancelled_at = @at WHERE id = @id`,
		pgx.NamedArgs{"id": ep.ID, "at": at.UTC()})
	if err != nil {
		return fmt.Errorf("marking endpoint %s cancelled: %w", ep.ID, err)
	}
	return nil
}
