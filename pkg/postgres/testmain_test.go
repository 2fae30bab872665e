package postgres_test

import (
	"os"
	"testing"

	"github.com/hookd/hookd/pkg/postgres/postgrestest"
)

// TestMain fails the package's run when a test left a database behind.
func TestMain(m *testing.M) { os.Exit(postgrestest.Main(m)) }
