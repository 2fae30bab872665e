package postgrestest

import (
	"context"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// Leftovers finds a database of this process that was not dropped, and
// only databases of this process.
func TestLeftoversFindsWhatWasNotDropped(t *testing.T) {
	ctx := context.Background()
	name := DatabaseName("leftover")
	if !strings.HasPrefix(name, runPrefix) || strings.HasPrefix(name, "hookd_test_tmpl_") {
		t.Fatalf("DatabaseName = %q, want the prefix %q", name, runPrefix)
	}
	other := "hookd_test_" + randomHex(4) + "_db_" + randomHex(6) // another process's
	conn := connect(ctx, t, "postgres")
	defer conn.Close(ctx)
	for _, db := range []string{name, other} {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { DropDatabase(t, db) })
	}

	left, err := Leftovers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(left, name) || slices.Contains(left, other) {
		t.Fatalf("Leftovers = %v, want %s and not %s", left, name, other)
	}
	DropDatabase(t, name)
	if left, err = Leftovers(ctx); err != nil || slices.Contains(left, name) {
		t.Fatalf("after the drop, Leftovers = %v, %v", left, err)
	}
}

// A test database from NewDSN is dropped when its test ends.
func TestNewDSNIsDropped(t *testing.T) {
	var dsn string
	t.Run("uses a database", func(t *testing.T) { dsn = NewDSN(t) })
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if !strings.HasPrefix(name, runPrefix) {
		t.Fatalf("NewDSN named its database %q, want the prefix %q", name, runPrefix)
	}
	left, err := Leftovers(context.Background())
	if err != nil || slices.Contains(left, name) {
		t.Fatalf("after its test, Leftovers = %v, %v: %s was not dropped", left, err, name)
	}
}
