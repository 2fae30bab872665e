package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/webhook"
)

// staleClaim is how long an unfinished claim blocks retries before it is
// taken over (its process likely died).
const staleClaim = "1 minute"

// BeginIdempotent implements webhook.IdempotencyStore in one round trip when
// the key is new.
func (db *DB) BeginIdempotent(ctx context.Context, scope webhook.IdempotencyScope, key, request string) (*webhook.IdempotentResponse, error) {
	args := pgx.NamedArgs{"org_id": scope.OrgID, "principal": scope.Principal, "key": key, "request": request,
		"ttl": webhook.IdempotencyTTL.Seconds()}
	rows, _ := db.pool.Query(ctx, `
		INSERT INTO idempotency_keys (org_id, principal, key, request) VALUES (@org_id, @principal, @key, @request)
		ON CONFLICT (org_id, principal, key) DO UPDATE SET request = excluded.request, created_at = now()
		WHERE idempotency_keys.status_code IS NULL
		  AND idempotency_keys.created_at < now() - interval '`+staleClaim+`'
		   OR idempotency_keys.created_at < now() - make_interval(secs => @ttl)
		RETURNING key`, args)
	claimed, err := pgx.CollectRows(rows, pgx.RowTo[string])
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
	err = db.pool.QueryRow(ctx,
		`SELECT request, status_code, body FROM idempotency_keys WHERE org_id = @org_id AND principal = @principal AND key = @key`,
		args).Scan(&prev.Request, &prev.StatusCode, &prev.Body)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, webhook.Errorf(webhook.ECONFLICT, "the idempotency key was released meanwhile; try again")
	}
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
	_, err := db.pool.Exec(ctx, `
		UPDATE idempotency_keys SET status_code = @status, body = @body
		WHERE org_id = @org_id AND principal = @principal AND key = @key`,
		pgx.NamedArgs{"status": status, "body": body, "org_id": scope.OrgID, "principal": scope.Principal, "key": key})
	return err
}

// AbandonIdempotent implements webhook.IdempotencyStore.
func (db *DB) AbandonIdempotent(ctx context.Context, scope webhook.IdempotencyScope, key string) error {
	_, err := db.pool.Exec(ctx, `
		DELETE FROM idempotency_keys
		WHERE org_id = @org_id AND principal = @principal AND key = @key AND status_code IS NULL`,
		pgx.NamedArgs{"org_id": scope.OrgID, "principal": scope.Principal, "key": key})
	return err
}

// DeleteExpiredIdempotencyKeys removes up to limit records older than the
// TTL and returns how many went.
func (db *DB) DeleteExpiredIdempotencyKeys(ctx context.Context, limit int) (int64, error) {
	tag, err := db.pool.Exec(ctx, `
		DELETE FROM idempotency_keys WHERE ctid IN (
			SELECT ctid FROM idempotency_keys
			WHERE created_at < now() - make_interval(secs => @ttl) LIMIT @limit)`,
		pgx.NamedArgs{"ttl": webhook.IdempotencyTTL.Seconds(), "limit": limit})
	return tag.RowsAffected(), err
}
