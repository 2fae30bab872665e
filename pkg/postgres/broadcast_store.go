package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// broadcastAppsSQL pages through an organisation's applications (not its
// internal ones) that have an endpoint a message of @event_type on
// @channels goes to: enabled, and matching as in createMessageSQL.
const broadcastAppsSQL = `
SELECT a.id FROM applications a
WHERE a.org_id = @org_id AND NOT a.internal AND a.id > @after
  AND EXISTS (
	SELECT 1 FROM endpoints e
	WHERE e.app_id = a.id AND NOT e.disabled
	  AND (coalesce(jsonb_typeof(e.filter_types), 'null') <> 'array' OR jsonb_array_length(e.filter_types) = 0
		OR jsonb_exists(e.filter_types, @event_type))
	  AND (coalesce(jsonb_typeof(e.channels), 'null') <> 'array' OR jsonb_array_length(e.channels) = 0
		OR jsonb_exists_any(e.channels, CAST(@channels AS text[]))))
ORDER BY a.id LIMIT @limit`

// BroadcastApps returns, in id order, up to limit applications of the
// organisation after the id after ("" from the start) with an endpoint
// that a message of eventType on channels would be delivered to.
func (db *DB) BroadcastApps(ctx context.Context, orgID, eventType string, channels []string, after string, limit int) ([]string, error) {
	rows, _ := db.pool.Query(ctx, broadcastAppsSQL, pgx.NamedArgs{
		"org_id": orgID, "event_type": eventType, "channels": nonNil(channels), "after": after, "limit": limit,
	})
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("finding the applications of a broadcast: %w", err)
	}
	return ids, nil
}
