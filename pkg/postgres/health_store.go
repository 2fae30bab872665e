package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/webhook"
)

// attemptHoursSQL is the step of recordAttemptSQL that keeps the endpoint
// health aggregates (issue 17): one upsert into endpoint_attempt_hours per
// recorded attempt that succeeded or failed (@status 0 or 2), counting it
// in its endpoint's hour (@hour, the attempt's created_at truncated to the
// hour in UTC). It depends only on the step "attempt" (nothing happens when
// the attempt was recorded before).
//
// The count of one hour is spread over 8 rows (slots; readers add them
// up), the slot being the Postgres backend's pid modulo 8: the records of
// one group commit share a connection and so a slot, and two groups in
// flight at once use two connections and (most often) two slots, so that
// they do not queue on one row's lock. When two groups do share a slot,
// their records come in endpoint and hour order (recordOrder), so one
// waits for the other's commit and neither deadlocks.
const attemptHoursSQL = `
, attempt_hours AS (
	INSERT INTO endpoint_attempt_hours AS h (endpoint_id, hour, slot, attempts, failures)
	SELECT @endpoint_id, CAST(@hour AS timestamptz), CAST(pg_backend_pid() % 8 AS smallint), 1, CASE WHEN @status = 2 THEN 1 ELSE 0 END
	WHERE EXISTS (SELECT 1 FROM attempt) AND @status IN (0, 2)
	ON CONFLICT (endpoint_id, hour, slot) DO UPDATE
	SET attempts = h.attempts + EXCLUDED.attempts, failures = h.failures + EXCLUDED.failures
)`

// recordOrder is the order of an attempt's record within a group commit:
// by endpoint, then hour, the order in which its rows of
// endpoint_attempt_hours are locked.
func recordOrder(endpointID string, hour time.Time) string {
	return endpointID + "/" + hour.UTC().Format(time.RFC3339)
}

// healthRetention is how long the hourly aggregates are kept: the 30 days
// of EndpointHealth.Daily, and a day of slack for time zones.
const healthRetention = 31 * 24 * time.Hour

// EndpointHealth implements webhook.HealthStore.
func (db *DB) EndpointHealth(ctx context.Context, ep *webhook.Endpoint, now time.Time) (webhook.EndpointHealth, error) {
	h := webhook.EndpointHealth{EndpointID: ep.ID}
	err := db.pool.QueryRow(ctx, `SELECT disabled, failing_since FROM endpoints WHERE id = $1`, ep.ID).
		Scan(&h.Disabled, &h.FailingSince)
	if errors.Is(err, pgx.ErrNoRows) {
		return h, webhook.Errorf(webhook.ENOTFOUND, "endpoint not found")
	}
	if err != nil {
		return h, fmt.Errorf("loading the health of endpoint %s: %w", ep.ID, err)
	}
	since := now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -webhook.HealthDays)
	rows, _ := db.pool.Query(ctx, `SELECT hour, sum(attempts), sum(failures) FROM endpoint_attempt_hours
		WHERE endpoint_id = $1 AND hour >= $2 GROUP BY hour`, ep.ID, since)
	hours, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (webhook.HealthBucket, error) {
		var b webhook.HealthBucket
		return b, row.Scan(&b.Start, &b.Attempts, &b.Failures)
	})
	if err != nil {
		return h, fmt.Errorf("loading the health of endpoint %s: %w", ep.ID, err)
	}
	webhook.FillHealth(&h, hours, now)
	return h, nil
}

// AppEndpointHealth implements webhook.HealthStore.
func (db *DB) AppEndpointHealth(ctx context.Context, app *webhook.Application, now time.Time, limit int) ([]webhook.EndpointHealth, error) {
	since := now.UTC().Truncate(time.Hour).Add(-(webhook.HealthHours - 1) * time.Hour)
	rows, _ := db.pool.Query(ctx, `
		SELECT e.id, e.disabled, e.failing_since,
			(SELECT coalesce(sum(attempts), 0) FROM endpoint_attempt_hours h WHERE h.endpoint_id = e.id AND h.hour >= @since),
			(SELECT coalesce(sum(failures), 0) FROM endpoint_attempt_hours h WHERE h.endpoint_id = e.id AND h.hour >= @since)
		FROM endpoints e
		WHERE e.app_id = @app_id AND e.org_id = @org_id
		ORDER BY e.id DESC
		LIMIT @limit`, pgx.NamedArgs{"since": since, "app_id": app.ID, "org_id": app.OrgID, "limit": limit})
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (webhook.EndpointHealth, error) {
		var h webhook.EndpointHealth
		return h, row.Scan(&h.EndpointID, &h.Disabled, &h.FailingSince, &h.Attempts, &h.Failures)
	})
	if err != nil {
		return nil, fmt.Errorf("loading the health of the endpoints of %s: %w", app.ID, err)
	}
	return out, nil
}

// DeleteOldHealthHours deletes up to limit hourly health aggregates older
// than healthRetention (a janitor sweep).
func (db *DB) DeleteOldHealthHours(ctx context.Context, limit int) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM endpoint_attempt_hours WHERE ctid IN (
		SELECT ctid FROM endpoint_attempt_hours WHERE hour < now() - make_interval(secs => @keep) LIMIT @limit)`,
		pgx.NamedArgs{"keep": healthRetention.Seconds(), "limit": limit})
	return tag.RowsAffected(), err
}

// FailingDeliveries implements webhook.HealthStore: one ordered scan of
// deliveries_app_status (app_id, status, msg_id) per status, then the
// messages of those deliveries without their payloads.
func (db *DB) FailingDeliveries(ctx context.Context, app *webhook.Application, limit int) ([]webhook.EndpointMessage, bool, error) {
	var rows []deliveryRow
	done := true
	for _, st := range []webhook.MessageStatus{webhook.StatusSending, webhook.StatusFail} {
		var some []deliveryRow
		err := db.gorm.WithContext(ctx).Where("app_id = ? AND status = ?", app.ID, int(st)).
			Order("msg_id DESC").Limit(limit + 1).Find(&some).Error
		if err != nil {
			return nil, false, fmt.Errorf("listing the failing deliveries of %s: %w", app.ID, err)
		}
		if len(some) > limit {
			some, done = some[:limit], false
		}
		rows = append(rows, some...)
	}
	slices.SortStableFunc(rows, func(a, b deliveryRow) int { return cmp.Compare(b.MsgID, a.MsgID) })
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].MsgID
	}
	var msgs []messageRow
	if len(ids) > 0 {
		if err := db.gorm.WithContext(ctx).Omit("payload").Where("id IN ?", ids).Find(&msgs).Error; err != nil {
			return nil, false, fmt.Errorf("loading the messages of failing deliveries: %w", err)
		}
	}
	byID := make(map[string]*messageRow, len(msgs))
	for i := range msgs {
		byID[msgs[i].ID] = &msgs[i]
	}
	out := make([]webhook.EndpointMessage, 0, len(rows))
	for i := range rows {
		em := webhook.EndpointMessage{Delivery: rows[i].delivery()}
		if m, ok := byID[rows[i].MsgID]; ok {
			em.Message, _ = m.message()
		}
		out = append(out, em)
	}
	return out, done, nil
}
