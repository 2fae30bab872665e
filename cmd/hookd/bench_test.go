package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/internal/bench"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
)

// TestBenchSmoke runs `hookd bench` against a test server, as CI's guard
// that the delivery pipeline loses and duplicates nothing: every accepted
// message must reach each of its endpoints once, and Postgres must record
// one successful attempt per delivery. It never judges speed, which on a
// shared CI machine says nothing.
func TestBenchSmoke(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		env  map[string]string
	}{
		{"Defaults", nil},
		// A reconciler that looks every 20ms and finds deliveries overdue
		// after 20ms re-enqueues most attempts (hundreds per run) while
		// they are queued or in flight: task ids and attempt records must
		// still keep each delivery to one arrival.
		{"EagerReconciler", map[string]string{"HOOKD_RECONCILER_INTERVAL": "20ms", "HOOKD_RECONCILER_GRACE": "20ms"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"HOOKD_WHITELIST_SUBNETS": "127.0.0.0/8", "HOOKD_LOG_LEVEL": "warn"}
			for k, v := range tt.env {
				env[k] = v
			}
			b := setupWithEnv(t, env)
			results := runBenchSmoke(t, b)
			for _, r := range results {
				checkBenchResult(t, r)
			}
			// The sink saw every delivery; their attempts are recorded by
			// now, or very soon if recording is deferred.
			waitUntil(t, 10*time.Second, "every delivery recorded as succeeded", func() bool {
				succeeded, total, _, _ := deliveryCounts(t, b.dbDSN)
				return total > 0 && succeeded == total
			})
			succeeded, total, attempts, duplicateAttempts := deliveryCounts(t, b.dbDSN)
			if want := results[0].Expected + results[1].Expected; total != want {
				t.Errorf("%d deliveries stored, want %d", total, want)
			}
			if attempts != succeeded || duplicateAttempts != 0 {
				t.Errorf("%d successful attempts recorded for %d deliveries (%d beyond one per delivery), want one each",
					attempts, succeeded, duplicateAttempts)
			}
		})
	}
}

// runBenchSmoke runs the one and fanout scenarios of `hookd bench` against
// b with a few hundred deliveries each and returns the two results.
func runBenchSmoke(t *testing.T, b *testBundle) []bench.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	args := []string{
		"-url", b.url, "-key", b.key, "-scenarios", "one,fanout",
		"-messages", "300", "-concurrency", "8", "-endpoints", "5",
		"-deadline", "15s", "-settle", "300ms", "-json",
	}
	err := runBench(ctx, args, map[string]string{}, &stdout, &stderr)
	results := parseBenchResults(t, stdout.Bytes())
	if err != nil {
		// runBench fails on lost or duplicated deliveries too; the
		// results say which, so report them before failing.
		for _, r := range results {
			checkBenchResult(t, r)
		}
		t.Fatalf("hookd bench: %v\nstderr:\n%s", err, stderr.String())
	}
	if len(results) != 2 || results[0].Scenario != "one" || results[1].Scenario != "fanout" {
		t.Fatalf("hookd bench printed %d results, want one and fanout:\n%s", len(results), stdout.String())
	}
	return results
}

// parseBenchResults decodes the JSON lines of `hookd bench -json`.
func parseBenchResults(t *testing.T, out []byte) []bench.Result {
	t.Helper()
	var results []bench.Result
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var r bench.Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("hookd bench -json printed a line that is not a result: %q: %v", line, err)
		}
		results = append(results, r)
	}
	return results
}

// checkBenchResult fails t if r lost, duplicated or failed to publish
// anything.
func checkBenchResult(t *testing.T, r bench.Result) {
	t.Helper()
	if len(r.PublishErrors) > 0 || r.Accepted != r.Messages {
		t.Errorf("%s: %d of %d messages accepted, publish errors %v", r.Scenario, r.Accepted, r.Messages, r.PublishErrors)
	}
	if r.Expected != r.Endpoints*r.Messages {
		t.Errorf("%s: %d deliveries expected, want %d endpoints × %d messages", r.Scenario, r.Expected, r.Endpoints, r.Messages)
	}
	if r.Missing != 0 || r.Delivered != r.Expected {
		t.Errorf("%s: %d of %d deliveries arrived (%d missing)", r.Scenario, r.Delivered, r.Expected, r.Missing)
	}
	if r.Duplicates != 0 {
		t.Errorf("%s: %d duplicate deliveries", r.Scenario, r.Duplicates)
	}
}

// TestBenchFilterScenarios runs the unfiltered and filtered scenarios
// small: every endpoint of the filtered one has the payload filter, and
// every message passes it, so both deliver everything once. Speed is
// judged in docs/benchmarks.md, not here.
func TestBenchFilterScenarios(t *testing.T) {
	t.Parallel()
	b := setupWithEnv(t, map[string]string{"HOOKD_WHITELIST_SUBNETS": "127.0.0.0/8", "HOOKD_LOG_LEVEL": "warn"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := runBench(ctx, []string{
		"-url", b.url, "-key", b.key, "-scenarios", "unfiltered,filtered",
		"-messages", "400", "-concurrency", "4", "-filter-endpoints", "5",
		"-deadline", "15s", "-settle", "300ms",
	}, map[string]string{}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("hookd bench: %v\nstderr:\n%s", err, stderr.String())
	}
	out := stdout.String()
	var lines []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "{") {
			lines = append(lines, line)
		}
	}
	results := parseBenchResults(t, []byte(strings.Join(lines, "\n")))
	if len(results) != 2 || results[0].Filter != "" || results[1].Filter != benchFilter {
		t.Fatalf("results %+v, want unfiltered then filtered", results)
	}
	for _, r := range results {
		checkBenchResult(t, r)
		if r.Endpoints != 5 || r.Messages != 20 {
			t.Errorf("%s: %d endpoints, %d messages; want 5 and 20", r.Scenario, r.Endpoints, r.Messages)
		}
	}
	if !strings.Contains(out, "filtered publish rate: ") {
		t.Errorf("the table does not compare the publish rates:\n%s", out)
	}
}

// TestBenchReplaySmoke runs the replay scenario: every delivery arrives
// once, then once more after the bulk replay, and never a third time.
func TestBenchReplaySmoke(t *testing.T) {
	t.Parallel()
	b := setupWithEnv(t, map[string]string{"HOOKD_WHITELIST_SUBNETS": "127.0.0.0/8", "HOOKD_LOG_LEVEL": "warn"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	args := []string{"-url", b.url, "-key", b.key, "-scenarios", "replay", "-messages", "300", "-concurrency", "8",
		"-deadline", "15s", "-settle", "300ms", "-json"}
	err := runBench(ctx, args, map[string]string{}, &stdout, &stderr)
	results := parseBenchResults(t, stdout.Bytes())
	if len(results) != 1 {
		t.Fatalf("hookd bench printed %d results (%v):\n%s\n%s", len(results), err, stdout.String(), stderr.String())
	}
	r := results[0]
	checkBenchResult(t, r)
	if r.Replayed != r.Expected || r.ReplayPerSec <= 0 || r.ReplayTaskSeconds <= 0 {
		t.Fatalf("replay: %d of %d replayed at %.0f/s, tasks %.1fs", r.Replayed, r.Expected, r.ReplayPerSec, r.ReplayTaskSeconds)
	}
	if err != nil {
		t.Fatalf("hookd bench: %v\n%s", err, stderr.String())
	}
}

// `hookd bench load` writes the history it is asked for into the day
// partitions, with deliveries, attempts, channels and eventIds, and refuses
// to load twice into one database.
func TestBenchLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := postgrestest.NewDSN(t)
	var stdout, stderr bytes.Buffer
	args := []string{"load", "-db", dsn, "-messages", "3000", "-days", "3"}
	if err := runBench(ctx, args, map[string]string{}, &stdout, &stderr); err != nil {
		t.Fatalf("bench load: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var messages, days, deliveries, attempts, channels, eventIDs int
	err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM messages), (SELECT count(DISTINCT tableoid) FROM messages),
		(SELECT count(*) FROM deliveries), (SELECT count(*) FROM attempts),
		(SELECT count(*) FROM message_channels), (SELECT count(*) FROM message_event_ids)`).
		Scan(&messages, &days, &deliveries, &attempts, &channels, &eventIDs)
	if err != nil {
		t.Fatal(err)
	}
	// 1,000 a day; a tenth of the messages go to the second endpoint too;
	// 1.5 % of the first deliveries are pending or cancelled, without attempts.
	if messages != 3000 || days != 3 || deliveries != 3300 || attempts < 3200 || attempts >= 3300 || channels != 6000 || eventIDs != 1500 {
		t.Errorf("loaded %d messages in %d partitions, %d deliveries, %d attempts, %d channel rows, %d eventIds",
			messages, days, deliveries, attempts, channels, eventIDs)
	}
	if err := runBench(ctx, args, map[string]string{}, &stdout, &stderr); err == nil {
		t.Error("a second load into the same database succeeded")
	}
}
