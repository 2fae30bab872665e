package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/webhook"
)

// The columns of payload filters and transformations (migration 00040).
// A transformation's variables may hold credentials: they are sealed like
// the endpoint's secret.

// shapingRowOf fills the filter and transformation columns of row from ep.
func (db *DB) shapingRowOf(ep *webhook.Endpoint, row *endpointRow) error {
	if ep.Filter != "" {
		row.Filter = &ep.Filter
	}
	t := &ep.Transformation
	if t.Code != "" {
		row.TransformationCode = &t.Code
	}
	row.TransformationEnabled = t.Enabled
	row.TransformationUpdatedAt = t.UpdatedAt
	row.TransformationVariables = ""
	if len(t.Variables) > 0 {
		vars, err := json.Marshal(t.Variables)
		if err != nil {
			return fmt.Errorf("endpoint %s transformation variables: %w", ep.ID, err)
		}
		row.TransformationVariables = db.box.Seal(string(vars))
	}
	return nil
}

// shapingOf fills ep's filter and transformation from row.
func (db *DB) shapingOf(r *endpointRow, ep *webhook.Endpoint) error {
	if r.Filter != nil {
		ep.Filter = *r.Filter
	}
	ep.Transformation = webhook.EndpointTransformation{Enabled: r.TransformationEnabled, UpdatedAt: r.TransformationUpdatedAt}
	if r.TransformationCode != nil {
		ep.Transformation.Code = *r.TransformationCode
	}
	if r.TransformationVariables == "" {
		return nil
	}
	vars, err := db.box.Open(r.TransformationVariables)
	if err != nil {
		return fmt.Errorf("endpoint %s transformation variables: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(vars), &ep.Transformation.Variables); err != nil {
		return fmt.Errorf("endpoint %s transformation variables: %w", r.ID, err)
	}
	return nil
}

// filteredEndpointsSQL reads what a publish needs to evaluate the payload
// filters of an application's endpoints: the enabled endpoints that have
// one (index endpoints_filtered), with their event type and channel filters.
const filteredEndpointsSQL = `
SELECT id, filter, filter_types, channels FROM endpoints
WHERE app_id = @app_id AND filter IS NOT NULL AND NOT disabled
ORDER BY id`

// FilteredEndpoints implements delivery.PublishStore: the enabled
// endpoints of the application appID that have a payload filter, with ID,
// Filter, FilterTypes and Channels set.
func (db *DB) FilteredEndpoints(ctx context.Context, appID string) ([]webhook.Endpoint, error) {
	rows, _ := db.pool.Query(ctx, filteredEndpointsSQL, pgx.NamedArgs{"app_id": appID})
	type filteredRow struct {
		ID          string
		Filter      string
		FilterTypes []string
		Channels    []string
	}
	found, err := pgx.CollectRows(rows, pgx.RowToStructByName[filteredRow])
	if err != nil {
		return nil, fmt.Errorf("reading the filtered endpoints of %s: %w", appID, err)
	}
	out := make([]webhook.Endpoint, len(found))
	for i, f := range found {
		out[i] = webhook.Endpoint{ID: f.ID, AppID: appID, Filter: f.Filter, FilterTypes: f.FilterTypes, Channels: f.Channels}
	}
	return out, nil
}
