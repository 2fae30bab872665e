package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/internal/redistest"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/worker"
)

// testBundle is a running hookd (API and worker) on its own Postgres database
// and asynq queue, and an admin key of its default organisation.
type testBundle struct {
	main     *Main
	url      string // base URL, e.g. http://127.0.0.1:41234
	key      string // HOOKD_ADMIN_API_KEY
	dbDSN    string
	redisDSN string
	queue    string // HOOKD_QUEUE
}

// setup starts hookd for t and stops it when t ends.
func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupWithEnv(t, nil)
}

// setupWithEnv is setup with extra HOOKD_* variables that override the
// harness's own.
func setupWithEnv(t *testing.T, extra map[string]string) *testBundle {
	t.Helper()
	return setupWith(t, setupOptions{env: extra})
}

// setupOptions tunes setupWith.
type setupOptions struct {
	// env holds HOOKD_* variables that override the harness's own.
	env map[string]string
	// logs, when set, receives every log line of the server as well as t.Log.
	logs io.Writer
}

// setupWith is setup with options.
func setupWith(t *testing.T, opt setupOptions) *testBundle {
	t.Helper()
	extra := opt.env
	b := &testBundle{
		key:      randomKey(t),
		dbDSN:    postgrestest.NewDSN(t),
		redisDSN: redistest.DSN(),
		queue:    newQueue(t),
	}
	environ := map[string]string{
		"HOOKD_LISTEN_ADDRESS": "127.0.0.1:0",
		"HOOKD_DB_DSN":         b.dbDSN,
		"HOOKD_REDIS_DSN":      b.redisDSN,
		"HOOKD_QUEUE":          b.queue,
		"HOOKD_ADMIN_API_KEY":  b.key,
		"HOOKD_LOG_FORMAT":     "text",
		// Tests run many servers at once on one PostgreSQL (100 connections).
		"HOOKD_DB_MAX_CONNECTIONS": "8",
	}
	for k, v := range extra {
		environ[k] = v
	}
	cfg, err := LoadConfig(environ)
	if err != nil {
		t.Fatalf("loading config: %v", err)
	}
	logs := &testLogWriter{t: t}
	var logOut io.Writer = logs
	if opt.logs != nil {
		logOut = io.MultiWriter(logs, opt.logs)
	}
	m := NewMain(cfg, Roles{API: true, Worker: true}, logOut)
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		cancel()
		_ = m.Close()
		t.Fatalf("opening hookd: %v", err)
	}
	var runErr error
	done := make(chan struct{}) // closed when Run has returned runErr
	go func() {
		defer close(done)
		runErr = m.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
			if runErr != nil {
				t.Errorf("hookd Run: %v", runErr)
			}
		case <-time.After(45 * time.Second):
			t.Errorf("hookd Run did not return within 45s of cancel")
		}
		if err := m.Close(); err != nil {
			t.Errorf("hookd Close: %v", err)
		}
		logs.stop()
	})
	b.main, b.url = m, m.URL()
	waitReady(t, b.url, done, &runErr)
	return b
}

// waitReady polls the ping endpoint until it answers 204; it fails t when
// Run returns first (done closed, *runErr set) or nothing answers within
// 15 seconds.
func waitReady(t *testing.T, baseURL string, done <-chan struct{}, runErr *error) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-done:
			t.Fatalf("hookd Run returned before the server was ready: %v", *runErr)
		default:
		}
		resp, err := client.Get(baseURL + "/api/v1/health/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("hookd at %s not ready after 15s: last answer %s", baseURL, last)
}

// newQueue returns an asynq queue name of t's own on the shared Redis, and
// deletes the queue's keys when t ends: tests share one Redis database and
// never meet each other's tasks.
func newQueue(t *testing.T) string {
	t.Helper()
	queue := "test-" + randomHex(t, 6)
	t.Cleanup(func() {
		opt, err := worker.ParseRedisDSN(redistest.DSN())
		if err != nil {
			t.Fatal(err)
		}
		insp := asynq.NewInspector(opt)
		defer insp.Close()
		_ = insp.DeleteQueue(queue, true)
		_ = insp.DeleteQueue(worker.RetryQueue(queue), true)
	})
	return queue
}

// randomKey returns a valid HOOKD_ADMIN_API_KEY: 40 characters of [A-Za-z0-9_-].
func randomKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 30)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "test_" + base64.RawURLEncoding.EncodeToString(b)
}

// testLogWriter sends hookd's logs to t.Log (shown for failed tests and
// with -v) until stop, after which writes are dropped: t.Log panics once
// the test has ended.
type testLogWriter struct {
	t       *testing.T
	mu      sync.Mutex
	stopped bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testLogWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}

// get sends GET path with the given bearer token and returns the status.
func (b *testBundle) get(t *testing.T, path, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// runCLI runs the hookd command line with args and environ and returns its
// standard output and error.
func runCLI(t *testing.T, environ map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	err = run(ctx, args, environ, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestServe(t *testing.T) {
	t.Parallel()
	b := setup(t)

	// The health check covers Postgres and Redis.
	if got := b.get(t, "/api/v1/health", ""); got != http.StatusNoContent {
		t.Errorf("GET /api/v1/health = %d, want 204", got)
	}
	// HOOKD_ADMIN_API_KEY is a working key; anything else is refused.
	if got := b.get(t, "/api/v1/app", b.key); got != http.StatusOK {
		t.Errorf("GET /api/v1/app with the admin key = %d, want 200", got)
	}
	if got := b.get(t, "/api/v1/app", randomKey(t)); got != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/app with an unknown key = %d, want 401", got)
	}
	if got := b.get(t, "/api/v1/app", ""); got != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/app without a key = %d, want 401", got)
	}
}

func TestKeysCreate(t *testing.T) {
	t.Parallel()
	b := setup(t)

	stdout, stderr, err := runCLI(t, map[string]string{"HOOKD_DB_DSN": b.dbDSN}, "keys", "create", "--org", "acme")
	if err != nil {
		t.Fatalf("keys create: %v\nstderr:\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	key := lines[len(lines)-1]
	if key == "" || strings.ContainsAny(key, " \t") {
		t.Fatalf("last line of keys create output is %q, want the key alone; output:\n%s", key, stdout)
	}
	if got := b.get(t, "/api/v1/app", key); got != http.StatusOK {
		t.Errorf("GET /api/v1/app with the created key = %d, want 200", got)
	}

	// A second key of the same organisation is a different, working key.
	stdout, _, err = runCLI(t, map[string]string{"HOOKD_DB_DSN": b.dbDSN}, "keys", "create", "--org", "acme")
	if err != nil {
		t.Fatalf("second keys create: %v", err)
	}
	lines = strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	if second := lines[len(lines)-1]; second == key {
		t.Errorf("keys create printed the same key twice")
	} else if got := b.get(t, "/api/v1/app", second); got != http.StatusOK {
		t.Errorf("GET /api/v1/app with the second key = %d, want 200", got)
	}
}

func TestKeysCreateUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"keys"},
		{"keys", "delete"},
		{"keys", "create", "--org", ""},
	} {
		if _, _, err := runCLI(t, map[string]string{}, args...); err == nil {
			t.Errorf("hookd %s succeeded, want an error", strings.Join(args, " "))
		}
	}
}

// TestMigrateCreatesDatabase runs migrate against a database that does not
// exist: the first run creates and migrates it, the second has nothing to do.
func TestMigrateCreatesDatabase(t *testing.T) {
	t.Parallel()
	name := postgrestest.DatabaseName("cli")
	dsn := postgrestest.DSNFor(name)
	t.Cleanup(func() { postgrestest.DropDatabase(t, name) })
	environ := map[string]string{"HOOKD_DB_DSN": dsn}

	for i := 1; i <= 2; i++ {
		if _, stderr, err := runCLI(t, environ, "migrate"); err != nil {
			t.Fatalf("migrate run %d: %v\nstderr:\n%s", i, err, stderr)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to the created database: %v", err)
	}
	defer conn.Close(ctx)
	var applied int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM goose_db_version WHERE version_id > 0 AND is_applied").Scan(&applied); err != nil {
		t.Fatalf("reading goose_db_version: %v", err)
	}
	if applied == 0 {
		t.Errorf("no migration recorded as applied")
	}
	var rows int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM goose_db_version WHERE version_id > 0").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != applied {
		t.Errorf("goose_db_version has %d rows for %d applied migrations: a migration ran twice?", rows, applied)
	}
}

// TestServeCreatesDatabase starts the server itself on a database that
// does not exist yet.
func TestServeCreatesDatabase(t *testing.T) {
	t.Parallel()
	name := postgrestest.DatabaseName("cli")
	// Registered first, so it runs after the server has stopped.
	t.Cleanup(func() { postgrestest.DropDatabase(t, name) })
	b := setupWithEnv(t, map[string]string{"HOOKD_DB_DSN": postgrestest.DSNFor(name)})
	if got := b.get(t, "/api/v1/app", b.key); got != http.StatusOK {
		t.Errorf("GET /api/v1/app = %d, want 200", got)
	}
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		cfg, err := LoadConfig(map[string]string{})
		if err != nil {
			t.Fatalf("LoadConfig with an empty environment: %v", err)
		}
		if cfg.ListenAddress != "127.0.0.1:8071" || cfg.HeaderPrefix != "webhook" || cfg.WorkerRequestTimeout != 15*time.Second {
			t.Errorf("unexpected defaults: %+v", cfg)
		}
		if len(cfg.RetrySchedule) != 7 || cfg.WorkerConcurrency <= 0 {
			t.Errorf("retry schedule %v, concurrency %d", cfg.RetrySchedule, cfg.WorkerConcurrency)
		}
		if cfg.DefaultSignatureType != "hmac" || cfg.EndpointVerification != "off" || cfg.PublishPublicKeys || cfg.egressProxy() != nil {
			t.Errorf("issue 14 defaults: %q %q %v %v", cfg.DefaultSignatureType, cfg.EndpointVerification, cfg.PublishPublicKeys, cfg.egressProxy())
		}
		if cfg.TransformationTimeout != 100*time.Millisecond {
			t.Errorf("HOOKD_TRANSFORMATION_TIMEOUT default %v, want 100ms", cfg.TransformationTimeout)
		}
	})

	t.Run("Valid", func(t *testing.T) {
		t.Parallel()
		cfg, err := LoadConfig(map[string]string{
			"HOOKD_ADMIN_API_KEY":     strings.Repeat("a", 24),
			"HOOKD_HEADER_PREFIX":     "svix",
			"HOOKD_WHITELIST_SUBNETS": "127.0.0.0/8, 10.0.0.0/8",
			"HOOKD_RETRY_SCHEDULE":    "1s,2s",

			"HOOKD_DEFAULT_SIGNATURE_TYPE": "ed25519",
			"HOOKD_ENDPOINT_VERIFICATION":  "required",
			"HOOKD_PUBLISH_PUBLIC_KEYS":    "true",
			"HOOKD_EGRESS_PROXY":           "socks5://user:pw@proxy.internal",
		})
		if err != nil {
			t.Fatalf("LoadConfig: %v", err)
		}
		if len(cfg.WhitelistSubnets) != 2 || len(cfg.RetrySchedule) != 2 || cfg.HeaderPrefix != "svix" {
			t.Errorf("unexpected config: %+v", cfg)
		}
		if p := cfg.egressProxy(); p == nil || p.Host != "proxy.internal:1080" || !cfg.PublishPublicKeys {
			t.Errorf("egress proxy %v, publish %v", p, cfg.PublishPublicKeys)
		}
	})

	// Each bad value fails with a message naming its variable.
	for _, tt := range []struct {
		name, value string
	}{
		// Parse errors.
		{"HOOKD_WORKER_REQUEST_TIMEOUT", "abc"},
		{"HOOKD_RETRY_SCHEDULE", "5s,,x"},
		{"HOOKD_RETRY_SCHEDULE", "5s,-1s"},
		{"HOOKD_WHITELIST_SUBNETS", "notacidr"},
		{"HOOKD_WORKER_CONCURRENCY", "many"},
		{"HOOKD_LOG_LEVEL", "loud"},
		{"HOOKD_ENDPOINT_HTTPS_ONLY", "yes please"},
		// Validation errors.
		{"HOOKD_ADMIN_API_KEY", "short"},
		{"HOOKD_ADMIN_API_KEY", strings.Repeat("a", 23) + "!"},
		{"HOOKD_HEADER_PREFIX", "foo"},
		{"HOOKD_WORKER_REQUEST_TIMEOUT", "0s"},
		{"HOOKD_REDIS_DSN", "mysql://localhost"},
		{"HOOKD_DB_DSN", "mysql://localhost/hookd"},
		{"HOOKD_DB_READ_DSN", "mysql://replica/hookd"},
		{"HOOKD_LOG_FORMAT", "xml"},
		{"HOOKD_QUEUE_SHARDS", "0"},
		{"HOOKD_QUEUE_SHARDS", "257"},
		{"HOOKD_DEFAULT_SIGNATURE_TYPE", "rsa"},
		{"HOOKD_ENDPOINT_VERIFICATION", "on"},
		{"HOOKD_PUBLISH_PUBLIC_KEYS", "maybe"},
		{"HOOKD_EGRESS_PROXY", "ftp://proxy:21"},
		{"HOOKD_EGRESS_PROXY", "http://proxy:3128/path"},
		{"HOOKD_TRANSFORMATION_TIMEOUT", "0s"},
		{"HOOKD_TRANSFORMATION_TIMEOUT", "1m"},
		{"HOOKD_TRANSFORMATION_TIMEOUT", "fast"},
	} {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			_, err := LoadConfig(map[string]string{tt.name: tt.value})
			if err == nil {
				t.Fatalf("LoadConfig accepted %s=%q", tt.name, tt.value)
			}
			if !strings.Contains(err.Error(), tt.name) {
				t.Errorf("error %q does not name %s", err, tt.name)
			}
		})
	}
}

// TestRunBadConfig checks that every subcommand reports a bad variable
// before touching anything.
func TestRunBadConfig(t *testing.T) {
	t.Parallel()
	environ := map[string]string{"HOOKD_HEADER_PREFIX": "foo"}
	for _, args := range [][]string{{"serve"}, {"api"}, {"worker"}, {"migrate"}, {"keys", "create"}} {
		_, _, err := runCLI(t, environ, args...)
		if err == nil || !strings.Contains(err.Error(), "HOOKD_HEADER_PREFIX") {
			t.Errorf("hookd %s: error %v, want one naming HOOKD_HEADER_PREFIX", strings.Join(args, " "), err)
		}
	}
}

func TestRunUsage(t *testing.T) {
	t.Parallel()
	if _, stderr, err := runCLI(t, nil); err == nil || !strings.Contains(stderr, "Usage") {
		t.Errorf("no subcommand: err %v, stderr %q", err, stderr)
	}
	if _, _, err := runCLI(t, nil, "frobnicate"); err == nil {
		t.Errorf("unknown subcommand succeeded")
	}
	stdout, _, err := runCLI(t, nil, "version")
	if err != nil || !strings.HasPrefix(stdout, "hookd ") {
		t.Errorf("version: %q, %v", stdout, err)
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
