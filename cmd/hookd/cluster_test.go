//go:build cluster

package main

import (
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/redistest"
	"github.com/hookd/hookd/worker"
)

// These tests start real Redis Clusters and Sentinel setups and the real
// binary: `go test -tags cluster` (make test/cluster).

// failoverRate is the offered publish rate of the failover tests.
const failoverRate = 200

// workerConcurrency is HOOKD_WORKER_CONCURRENCY in these tests: at most
// this many attempts are in flight in one worker process.
const workerConcurrency = 20

// scaleEnv is crashEnv on redisDSN with shards queue shards.
func scaleEnv(t *testing.T, key, redisDSN string, shards int) map[string]string {
	env := crashEnv(t, key)
	env["HOOKD_REDIS_DSN"] = redisDSN
	env["HOOKD_QUEUE_SHARDS"] = fmt.Sprint(shards)
	env["HOOKD_WORKER_CONCURRENCY"] = fmt.Sprint(workerConcurrency)
	env["HOOKD_API_RATE_LIMIT"] = "0"
	// Longer than a failover and than any wait in the queue, as in
	// production (1m): the reconciler takes up what no queue holds, and
	// does not race the tasks that are queued.
	env["HOOKD_RECONCILER_GRACE"] = "5s"
	return env
}

// TestClusterShardsShareTheLoad runs hookd on a Redis Cluster of three
// masters with three queue shards, publishes as many deliveries to each
// shard, and checks with INFO commandstats that each master did its share
// of the work. With one shard, one master does it all.
func TestClusterShardsShareTheLoad(t *testing.T) {
	c := redistest.StartCluster(t, redistest.ClusterOptions{})
	ctx := context.Background()
	masters, err := c.Masters(ctx)
	if err != nil || len(masters) != 3 {
		t.Fatalf("masters: %v, %v", masters, err)
	}

	for _, shards := range []int{3, 1} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			key := "share_test_admin_key_" + hex.EncodeToString([]byte("0123456789"))
			env := scaleEnv(t, key, c.DSN(), shards)
			base := "http://" + env["HOOKD_LISTEN_ADDRESS"]
			rcv := newLoadReceiver(t, 0)
			p := startHookd(t, "serve", env)
			waitAPI(t, base)
			queues := worker.NewQueues(env["HOOKD_QUEUE"], shards)

			// Endpoints until every shard has one, then as many messages to
			// each shard, spread over its endpoints.
			byShard := make([][]string, shards)
			for apps := 0; ; apps++ {
				if apps == 60 {
					t.Fatal("60 endpoints and still a shard without one")
				}
				full := true
				for _, eps := range byShard {
					full = full && len(eps) > 0
				}
				if full && apps >= 6 {
					break
				}
				uid := fmt.Sprintf("a%d", apps)
				ep := createApp(t, base, key, uid, rcv.URL)
				s := queues.ShardOf(ep)
				byShard[s] = append(byShard[s], uid)
			}
			const perShard = 1000
			var plan []string
			for i := range perShard {
				for _, apps := range byShard {
					plan = append(plan, apps[i%len(apps)])
				}
			}

			before := commandStats(t, masters)
			pub := newLoadPublisher(key, base)
			start := time.Now()
			pub.run(plan, 500)
			waitDelivered(t, 2*time.Minute, pub, rcv)
			took := time.Since(start)
			after := commandStats(t, masters)
			if o := checkLoad(t, pub, rcv); o.duplicates != 0 {
				t.Errorf("%d duplicates without any failure", o.duplicates)
			}
			// Stop hookd before the next run, so that its polling does not
			// count there.
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			_ = p.wait()

			deliveries := len(plan)
			var evalTotal, callTotal int64
			evals := make([]int64, len(masters))
			for i := range masters {
				for cmd, n := range after[i] {
					d := n - before[i][cmd]
					callTotal += d
					if strings.HasPrefix(cmd, "eval") {
						evals[i] += d
						evalTotal += d
					}
				}
			}
			t.Logf("%d shards: %d deliveries in %v; Redis calls per delivery: %.1f (%.1f scripts)",
				shards, deliveries, took.Round(time.Millisecond), float64(callTotal)/float64(deliveries), float64(evalTotal)/float64(deliveries))
			t.Logf("  by command: %s", perDelivery(before, after, deliveries))
			for i, m := range masters {
				var held []string
				for s := range queues.Len() {
					fresh, retries := queues.Shard(s)
					for _, q := range []string{fresh, retries} {
						if owner, _ := c.MasterOf(ctx, "asynq:{"+q+"}:pending"); owner == m {
							held = append(held, fmt.Sprintf("%s (slot %d)", q, worker.Slot(q)))
						}
					}
				}
				t.Logf("  master %s: %5.1f%% of the scripts (%d); queues %v", m.Addr,
					100*float64(evals[i])/float64(evalTotal), evals[i], held)
			}
			for i, m := range masters {
				share := float64(evals[i]) / float64(evalTotal)
				if shards == 3 && (share < 0.2 || share > 0.47) {
					t.Errorf("master %s ran %.0f%% of the scripts with 3 shards, want about a third", m.Addr, 100*share)
				}
			}
			if shards == 1 {
				home, _ := c.MasterOf(ctx, "asynq:{"+env["HOOKD_QUEUE"]+"}:pending")
				for i, m := range masters {
					if m == home && float64(evals[i])/float64(evalTotal) < 0.8 {
						t.Errorf("with one shard, its master %s ran only %d of %d scripts", m.Addr, evals[i], evalTotal)
					}
				}
			}
		})
	}
}

// TestClusterFailoverUnderLoad publishes 200 messages/s through `hookd api`
// to `hookd worker` on a Redis Cluster with three shards, and kills -9 the
// master of one shard's queues mid-way: every message arrives, duplicates
// stay within what was in flight, publishing never answers 5xx for longer
// than the failover, and each attempt is recorded once. It runs with
// Redis's default (the whole cluster refuses commands while a master is
// failed) and with cluster-require-full-coverage no.
func TestClusterFailoverUnderLoad(t *testing.T) {
	for _, partial := range []bool{false, true} {
		t.Run(fmt.Sprintf("partialCoverage=%v", partial), func(t *testing.T) {
			c := redistest.StartCluster(t, redistest.ClusterOptions{PartialCoverage: partial})
			key := "cfail_test_admin_key_" + hex.EncodeToString([]byte("0123456789"))
			env := scaleEnv(t, key, c.DSN(), 3)
			victim := func(ctx context.Context) (*redistest.Server, error) {
				fresh, _ := worker.NewQueues(env["HOOKD_QUEUE"], 3).Shard(1)
				return c.MasterOf(ctx, "asynq:{"+fresh+"}:pending")
			}
			runFailover(t, env, victim, func() { c.WaitHealthy(60 * time.Second) })
		})
	}
}

// TestSentinelFailoverUnderLoad is TestClusterFailoverUnderLoad on a
// Sentinel setup: the primary is killed -9 and the replica promoted.
func TestSentinelFailoverUnderLoad(t *testing.T) {
	s := redistest.StartSentinel(t, redistest.SentinelOptions{})
	key := "sfail_test_admin_key_" + hex.EncodeToString([]byte("0123456789"))
	env := scaleEnv(t, key, s.DSN(), 1)
	runFailover(t, env, s.Primary, func() { s.WaitHealthy(60 * time.Second) })
}

// runFailover runs `hookd api` and `hookd worker` with env, publishes at
// failoverRate for 20 s, kills -9 the server victim names after 5 s,
// measures how long until healthy returns, and checks the outcome.
func runFailover(t *testing.T, env map[string]string, victim func(context.Context) (*redistest.Server, error), healthy func()) {
	key := env["HOOKD_ADMIN_API_KEY"]
	base := "http://" + env["HOOKD_LISTEN_ADDRESS"]
	debug := freeAddr(t)
	rcv := newLoadReceiver(t, 20*time.Millisecond)
	startHookd(t, "api", env)
	waitAPI(t, base)
	const apps = 12
	createApps(t, base, key, rcv.URL, apps)
	wenv := maps.Clone(env)
	wenv["HOOKD_DEBUG_ADDRESS"] = debug
	startHookd(t, "worker", wenv)

	const seconds = 20
	plan := roundRobin(failoverRate*seconds, apps)
	pub := newLoadPublisher(key, base)
	done := make(chan struct{})
	go func() {
		defer close(done)
		pub.run(plan, failoverRate)
	}()
	waitUntil(t, 30*time.Second, "5 s of load", func() bool { return pub.progress() >= failoverRate*5 })
	v, err := victim(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if err := v.Kill(); err != nil {
		t.Fatal(err)
	}
	healthy()
	failover := time.Since(killed)
	<-done
	waitRecorded(t, 2*time.Minute, env["HOOKD_DB_DSN"], pub)
	waitDelivered(t, 30*time.Second, pub, rcv)
	o := checkLoad(t, pub, rcv)
	st := pub.stats()
	reenqueued := scrapeMetrics(t, "http://"+debug+"/metrics", "")["hookd_reconciler_reenqueued_total"]
	t.Logf("killed %s after %d messages; failover took %v", v.Addr, failoverRate*5, failover.Round(time.Millisecond))
	t.Logf("publish: %s", st)
	t.Logf("delivery: %d messages, %s; %v re-enqueued by the reconciler", len(plan), o, reenqueued)
	if st.serverErrorSpan > failover {
		t.Errorf("publishing answered 5xx for %v, longer than the failover (%v)", st.serverErrorSpan, failover)
	}
	if o.duplicates > workerConcurrency {
		t.Errorf("%d duplicates, more than the %d attempts a worker has in flight", o.duplicates, workerConcurrency)
	}
	wantAttemptsOnce(t, env["HOOKD_DB_DSN"], len(plan))
}

// perDelivery formats the calls per delivery of each command between two
// commandStats, most frequent first.
func perDelivery(before, after []map[string]int64, deliveries int) string {
	sum := map[string]int64{}
	for i := range after {
		for cmd, n := range after[i] {
			sum[cmd] += n - before[i][cmd]
		}
	}
	cmds := slices.Collect(maps.Keys(sum))
	slices.SortFunc(cmds, func(a, b string) int { return cmp.Compare(sum[b], sum[a]) })
	var parts []string
	for _, cmd := range cmds {
		if sum[cmd] > 0 {
			parts = append(parts, fmt.Sprintf("%s %.2f", cmd, float64(sum[cmd])/float64(deliveries)))
		}
	}
	return strings.Join(parts, ", ")
}

// commandStats returns INFO commandstats of each server.
func commandStats(t *testing.T, servers []*redistest.Server) []map[string]int64 {
	t.Helper()
	stats := make([]map[string]int64, len(servers))
	for i, s := range servers {
		st, err := s.CommandStats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		stats[i] = st
	}
	return stats
}
