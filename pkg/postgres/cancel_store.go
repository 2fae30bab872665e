package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/webhook"
)

// cancelledSet is what a cancel statement writes on a delivery: status
// canceled, nothing scheduled, not held. A queued attempt of its round
// then finds it finished (delivery.Ref's isCurrent, and the guard of
// recordAttemptSQL), and recover, bulk replay and resend can still send it.
const cancelledSet = `status = 4, next_attempt_at = NULL, reconcile_at = NULL, held = false, reason = @reason,
	updated_at = @now`

// CancelHeld cancels up to limit of the deliveries to endpointID held
// behind their ordering key's head whose message id is below beforeID, and
// returns how many. A held delivery is never a key's head, so no key moves.
// Cancelling those first means that when a head is cancelled afterwards
// (CancelDue), the key passes to a delivery that stays.
func (db *DB) CancelHeld(ctx context.Context, endpointID, beforeID string, limit int) (int, error) {
	// The batch is picked once (MATERIALIZED): as a subquery of the
	// UPDATE, "id IN (SELECT ... LIMIT n)" may be run again for each row.
	tag, err := db.pool.Exec(ctx, `
		WITH picked AS MATERIALIZED (
			SELECT id FROM deliveries
			WHERE endpoint_id = @endpoint_id AND held AND msg_id < @before_id
			LIMIT @limit)
		UPDATE deliveries SET `+cancelledSet+`
		WHERE id IN (SELECT id FROM picked) AND held`,
		pgx.NamedArgs{"endpoint_id": endpointID, "before_id": beforeID, "limit": limit, "now": time.Now().UTC(),
			"reason": webhook.ReasonCancelMsgs})
	if err != nil {
		return 0, fmt.Errorf("cancelling held deliveries to %s: %w", endpointID, err)
	}
	return int(tag.RowsAffected()), nil
}

// cancelDueSQL cancels, in message order, up to @limit deliveries to the
// endpoint that are pending or retrying (due, something scheduled), of
// messages in (@after, @before_id). It walks deliveries_app_status once
// per status, merged by message id, and picks the batch once
// (MATERIALIZED); the UPDATE checks the row again, so a delivery that
// finished meanwhile is left alone.
const cancelDueSQL = `
WITH due AS MATERIALIZED (
	(SELECT id, msg_id FROM deliveries
	 WHERE app_id = @app_id AND status = 1 AND msg_id > @after AND msg_id < @before_id
	   AND endpoint_id = @endpoint_id AND next_attempt_at IS NOT NULL
	 ORDER BY msg_id LIMIT @limit)
	UNION ALL
	(SELECT id, msg_id FROM deliveries
	 WHERE app_id = @app_id AND status = 3 AND msg_id > @after AND msg_id < @before_id
	   AND endpoint_id = @endpoint_id AND next_attempt_at IS NOT NULL
	 ORDER BY msg_id LIMIT @limit)
	ORDER BY msg_id LIMIT @limit
)
UPDATE deliveries d SET ` + cancelledSet + `
WHERE d.id IN (SELECT id FROM due) AND d.status IN (1, 3) AND d.next_attempt_at IS NOT NULL
RETURNING d.id, d.msg_id, d.ordering_key`

// releaseCancelledSQL hands on the ordering keys whose head was just
// cancelled (@ids with their @keys), each to its next held delivery, and
// returns the ids of those made due, as a finished attempt of a head does.
// The keys are taken in one order, as publishes take them.
const releaseCancelledSQL = `
SELECT released FROM (
	SELECT hookd_release_ordering_key(@endpoint_id, c.key, c.id, @now, CAST(@reconcile_at AS timestamptz)) AS released
	FROM unnest(CAST(@ids AS text[]), CAST(@keys AS text[])) AS c(id, key)
	ORDER BY c.key) r
WHERE released IS NOT NULL`

// CancelDue cancels, in one transaction, up to limit pending or retrying
// deliveries to the endpoint of messages in (after, beforeID), lowest
// message ids first (cancelDueSQL), and hands the ordering key of each
// cancelled head to its next held delivery (hookd_release_ordering_key):
// for ordering, a cancelled delivery is done.
func (db *DB) CancelDue(ctx context.Context, appID, endpointID, after, beforeID string, limit int) (webhook.CancelStep, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	var step webhook.CancelStep
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, cancelDueSQL, pgx.NamedArgs{
			"app_id": appID, "endpoint_id": endpointID, "after": after, "before_id": beforeID, "limit": limit, "now": now,
			"reason": webhook.ReasonCancelMsgs,
		})
		type cancelledRow struct {
			ID          string
			MsgID       string
			OrderingKey *string
		}
		cancelled, err := pgx.CollectRows(rows, pgx.RowToStructByName[cancelledRow])
		if err != nil {
			return err
		}
		step.Cancelled = len(cancelled)
		var ids, keys []string
		for _, c := range cancelled {
			step.Last = max(step.Last, c.MsgID)
			if c.OrderingKey != nil {
				ids, keys = append(ids, c.ID), append(keys, *c.OrderingKey)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		rows, _ = tx.Query(ctx, releaseCancelledSQL, pgx.NamedArgs{
			"endpoint_id": endpointID, "ids": ids, "keys": keys, "now": now, "reconcile_at": now.Add(db.reconcileGrace),
		})
		released, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(released) == 0 {
			return err
		}
		rows, _ = tx.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE id = ANY(@ids)`,
			pgx.NamedArgs{"ids": released})
		step.Released, err = collectDeliveries(rows)
		return err
	})
	if err != nil {
		return webhook.CancelStep{}, fmt.Errorf("cancelling deliveries to %s: %w", endpointID, err)
	}
	return step, nil
}
