package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/bench"
	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/webhook"
)

// benchFilter is the payload filter of the filtered scenario: the issue's
// kind of expression, true for every message the bench publishes.
const benchFilter = `eventType == "bench.event" && payload.data.plan in ["pro", "team"] && payload.seq >= 0`

// The slow-many scenario: this many endpoints, each answering after
// slowManyDelay.
const (
	slowManyEndpoints = 20
	slowManyDelay     = 200 * time.Millisecond
)

// benchScenarios are the named scenarios of `hookd bench`, without their
// Deadline and Settle, which are the same for all.
func benchScenarios(messages, concurrency, endpoints, filterEndpoints int, rate float64, delay time.Duration) map[string]bench.Scenario {
	// The filter comparison: the same fan-out with and without a payload
	// filter on every endpoint, run one after the other.
	filterMessages := max(1, messages/20)
	return map[string]bench.Scenario{
		"unfiltered": {Name: "unfiltered", Endpoints: filterEndpoints, Messages: filterMessages, Concurrency: concurrency},
		"filtered":   {Name: "filtered", Endpoints: filterEndpoints, Messages: filterMessages, Concurrency: concurrency, Filter: benchFilter},
		"one":        {Name: "one", Endpoints: 1, Messages: messages, Concurrency: concurrency},
		// ordered is one with every message in an ordering key, ten per key.
		"ordered": {Name: "ordered", Endpoints: 1, Messages: messages, Concurrency: concurrency, OrderingKeys: max(1, messages/10)},
		"fanout":  {Name: "fanout", Endpoints: endpoints, Messages: max(1, messages/endpoints), Concurrency: concurrency},
		"rate":    {Name: "rate", Endpoints: 1, Messages: messages, Concurrency: concurrency, Rate: rate},
		"slow":    {Name: "slow", Endpoints: 1, Messages: messages, Concurrency: concurrency, SinkDelay: delay},
		// slow-many: slow receivers, many of them, each taking 200 ms: what
		// limits it is the deliveries a worker keeps in flight.
		"slow-many": {Name: "slow-many", Endpoints: slowManyEndpoints, Messages: max(1, messages/slowManyEndpoints),
			Concurrency: concurrency, SinkDelay: slowManyDelay},
		"idle": {Name: "idle", Endpoints: 1, Messages: 20, Concurrency: 1, Rate: 5},
		// replay is one, then a bulk replay of every message.
		"replay": {Name: "replay", Endpoints: 1, Messages: messages, Concurrency: concurrency, Replay: true},
	}
}

func runBench(ctx context.Context, args []string, environ map[string]string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "load" {
		return runBenchLoad(ctx, args[1:], environ, stdout, stderr)
	}
	fs := newFlagSet("bench", "hookd bench [flags]",
		"Measures publish and delivery throughput and latency, against a hookd it starts (or -url).\nSee docs/benchmarks.md.", stderr)
	url := fs.String("url", "", "base URL of a running hookd (default: start `hookd serve` on the local Postgres/Redis)")
	key := fs.String("key", environ["HOOKD_BENCH_KEY"], "API key for -url (or HOOKD_BENCH_KEY)")
	scenarios := fs.String("scenarios", "one,fanout,rate,slow,idle", "comma-separated: one, ordered, fanout, rate, slow, slow-many, idle, unfiltered, filtered, replay")
	messages := fs.Int("messages", 20000, "messages per scenario (fanout: messages/endpoints)")
	concurrency := fs.Int("concurrency", 32, "parallel publishers")
	endpoints := fs.Int("endpoints", 10, "endpoints in the fanout scenario")
	filterEndpoints := fs.Int("filter-endpoints", 100, "endpoints in the unfiltered and filtered scenarios (messages/20 messages each)")
	rate := fs.Float64("rate", 500, "offered messages per second in the rate scenario")
	delay := fs.Duration("sink-delay", 50*time.Millisecond, "sink answer delay in the slow scenario")
	deadline := fs.Duration("deadline", 2*time.Minute, "how long to wait for deliveries after the last publish; later ones count as missing")
	settle := fs.Duration("settle", time.Second, "how long to keep watching for duplicates once every delivery arrived")
	jsonOnly := fs.Bool("json", false, "print only the JSON lines")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *endpoints < 1 || *filterEndpoints < 1 || *messages < 1 || *concurrency < 1 || *deadline <= 0 || *settle < 0 {
		return errors.New("-endpoints, -filter-endpoints, -messages and -concurrency must be at least 1, -deadline positive and -settle not negative")
	}
	all := benchScenarios(*messages, *concurrency, *endpoints, *filterEndpoints, *rate, *delay)
	var chosen []bench.Scenario
	for _, name := range strings.Split(*scenarios, ",") {
		sc, ok := all[strings.TrimSpace(name)]
		if !ok {
			return fmt.Errorf("unknown scenario %q", name)
		}
		sc.Deadline, sc.Settle = *deadline, *settle
		chosen = append(chosen, sc)
	}

	groups := map[string][]int{}
	var server *benchServer
	if *url == "" {
		var err error
		server, err = startBenchServer(ctx, environ, stderr)
		if err != nil {
			return err
		}
		defer server.stop()
		*url, *key = server.url, server.key
		groups["hookd"] = []int{server.cmd.Process.Pid}
	} else if *key == "" {
		return errors.New("-key (or HOOKD_BENCH_KEY) is required with -url")
	}
	sink, err := bench.NewSink(0)
	if err != nil {
		return err
	}
	defer sink.Close()
	meter := bench.NewMeter(groups)
	if server != nil {
		// Postgres is measured by the backends serving the bench's database.
		meter.PostgresPIDs = func() []int {
			pids, err := postgres.BackendPIDs(ctx, server.dsn)
			if err != nil {
				fmt.Fprintf(stderr, "measuring postgres: %v\n", err)
			}
			return pids
		}
	}
	runner := bench.NewRunner(strings.TrimRight(*url, "/"), *key, sink, meter)
	if !*jsonOnly {
		fmt.Fprintf(stdout, "hookd bench against %s, sink %s\n\n", *url, sink.URL)
	}
	var results []bench.Result
	for _, sc := range chosen {
		res, err := runner.Run(ctx, sc)
		if err != nil {
			return fmt.Errorf("scenario %s: %w", sc.Name, err)
		}
		results = append(results, res)
		if !*jsonOnly {
			fmt.Fprintf(stderr, "%s done: %d/%d delivered in %.1fs\n", sc.Name, res.Delivered, res.Expected, res.Seconds)
		}
	}
	if !*jsonOnly {
		bench.WriteTable(stdout, results)
		if ratio, ok := bench.FilterRatio(results); ok {
			fmt.Fprintf(stdout, "\nfiltered publish rate: %.0f %% of the unfiltered one (issue 13 asks for at least 80 %%)\n", 100*ratio)
		}
		fmt.Fprintln(stdout)
	}
	if err := bench.WriteJSON(stdout, results); err != nil {
		return err
	}
	for _, r := range results {
		if r.Missing > 0 || r.Duplicates > 0 || len(r.PublishErrors) > 0 {
			return fmt.Errorf("scenario %s: %d missing, %d duplicates, publish errors %v", r.Scenario, r.Missing, r.Duplicates, r.PublishErrors)
		}
	}
	return nil
}

// benchServer is a `hookd serve` child process started for a bench run.
type benchServer struct {
	cmd      *exec.Cmd
	url, key string
	// dsn is the database it serves.
	dsn string
	// dropDSN, when set, is the database the bench created, dropped at stop.
	dropDSN string
}

// startBenchServer runs this binary's `serve` on its own queue and database
// (HOOKD_BENCH_DB_DSN, or a new hookd_bench_* one, kept afterwards for
// inspection; `make db/reset` drops them), letting deliveries reach 127.0.0.1.
func startBenchServer(ctx context.Context, environ map[string]string, stderr io.Writer) (*benchServer, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	var b [16]byte
	_, _ = rand.Read(b[:])
	s := &benchServer{url: "http://" + addr, key: "bench_" + hex.EncodeToString(b[:])}
	dsn := environ["HOOKD_BENCH_DB_DSN"]
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/hookd_bench_" + hex.EncodeToString(b[:4]) + "?sslmode=disable"
		s.dropDSN = dsn
	}
	s.dsn = dsn
	env := os.Environ()
	env = append(env,
		"HOOKD_LISTEN_ADDRESS="+addr,
		"HOOKD_DB_DSN="+dsn,
		"HOOKD_ADMIN_API_KEY="+s.key,
		"HOOKD_WHITELIST_SUBNETS=127.0.0.0/8",
		"HOOKD_QUEUE=bench-"+hex.EncodeToString(b[:4]),
		"HOOKD_LOG_LEVEL=warn",
		"HOOKD_API_RATE_LIMIT=0", // the bench publishes with one key, faster than the default limit
	)
	s.cmd = exec.CommandContext(ctx, self, "serve")
	s.cmd.Env, s.cmd.Stdout, s.cmd.Stderr = env, io.Discard, stderr
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(s.url + "/api/v1/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusNoContent {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, errors.New("hookd serve did not become healthy within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *benchServer) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	if s.dropDSN != "" {
		_ = postgres.DropDatabase(context.Background(), s.dropDSN)
	}
}

// runBenchLoad is `hookd bench load`: it writes synthetic history straight
// into the database (postgres.BulkLoad), for measuring at scale
// (docs/scaling.md, "At scale").
func runBenchLoad(ctx context.Context, args []string, environ map[string]string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench load", "hookd bench load [flags]",
		"Loads synthetic messages, deliveries and attempts into the database with COPY, not through the API,\n"+
			"one UTC day partition at a time, into an application with the uid \"load\" (created, with two endpoints).\n"+
			"See docs/scaling.md.", stderr)
	dsn := fs.String("db", environ["HOOKD_DB_DSN"], "the database (default HOOKD_DB_DSN); it is migrated first")
	messages := fs.Int("messages", 1_000_000, "messages to load")
	days := fs.Int("days", 30, "UTC days they are spread over, ending yesterday")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *dsn == "" {
		*dsn = "postgres://postgres@127.0.0.1:5432/hookd?sslmode=disable"
	}
	if *messages < *days || *days < 1 {
		return errors.New("-days must be at least 1 and -messages at least -days")
	}
	db, err := postgres.Open(ctx, *dsn, postgres.Options{MaxOpenConns: 2})
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	org, err := db.EnsureOrg(ctx, "load")
	if err != nil {
		return err
	}
	uid := "load"
	if _, err := db.FindApp(ctx, org.ID, uid); err == nil {
		return fmt.Errorf("the application %q of the organisation %q exists: load into another database", uid, org.Name)
	}
	app := &webhook.Application{OrgID: org.ID, Name: "load", UID: &uid}
	if err := db.CreateApp(ctx, app); err != nil {
		return err
	}
	load := postgres.BulkLoad{OrgID: org.ID, AppID: app.ID, Messages: *messages, Days: *days, End: time.Now()}
	for i := range load.Endpoints {
		ep := &webhook.Endpoint{OrgID: org.ID, AppID: app.ID, URL: fmt.Sprintf("https://example.com/load/%d", i), Version: 1,
			Secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"}
		if err := db.CreateEndpoint(ctx, ep); err != nil {
			return err
		}
		load.Endpoints[i] = ep.ID
	}
	began, loaded := time.Now(), 0
	load.Progress = func(day time.Time, n int, took time.Duration) {
		loaded += n
		fmt.Fprintf(stdout, "%s: %d messages in %.1fs (%.0f/s); %d of %d, %v so far\n", day.Format(time.DateOnly), n,
			took.Seconds(), float64(n)/took.Seconds(), loaded, *messages, time.Since(began).Round(time.Second))
	}
	if err := db.BulkLoad(ctx, load); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "loaded %d messages (app %s) in %v, analysed\n", *messages, app.ID, time.Since(began).Round(time.Second))
	return nil
}
