package redistest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookd/hookd/internal/enginetest"
)

// Server is one redis-server process of a test, on a loopback port, in a
// directory of its own. It is killed when the test ends.
type Server struct {
	// Addr is the server's host:port on 127.0.0.1.
	Addr string
	// Dir holds its configuration, log and data.
	Dir string

	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has exited
}

// RequireBinaries skips t unless every named program is on PATH: the
// process-starting helpers need redis-server (and redis-cli for a cluster).
func RequireBinaries(t testing.TB, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			t.Skipf("%s is not installed (Debian: apt-get install redis-server, which brings redis-cli): "+
				"this test starts its own Redis processes", name)
		}
	}
}

// StartServer starts a standalone redis-server of t's own, without
// persistence, and returns once it answers. It skips t when redis-server is
// missing. Its DSN is "redis://" + Addr + "/0".
func StartServer(t testing.TB) *Server {
	t.Helper()
	RequireBinaries(t, "redis-server")
	port := enginetest.FreePort(t)
	return startServer(t, fmt.Sprintf("127.0.0.1:%d", port), []string{
		"port " + strconv.Itoa(port), "bind 127.0.0.1", "protected-mode no", "appendonly no", `save ""`,
	}, false)
}

// startServer writes conf (redis.conf lines) into a new directory and runs
// redis-server on it, as a sentinel when sentinel is set, then waits until
// it answers PING. The port is in conf; the test's cleanup kills it.
func startServer(t testing.TB, addr string, conf []string, sentinel bool) *Server {
	t.Helper()
	dir := t.TempDir()
	s := &Server{Addr: addr, Dir: dir, exited: make(chan struct{})}
	conf = append(conf, "dir "+dir, "logfile "+filepath.Join(dir, "redis.log"))
	confPath := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(confPath, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{confPath}
	if sentinel {
		args = append(args, "--sentinel")
	}
	s.cmd = exec.Command("redis-server", args...)
	s.cmd.Dir = dir
	var out bytes.Buffer
	s.cmd.Stdout, s.cmd.Stderr = &out, &out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		_ = s.Kill()
		if t.Failed() {
			t.Logf("redis %s (%s) log tail:\n%s", s.Addr, dir, s.logTail(30))
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := s.Client()
	defer c.Close()
	for c.Ping(ctx).Err() != nil {
		select {
		case <-s.exited:
			t.Fatalf("redis-server %s exited at start: %s\n%s", addr, out.String(), s.logTail(20))
		case <-ctx.Done():
			t.Fatalf("redis-server %s did not answer within 20s:\n%s", addr, s.logTail(20))
		case <-time.After(20 * time.Millisecond):
		}
	}
	return s
}

// Client returns a client of this server alone; the caller closes it.
func (s *Server) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second})
}

// Kill stops the server with SIGKILL, as a crash would, and waits until it
// has exited. Killing a stopped server does nothing.
func (s *Server) Kill() error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	if err := s.cmd.Process.Kill(); err != nil {
		return err
	}
	<-s.exited
	return nil
}

// Alive reports whether the process still runs.
func (s *Server) Alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// CommandStats returns the server's calls per command since it started
// (INFO commandstats), keyed by lower-case command name ("evalsha").
func (s *Server) CommandStats(ctx context.Context) (map[string]int64, error) {
	c := s.Client()
	defer c.Close()
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, fmt.Errorf("INFO commandstats of %s: %w", s.Addr, err)
	}
	stats := map[string]int64{}
	for _, line := range strings.Split(info, "\n") {
		// cmdstat_evalsha:calls=12,usec=345,usec_per_call=28.75,...
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		var calls int64
		if _, err := fmt.Sscanf(rest, "calls=%d", &calls); err == nil {
			stats[strings.TrimPrefix(name, "cmdstat_")] = calls
		}
	}
	return stats, nil
}

// CPU returns the CPU time the server has used (INFO cpu: used_cpu_user
// and used_cpu_sys).
func (s *Server) CPU(ctx context.Context) (time.Duration, error) {
	var total float64
	for _, field := range []string{"used_cpu_user", "used_cpu_sys"} {
		v, err := s.info(ctx, "cpu", field)
		if err != nil {
			return 0, err
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("INFO cpu %s of %s: %q", field, s.Addr, v)
		}
		total += f
	}
	return time.Duration(total * float64(time.Second)), nil
}

// info returns one field of INFO section on this server ("" if absent).
func (s *Server) info(ctx context.Context, section, field string) (string, error) {
	c := s.Client()
	defer c.Close()
	text, err := c.Info(ctx, section).Result()
	if err != nil {
		return "", err
	}
	return infoField(text, field), nil
}

// infoField returns a field of INFO or CLUSTER INFO text.
func infoField(text, field string) string {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}

// logTail returns the last n lines of the server's log.
func (s *Server) logTail(n int) string {
	return enginetest.LastLines(filepath.Join(s.Dir, "redis.log"), n)
}
