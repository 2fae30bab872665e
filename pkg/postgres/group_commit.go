package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// groupCommit runs the statements of concurrent callers in shared commits:
// a statement that arrives while every flush slot is busy waits for a
// slot, and the caller that gets one sends every statement waiting by then
// (up to max) in one pipeline, one round trip, one implicit transaction,
// one commit. Alone, a statement goes at once, as without grouping; under
// load, statements that arrive within one commit's time share the next.
//
// Each caller learns its own outcome only once the shared commit is
// confirmed: do returns nil only after the transaction holding its
// statement committed. When Postgres refuses any statement of a group, the
// whole transaction is rolled back and every caller runs its statement
// again alone, so that one caller's error (a taken eventId, a value the
// table refuses, a deadlock) is its own and never another's.
//
// A group runs its statements in the order of their callers' keys (then
// of arrival): statements that lock shared rows say in which order they
// take them, so that two groups in flight never wait for each other's
// locks in opposite orders.
type groupCommit struct {
	pool *pgxpool.Pool
	// max caps the statements of one commit.
	max int
	// slots holds a token per group in flight.
	slots chan struct{}
	// timeout bounds a group's round trip: callers wait for it whatever
	// their own contexts, so that none is answered before its commit is
	// known.
	timeout time.Duration

	mu      sync.Mutex
	pending []*groupCall

	// commits and statements count what was sent, for GroupCommits.
	commits, statements atomic.Int64
}

// groupCall is one caller's statement.
type groupCall struct {
	ctx  context.Context
	sql  string
	args []any
	// key orders the statement within its group.
	key string
	// scan reads the statement's rows. It must not keep state from a
	// previous call: a rolled back group makes it run again.
	scan func(pgx.Rows) error
	err  error
	// alone is set when the group failed on the server: the statement was
	// rolled back, and its caller runs it again by itself.
	alone bool
	done  chan struct{}
}

// newGroupCommit returns a groupCommit on pool with at most flushes
// groups in flight and max statements per group.
func newGroupCommit(pool *pgxpool.Pool, flushes, max int) *groupCommit {
	return &groupCommit{pool: pool, max: max, slots: make(chan struct{}, flushes), timeout: time.Minute}
}

// do runs stmt with args, in a commit shared with concurrent callers, and
// scan with its rows; it returns scan's error, or the statement's. scan's
// error is the caller's alone; only Postgres's errors roll back the group.
// key orders the statement within its group ("" when the statement shares
// no locks with the others).
func (g *groupCommit) do(ctx context.Context, stmt *namedStatement, args pgx.NamedArgs, key string, scan func(pgx.Rows) error) error {
	sql, positional, err := stmt.bind(args)
	if err != nil {
		return err
	}
	c := &groupCall{ctx: ctx, sql: sql, args: positional, key: key, scan: scan, done: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	g.mu.Unlock()
	for {
		select {
		case <-c.done:
			if c.alone {
				return g.runAlone(ctx, c)
			}
			return c.err
		case g.slots <- struct{}{}:
			batch := g.take()
			if len(batch) == 0 {
				// c was taken into a group in flight: wait for it,
				// rather than take the slot again and again.
				<-g.slots
				<-c.done
				continue
			}
			g.flush(batch)
			<-g.slots
		}
	}
}

// take removes up to max waiting calls, answering those whose caller went
// away meanwhile: they were never sent.
func (g *groupCommit) take() []*groupCall {
	g.mu.Lock()
	n := min(len(g.pending), g.max)
	batch := make([]*groupCall, 0, n)
	for _, c := range g.pending[:n] {
		if err := c.ctx.Err(); err != nil {
			c.err = err
			close(c.done)
			continue
		}
		batch = append(batch, c)
	}
	rest := copy(g.pending, g.pending[n:])
	clear(g.pending[rest:])
	g.pending = g.pending[:rest]
	g.mu.Unlock()
	return batch
}

// flush sends batch as one pipeline and answers each call.
func (g *groupCommit) flush(batch []*groupCall) {
	if len(batch) == 0 {
		return
	}
	g.commits.Add(1)
	g.statements.Add(int64(len(batch)))
	switch len(batch) {
	case 1:
		// Nothing to share: it runs as without grouping, in its slot.
		c := batch[0]
		c.err = g.runAlone(c.ctx, c)
		close(c.done)
		return
	}
	slices.SortStableFunc(batch, func(a, b *groupCall) int { return strings.Compare(a.key, b.key) })
	ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), g.timeout)
	defer cancel()
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(batch))}
	for _, c := range batch {
		b.Queue(c.sql, c.args...).Query(func(rows pgx.Rows) error {
			c.err = c.scan(rows)
			if isServerError(c.err) {
				return c.err // the transaction is aborted: stop reading
			}
			return nil
		})
	}
	err := g.pool.SendBatch(ctx, b).Close()
	server := isServerError(err)
	for _, c := range batch {
		switch {
		case server:
			c.alone, c.err = true, nil
		case err != nil:
			// The commit's fate is unknown (the connection broke): the
			// caller hears so, as it would of its own statement.
			c.err = err
		}
		close(c.done)
	}
}

// runAlone runs c's statement by itself, again while Postgres makes it
// the victim of a deadlock (retryTransient).
func (g *groupCommit) runAlone(ctx context.Context, c *groupCall) error {
	return retryTransient(ctx, func() error {
		rows, _ := g.pool.Query(ctx, c.sql, c.args...)
		return c.scan(rows)
	})
}

// retryTransient runs fn, and again, a few times, after a short random
// pause, while it fails as the victim of a deadlock (or of a
// serialization failure): such an error says what other transactions did
// at that moment, nothing about the caller's statement, which did nothing,
// and must not reach the caller as its own.
func retryTransient(ctx context.Context, fn func() error) error {
	for try := 1; ; try++ {
		err := fn()
		if try == transientTries || !isTransient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(try) * time.Duration(10+rand.IntN(40)) * time.Millisecond):
		}
	}
}

// transientTries bounds the runs of a statement that keeps being a
// deadlock's victim.
const transientTries = 5

// isTransient reports a deadlock or a serialization failure: Postgres
// rolled the statement back because of concurrent transactions.
func isTransient(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// isServerError reports an error Postgres sent: the statement, and the
// implicit transaction of its pipeline, did not commit.
func isServerError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr)
}

// GroupCommits returns how many commits the publishes and the attempt
// records have made, and how many statements they held: statements per
// commit is how well grouping works under the load so far.
func (db *DB) GroupCommits() (commits, statements int64) {
	for _, g := range []*groupCommit{db.publishes, db.records} {
		commits += g.commits.Load()
		statements += g.statements.Load()
	}
	return commits, statements
}

// namedStatement is a statement with named arguments (@name) rewritten
// into positional ones ($1, ...) once, at its first use, rather than at
// every call as pgx does for pgx.NamedArgs (parsing the whole text each
// time: a tenth of hookd's CPU on the publish and attempt paths).
type namedStatement struct {
	text string

	once  sync.Once
	sql   string
	names []string // the argument of each position
	err   error
}

// argMarker stands for an argument while a statement is rewritten.
type argMarker int

// bind returns the positional statement and args in its order. Every call
// must pass the same names; a name the statement does not use, or one it
// uses that the first call did not pass, is an error.
func (s *namedStatement) bind(args pgx.NamedArgs) (string, []any, error) {
	s.once.Do(func() {
		keys := make([]string, 0, len(args))
		markers := pgx.StrictNamedArgs{}
		for k := range args {
			markers[k] = argMarker(len(keys))
			keys = append(keys, k)
		}
		var positional []any
		s.sql, positional, s.err = markers.RewriteQuery(context.Background(), nil, s.text, nil)
		for _, p := range positional {
			s.names = append(s.names, keys[p.(argMarker)])
		}
	})
	if s.err != nil {
		return "", nil, s.err
	}
	out := make([]any, len(s.names))
	for i, name := range s.names {
		v, ok := args[name]
		if !ok {
			return "", nil, fmt.Errorf("argument %s missing", name)
		}
		out[i] = v
	}
	return s.sql, out, nil
}
