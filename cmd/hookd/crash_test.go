package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookd/hookd/internal/redistest"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/worker"
)

var hookdBinary struct {
	once sync.Once
	path string
	err  error
}

// buildHookd builds the real binary once per test run.
func buildHookd(t *testing.T) string {
	t.Helper()
	hookdBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "hookd-bin-")
		if err != nil {
			hookdBinary.err = err
			return
		}
		hookdBinary.path = filepath.Join(dir, "hookd")
		out, err := exec.Command("go", "build", "-o", hookdBinary.path, ".").CombinedOutput()
		if err != nil {
			hookdBinary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if hookdBinary.err != nil {
		t.Fatal(hookdBinary.err)
	}
	return hookdBinary.path
}

// process is a running hookd subcommand.
type process struct {
	cmd    *exec.Cmd
	logs   *bytes.Buffer
	exited chan struct{} // closed when the process has exited
	err    error         // its exit error, once exited
}

// wait waits for the process to exit and returns its exit error.
func (p *process) wait() error {
	<-p.exited
	return p.err
}

// startHookd runs `hookd <role>` with env and stops it (SIGKILL) at cleanup
// if it still runs.
func startHookd(t *testing.T, role string, env map[string]string) *process {
	t.Helper()
	cmd := exec.Command(buildHookd(t), role)
	cmd.WaitDelay = 10 * time.Second // Wait returns even if a pipe stays open
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &process{cmd: cmd, logs: &bytes.Buffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &lockedWriter{w: p.logs}, &lockedWriter{w: p.logs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = p.wait()
		if t.Failed() {
			t.Logf("hookd %s output:\n%s", role, p.logs.String())
		}
	})
	return p
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// countingReceiver answers 200 after delay and counts deliveries per webhook-id.
type countingReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	seen  map[string]int
	total int
}

func newCountingReceiver(t *testing.T, delay time.Duration) *countingReceiver {
	r := &countingReceiver{seen: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		time.Sleep(delay)
		r.mu.Lock()
		r.seen[req.Header.Get("webhook-id")]++
		r.total++
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *countingReceiver) counts() (distinct, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen), r.total
}

// crashEnv is the environment of an api or worker process on a fresh
// database and its own queue.
func crashEnv(t *testing.T, key string) map[string]string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return map[string]string{
		"HOOKD_DB_DSN":                 postgrestest.NewDSN(t),
		"HOOKD_REDIS_DSN":              redistest.DSN(),
		"HOOKD_QUEUE":                  "crash-" + hex.EncodeToString(b[:]),
		"HOOKD_ADMIN_API_KEY":          key,
		"HOOKD_WHITELIST_SUBNETS":      "127.0.0.0/8",
		"HOOKD_LISTEN_ADDRESS":         freeAddr(t),
		"HOOKD_RECONCILER_INTERVAL":    "200ms",
		"HOOKD_RECONCILER_GRACE":       "1s",
		"HOOKD_WORKER_CONCURRENCY":     "20",
		"HOOKD_RETRY_SCHEDULE":         "200ms,200ms,200ms",
		"HOOKD_LOG_LEVEL":              "warn",
		"HOOKD_SHUTDOWN_TIMEOUT":       "10s",
		"HOOKD_WORKER_REQUEST_TIMEOUT": "5s",
		"HOOKD_DB_MAX_CONNECTIONS":     "8",
	}
}

// apiCall sends a JSON request with key and fails the test unless it gets want.
func apiCall(t *testing.T, base, key, method, path string, body any, want int) []byte {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, base+path, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, res.StatusCode, want, buf.String())
	}
	return buf.Bytes()
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// deliveryCounts queries Postgres directly: deliveries by status and attempts.
func deliveryCounts(t *testing.T, dsn string) (succeeded, total, attempts, duplicateAttempts int) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	// The test machine's PostgreSQL may be at max_connections for a moment
	// while other tests run: wait for a free connection.
	for deadline := time.Now().Add(30 * time.Second); isTooManyClients(err) && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		conn, err = pgx.Connect(ctx, dsn)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 0), count(*) FROM deliveries`).Scan(&succeeded, &total)
	if err != nil {
		t.Fatal(err)
	}
	err = conn.QueryRow(ctx, `SELECT count(*), count(*) - count(DISTINCT delivery_id) FROM attempts WHERE status = 0`).
		Scan(&attempts, &duplicateAttempts)
	if err != nil {
		t.Fatal(err)
	}
	return
}

// isTooManyClients reports PostgreSQL's "too many clients already" (53300).
func isTooManyClients(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "53300"
}

// prepareApp waits for the API at base, then creates the application
// "crash" with one endpoint at url.
func prepareApp(t *testing.T, base, key, url string) {
	t.Helper()
	waitUntil(t, 30*time.Second, "the API", func() bool {
		res, err := http.Get(base + "/api/v1/health/ping")
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == http.StatusNoContent
	})
	apiCall(t, base, key, http.MethodPost, "/api/v1/app", map[string]any{"name": "crash", "uid": "crash"}, http.StatusCreated)
	apiCall(t, base, key, http.MethodPost, "/api/v1/app/crash/endpoint", map[string]any{"url": url}, http.StatusCreated)
}

func publishMany(t *testing.T, base, key string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			apiCall(t, base, key, http.MethodPost, "/api/v1/app/crash/msg",
				map[string]any{"eventType": "order.paid", "payload": map[string]any{"n": i}}, http.StatusAccepted)
		}(i)
	}
	wg.Wait()
}

// TestWorkerKilledLosesNothing publishes 500 messages to a slow receiver,
// kills the worker with SIGKILL while deliveries are in flight, starts it
// again, and checks that every delivery succeeds and is recorded once.
func TestWorkerKilledLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	t.Parallel()
	key := "crash_test_admin_key_" + hex.EncodeToString([]byte("0123456789"))
	env := crashEnv(t, key)
	base := "http://" + env["HOOKD_LISTEN_ADDRESS"]
	rcv := newCountingReceiver(t, 20*time.Millisecond)

	startHookd(t, "api", env)
	prepareApp(t, base, key, rcv.URL)
	const messages = 500
	publishMany(t, base, key, messages)

	w1 := startHookd(t, "worker", env)
	waitUntil(t, 30*time.Second, "deliveries in flight", func() bool { _, total := rcv.counts(); return total >= 60 })
	if err := w1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = w1.wait()
	_, before := rcv.counts()
	startHookd(t, "worker", env)

	// In-flight tasks of the killed worker come back when asynq's lease
	// expires (30 s) and its recoverer runs (every minute).
	waitUntil(t, 150*time.Second, "every delivery to succeed", func() bool {
		ok, total, _, _ := deliveryCounts(t, env["HOOKD_DB_DSN"])
		return total == messages && ok == messages
	})
	_, total, attempts, dup := deliveryCounts(t, env["HOOKD_DB_DSN"])
	distinct, received := rcv.counts()
	t.Logf("killed after %d requests; receiver got %d requests for %d messages; %d deliveries, %d successful attempts",
		before, received, distinct, total, attempts)
	if distinct != messages {
		t.Errorf("receiver saw %d distinct webhook-ids, want %d", distinct, messages)
	}
	if attempts != messages || dup != 0 {
		t.Errorf("%d successful attempts recorded (%d duplicates), want exactly %d", attempts, dup, messages)
	}
}

// TestRedisDataLossIsReconciled drops the queue's data in Redis with
// deliveries pending; the reconciler rebuilds it from Postgres.
func TestRedisDataLossIsReconciled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	t.Parallel()
	key := "flush_test_admin_key_" + hex.EncodeToString([]byte("0123456789"))
	env := crashEnv(t, key)
	base := "http://" + env["HOOKD_LISTEN_ADDRESS"]
	rcv := newCountingReceiver(t, 0)

	startHookd(t, "api", env)
	prepareApp(t, base, key, rcv.URL)
	const messages = 50
	publishMany(t, base, key, messages)

	// Lose every queued task (what FLUSHALL or a Redis without persistence
	// restarting would do to this queue), before any worker ran.
	redisOpt, _ := asynq.ParseRedisURI(env["HOOKD_REDIS_DSN"])
	insp := asynq.NewInspector(redisOpt)
	defer insp.Close()
	if err := insp.DeleteQueue(env["HOOKD_QUEUE"], true); err != nil {
		t.Fatalf("deleting the queue: %v", err)
	}
	t.Cleanup(func() {
		_ = insp.DeleteQueue(env["HOOKD_QUEUE"], true)
		_ = insp.DeleteQueue(worker.RetryQueue(env["HOOKD_QUEUE"]), true)
	})

	startHookd(t, "worker", env)
	waitUntil(t, 60*time.Second, "every delivery to succeed", func() bool {
		ok, total, _, _ := deliveryCounts(t, env["HOOKD_DB_DSN"])
		return total == messages && ok == messages
	})
	if distinct, _ := rcv.counts(); distinct != messages {
		t.Fatalf("receiver saw %d distinct messages, want %d", distinct, messages)
	}
}

// TestSigtermFinishesInFlight stops a worker with SIGTERM while a slow
// delivery is in flight: the request completes and is recorded.
func TestSigtermFinishesInFlight(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	t.Parallel()
	key := "term_test_admin_key_" + hex.EncodeToString([]byte("0123456789"))
	env := crashEnv(t, key)
	base := "http://" + env["HOOKD_LISTEN_ADDRESS"]
	started := make(chan struct{}, 1)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case started <- struct{}{}:
		default:
		}
		time.Sleep(2 * time.Second)
	}))
	t.Cleanup(rcv.Close)

	p := startHookd(t, "serve", env)
	prepareApp(t, base, key, rcv.URL)
	publishMany(t, base, key, 1)
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("delivery never started")
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Fatalf("hookd exited with %v after SIGTERM", p.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("hookd did not exit after SIGTERM")
	}
	if ok, total, attempts, _ := deliveryCounts(t, env["HOOKD_DB_DSN"]); ok != 1 || total != 1 || attempts != 1 {
		t.Fatalf("after SIGTERM: %d/%d deliveries succeeded, %d attempts; want the in-flight one finished", ok, total, attempts)
	}
}
