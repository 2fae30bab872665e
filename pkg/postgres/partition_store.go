package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/pkg/webhook"
)

// Partitions (migration 00070, docs/scaling.md "PostgreSQL partitions"):
// messages, deliveries, attempts, message_channels and message_tags are
// partitioned by their message's time, one partition per UTC day, named
// <table>_pYYYYMMDD, plus <table>_legacy (the rows from before the
// migration) and <table>_default (rows no partition was made for).

// partitionLockID is the advisory lock taken while partitions are created
// or dropped, so that processes doing it at once do not collide.
const partitionLockID int64 = 0x686f6f6b6470 // "hookdp"

// PartitionsAhead is how many UTC days of partitions, from today,
// EnsurePartitions keeps.
const PartitionsAhead = 7

// partitionedTables are the partitioned tables in the order their
// partitions are dropped (what may reference a table goes before it: the
// legacy partitions keep their foreign keys), with their key's id prefix.
var partitionedTables = []struct{ name, prefix string }{
	{"attempts", webhook.PrefixDelivery},
	{"message_tags", webhook.PrefixMessage},
	{"message_channels", webhook.PrefixMessage},
	{"deliveries", webhook.PrefixDelivery},
	{"messages", webhook.PrefixMessage},
}

// deliveryID is the id of msgID's delivery to endpointID: its message's
// KSUID, so that it falls in its message's partition, then the endpoint's.
// createMessageSQL and the replays make it the same way in SQL.
func deliveryID(msgID, endpointID string) string {
	return webhook.PrefixDelivery + strings.TrimPrefix(msgID, webhook.PrefixMessage) +
		strings.TrimPrefix(endpointID, webhook.PrefixEndpoint)
}

// EnsurePartitions creates the partitions of the days from the UTC day of
// from to PartitionsAhead days later that do not exist yet, under an
// advisory lock (a process that finds it taken returns 0 and leaves it to
// the other), and returns how many it created. Creating one locks its
// parent in SHARE UPDATE EXCLUSIVE mode, which lets reads and writes go
// on; the statement gives up after lock_timeout (500 ms) rather than queue
// behind a long one, or hold up publishes that queue behind it: under
// Postgres's deadlock_timeout (1 s), so that when its locks and a publish's
// would wait for each other, it is this statement that gives up (and a
// later call tries again), never the publish.
func (db *DB) EnsurePartitions(ctx context.Context, from time.Time) (int, error) {
	return db.ensurePartitions(ctx, from, PartitionsAhead+1)
}

func (db *DB) ensurePartitions(ctx context.Context, from time.Time, days int) (int, error) {
	var created int
	err := db.partitionMaintenance(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, "SELECT hookd_ensure_partitions($1::date, $2)",
			from.UTC().Format(time.DateOnly), days).Scan(&created)
	})
	if err != nil {
		return 0, fmt.Errorf("creating partitions: %w", err)
	}
	if created > 0 {
		db.days.forget()
	}
	return created, nil
}

// partitionMaintenance runs fn in a transaction that holds the advisory
// lock of partition maintenance and gives up any lock it waits for after
// 500 ms (see EnsurePartitions); when another process holds the advisory
// lock, fn does not run and nothing is an error.
func (db *DB) partitionMaintenance(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var locked bool
		if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", partitionLockID).Scan(&locked); err != nil || !locked {
			return err
		}
		if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '500ms'"); err != nil {
			return err
		}
		return fn(tx)
	})
}

// upperBound finds the upper bound of a range partition in
// pg_get_expr(relpartbound): FOR VALUES FROM (...) TO ('<bound>').
var upperBound = regexp.MustCompile(`TO \('([^']*)'\)$`)

// DropExpiredPartitions drops, under the advisory lock of EnsurePartitions,
// every partition whose rows all belong to messages made before olderThan
// (its upper bound is at most the id of olderThan), and returns their
// names. Dropping a partition takes an ACCESS EXCLUSIVE lock on its parent
// for a moment; the statement gives up after lock_timeout (500 ms, under
// Postgres's deadlock_timeout: see EnsurePartitions) and the partition is
// dropped on a later call.
func (db *DB) DropExpiredPartitions(ctx context.Context, olderThan time.Time) ([]string, error) {
	var dropped []string
	err := db.partitionMaintenance(ctx, func(tx pgx.Tx) error {
		for _, t := range partitionedTables {
			rows, _ := tx.Query(ctx, `
				SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i
				JOIN pg_class c ON c.oid = i.inhrelid
				WHERE i.inhparent = to_regclass($1) ORDER BY 1`, t.name)
			type part struct{ Name, Bound string }
			parts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[part])
			if err != nil {
				return err
			}
			limit := webhook.TimeID(t.prefix, olderThan)
			for _, p := range parts {
				m := upperBound.FindStringSubmatch(p.Bound)
				if m == nil || m[1] > limit {
					continue // the default partition, or not expired yet
				}
				if _, err := tx.Exec(ctx, "DROP TABLE "+pgx.Identifier{p.Name}.Sanitize()); err != nil {
					return err
				}
				dropped = append(dropped, p.Name)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dropping expired partitions: %w", err)
	}
	if len(dropped) > 0 {
		db.days.forget()
	}
	return dropped, nil
}

// legacyEnd returns the upper bound of deliveries_legacy, the partition of
// the deliveries made before migration 00070 ("" when there is none: no
// id sorts below it), read once; a failure to read it is not kept.
func (db *DB) legacyEnd(ctx context.Context) string {
	if end := db.deliveriesLegacyEnd.Load(); end != nil {
		return *end
	}
	var bound *string
	err := db.pool.QueryRow(ctx, `SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c
		WHERE c.oid = to_regclass('deliveries_legacy')`).Scan(&bound)
	end := ""
	switch {
	case err == nil && bound != nil:
		if m := upperBound.FindStringSubmatch(*bound); m != nil {
			end = m[1]
		}
	case err != nil && !errors.Is(err, pgx.ErrNoRows):
		return webhook.PrefixDelivery + "~" // every id: correct, not pruned
	}
	db.deliveriesLegacyEnd.Store(&end)
	return end
}
