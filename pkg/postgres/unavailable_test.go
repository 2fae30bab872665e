package postgres_test

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/webhook"
)

// The outage itself is tested for real in api (TestPostgresOutageAnswers503);
// this covers the errors that are hard to cause on purpose.
func TestIsUnavailable(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return fmt.Errorf("loading app: %w", err) }
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		// The server is down, going down, starting, or full.
		{"connection refused", wrap(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), true},
		{"connection dropped", wrap(io.ErrUnexpectedEOF), true},
		{"bad connection", wrap(driver.ErrBadConn), true},
		{"connection exception", wrap(&pgconn.PgError{Code: "08006"}), true},
		{"admin shutdown", wrap(&pgconn.PgError{Code: "57P01"}), true},
		{"starting up", wrap(&pgconn.PgError{Code: "57P03"}), true},
		{"too many connections", wrap(&pgconn.PgError{Code: "53300"}), true},
		{"pgx's own", errors.New("conn closed"), true},

		// The statement ran and failed: a bug or bad input, not an outage.
		{"nil", nil, false},
		{"unique violation", wrap(&pgconn.PgError{Code: "23505"}), false},
		{"invalid byte sequence", wrap(&pgconn.PgError{Code: "22021"}), false},
		{"not found", gorm.ErrRecordNotFound, false},
		{"application error", webhook.Errorf(webhook.ENOTFOUND, "app not found"), false},
		{"anything else", errors.New("decoding a JSON column"), false},
	} {
		if got := postgres.IsUnavailable(tt.err); got != tt.want {
			t.Errorf("%s: IsUnavailable(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
