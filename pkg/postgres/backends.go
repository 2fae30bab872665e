package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// BackendPIDs returns the process ids of the server's backends connected to
// the database named in dsn, and of its own background processes (WAL
// writer, checkpointer, background writer, ...): what serves that database
// alone, for `hookd bench` to measure without other databases' load.
func BackendPIDs(ctx context.Context, dsn string) ([]int, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	admin := cfg.Copy()
	admin.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("connecting to postgres: %w", err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT pid FROM pg_stat_activity
		WHERE datname = $1 OR (datname IS NULL AND backend_type <> 'client backend')`, cfg.Database)
	return pgx.CollectRows(rows, pgx.RowTo[int])
}
