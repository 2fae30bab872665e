package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/pkg/webhook"
)

// The two statements of the hot path (createMessageSQL, recordAttemptSQL)
// write to the partitions of their message's day by name when those exist:
// through the partitioned parent, every run of their generic plans locks
// and sets up every partition of each table it writes (routing an insert,
// pruning an update) before it touches one row: about a sixth of
// Postgres's CPU per message with a week of partitions
// (docs/benchmarks.md). A day without its five partitions (before the
// first after migration 00070, or one not made yet) goes through the
// parent, as does any statement once Postgres says a partition it named is
// gone (dropped by retention in another process): then the list of days
// is read again.

// dayPartitions knows the UTC days whose five partitions exist, read
// from the catalog at most once per dayPartitionsTTL, in the background.
type dayPartitions struct {
	pool *pgxpool.Pool

	mu      sync.Mutex
	days    map[string]bool // "20261206"
	readAt  time.Time
	reading bool
	// generation counts forget's calls: a read begun before one is
	// stale, and not kept.
	generation int
}

// dayPartitionsTTL is how long the list of days is trusted. Partitions
// are made a week ahead, so a day is known long before it starts.
const dayPartitionsTTL = time.Minute

// dayPartitionsSQL lists the days every partitioned table has a partition
// of, attached.
const dayPartitionsSQL = `
SELECT substr(c.relname, length(p.relname) + 3) AS day
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_class p ON p.oid = i.inhparent
WHERE i.inhparent IN (to_regclass('messages'), to_regclass('deliveries'), to_regclass('attempts'),
	to_regclass('message_channels'), to_regclass('message_tags'))
  AND c.relname ~ '_p[0-9]{8}$' AND c.relname = p.relname || '_p' || right(c.relname, 8)
GROUP BY 1
HAVING count(*) = 5`

// of returns the UTC day ("20061102") of the message an id made with
// prefix starts with (a message's id, or a delivery's, which starts with
// its message's KSUID) when that day's partitions are known to exist.
func (p *dayPartitions) of(prefix, id string) (string, bool) {
	if len(id) < len(prefix)+27 {
		return "", false
	}
	t, ok := webhook.IDTime(prefix, id[:len(prefix)+27])
	if !ok {
		return "", false
	}
	day := t.Format("20060102")
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.reading && time.Since(p.readAt) > dayPartitionsTTL {
		p.reading = true
		go p.read(p.generation)
	}
	return day, p.days[day]
}

// read reads the days from the catalog, begun at generation; on failure,
// or when the days were forgotten meanwhile, the list is left as it was,
// to be read again at the next call.
func (p *dayPartitions) read(generation int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := p.pool.Query(ctx, dayPartitionsSQL)
	days := map[string]bool{}
	if err == nil {
		for rows.Next() {
			var day string
			if err = rows.Scan(&day); err != nil {
				break
			}
			days[day] = true
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reading = false
	if err == nil && generation == p.generation {
		p.days, p.readAt = days, time.Now()
	}
}

// forget makes the next call read the days again, and until then go
// through the parents: a partition was made, dropped, or is missing.
func (p *dayPartitions) forget() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.days, p.readAt = nil, time.Time{}
	p.generation++
}

// dayStatement is a statement on partitioned tables, and the same
// statement with the partitions of one day named instead of their
// parents, one per day, made at first use.
type dayStatement struct {
	parent namedStatement
	// tables are the parents the statement writes to.
	tables []string

	mu    sync.Mutex
	byDay map[string]*namedStatement
}

// newDayStatement returns the dayStatement of text, which writes to
// tables with "INSERT INTO <table> (" or "UPDATE <table> SET", each once.
func newDayStatement(text string, tables ...string) *dayStatement {
	s := &dayStatement{parent: namedStatement{text: text}, tables: tables}
	s.rewrite("00010101") // fails at start rather than at the first use
	return s
}

// forDay returns the statement writing to day's partitions.
func (s *dayStatement) forDay(day string) *namedStatement {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.byDay[day]
	if !ok {
		if s.byDay == nil {
			s.byDay = map[string]*namedStatement{}
		}
		st = &namedStatement{text: s.rewrite(day)}
		s.byDay[day] = st
	}
	return st
}

// rewrite returns the statement's text with day's partitions named
// instead of their parents.
func (s *dayStatement) rewrite(day string) string {
	text := s.parent.text
	for _, t := range s.tables {
		n := 0
		for _, form := range []string{"INSERT INTO %s (", "UPDATE %s SET"} {
			old := fmt.Sprintf(form, t)
			n += strings.Count(text, old)
			text = strings.ReplaceAll(text, old, fmt.Sprintf(form, t+"_p"+day))
		}
		if n != 1 {
			panic(fmt.Sprintf("postgres: a day statement writes to %s %d times, want once", t, n))
		}
	}
	return text
}

// onDay runs fn with the statement for the day of id (made with prefix), or
// the parents' when that day has no partitions; if Postgres answers that a
// named partition does not exist, the days are forgotten and fn runs
// again with the parents'.
func (db *DB) onDay(s *dayStatement, prefix, id string, fn func(*namedStatement) error) error {
	day, ok := db.days.of(prefix, id)
	if !ok {
		return fn(&s.parent)
	}
	err := fn(s.forDay(day))
	if isUndefinedTable(err) {
		db.days.forget()
		return fn(&s.parent)
	}
	return err
}

// isUndefinedTable reports a statement naming a table that does not exist.
func isUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}
