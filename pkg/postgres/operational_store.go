package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm/clause"

	"github.com/hookd/hookd/pkg/webhook"
)

// operationalUID is the uid of every organisation's internal application.
// The colon is outside the API's uid pattern, so no application created
// through the API can ever take (or collide with) it, and the unique
// (org_id, uid) index makes concurrent first uses create only one.
const operationalUID = "hookd:operational"

// OperationalApp implements webhook.OperationalStore.
func (db *DB) OperationalApp(ctx context.Context, orgID string, create bool) (*webhook.Application, error) {
	app, err := db.findOperationalApp(ctx, orgID)
	if !create || webhook.ErrorCode(err) != webhook.ENOTFOUND {
		return app, err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	uid := operationalUID
	row := appRow{
		ID: webhook.NewID(webhook.PrefixApp), OrgID: orgID, UID: &uid, Name: "Operational webhooks",
		Metadata: map[string]string{}, Internal: true, CreatedAt: now, UpdatedAt: now,
	}
	err = db.gorm.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error
	if isForeignKeyViolation(err) {
		return nil, webhook.Errorf(webhook.ENOTFOUND, "organisation not found")
	}
	if err != nil {
		return nil, fmt.Errorf("creating the operational webhook application: %w", err)
	}
	return db.findOperationalApp(ctx, orgID) // ours, or one created concurrently
}

func (db *DB) findOperationalApp(ctx context.Context, orgID string) (*webhook.Application, error) {
	var row appRow
	err := db.gorm.WithContext(ctx).
		Where("org_id = ? AND uid = ? AND internal", orgID, operationalUID).Take(&row).Error
	if err != nil {
		return nil, translate(err, "operational webhook application")
	}
	app, _ := row.app()
	return &app, nil
}

// operationalSubscriptionsSQL reads the filters of the enabled endpoints of
// an organisation's internal application (through the (org_id, uid) and
// (app_id, id) indexes).
const operationalSubscriptionsSQL = `
SELECT a.id, e.filter_types
FROM applications a JOIN endpoints e ON e.app_id = a.id AND NOT e.disabled
WHERE a.org_id = @org_id AND a.uid = @uid AND a.internal`

// OperationalSubscriptions implements webhook.OperationalStore.
func (db *DB) OperationalSubscriptions(ctx context.Context, orgID string) (webhook.OperationalSubscriptions, error) {
	var (
		subs   webhook.OperationalSubscriptions
		filter []string
	)
	rows, _ := db.pool.Query(ctx, operationalSubscriptionsSQL, pgx.NamedArgs{"org_id": orgID, "uid": operationalUID})
	_, err := pgx.ForEachRow(rows, []any{&subs.AppID, &filter}, func() error {
		subs.Filters = append(subs.Filters, filter)
		filter = nil
		return nil
	})
	if err != nil {
		return subs, fmt.Errorf("reading operational webhook endpoints: %w", err)
	}
	return subs, nil
}
