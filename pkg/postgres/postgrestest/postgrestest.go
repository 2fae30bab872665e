// Package postgrestest gives each test its own migrated PostgreSQL database,
// so tests and packages can run in parallel against the real server.
//
// The server is HOOKD_TEST_DB_DSN (default: the local server, user postgres).
// A template database is migrated once per set of migrations and cloned for
// every test (CREATE DATABASE ... TEMPLATE), then dropped in t.Cleanup.
//
// Every database a test process creates is named with that process's own
// prefix (DatabaseName), so that Main can tell, after the package's tests,
// whether any was left behind, without looking at the databases of test
// processes running at the same time.
package postgrestest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/secretbox"
)

// DefaultServerDSN is used when HOOKD_TEST_DB_DSN is unset.
const DefaultServerDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerDSN returns the DSN of the test server's maintenance database.
func ServerDSN() string {
	if dsn := os.Getenv("HOOKD_TEST_DB_DSN"); dsn != "" {
		return dsn
	}
	return DefaultServerDSN
}

var template struct {
	once sync.Once
	name string
	err  error
}

// NewDSN creates a fresh, migrated database for t and returns its DSN. The
// database is dropped when the test ends.
func NewDSN(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	template.once.Do(func() { template.name, template.err = ensureTemplate(ctx) })
	if template.err != nil {
		t.Fatalf("preparing template database: %v", template.err)
	}
	name := DatabaseName("db")
	conn := connect(ctx, t, "postgres")
	defer conn.Close(ctx)
	// Several packages clone the template at once; Postgres refuses a clone
	// while another session is connected to the template, so retry briefly.
	var err error
	for i := 0; i < 50; i++ {
		_, err = conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s",
			pgx.Identifier{name}.Sanitize(), pgx.Identifier{template.name}.Sanitize()))
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() { DropDatabase(t, name) })
	return DSNFor(name)
}

// NewDB returns an open *postgres.DB on a fresh database, closed at cleanup.
func NewDB(t testing.TB, box *secretbox.Box) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), NewDSN(t), postgres.Options{Box: box, MaxOpenConns: 5})
	if err != nil {
		t.Fatalf("opening test database: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// ensureTemplate creates and migrates the template database once per
// migration set; concurrent test binaries coordinate with an advisory lock.
func ensureTemplate(ctx context.Context) (string, error) {
	name := "hookd_test_tmpl_" + postgres.MigrationsVersion()
	cfg, err := pgx.ParseConfig(ServerDSN())
	if err != nil {
		return "", err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(7243)"); err != nil {
		return "", err
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock(7243)") //nolint:errcheck
	var exists bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if err != nil || exists {
		return name, err
	}
	building := name + "_building"
	_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{building}.Sanitize()+" WITH (FORCE)")
	db, err := postgres.Open(ctx, DSNFor(building), postgres.Options{MaxOpenConns: 1})
	if err != nil {
		return "", err
	}
	_, err = db.Migrate(ctx)
	_ = db.Close()
	if err != nil {
		return "", err
	}
	_, err = conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s",
		pgx.Identifier{building}.Sanitize(), pgx.Identifier{name}.Sanitize()))
	return name, err
}

func connect(ctx context.Context, t testing.TB, database string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(ServerDSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database = database
	conn, err := pgx.ConnectConfig(ctx, cfg)
	// Test binaries share one server: wait a little when it is at
	// max_connections ("too many clients already", 53300) for a moment.
	for deadline := time.Now().Add(30 * time.Second); tooManyClients(err) && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		conn, err = pgx.ConnectConfig(ctx, cfg)
	}
	if err != nil {
		t.Fatalf("connecting to test postgres: %v", err)
	}
	return conn
}

// tooManyClients reports PostgreSQL's "too many clients already".
func tooManyClients(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "53300"
}

// DSNFor returns the test server's DSN with another database name.
func DSNFor(database string) string {
	u, err := url.Parse(ServerDSN())
	if err != nil {
		panic("HOOKD_TEST_DB_DSN must be a postgres:// URL: " + err.Error())
	}
	u.Path = "/" + database
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NewDBWith is NewDB with options (the pool size defaults to 5).
func NewDBWith(t testing.TB, opt postgres.Options) *postgres.DB {
	t.Helper()
	if opt.MaxOpenConns == 0 {
		opt.MaxOpenConns = 5
	}
	db, err := postgres.Open(context.Background(), NewDSN(t), opt)
	if err != nil {
		t.Fatalf("opening test database: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}
