package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/hookd/hookd/pkg/webhook"
)

// endpointSelect are the columns of an endpointRow.
const endpointSelect = `id, org_id, app_id, uid, url, description, version, disabled, filter_types,
	channels, metadata, throttle_rate, headers, secret, old_secrets, ordering, cancelled_at, created_at, updated_at,
	url_userinfo, mtls, oauth, verification, verification_challenge, verified_at,
	filter, transformation_code, transformation_enabled, transformation_variables, transformation_updated_at`

type endpointRow struct {
	ID           string
	OrgID        string
	AppID        string
	UID          *string
	URL          string
	Description  string
	Version      int
	Disabled     bool
	FilterTypes  []string          `gorm:"serializer:json"`
	Channels     []string          `gorm:"serializer:json"`
	Metadata     map[string]string `gorm:"serializer:json"`
	ThrottleRate *int
	Headers      string // JSON object, sealed
	Secret       string // sealed
	OldSecrets   string // JSON array of webhook.ExpiringSecret, sealed
	Ordering     string
	CancelledAt  *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time

	// Issue 14: endpoint authentication and verification (endpoint_auth.go).
	URLUserinfo           string // sealed
	Mtls                  string // JSON of webhook.EndpointMTLS, sealed
	Oauth                 string // JSON of webhook.EndpointOAuth, sealed
	Verification          string
	VerificationChallenge string
	VerifiedAt            *time.Time

	// Issue 13: payload filter and transformation (endpoint_shaping.go).
	Filter                  *string
	TransformationCode      *string
	TransformationEnabled   bool
	TransformationVariables string // JSON object, sealed; "" for none
	TransformationUpdatedAt *time.Time
}

func (endpointRow) TableName() string { return "endpoints" }

// endpointColumns are the columns an update writes.
var endpointColumns = []string{
	"uid", "url", "description", "version", "disabled", "filter_types", "channels",
	"metadata", "throttle_rate", "headers", "secret", "old_secrets", "ordering", "updated_at",
	"url_userinfo", "mtls", "oauth", "verification", "verification_challenge", "verified_at",
	"filter", "transformation_code", "transformation_enabled", "transformation_variables", "transformation_updated_at",
}

func (db *DB) endpointRowOf(ep *webhook.Endpoint) (endpointRow, error) {
	headers, err := json.Marshal(nonNilMap(ep.Headers))
	if err != nil {
		return endpointRow{}, err
	}
	old := ep.OldSecrets
	if old == nil {
		old = []webhook.ExpiringSecret{}
	}
	oldJSON, err := json.Marshal(old)
	if err != nil {
		return endpointRow{}, err
	}
	row := endpointRow{
		ID: ep.ID, OrgID: ep.OrgID, AppID: ep.AppID, UID: ep.UID, URL: ep.URL,
		Description: ep.Description, Version: ep.Version, Disabled: ep.Disabled,
		FilterTypes: ep.FilterTypes, Channels: ep.Channels, Metadata: nonNilMap(ep.Metadata),
		ThrottleRate: ep.ThrottleRate,
		Headers:      db.box.Seal(string(headers)),
		Secret:       db.box.Seal(ep.Secret),
		OldSecrets:   db.box.Seal(string(oldJSON)),
		Ordering:     cmp.Or(ep.Ordering, webhook.OrderingNone),
		CreatedAt:    ep.CreatedAt, UpdatedAt: ep.UpdatedAt,
	}
	if err := db.shapingRowOf(ep, &row); err != nil {
		return row, err
	}
	return row, db.authRowOf(ep, &row)
}

func (db *DB) endpointOf(r *endpointRow) (webhook.Endpoint, error) {
	ep := webhook.Endpoint{
		ID: r.ID, OrgID: r.OrgID, AppID: r.AppID, UID: r.UID, URL: r.URL,
		Description: r.Description, Version: r.Version, Disabled: r.Disabled,
		FilterTypes: r.FilterTypes, Channels: r.Channels, Metadata: nonNilMap(r.Metadata),
		ThrottleRate: r.ThrottleRate, Ordering: r.Ordering, CancelledAt: r.CancelledAt,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
	var err error
	if ep.Secret, err = db.box.Open(r.Secret); err != nil {
		return ep, fmt.Errorf("endpoint %s secret: %w", r.ID, err)
	}
	headers, err := db.box.Open(r.Headers)
	if err != nil {
		return ep, fmt.Errorf("endpoint %s headers: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(headers), &ep.Headers); err != nil {
		return ep, fmt.Errorf("endpoint %s headers: %w", r.ID, err)
	}
	old, err := db.box.Open(r.OldSecrets)
	if err != nil {
		return ep, fmt.Errorf("endpoint %s old secrets: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(old), &ep.OldSecrets); err != nil {
		return ep, fmt.Errorf("endpoint %s old secrets: %w", r.ID, err)
	}
	if err := db.shapingOf(r, &ep); err != nil {
		return ep, err
	}
	return ep, db.authOf(r, &ep)
}

// CreateEndpoint implements webhook.EndpointStore.
func (db *DB) CreateEndpoint(ctx context.Context, ep *webhook.Endpoint) error {
	now := time.Now().UTC().Truncate(time.Microsecond)
	ep.ID = webhook.NewID(webhook.PrefixEndpoint)
	ep.CreatedAt, ep.UpdatedAt = now, now
	row, err := db.endpointRowOf(ep)
	if err != nil {
		return err
	}
	return db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := checkFilterTypes(tx, ep, nil); err != nil {
			return err
		}
		return translate(tx.Create(&row).Error, "an endpoint with this uid")
	})
}

// FindEndpoint implements webhook.EndpointStore.
func (db *DB) FindEndpoint(ctx context.Context, app *webhook.Application, idOrUID string) (*webhook.Endpoint, error) {
	var row endpointRow
	err := db.gorm.WithContext(ctx).
		Where("app_id = ? AND (id = ? OR uid = ?)", app.ID, idOrUID, idOrUID).
		Order(clauseIDFirst(idOrUID)).Take(&row).Error
	if err != nil {
		return nil, translate(err, "endpoint")
	}
	ep, err := db.endpointOf(&row)
	return &ep, err
}

// FindEndpointByID implements webhook.DeliveryStore.
func (db *DB) FindEndpointByID(ctx context.Context, id string) (*webhook.Endpoint, error) {
	var row endpointRow
	if err := db.gorm.WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return nil, translate(err, "endpoint")
	}
	ep, err := db.endpointOf(&row)
	return &ep, err
}

// ListEndpoints implements webhook.EndpointStore.
func (db *DB) ListEndpoints(ctx context.Context, app *webhook.Application, opt webhook.ListOptions) (webhook.Page[webhook.Endpoint], error) {
	var rows []endpointRow
	q := paginate(db.gorm.WithContext(ctx).Where("app_id = ?", app.ID), "id", opt)
	if err := q.Find(&rows).Error; err != nil {
		return webhook.Page[webhook.Endpoint]{}, err
	}
	return pageOf(rows, opt, db.endpointOf)
}

// UpdateEndpoint implements webhook.EndpointStore: the row is locked and
// reloaded into ep, change is applied, and the result saved, in one
// transaction. Only event types that are new to the filter must exist: a
// filter keeps working after its event type is archived.
func (db *DB) UpdateEndpoint(ctx context.Context, ep *webhook.Endpoint, change func(*webhook.Endpoint) error) error {
	return db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var current endpointRow
		err := tx.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).
			Where("app_id = ? AND id = ?", ep.AppID, ep.ID).Take(&current).Error
		if err != nil {
			return translate(err, "endpoint")
		}
		if change != nil {
			if *ep, err = db.endpointOf(&current); err != nil {
				return err
			}
			if err := change(ep); err != nil {
				return err
			}
		}
		if err := checkFilterTypes(tx, ep, current.FilterTypes); err != nil {
			return err
		}
		ep.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
		row, err := db.endpointRowOf(ep)
		if err != nil {
			return err
		}
		res := tx.Model(&endpointRow{}).Where("app_id = ? AND id = ?", ep.AppID, ep.ID).
			Select(endpointColumns).Updates(&row)
		if res.Error == nil && current.Disabled && !ep.Disabled {
			// Enabled again: its run of failures starts over.
			res = tx.Model(&endpointRow{}).Where("id = ?", ep.ID).Update("failing_since", nil)
		}
		return translate(res.Error, "an endpoint with this uid")
	})
}

// DeleteEndpoint implements webhook.EndpointStore. Its cascade (the
// endpoint's deliveries, attempts and health rows) may deadlock with the
// attempts being recorded for it; it is then run again.
func (db *DB) DeleteEndpoint(ctx context.Context, ep *webhook.Endpoint) error {
	var res *gorm.DB
	err := retryTransient(ctx, func() error {
		res = db.gorm.WithContext(ctx).Where("app_id = ? AND id = ?", ep.AppID, ep.ID).Delete(&endpointRow{})
		return res.Error
	})
	if err != nil {
		return err
	}
	if res.RowsAffected == 0 {
		return webhook.Errorf(webhook.ENOTFOUND, "endpoint not found")
	}
	return nil
}

// EndpointStats implements webhook.EndpointStore, on the replica
// (Options.ReadDSN).
func (db *DB) EndpointStats(ctx context.Context, ep *webhook.Endpoint, since, until time.Time) (webhook.EndpointStats, error) {
	var rows []struct {
		Status int
		Count  int64
	}
	err := db.read.WithContext(ctx).Model(&deliveryRow{}).Select("status, count(*) AS count").
		Where("endpoint_id = ? AND created_at >= ? AND created_at < ?", ep.ID, since, until).
		Group("status").Scan(&rows).Error
	var st webhook.EndpointStats
	for _, r := range rows {
		switch webhook.MessageStatus(r.Status) {
		case webhook.StatusSuccess:
			st.Success = r.Count
		case webhook.StatusPending:
			st.Pending = r.Count
		case webhook.StatusSending:
			st.Sending = r.Count
		case webhook.StatusFail:
			st.Fail = r.Count
		case webhook.StatusCanceled:
			st.Canceled = r.Count
		}
	}
	return st, err
}

// checkFilterTypes returns a validation error naming each event type in
// ep's filter that is not in previous and is not an existing, unarchived
// event type. The endpoints of an internal application filter on
// operational event types instead, which the caller checks
// (webhook.Endpoint.ValidateOperational).
func checkFilterTypes(tx *gorm.DB, ep *webhook.Endpoint, previous []string) error {
	filter := ep.FilterTypes
	var added []string
	for _, name := range filter {
		if !slices.Contains(previous, name) {
			added = append(added, name)
		}
	}
	if len(added) == 0 {
		return nil
	}
	var internal []bool
	err := tx.Model(&appRow{}).Where("id = ? AND internal", ep.AppID).Limit(1).Pluck("internal", &internal).Error
	if err != nil || len(internal) > 0 {
		return err
	}
	var found []string
	err = tx.Model(&eventTypeRow{}).Where("org_id = ? AND name IN ? AND NOT archived", ep.OrgID, added).
		Pluck("name", &found).Error
	if err != nil {
		return err
	}
	v := &webhook.ValidationError{}
	for _, name := range added {
		if !slices.Contains(found, name) {
			i := slices.Index(filter, name)
			v.Add(fmt.Sprintf("event type %q does not exist", name), "body", "filterTypes", fmt.Sprint(i))
		}
	}
	return v.Err()
}
