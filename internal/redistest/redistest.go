// Package redistest tells tests which Redis to use: HOOKD_TEST_REDIS_DSN,
// or the local server's database 0. Tests share it and keep apart by
// giving each run its own queue names and keys.
package redistest

import (
	"net/url"
	"os"
)

// DefaultDSN is used when HOOKD_TEST_REDIS_DSN is unset.
const DefaultDSN = "redis://127.0.0.1:6379/0"

// DSN returns the test Redis as a redis:// URL.
func DSN() string {
	if dsn := os.Getenv("HOOKD_TEST_REDIS_DSN"); dsn != "" {
		return dsn
	}
	return DefaultDSN
}

// Addr returns the test Redis's host:port.
func Addr() string {
	u, err := url.Parse(DSN())
	if err != nil || u.Host == "" {
		panic("HOOKD_TEST_REDIS_DSN must be a redis:// URL")
	}
	return u.Host
}
