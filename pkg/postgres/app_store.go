package postgres

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/hookd/hookd/pkg/webhook"
)

type appRow struct {
	ID           string
	OrgID        string
	UID          *string
	Name         string
	Metadata     map[string]string `gorm:"serializer:json"`
	ThrottleRate *int
	// Internal marks an organisation's operational-webhook application
	// (operational_store.go), which the methods of webhook.AppStore never see.
	Internal  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (appRow) TableName() string { return "applications" }

func appRowOf(a *webhook.Application) appRow {
	return appRow{
		ID: a.ID, OrgID: a.OrgID, UID: a.UID, Name: a.Name, Metadata: nonNilMap(a.Metadata),
		ThrottleRate: a.ThrottleRate, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
	}
}

func (r *appRow) app() (webhook.Application, error) {
	return webhook.Application{
		ID: r.ID, OrgID: r.OrgID, UID: r.UID, Name: r.Name, Metadata: nonNilMap(r.Metadata),
		ThrottleRate: r.ThrottleRate, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}, nil
}

// CreateApp implements webhook.AppStore.
func (db *DB) CreateApp(ctx context.Context, app *webhook.Application) error {
	now := time.Now().UTC().Truncate(time.Microsecond)
	app.ID = webhook.NewID(webhook.PrefixApp)
	app.CreatedAt, app.UpdatedAt = now, now
	row := appRowOf(app)
	return translate(db.gorm.WithContext(ctx).Create(&row).Error, "an application with this uid")
}

// FindApp implements webhook.AppStore.
func (db *DB) FindApp(ctx context.Context, orgID, idOrUID string) (*webhook.Application, error) {
	var row appRow
	err := db.gorm.WithContext(ctx).
		Where("org_id = ? AND (id = ? OR uid = ?) AND NOT internal", orgID, idOrUID, idOrUID).
		Order(clauseIDFirst(idOrUID)).Take(&row).Error
	if err != nil {
		return nil, translate(err, "application")
	}
	app, _ := row.app()
	return &app, nil
}

// ListApps implements webhook.AppStore.
func (db *DB) ListApps(ctx context.Context, orgID string, opt webhook.ListOptions) (webhook.Page[webhook.Application], error) {
	var rows []appRow
	q := paginate(db.gorm.WithContext(ctx).Where("org_id = ? AND NOT internal", orgID), "id", opt)
	if err := q.Find(&rows).Error; err != nil {
		return webhook.Page[webhook.Application]{}, err
	}
	return pageOf(rows, opt, (*appRow).app)
}

// UpdateApp implements webhook.AppStore: the row is locked and reloaded
// into app, change is applied and the result saved, in one transaction.
func (db *DB) UpdateApp(ctx context.Context, app *webhook.Application, change func(*webhook.Application) error) error {
	return db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var current appRow
		err := tx.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).
			Where("org_id = ? AND id = ? AND NOT internal", app.OrgID, app.ID).Take(&current).Error
		if err != nil {
			return translate(err, "application")
		}
		if change != nil {
			*app, _ = current.app()
			if err := change(app); err != nil {
				return err
			}
		}
		app.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
		row := appRowOf(app)
		res := tx.Model(&appRow{}).Where("org_id = ? AND id = ?", app.OrgID, app.ID).
			Select("uid", "name", "metadata", "throttle_rate", "updated_at").Updates(&row)
		return translate(res.Error, "an application with this uid")
	})
}

// DeleteApp implements webhook.AppStore.
func (db *DB) DeleteApp(ctx context.Context, orgID, id string) error {
	res := db.gorm.WithContext(ctx).Where("org_id = ? AND id = ? AND NOT internal", orgID, id).Delete(&appRow{})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return webhook.Errorf(webhook.ENOTFOUND, "application not found")
	}
	return nil
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
