package postgres

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	pgdriver "gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"github.com/hookd/hookd/pkg/secretbox"
	"github.com/hookd/hookd/pkg/webhook"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLockID is the advisory lock every hookd process takes while migrating.
const migrationLockID int64 = 0x686f6f6b64 // "hookd"

// DB is a connection pool to hookd's database and the stores built on it.
//
// Statements are written one way: hand-written SQL runs on the pgx pool
// with named arguments (pgx.NamedArgs, @name) and rows scanned into structs
// by column name (pgx.RowToStructByName); gorm, on the same pool, serves the
// plain reads and writes of one table where it saves code.
type DB struct {
	pool *pgxpool.Pool
	gorm *gorm.DB
	// sql is the pool seen through database/sql, for gorm and goose.
	sql *sql.DB
	// replica is the pool of the read replica (Options.ReadDSN); without
	// one it is the primary's. read is the same on gorm. They serve only
	// the reads that may lag behind the primary (see Options.ReadDSN).
	replica *pool
	read    *gorm.DB
	box     *secretbox.Box
	log     *slog.Logger
	// reconcileGrace is how long past its due time a scheduled attempt may
	// wait in the queue before the reconciler enqueues it again.
	reconcileGrace time.Duration
	// publishes and records group the commits of concurrent publishes and
	// of concurrent attempt records, on their own pool (groupPool).
	publishes, records *groupCommit
	group              *pgxpool.Pool
	// deliveriesLegacyEnd caches legacyEnd.
	deliveriesLegacyEnd atomic.Pointer[string]
	// days are the days whose partitions the hot statements name.
	days *dayPartitions
}

// Options tune Open. The zero value is usable.
type Options struct {
	// Box seals endpoint secrets at rest; nil stores them in clear.
	Box *secretbox.Box
	// MaxOpenConns caps the pool; 0 means 20. The group commits have a
	// pool of their own beside it (groupPool).
	MaxOpenConns int
	// ReconcileGrace is how long past its due time a scheduled attempt may
	// wait before the reconciler enqueues it again; 0 means 1 minute.
	ReconcileGrace time.Duration
	// Logger receives a line per database created and migration applied;
	// nil: nothing is logged.
	Logger *slog.Logger
	// ReadDSN, when set, names a read replica of the database (a hot
	// standby) that serves the reads which may lag behind the primary:
	// the lists of messages, attempts and deliveries, message search and
	// endpoint statistics. Writes, reads by id, and every read a
	// caller makes to act on what it read stay on the primary. Empty:
	// everything runs on the primary. Its pool has MaxOpenConns too.
	ReadDSN string
}

// pool is one connection pool seen three ways: pgx for hand-written SQL,
// database/sql for goose, gorm on top of that.
type pool struct {
	pgx  *pgxpool.Pool
	sql  *sql.DB
	gorm *gorm.DB
}

func (p *pool) close() error {
	err := p.sql.Close()
	p.pgx.Close()
	return err
}

// poolConfig is the configuration of a pool of at most maxConns
// connections to dsn (named by variable in errors).
func poolConfig(dsn string, maxConns int, variable string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", variable, err)
	}
	cfg.MaxConns = int32(maxConns)
	cfg.MaxConnIdleTime = 5 * time.Minute
	// hookd's statements are short, and a plan over many partitions looks
	// expensive enough to PostgreSQL to be compiled (JIT) for seconds, on
	// every run: off, unless the DSN says otherwise (?jit=on).
	if _, set := cfg.ConnConfig.RuntimeParams["jit"]; !set {
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	// plan_cache_mode stays Postgres's (auto) unless the DSN sets it: lists
	// and searches are planned for their arguments while that pays, and
	// the statements of the hot path have their own pool (groupPool).
	return cfg, nil
}

// openPool connects to dsn with at most maxConns connections and, if ping
// is set, checks that it answers.
func openPool(ctx context.Context, dsn string, maxConns int, variable string, ping bool) (*pool, error) {
	cfg, err := poolConfig(dsn, maxConns, variable)
	if err != nil {
		return nil, err
	}
	pgxPool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening postgres (%s): %w", variable, err)
	}
	if ping {
		if err := pgxPool.Ping(ctx); err != nil {
			pgxPool.Close()
			return nil, fmt.Errorf("connecting to postgres (%s): %w", variable, err)
		}
	}
	sqlDB := stdlib.OpenDBFromPool(pgxPool)
	g, err := gorm.Open(pgdriver.New(pgdriver.Config{Conn: sqlDB}), &gorm.Config{
		Logger:                 silentLogger{},
		TranslateError:         true,
		SkipDefaultTransaction: true,
		PrepareStmt:            false,
		DisableAutomaticPing:   true, // pinged above, or not at all
		NowFunc:                func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		_ = sqlDB.Close()
		pgxPool.Close()
		return nil, fmt.Errorf("opening postgres (%s): %w", variable, err)
	}
	return &pool{pgx: pgxPool, sql: sqlDB, gorm: g}, nil
}

// Open connects to the database named in dsn, creating the database first if
// it does not exist (so a fresh machine works). It does not migrate.
func Open(ctx context.Context, dsn string, opt Options) (*DB, error) {
	logger := opt.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := ensureDatabase(ctx, dsn, logger); err != nil {
		return nil, err
	}
	maxOpen := opt.MaxOpenConns
	if maxOpen == 0 {
		maxOpen = 20
	}
	primary, err := openPool(ctx, dsn, maxOpen, "HOOKD_DB_DSN", true)
	if err != nil {
		return nil, err
	}
	replica := primary
	if opt.ReadDSN != "" {
		// Not pinged: the replica may not have replayed the database that
		// ensureDatabase just created, and hookd can publish and deliver
		// without it; its reads fail until it answers.
		if replica, err = openPool(ctx, opt.ReadDSN, maxOpen, "HOOKD_DB_READ_DSN", false); err != nil {
			_ = primary.close()
			return nil, err
		}
	}
	if opt.ReconcileGrace == 0 {
		opt.ReconcileGrace = time.Minute
	}
	group, err := groupPool(ctx, dsn, maxOpen)
	if err != nil {
		_ = primary.close()
		if replica != primary {
			_ = replica.close()
		}
		return nil, err
	}
	return &DB{
		pool: primary.pgx, gorm: primary.gorm, sql: primary.sql,
		replica: replica, read: replica.gorm, group: group,
		box: opt.Box, log: logger, reconcileGrace: opt.ReconcileGrace,
		publishes: newGroupCommit(group, groupFlushes, groupMax),
		records:   newGroupCommit(group, groupFlushes, groupMax),
		days:      &dayPartitions{pool: primary.pgx},
	}, nil
}

// groupPool opens the pool of the group commits (publishes and attempt
// records): a quarter of maxConns beside the main pool's maxConns (at
// least 2, at most 2*groupFlushes+2), whose sessions use generic plans
// (plan_cache_mode = force_generic_plan, unless the DSN sets it). The
// hot path's two statements are the same at every run, and each names
// its rows by id: a generic plan prunes the partitions it does not need
// when it runs, where planning each run for its arguments cost more than
// running it (0.56 ms of planning per recorded attempt at 10 partitions;
// docs/scaling.md, "What it took to keep it flat").
func groupPool(ctx context.Context, dsn string, maxConns int) (*pgxpool.Pool, error) {
	cfg, err := poolConfig(dsn, min(max(maxConns/4, 2), 2*groupFlushes+2), "HOOKD_DB_DSN")
	if err != nil {
		return nil, err
	}
	if _, set := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening postgres (HOOKD_DB_DSN): %w", err)
	}
	return p, nil
}

// Group commits: groupFlushes groups of each kind (publishes, attempt
// records) in flight at once, groupMax statements each. With one, a group
// waits for the previous one's commit; two let one group execute while the
// other commits, and leave most of the pool to every other statement.
// (Measured with hookd bench on 2 cores: one, two and four in flight gave
// the same CPU per message; one held slow-many to 1,000 deliveries/s.)
const (
	groupFlushes = 2
	groupMax     = 256
)

// Close closes the pools.
func (db *DB) Close() error {
	err := db.sql.Close()
	db.pool.Close()
	db.group.Close()
	if db.replica.pgx != db.pool {
		err = errors.Join(err, db.replica.close())
	}
	return err
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

// Migrate applies pending migrations under a Postgres advisory lock, so that
// several processes starting at once are safe, then creates the partitions
// of the coming days that are missing (EnsurePartitions). It returns how
// many migrations ran.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID))
	if err != nil {
		return 0, err
	}
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return 0, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db.sql, fsys, goose.WithSessionLocker(locker))
	if err != nil {
		return 0, fmt.Errorf("loading migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrating: %w", err)
	}
	for _, r := range results {
		db.log.InfoContext(ctx, "migration applied", slog.String("source", r.Source.Path), slog.Duration("duration", r.Duration))
	}
	// Today's partitions and the next days', so that a process that
	// publishes before any worker ran finds them.
	if _, err := db.EnsurePartitions(ctx, time.Now()); err != nil {
		return len(results), err
	}
	return len(results), nil
}

// ensureDatabase creates the database named in dsn when it does not exist,
// connecting to the server's "postgres" database to do so.
func ensureDatabase(ctx context.Context, dsn string, logger *slog.Logger) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("parsing HOOKD_DB_DSN: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name
		return fmt.Errorf("connecting to postgres: %w", err)
	}
	admin := cfg.Copy()
	admin.Database = "postgres"
	conn, err = pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return fmt.Errorf("connecting to postgres to create database %q: %w", cfg.Database, err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{cfg.Database}.Sanitize())
	if err != nil && !isDuplicateDatabase(err) {
		return fmt.Errorf("creating database %q: %w", cfg.Database, err)
	}
	logger.InfoContext(ctx, "database created", slog.String("database", cfg.Database))
	return nil
}

// isUniqueViolation reports a unique_violation that gorm did not translate
// (raw statements).
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// isDataException reports a value Postgres refused (SQLSTATE class 22:
// a byte sequence invalid in the encoding, a value out of range, ...).
func isDataException(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22")
}

// isForeignKeyViolation reports a row that references one just deleted.
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}

// DropDatabase drops the database named in dsn, if it exists (used by
// hookd bench to remove the database it created).
func DropDatabase(ctx context.Context, dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return err
	}
	name := cfg.Database
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

func isDuplicateDatabase(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P04"
}

// silentLogger discards gorm's logs without building them (errors are
// returned and handled by callers).
type silentLogger struct{}

func (l silentLogger) LogMode(logger.LogLevel) logger.Interface                      { return l }
func (silentLogger) Info(context.Context, string, ...any)                            {}
func (silentLogger) Warn(context.Context, string, ...any)                            {}
func (silentLogger) Error(context.Context, string, ...any)                           {}
func (silentLogger) Trace(context.Context, time.Time, func() (string, int64), error) {}

// translate maps database errors to webhook errors: a unique violation is
// ECONFLICT (what is taken is named by the caller), a missing row ENOTFOUND.
func translate(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrDuplicatedKey), isUniqueViolation(err):
		return webhook.Errorf(webhook.ECONFLICT, "%s already exists", what)
	case errors.Is(err, gorm.ErrRecordNotFound):
		return webhook.Errorf(webhook.ENOTFOUND, "%s not found", what)
	}
	return err
}

// RedactDSN returns dsn without its password, for logs.
func RedactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return strings.SplitN(dsn, "?", 2)[0]
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// clauseIDFirst orders an "id = x OR uid = x" lookup so that the row whose
// id matches wins over one whose uid happens to equal it.
func clauseIDFirst(idOrUID string) clause.Expr {
	return clause.Expr{SQL: "id = ? DESC", Vars: []any{idOrUID}}
}

// MigrationsVersion returns a short hash of the embedded migrations, naming
// a schema version (used by tests to reuse a migrated template database).
func MigrationsVersion() string {
	h := sha256.New()
	_ = fs.WalkDir(migrations, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := migrations.ReadFile(path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}
