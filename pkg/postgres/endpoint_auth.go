package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/hookd/hookd/pkg/webhook"
)

// The columns of endpoint authentication and verification (migration
// 00030). The credentials of an endpoint's URL are kept apart from it, in
// url_userinfo, so that they are sealed like secrets; the url column holds
// the URL without them.

// authRowOf fills the authentication and verification columns of row from ep.
func (db *DB) authRowOf(ep *webhook.Endpoint, row *endpointRow) error {
	row.URL, row.URLUserinfo = splitUserinfo(ep.URL)
	row.URLUserinfo = db.sealNonEmpty(row.URLUserinfo)
	var err error
	if row.Mtls, err = sealJSON(db, ep.MTLS); err != nil {
		return fmt.Errorf("endpoint %s mtls: %w", ep.ID, err)
	}
	if row.Oauth, err = sealJSON(db, ep.OAuth); err != nil {
		return fmt.Errorf("endpoint %s oauth: %w", ep.ID, err)
	}
	v := ep.Verification
	row.Verification, row.VerificationChallenge, row.VerifiedAt = string(v.Status), v.Challenge, v.VerifiedAt
	return nil
}

// authOf fills ep's authentication and verification from row.
func (db *DB) authOf(r *endpointRow, ep *webhook.Endpoint) error {
	userinfo, err := db.box.Open(r.URLUserinfo)
	if err != nil {
		return fmt.Errorf("endpoint %s url: %w", r.ID, err)
	}
	ep.URL = joinUserinfo(r.URL, userinfo)
	if err := openJSON(db, r.Mtls, &ep.MTLS); err != nil {
		return fmt.Errorf("endpoint %s mtls: %w", r.ID, err)
	}
	if err := openJSON(db, r.Oauth, &ep.OAuth); err != nil {
		return fmt.Errorf("endpoint %s oauth: %w", r.ID, err)
	}
	ep.Verification = webhook.Verification{
		Status: webhook.VerificationStatus(r.Verification), Challenge: r.VerificationChallenge, VerifiedAt: r.VerifiedAt,
	}
	return nil
}

// sealNonEmpty seals s, keeping "" as "" (none).
func (db *DB) sealNonEmpty(s string) string {
	if s == "" {
		return ""
	}
	return db.box.Seal(s)
}

// sealJSON returns the sealed JSON of v, or "" for a nil v.
func sealJSON[T any](db *DB, v *T) (string, error) {
	if v == nil {
		return "", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return db.box.Seal(string(b)), nil
}

// openJSON sets *dst to the value stored sealed in stored, or nil for "".
func openJSON[T any](db *DB, stored string, dst **T) error {
	*dst = nil
	if stored == "" {
		return nil
	}
	plain, err := db.box.Open(stored)
	if err != nil {
		return err
	}
	v := new(T)
	if err := json.Unmarshal([]byte(plain), v); err != nil {
		return err
	}
	*dst = v
	return nil
}

// splitUserinfo returns rawURL without the credentials of its authority,
// and those credentials ("user:password", as written); "" when it has none.
// The rest of the URL is kept byte for byte, so that joinUserinfo gives
// rawURL back.
func splitUserinfo(rawURL string) (rest, userinfo string) {
	scheme, after, ok := strings.Cut(rawURL, "://")
	if !ok {
		return rawURL, ""
	}
	end := strings.IndexAny(after, "/?#")
	if end < 0 {
		end = len(after)
	}
	at := strings.LastIndexByte(after[:end], '@')
	if at < 0 {
		return rawURL, ""
	}
	return scheme + "://" + after[at+1:], after[:at]
}

// joinUserinfo puts the credentials splitUserinfo took out back in.
func joinUserinfo(rest, userinfo string) string {
	if userinfo == "" {
		return rest
	}
	scheme, after, ok := strings.Cut(rest, "://")
	if !ok {
		return rest
	}
	return scheme + "://" + userinfo + "@" + after
}

// VerifyEndpoint implements delivery.AttemptStore: the endpoint becomes
// verified if it is pending verification with challenge. The challenge is
// kept: it stays the current one until the URL changes.
func (db *DB) VerifyEndpoint(ctx context.Context, id, challenge string) (bool, error) {
	tag, err := db.pool.Exec(ctx, `
		UPDATE endpoints SET verification = @verified, verified_at = @now, updated_at = @now
		WHERE id = @id AND verification = @pending AND verification_challenge = @challenge AND @challenge <> ''`,
		pgx.NamedArgs{
			"id": id, "challenge": challenge, "now": time.Now().UTC().Truncate(time.Microsecond),
			"verified": string(webhook.VerificationVerified), "pending": string(webhook.VerificationPending),
		})
	if err != nil {
		return false, fmt.Errorf("verifying endpoint %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// FindPublishedEndpoint implements webhook.PublishedEndpointStore.
func (db *DB) FindPublishedEndpoint(ctx context.Context, appID, endpointID string) (*webhook.Endpoint, error) {
	var row endpointRow
	err := db.gorm.WithContext(ctx).
		Where("id = ? AND app_id = ? AND NOT EXISTS (SELECT 1 FROM applications a WHERE a.id = endpoints.app_id AND a.internal)", endpointID, appID).
		Take(&row).Error
	if err != nil {
		return nil, translate(err, "endpoint")
	}
	ep, err := db.endpointOf(&row)
	return &ep, err
}

// SaveRefreshToken stores a refresh token that an endpoint's authorization
// server rotated (oauth.PoolConfig.OnRefreshToken): newToken replaces
// oldToken in the endpoint's OAuth configuration, if the endpoint still
// has one with oldToken (a configuration replaced meanwhile is left
// alone). It reports whether it stored newToken. The endpoint's updatedAt
// is not changed: the endpoint's owner changed nothing.
func (db *DB) SaveRefreshToken(ctx context.Context, endpointID, oldToken, newToken string) (bool, error) {
	saved := false
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var sealed []string
		err := tx.Model(&endpointRow{}).Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).
			Where("id = ?", endpointID).Pluck("oauth", &sealed).Error
		if err != nil || len(sealed) == 0 {
			return err
		}
		var cfg *webhook.EndpointOAuth
		if err := openJSON(db, sealed[0], &cfg); err != nil {
			return fmt.Errorf("endpoint %s oauth: %w", endpointID, err)
		}
		if cfg == nil || cfg.RefreshToken != oldToken {
			return nil
		}
		cfg.RefreshToken = newToken
		stored, err := sealJSON(db, cfg)
		if err != nil {
			return err
		}
		saved = true
		return tx.Model(&endpointRow{}).Where("id = ?", endpointID).UpdateColumn("oauth", stored).Error
	})
	if err != nil {
		return false, fmt.Errorf("saving the rotated refresh token of endpoint %s: %w", endpointID, err)
	}
	return saved, nil
}
