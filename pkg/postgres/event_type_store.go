package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/hookd/hookd/pkg/webhook"
)

type eventTypeRow struct {
	OrgID        string `gorm:"primaryKey"`
	Name         string `gorm:"primaryKey"`
	Description  string
	Archived     bool
	Deprecated   bool
	FeatureFlag  *string
	FeatureFlags []string `gorm:"serializer:json"`
	GroupName    *string
	Schemas      *string
	// Issue 13: schema-checked publishing and the retry schedule.
	EnforceSchema bool
	RetrySchedule nanosList `gorm:"type:jsonb"`
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (eventTypeRow) TableName() string { return "event_types" }

func eventTypeRowOf(et *webhook.EventType) eventTypeRow {
	row := eventTypeRow{
		OrgID: et.OrgID, Name: et.Name, Description: et.Description, Archived: et.Archived,
		Deprecated: et.Deprecated, FeatureFlag: et.FeatureFlag, FeatureFlags: et.FeatureFlags,
		GroupName: et.GroupName, CreatedAt: et.CreatedAt, UpdatedAt: et.UpdatedAt,
		EnforceSchema: et.EnforceSchema, RetrySchedule: nanosList(et.RetrySchedule),
	}
	if len(et.Schemas) > 0 && string(et.Schemas) != "null" {
		s := string(et.Schemas)
		row.Schemas = &s
	}
	return row
}

func (r *eventTypeRow) eventType() (webhook.EventType, error) {
	et := webhook.EventType{
		OrgID: r.OrgID, Name: r.Name, Description: r.Description, Archived: r.Archived,
		Deprecated: r.Deprecated, FeatureFlag: r.FeatureFlag, FeatureFlags: r.FeatureFlags,
		GroupName: r.GroupName, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		EnforceSchema: r.EnforceSchema, RetrySchedule: []time.Duration(r.RetrySchedule),
	}
	if r.Schemas != nil {
		et.Schemas = json.RawMessage(*r.Schemas)
	}
	return et, nil
}

// CreateEventType implements webhook.EventTypeStore.
func (db *DB) CreateEventType(ctx context.Context, et *webhook.EventType) error {
	return db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var existing eventTypeRow
		err := tx.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).
			Where("org_id = ? AND name = ?", et.OrgID, et.Name).Take(&existing).Error
		now := time.Now().UTC().Truncate(time.Microsecond)
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			et.CreatedAt, et.UpdatedAt = now, now
			row := eventTypeRowOf(et)
			return translate(tx.Create(&row).Error, "event type "+et.Name)
		case err != nil:
			return err
		case !existing.Archived:
			return webhook.Errorf(webhook.ECONFLICT, "event type %s already exists", et.Name)
		}
		// Creating an archived event type again replaces it (unarchives).
		et.CreatedAt, et.UpdatedAt = existing.CreatedAt, now
		row := eventTypeRowOf(et)
		return tx.Select("*").Where("org_id = ? AND name = ?", et.OrgID, et.Name).Updates(&row).Error
	})
}

// FindEventType implements webhook.EventTypeStore.
func (db *DB) FindEventType(ctx context.Context, orgID, name string) (*webhook.EventType, error) {
	var row eventTypeRow
	err := db.gorm.WithContext(ctx).Where("org_id = ? AND name = ?", orgID, name).Take(&row).Error
	if err != nil {
		return nil, translate(err, "event type")
	}
	et, _ := row.eventType()
	return &et, nil
}

// ListEventTypes implements webhook.EventTypeStore.
func (db *DB) ListEventTypes(ctx context.Context, orgID string, f webhook.EventTypeFilter, opt webhook.ListOptions) (webhook.Page[webhook.EventType], error) {
	q := db.gorm.WithContext(ctx).Where("org_id = ?", orgID)
	if !f.IncludeArchived {
		q = q.Where("NOT archived")
	}
	if f.OnlyFlags {
		// Ungated (no featureFlag, featureFlags absent, null or empty), or
		// gated by a flag in f.Flags.
		visible := `(feature_flag IS NULL AND (feature_flags IS NULL OR feature_flags IN ('null'::jsonb, '[]'::jsonb)))`
		if len(f.Flags) > 0 {
			q = q.Where(visible+` OR feature_flag IN ? OR (jsonb_typeof(feature_flags) = 'array' AND jsonb_exists_any(feature_flags, ARRAY[?]::text[]))`, f.Flags, f.Flags)
		} else {
			q = q.Where(visible)
		}
	}
	var rows []eventTypeRow
	if err := paginate(q, "name", opt).Find(&rows).Error; err != nil {
		return webhook.Page[webhook.EventType]{}, err
	}
	return pageOf(rows, opt, (*eventTypeRow).eventType)
}

// UpdateEventType implements webhook.EventTypeStore: the row is locked and
// reloaded into et, change is applied and the result saved, in one transaction.
func (db *DB) UpdateEventType(ctx context.Context, et *webhook.EventType, change func(*webhook.EventType) error) error {
	return db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var current eventTypeRow
		err := tx.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).
			Where("org_id = ? AND name = ?", et.OrgID, et.Name).Take(&current).Error
		if err != nil {
			return translate(err, "event type")
		}
		if change != nil {
			*et, _ = current.eventType()
			if err := change(et); err != nil {
				return err
			}
		}
		et.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
		row := eventTypeRowOf(et)
		return tx.Model(&eventTypeRow{}).Where("org_id = ? AND name = ?", et.OrgID, et.Name).
			Select("description", "archived", "deprecated", "feature_flag", "feature_flags", "group_name", "schemas",
				"enforce_schema", "retry_schedule", "updated_at").
			Updates(&row).Error
	})
}

// DeleteEventType implements webhook.EventTypeStore.
func (db *DB) DeleteEventType(ctx context.Context, orgID, name string) error {
	res := db.gorm.WithContext(ctx).Where("org_id = ? AND name = ?", orgID, name).Delete(&eventTypeRow{})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return webhook.Errorf(webhook.ENOTFOUND, "event type not found")
	}
	return nil
}
