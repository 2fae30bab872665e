package postgres

import (
	"context"

	"github.com/hookd/hookd/pkg/webhook"
)

// staleClaim is how long an unfinished claim blocks retries before it is
// taken over (its process likely died).
const staleClaim = "1 minute"

// BeginIdempotent implements webhook.IdempotencyStore in one round trip when
// the key is new.
func (db *DB) BeginIdempotent(ctx context.Context, scope webhook.IdempotencyScope, key, request string) (*webhook.IdempotentResponse, error) {
	var claimed []string
	err := db.gorm.WithContext(ctx).Raw(`
		INSERT INTO idempotency_keys (org_id, principal, key, request) VALUES (?, ?, ?, ?)
		ON CONFLICT (org_id, principal, key) DO UPDATE SET request = excluded.request, created_at = now()
		WHERE idempotency_keys.status_code IS NULL
		  AND idempotency_keys.created_at < now() - interval '`+staleClaim+`'
		   OR idempotency_keys.created_at < now() - make_interval(secs => ?)
		RETURNING key`, scope.OrgID, scope.Principal, key, request, webhook.IdempotencyTTL.Seconds()).Scan(&claimed).Error
	if err != nil {
		return nil, err
	}
	if len(claimed) == 1 {
		return nil, nil
	}
	var prev struct {
		Request    string
		StatusCode *int
		Body       []byte
	}
	err = db.gorm.WithContext(ctx).Raw(
		`SELECT request, status_code, body FROM idempotency_keys WHERE org_id = ? AND principal = ? AND key = ?`,
		scope.OrgID, scope.Principal, key).Scan(&prev).Error
	if err != nil {
		return nil, err
	}
	out := &webhook.IdempotentResponse{Request: prev.Request, Body: prev.Body}
	if prev.StatusCode != nil {
		out.StatusCode = *prev.StatusCode
	}
	return out, nil
}

// FinishIdempotent implements webhook.IdempotencyStore.
func (db *DB) FinishIdempotent(ctx context.Context, scope webhook.IdempotencyScope, key string, status int, body []byte) error {
	return db.gorm.WithContext(ctx).Exec(
		`UPDATE idempotency_keys SET status_code = ?, body = ? WHERE org_id = ? AND principal = ? AND key = ?`,
		status, body, scope.OrgID, scope.Principal, key).Error
}

// AbandonIdempotent implements webhook.IdempotencyStore.
func (db *DB) AbandonIdempotent(ctx context.Context, scope webhook.IdempotencyScope, key string) error {
	return db.gorm.WithContext(ctx).Exec(
		`DELETE FROM idempotency_keys WHERE org_id = ? AND principal = ? AND key = ? AND status_code IS NULL`,
		scope.OrgID, scope.Principal, key).Error
}

// DeleteExpiredIdempotencyKeys removes up to limit records older than the
// TTL and returns how many went.
func (db *DB) DeleteExpiredIdempotencyKeys(ctx context.Context, limit int) (int64, error) {
	res := db.gorm.WithContext(ctx).Exec(`
		DELETE FROM idempotency_keys WHERE ctid IN (
			SELECT ctid FROM idempotency_keys
			WHERE created_at < now() - make_interval(secs => ?) LIMIT ?)`,
		webhook.IdempotencyTTL.Seconds(), limit)
	return res.RowsAffected, res.Error
}
