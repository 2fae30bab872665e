//go:build cluster

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/bench"
	"github.com/hookd/hookd/internal/redistest"
)

// TestClusterCapacity measures what docs/scaling.md's capacity model
// rests on: `hookd bench` against `hookd api` and `hookd worker` on a
// Redis of its own, then on a Redis Cluster with one, three and six
// shards, reading the processes' CPU time and each Redis master's INFO
// commandstats and INFO cpu around each run. It only runs with
// HOOKD_CAPACITY=1 (a few minutes; the figures go to t.Log).
func TestClusterCapacity(t *testing.T) {
	if os.Getenv("HOOKD_CAPACITY") != "1" {
		t.Skip("set HOOKD_CAPACITY=1 to measure the capacity model")
	}
	messages := 20000
	if n, err := strconv.Atoi(os.Getenv("HOOKD_CAPACITY_MESSAGES")); err == nil && n > 0 {
		messages = n
	}
	single := redistest.StartServer(t)
	cluster := redistest.StartCluster(t, redistest.ClusterOptions{})
	masters, err := cluster.Masters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range []struct {
		name     string
		dsn      string
		servers  []*redistest.Server
		shards   int
		scenario string
	}{
		{"redis, 1 endpoint", "redis://" + single.Addr + "/0", []*redistest.Server{single}, 1, "one"},
		{"redis, 10 endpoints", "redis://" + single.Addr + "/0", []*redistest.Server{single}, 1, "fanout"},
		{"cluster, 1 shard, 10 endpoints", cluster.DSN(), masters, 1, "fanout"},
		{"cluster, 3 shards, 10 endpoints", cluster.DSN(), masters, 3, "fanout"},
		{"cluster, 6 shards, 10 endpoints", cluster.DSN(), masters, 6, "fanout"},
	} {
		t.Run(run.name, func(t *testing.T) {
			key := "capacity_admin_key_" + strings.Repeat("x", 12)
			env := scaleEnv(t, key, run.dsn, run.shards)
			env["HOOKD_WORKER_CONCURRENCY"] = "0"  // the defaults: 1,000 in flight,
			env["HOOKD_DB_MAX_CONNECTIONS"] = "20" // and 20 connections
			env["HOOKD_LOG_LEVEL"] = "error"
			base := "http://" + env["HOOKD_LISTEN_ADDRESS"]
			api := startHookd(t, "api", env)
			waitAPI(t, base)
			wrk := startHookd(t, "worker", env)

			// What an idle worker costs Redis: asynq polls every queue.
			waitUntil(t, 10*time.Second, "the worker to poll", func() bool {
				return workerPolls(t, run.servers) > 0
			})
			idleBefore := commandStats(t, run.servers)
			const idle = 5 * time.Second
			time.Sleep(idle) // a measurement window, not a wait for a condition
			idleScripts, _ := callsBetween(idleBefore, commandStats(t, run.servers))
			t.Logf("%s: idle worker: %.0f script calls/s", run.name, float64(idleScripts)/idle.Seconds())

			ctx := context.Background()
			before := commandStats(t, run.servers)
			redisBefore := redisCPU(t, run.servers)
			apiBefore, wrkBefore := procCPU(t, api), procCPU(t, wrk)
			msgs := messages
			if run.scenario == "fanout" {
				msgs = messages / 10
			}
			out, err := exec.CommandContext(ctx, buildHookd(t), "bench", "-url", base, "-key", key,
				"-scenarios", run.scenario, "-messages", fmt.Sprint(messages), "-json").CombinedOutput()
			if err != nil {
				t.Fatalf("hookd bench: %v\n%s", err, out)
			}
			apiCPU, wrkCPU := procCPU(t, api)-apiBefore, procCPU(t, wrk)-wrkBefore
			redisAfter := redisCPU(t, run.servers)
			after := commandStats(t, run.servers)
			var res bench.Result
			sc := bufio.NewScanner(strings.NewReader(string(out)))
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "{") {
					if err := json.Unmarshal(sc.Bytes(), &res); err != nil {
						t.Fatal(err)
					}
				}
			}
			if res.Delivered != res.Expected || res.Delivered == 0 {
				t.Fatalf("bench delivered %d of %d:\n%s", res.Delivered, res.Expected, out)
			}
			d := float64(res.Delivered)
			scripts, calls := callsBetween(before, after)
			var shares []string
			var redisTotal time.Duration
			for i, s := range run.servers {
				used := redisAfter[i] - redisBefore[i]
				redisTotal += used
				shares = append(shares, fmt.Sprintf("%s %v", s.Addr, used.Round(10*time.Millisecond)))
			}
			t.Logf("%s: %d messages, %d deliveries in %.1fs: %.0f publishes/s, %.0f deliveries/s (end to end p50 %v, p99 %v)",
				run.name, msgs, res.Delivered, res.Seconds, res.PublishPerSec, res.DeliverPerSec,
				res.EndToEnd.P50.Round(time.Millisecond), res.EndToEnd.P99.Round(time.Millisecond))
			t.Logf("  CPU: api %v (%.0f µs per message), worker %v (%.0f µs per delivery, %.0f deliveries per core-second)",
				apiCPU.Round(10*time.Millisecond), float64(apiCPU.Microseconds())/float64(msgs),
				wrkCPU.Round(10*time.Millisecond), float64(wrkCPU.Microseconds())/d, d/wrkCPU.Seconds())
			t.Logf("  Redis: %.1f script calls and %.1f commands per delivery; CPU %v (%.0f µs per delivery): %s",
				float64(scripts)/d, float64(calls)/d, redisTotal.Round(10*time.Millisecond),
				float64(redisTotal.Microseconds())/d, strings.Join(shares, ", "))
			t.Logf("  by command: %s", perDelivery(before, after, res.Delivered))
		})
	}
}

// callsBetween returns the script calls and all calls between two
// commandStats of the same servers.
func callsBetween(before, after []map[string]int64) (scripts, calls int64) {
	for i := range after {
		for cmd, n := range after[i] {
			calls += n - before[i][cmd]
			if strings.HasPrefix(cmd, "eval") {
				scripts += n - before[i][cmd]
			}
		}
	}
	return scripts, calls
}

// workerPolls returns the script calls the servers have run so far.
func workerPolls(t *testing.T, servers []*redistest.Server) int64 {
	t.Helper()
	var n int64
	for _, st := range commandStats(t, servers) {
		n += st["evalsha"]
	}
	return n
}

// procCPU returns the CPU time (user and system) process p has used, from
// /proc/<pid>/stat.
func procCPU(t *testing.T, p *process) time.Duration {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command name (in parentheses): utime and stime
	// are the 12th and 13th, in clock ticks of 1/100 s.
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// redisCPU returns each server's CPU time.
func redisCPU(t *testing.T, servers []*redistest.Server) []time.Duration {
	t.Helper()
	cpu := make([]time.Duration, len(servers))
	for i, s := range servers {
		c, err := s.CPU(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		cpu[i] = c
	}
	return cpu
}
