package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/webhook"
)

// Retention clears content, never rows: a message's payload and an
// attempt's response become NULL, which read back as expunged ("{}" and
// "EXPUNGED"), and the metadata stays listable. Both statements below walk
// one primary-key range per call (ids are time-sorted KSUIDs), so they need
// no index besides the primary keys and attempts_msg, and each examines at
// most limit rows: the row locks are few and held for one short statement.
// Rows another transaction has locked are skipped (SKIP LOCKED): the only
// other writers of these columns clear them too (expunge, or the retention
// loop of another worker process), so the retention loop never waits on the
// delivery path nor on itself.

// expirePayloadsSQL examines the messages of one id range (@after < id <
// @before, at most @limit in id order) and clears the payload of those past
// their own retention period at @now, with the responses of their attempts. It returns
// the last id examined, the payloads and responses cleared and, as a JSON
// array, the retention periods (days) of the examined messages whose payload
// is kept for now. A period is counted in 24-hour days, so that it does not
// depend on the session's time zone (daylight saving).
const expirePayloadsSQL = `
WITH batch AS (
	SELECT id, retention_days, payload IS NOT NULL AS held,
		created_at < CAST(@now AS timestamptz) - make_interval(hours => retention_days * 24) AS expired
	FROM messages WHERE id > @after AND id < @before
	ORDER BY id LIMIT @limit
), cleared AS (
	UPDATE messages SET payload = NULL
	WHERE id IN (
		SELECT id FROM messages
		WHERE id IN (SELECT id FROM batch WHERE held AND expired) AND payload IS NOT NULL
		FOR NO KEY UPDATE SKIP LOCKED)
	RETURNING id
), responses AS (
	UPDATE attempts SET response = NULL
	WHERE msg_id IN (SELECT id FROM cleared) AND response IS NOT NULL
	RETURNING 1
)
SELECT coalesce((SELECT max(id) FROM batch), ''),
	(SELECT count(*) FROM cleared),
	(SELECT count(*) FROM responses),
	coalesce((SELECT json_agg(DISTINCT retention_days) FROM batch WHERE held AND NOT expired), '[]')`

// ExpirePayloads examines up to limit messages with after < id < before, in
// id order, and clears the payload of each one older at now than its own
// retention period, together with the response bodies of its attempts.
// It returns the last id examined ("" when the range holds no message),
// how many payloads and responses it cleared, and the distinct retention
// periods (days) of the examined messages whose payload is kept for now, so
// that the caller knows when to come back. A message expunged before (payload
// already NULL) is skipped, and so are its attempts: those go with the global
// period (ExpireResponses). Safe to call concurrently.
func (db *DB) ExpirePayloads(ctx context.Context, now time.Time, after, before string, limit int) (last string, payloads, responses int64, kept []int, err error) {
	var keptJSON []byte
	err = db.pool.QueryRow(ctx, expirePayloadsSQL,
		pgx.NamedArgs{"after": after, "before": before, "limit": limit, "now": now.UTC()}).
		Scan(&last, &payloads, &responses, &keptJSON)
	if err != nil {
		return "", 0, 0, nil, fmt.Errorf("clearing expired payloads: %w", err)
	}
	if err := json.Unmarshal(keptJSON, &kept); err != nil {
		return "", 0, 0, nil, fmt.Errorf("clearing expired payloads: decoding the kept periods: %w", err)
	}
	return last, payloads, responses, kept, nil
}

// expireResponsesSQL examines the attempts of one id range (@after < id <
// @before, at most @limit in id order) and clears the responses of those
// created before @older_than
// (all of them when ids sort by time; the check costs nothing, the row is
// read anyway). It returns the last id examined and how many responses it
// cleared.
const expireResponsesSQL = `
WITH batch AS (
	SELECT id FROM attempts WHERE id > @after AND id < @before
	ORDER BY id LIMIT @limit
), cleared AS (
	UPDATE attempts SET response = NULL
	WHERE id IN (
		SELECT id FROM attempts
		WHERE id IN (SELECT id FROM batch) AND response IS NOT NULL AND created_at < @older_than
		FOR NO KEY UPDATE SKIP LOCKED)
	RETURNING 1
)
SELECT coalesce((SELECT max(id) FROM batch), ''), (SELECT count(*) FROM cleared)`

// ExpireResponses examines up to limit attempts made before olderThan
// (after < id < webhook.TimeID(olderThan)), in id order, and clears their
// response bodies: the global retention period. It returns the last id
// examined ("" when no attempt is left in the range) and how many responses
// it cleared. Safe to call concurrently.
func (db *DB) ExpireResponses(ctx context.Context, olderThan time.Time, after string, limit int) (last string, cleared int64, err error) {
	before := webhook.TimeID(webhook.PrefixAttempt, olderThan)
	err = db.pool.QueryRow(ctx, expireResponsesSQL,
		pgx.NamedArgs{"after": after, "before": before, "limit": limit, "older_than": olderThan.UTC()}).
		Scan(&last, &cleared)
	if err != nil {
		return "", 0, fmt.Errorf("clearing expired responses: %w", err)
	}
	return last, cleared, nil
}

// deleteOldMessagesSQL deletes up to @limit messages created before
// @older_than, oldest first, with their deliveries, attempts, channels,
// tags and eventIds: the rows retention finds outside the partitions it
// drops (the legacy and default partitions).
const deleteOldMessagesSQL = `
WITH gone AS (
	DELETE FROM messages WHERE id IN (
		SELECT id FROM messages WHERE id < @before AND created_at < @older_than
		ORDER BY id LIMIT @limit FOR UPDATE SKIP LOCKED)
	RETURNING id
), deliveries_gone AS (
	DELETE FROM deliveries WHERE msg_id IN (SELECT id FROM gone)
), attempts_gone AS (
	DELETE FROM attempts WHERE msg_id IN (SELECT id FROM gone)
), channels_gone AS (
	DELETE FROM message_channels WHERE msg_id IN (SELECT id FROM gone)
), tags_gone AS (
	DELETE FROM message_tags WHERE msg_id IN (SELECT id FROM gone)
), event_ids_gone AS (
	DELETE FROM message_event_ids WHERE msg_id IN (SELECT id FROM gone)
)
SELECT count(*) FROM gone`

// DeleteOldMessages removes the messages created before olderThan with
// their deliveries, attempts, channels, tags and eventIds. First it drops
// the partitions that hold only such rows (DropExpiredPartitions), which
// costs the same however many rows they hold, and frees up to limit of
// their eventIds; then it deletes up to limit of the remaining ones (in the
// legacy and default partitions), oldest first, skipping rows another
// process holds. It logs the partitions it dropped and returns how many
// messages the row deletes removed plus the eventIds it freed: a caller
// calls again while that is not 0.
// Safe to call concurrently.
func (db *DB) DeleteOldMessages(ctx context.Context, olderThan time.Time, limit int) (int64, error) {
	dropped, err := db.DropExpiredPartitions(ctx, olderThan)
	if err != nil {
		return 0, err
	}
	for _, name := range dropped {
		db.log.InfoContext(ctx, "expired partition dropped", slog.String("partition", name))
	}
	before := webhook.TimeID(webhook.PrefixMessage, olderThan)
	// The eventIds of the messages in dropped partitions.
	tag, err := db.pool.Exec(ctx, `
		DELETE FROM message_event_ids WHERE msg_id IN (
			SELECT e.msg_id FROM message_event_ids e WHERE e.msg_id < @before
			AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = e.msg_id)
			ORDER BY e.msg_id LIMIT @limit)`,
		pgx.NamedArgs{"before": before, "limit": limit})
	if err != nil {
		return 0, fmt.Errorf("deleting the eventIds of old messages: %w", err)
	}
	freed := tag.RowsAffected()
	var n int64
	err = db.pool.QueryRow(ctx, deleteOldMessagesSQL,
		pgx.NamedArgs{"before": before, "older_than": olderThan.UTC(), "limit": limit}).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("deleting old messages: %w", err)
	}
	return n + freed, nil
}
