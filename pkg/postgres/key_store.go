package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm/clause"

	"github.com/hookd/hookd/pkg/webhook"
)

type orgRow struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

func (orgRow) TableName() string { return "organisations" }

type apiKeyRow struct {
	ID        string
	OrgID     string
	Prefix    string
	Hash      []byte
	CreatedAt time.Time
}

func (apiKeyRow) TableName() string { return "api_keys" }

// EnsureOrg implements webhook.KeyStore.
func (db *DB) EnsureOrg(ctx context.Context, name string) (*webhook.Organisation, error) {
	row := orgRow{ID: webhook.NewID(webhook.PrefixOrg), Name: name}
	err := db.gorm.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error
	if err != nil {
		return nil, err
	}
	// A fresh row: gorm adds a set primary key to the conditions, and the
	// ID generated above is not the one stored when the name existed.
	var found orgRow
	if err := db.gorm.WithContext(ctx).Where("name = ?", name).Take(&found).Error; err != nil {
		return nil, translate(err, "organisation")
	}
	return &webhook.Organisation{ID: found.ID, Name: found.Name, CreatedAt: found.CreatedAt}, nil
}

// CreateKey implements webhook.KeyStore.
func (db *DB) CreateKey(ctx context.Context, key *webhook.APIKey) error {
	row := apiKeyRow{ID: key.ID, OrgID: key.OrgID, Prefix: key.Prefix, Hash: key.Hash}
	return db.gorm.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error
}

// FindKeyByHash implements webhook.KeyStore: API keys and unexpired portal
// tokens, in one round trip.
func (db *DB) FindKeyByHash(ctx context.Context, hash []byte) (*webhook.Principal, error) {
	type principalRow struct {
		ID           string
		OrgID        string
		AppID        string
		ExpiresAt    *time.Time
		FeatureFlags []string
	}
	found, _ := db.pool.Query(ctx, `
		SELECT id, org_id, '' AS app_id, NULL::timestamptz AS expires_at, '[]'::jsonb AS feature_flags
		FROM api_keys WHERE hash = @hash
		UNION ALL
		SELECT id, org_id, app_id, expires_at, feature_flags FROM portal_tokens WHERE hash = @hash AND expires_at > now()`,
		pgx.NamedArgs{"hash": hash})
	rows, err := pgx.CollectRows(found, pgx.RowToStructByName[principalRow])
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, webhook.Errorf(webhook.EUNAUTHORIZED, "invalid or expired token")
	}
	p := &webhook.Principal{OrgID: rows[0].OrgID, KeyID: rows[0].ID, AppID: rows[0].AppID, FeatureFlags: rows[0].FeatureFlags}
	if rows[0].ExpiresAt != nil {
		p.ExpiresAt = *rows[0].ExpiresAt
	}
	return p, nil
}

type portalTokenRow struct {
	ID           string
	OrgID        string
	AppID        string
	Hash         []byte
	ExpiresAt    time.Time
	FeatureFlags []string `gorm:"serializer:json"`
}

func (portalTokenRow) TableName() string { return "portal_tokens" }

// CreatePortalToken implements webhook.KeyStore.
func (db *DB) CreatePortalToken(ctx context.Context, pt *webhook.PortalToken) error {
	flags := pt.FeatureFlags
	if flags == nil {
		flags = []string{}
	}
	row := portalTokenRow{ID: pt.ID, OrgID: pt.OrgID, AppID: pt.AppID, Hash: pt.Hash, ExpiresAt: pt.ExpiresAt, FeatureFlags: flags}
	return db.gorm.WithContext(ctx).Create(&row).Error
}

// RevokePortalToken implements webhook.KeyStore.
func (db *DB) RevokePortalToken(ctx context.Context, hash []byte) error {
	return db.gorm.WithContext(ctx).Where("hash = ?", hash).Delete(&portalTokenRow{}).Error
}

// DeleteExpiredPortalTokens removes up to limit expired portal tokens.
func (db *DB) DeleteExpiredPortalTokens(ctx context.Context, limit int) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM portal_tokens WHERE id IN (
		SELECT id FROM portal_tokens WHERE expires_at < now() LIMIT @limit)`, pgx.NamedArgs{"limit": limit})
	return tag.RowsAffected(), err
}
