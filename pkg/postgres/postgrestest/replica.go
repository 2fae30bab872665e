package postgrestest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/internal/enginetest"
)

// Server is one PostgreSQL server process of a test, on a loopback port,
// with its data directory in a temporary directory of its own. It is
// stopped, and its directory removed, when the test ends.
type Server struct {
	// Port is its TCP port on 127.0.0.1.
	Port int
	// Dir holds the data directory (Dir/data) and the server's log.
	Dir string

	bin    string
	cred   *syscall.Credential
	cmd    *exec.Cmd
	exited chan struct{}
}

// Replicated is a primary and a streaming replica of it (a hot standby
// made with pg_basebackup -R -X stream), as an installation with a read
// replica runs them.
type Replicated struct {
	Primary, Replica *Server
}

// StartReplicated starts a PostgreSQL server of t's own (initdb, trust
// authentication, fsync off) and a streaming replica of it, each on a free
// loopback port, and returns once the replica is in recovery and
// connected to the primary. It skips t when the server programs are
// missing. As root it runs them as the user postgres, which PostgreSQL
// requires. Both are stopped at t's cleanup.
func StartReplicated(t testing.TB) *Replicated {
	t.Helper()
	bin := serverBinDir(t)
	cred := serverCredential(t)
	primary := newServer(t, bin, cred, "primary")
	primary.run(t, "initdb", "-D", primary.data(), "-U", "postgres", "--auth=trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	primary.start(t)

	replica := newServer(t, bin, cred, "replica")
	replica.run(t, "pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(primary.Port), "-U", "postgres",
		"-D", replica.data(), "-R", "-X", "stream", "-c", "fast", "--no-sync")
	replica.start(t)
	enginetest.Await(t, 30*time.Second, "postgrestest: the replica streams from the primary", func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, primary.DSN("postgres"))
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'").Scan(&n); err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("%d streaming replicas", n)
		}
		return nil
	})
	return &Replicated{Primary: primary, Replica: replica}
}

// DSN returns the URL of database on this server.
func (s *Server) DSN(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, database)
}

// WaitReplayed waits until the replica has replayed everything the primary
// had written when it was called.
func (r *Replicated) WaitReplayed(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, r.Primary.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var lsn string
	// The insert position: with commits not yet flushed, the write
	// position can be short of the last commit.
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	enginetest.Await(t, 30*time.Second, "postgrestest: the replica replays up to "+lsn, func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, r.Replica.DSN("postgres"))
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		var behind bool
		err = conn.QueryRow(ctx, "SELECT pg_last_wal_replay_lsn() < $1::pg_lsn", lsn).Scan(&behind)
		if err == nil && behind {
			err = fmt.Errorf("not yet")
		}
		return err
	})
}

// serverBinDir finds the directory of initdb, postgres and pg_basebackup:
// initdb's on PATH (links followed), else Debian's
// /usr/lib/postgresql/<version>/bin, off PATH (the newest wins).
func serverBinDir(t testing.TB) string {
	t.Helper()
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if p, err = filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(p))
		}
	}
	debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(debian, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, dir := range append(dirs, debian...) {
		if complete(dir, "initdb", "postgres", "pg_basebackup") {
			return dir
		}
	}
	t.Skip("the PostgreSQL server programs (initdb, postgres, pg_basebackup) are not installed: " +
		"this test starts its own servers")
	return ""
}

func complete(dir string, programs ...string) bool {
	for _, p := range programs {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			return false
		}
	}
	return true
}

// serverCredential is the user the servers run as: nil (this process's)
// unless it is root, which PostgreSQL refuses; then postgres.
func serverCredential(t testing.TB) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Skipf("running as root and there is no user postgres to run PostgreSQL as: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

func newServer(t testing.TB, bin string, cred *syscall.Credential, name string) *Server {
	t.Helper()
	// Not t.TempDir: the server's user must own the directory and reach it.
	dir, err := os.MkdirTemp("", "hookd-pg-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	return &Server{Port: enginetest.FreePort(t), Dir: dir, bin: bin, cred: cred, exited: make(chan struct{})}
}

func (s *Server) data() string { return filepath.Join(s.Dir, "data") }

func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.Dir
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

// run runs one of the server programs to its end, failing t if it fails.
func (s *Server) run(t testing.TB, name string, args ...string) {
	t.Helper()
	out, err := s.command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

// start runs postgres on the data directory and waits until it accepts
// connections; the cleanup stops it (fast shutdown) and waits for its end.
func (s *Server) start(t testing.TB) {
	t.Helper()
	logPath := filepath.Join(s.Dir, "postgres.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = s.command("postgres", "-D", s.data(), "-p", strconv.Itoa(s.Port), "-k", s.Dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=50", "-c", "shared_buffers=32MB")
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting postgres: %v", err)
	}
	go func() {
		_ = s.cmd.Wait()
		_ = logFile.Close()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("postgres on port %d, log tail:\n%s", s.Port, enginetest.LastLines(logPath, 20))
		}
	})
	enginetest.Await(t, 30*time.Second, fmt.Sprintf("postgrestest: postgres on port %d accepts connections", s.Port), func(ctx context.Context) error {
		select {
		case <-s.exited:
			t.Fatalf("postgres on port %d exited at start:\n%s", s.Port, enginetest.LastLines(logPath, 20))
		default:
		}
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	})
}

// stop asks the server for a fast shutdown (SIGINT), then kills it after
// 10 s, and waits until it has exited.
func (s *Server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}
