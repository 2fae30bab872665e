package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/webhook"
)

// backgroundTaskColumns are the columns of a backgroundTaskRow.
const backgroundTaskColumns = `id, org_id, app_id, kind, status, params, data, cursor, errors,
	lease_owner, lease_until, created_at, updated_at`

type backgroundTaskRow struct {
	ID         string
	OrgID      string
	AppID      *string
	Kind       string
	Status     string
	Params     string
	Data       string
	Cursor     string
	Errors     int
	LeaseOwner *string
	LeaseUntil time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

func (backgroundTaskRow) TableName() string { return "background_tasks" }

func (r *backgroundTaskRow) task() (webhook.BackgroundTask, error) {
	t := webhook.BackgroundTask{
		ID: r.ID, OrgID: r.OrgID, Kind: webhook.TaskKind(r.Kind), Status: webhook.TaskStatus(r.Status),
		Params: json.RawMessage(r.Params), Data: json.RawMessage(r.Data), Cursor: r.Cursor,
		Errors: r.Errors, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
	if r.AppID != nil {
		t.AppID = *r.AppID
	}
	return t, nil
}

// jsonObject returns raw, or {} when it is empty, for a jsonb column.
func jsonObject(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "{}"
	}
	return string(raw)
}

// CreateBackgroundTask implements webhook.BackgroundTaskStore.
func (db *DB) CreateBackgroundTask(ctx context.Context, t *webhook.BackgroundTask) error {
	now := time.Now().UTC().Truncate(time.Microsecond)
	t.CreatedAt, t.UpdatedAt = now, now
	row := backgroundTaskRow{
		ID: t.ID, OrgID: t.OrgID, Kind: string(t.Kind), Status: string(t.Status),
		Params: jsonObject(t.Params), Data: jsonObject(t.Data), Cursor: t.Cursor,
		LeaseUntil: now, CreatedAt: now, UpdatedAt: now,
	}
	if t.AppID != "" {
		row.AppID = &t.AppID
	}
	return translate(db.gorm.WithContext(ctx).Create(&row).Error, "background task")
}

// FindBackgroundTask implements webhook.BackgroundTaskStore.
func (db *DB) FindBackgroundTask(ctx context.Context, orgID, id string) (*webhook.BackgroundTask, error) {
	var row backgroundTaskRow
	if err := db.gorm.WithContext(ctx).Where("org_id = ? AND id = ?", orgID, id).Take(&row).Error; err != nil {
		return nil, translate(err, "background task")
	}
	t, err := row.task()
	return &t, err
}

// ListBackgroundTasks implements webhook.BackgroundTaskStore.
func (db *DB) ListBackgroundTasks(ctx context.Context, orgID string, f webhook.TaskFilter, opt webhook.ListOptions) (webhook.Page[webhook.BackgroundTask], error) {
	q := db.gorm.WithContext(ctx).Where("org_id = ?", orgID)
	if f.AppID != "" {
		q = q.Where("app_id = ?", f.AppID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", string(f.Status))
	}
	if f.Kind != "" {
		q = q.Where("kind = ?", string(f.Kind))
	}
	if len(f.Kinds) > 0 {
		q = q.Where("kind IN ?", f.Kinds)
	}
	var rows []backgroundTaskRow
	if err := paginate(q, "id", opt).Find(&rows).Error; err != nil {
		return webhook.Page[webhook.BackgroundTask]{}, err
	}
	return pageOf(rows, opt, (*backgroundTaskRow).task)
}

// ClaimBackgroundTask implements webhook.BackgroundTaskStore: one UPDATE
// whose subquery locks the row with SKIP LOCKED, so workers claiming at the
// same time take different tasks and never wait on each other.
func (db *DB) ClaimBackgroundTask(ctx context.Context, owner string, kinds []webhook.TaskKind, lease time.Duration) (*webhook.BackgroundTask, error) {
	if len(kinds) == 0 {
		return nil, nil
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	found, _ := db.pool.Query(ctx, `
		UPDATE background_tasks SET lease_owner = @owner, lease_until = now() + make_interval(secs => @lease)
		WHERE id = (
			SELECT id FROM background_tasks
			WHERE status = 'running' AND lease_until <= now() AND kind = ANY(@kinds)
			ORDER BY lease_until LIMIT 1
			FOR UPDATE SKIP LOCKED)
		RETURNING `+backgroundTaskColumns, pgx.NamedArgs{"owner": owner, "lease": lease.Seconds(), "kinds": names})
	row, err := pgx.CollectOneRow(found, pgx.RowToStructByName[backgroundTaskRow])
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	t, err := row.task()
	return &t, err
}

// SaveBackgroundTask implements webhook.BackgroundTaskStore.
func (db *DB) SaveBackgroundTask(ctx context.Context, t *webhook.BackgroundTask, owner string, lease time.Duration) error {
	if t.Status != webhook.TaskRunning {
		lease = 0
	}
	err := db.pool.QueryRow(ctx, `
		UPDATE background_tasks SET status = @status, data = CAST(@data AS jsonb), cursor = @cursor, errors = @errors,
			lease_until = now() + make_interval(secs => @lease), updated_at = now()
		WHERE id = @id AND lease_owner = @owner AND status = 'running'
		RETURNING updated_at`, pgx.NamedArgs{
		"status": string(t.Status), "data": jsonObject(t.Data), "cursor": t.Cursor, "errors": t.Errors,
		"lease": lease.Seconds(), "id": t.ID, "owner": owner,
	}).Scan(&t.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return webhook.Errorf(webhook.ELEASELOST, "background task %s is no longer leased to %s", t.ID, owner)
	}
	return err
}
