package postgres

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
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

// FindKeyByHash implements webhook.KeyStore.
func (db *DB) FindKeyByHash(ctx context.Context, hash []byte) (*webhook.APIKey, error) {
	var row apiKeyRow
	err := db.gorm.WithContext(ctx).Where("hash = ?", hash).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, webhook.Errorf(webhook.EUNAUTHORIZED, "invalid API key")
	}
	if err != nil {
		return nil, err
	}
	return &webhook.APIKey{ID: row.ID, OrgID: row.OrgID, Prefix: row.Prefix, Hash: row.Hash, CreatedAt: row.CreatedAt}, nil
}
