package postgres

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsUnavailable reports whether err, returned by one of the stores, means
// that PostgreSQL could not be reached or is not accepting work right now
// (refused or dropped connection, server shutting down or starting up, too
// many connections): a condition that passes, where the caller should
// answer "try again later" rather than report a bug. Errors of a statement
// PostgreSQL did run (a constraint, bad input) are not.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"): // connection_exception
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
			return true
		case pgErr.Code == "53300": // too_many_connections
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr):
		return true
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	case pgconn.Timeout(err):
		return true
	}
	// pgx reports a connection that broke mid-statement with errors of its
	// own, e.g. "conn closed" and "failed to deallocate cached statement".
	msg := err.Error()
	return strings.Contains(msg, "conn closed") ||
		strings.Contains(msg, "failed to connect")
}
