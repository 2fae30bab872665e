package postgrestest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// runPrefix starts the name of every database this process creates. It is
// random per process: test binaries of several packages (and of other
// checkouts on the same server) run at once, and each looks only at its own.
var runPrefix = "hookd_test_" + randomHex(4) + "_"

// DatabaseName returns a new database name of this process, of the form
// hookd_test_<process>_<kind>_<random>. Tests that create a database by
// other means than NewDSN (to test creation itself, or with other options)
// name it with DatabaseName and drop it with DropDatabase, so that Main
// sees it if it is left behind.
func DatabaseName(kind string) string {
	return runPrefix + kind + "_" + randomHex(6)
}

// DropDatabase drops the database name (if it exists), closing the
// sessions still connected to it; a failure fails t. It opens its own
// connection, so it can run in a t.Cleanup after every other connection
// of the test is closed.
func DropDatabase(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := connect(ctx, t, "postgres")
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("dropping test database %s: %v", name, err)
	}
}

// Leftovers returns the databases this process created that still exist.
func Leftovers(ctx context.Context) ([]string, error) {
	conn, err := pgx.Connect(ctx, ServerDSN())
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1", runPrefix)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Main runs a package's tests (call it from TestMain: os.Exit(postgrestest.Main(m)))
// and then fails the run when a database the tests created was left behind:
// every test must drop what it creates. It returns the exit code.
func Main(m *testing.M) int {
	code := m.Run()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	left, err := Leftovers(ctx)
	switch {
	case err != nil:
		// No server, or the tests never needed one: nothing to check.
		if code == 0 {
			fmt.Fprintf(os.Stderr, "postgrestest: cannot check for leftover databases: %v\n", err)
		}
	case len(left) > 0:
		fmt.Fprintf(os.Stderr, "FAIL: the tests left %d database(s) behind: %v\n", len(left), left)
		if code == 0 {
			code = 1
		}
	}
	return code
}
