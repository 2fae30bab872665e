package bench

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// reportResults are two fixed results: a clean fan-out run and a rate run
// that lost and duplicated deliveries and had publish errors.
func reportResults() []Result {
	ms := time.Millisecond
	return []Result{
		{
			Scenario: "fanout", Endpoints: 10, Messages: 2000, Concurrency: 32,
			Accepted: 2000, PublishPerSec: 2150.4,
			Publish:  Latencies{Count: 2000, P50: 9 * ms, P90: 15 * ms, P99: 31500 * time.Microsecond, Max: 60 * ms},
			Expected: 20000, Delivered: 20000, DeliverPerSec: 3120.7,
			EndToEnd: Latencies{Count: 20000, P50: 80 * ms, P90: 140 * ms, P99: 210 * ms, Max: 400 * ms},
			Procs: []ProcUsage{
				{Name: "redis-server", CPUSeconds: 0.8, PeakRSSMiB: 12},
				{Name: "hookd", CPUSeconds: 7.25, PeakRSSMiB: 96.4},
				{Name: "postgres", CPUSeconds: 5.5, PeakRSSMiB: 40},
			},
			Seconds: 7.1,
		},
		{
			Scenario: "rate", Endpoints: 1, Messages: 100, Concurrency: 4, OfferedRate: 50, SinkDelayMs: 50,
			Accepted: 98, PublishPerSec: 49.5,
			Publish:       Latencies{Count: 98, P50: 3 * ms, P90: 4 * ms, P99: 5 * ms, Max: 5 * ms},
			PublishErrors: map[string]int{"503": 2},
			Expected:      98, Delivered: 97, Duplicates: 1, Missing: 1, DeliverPerSec: 48.9,
			EndToEnd: Latencies{Count: 97, P50: 20 * ms, P90: 30 * ms, P99: 45 * ms, Max: 45 * ms},
			Procs:    []ProcUsage{{Name: "postgres", CPUSeconds: 0.2, PeakRSSMiB: 30}},
			Seconds:  2.2,
		},
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestWriteTable(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	WriteTable(&buf, reportResults())
	golden(t, "table.golden", buf.Bytes())

	// Shape: a header and a row per result, a blank line, then a cost
	// header and a cost row per result with its processes sorted by name.
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if len(lines) != 7 || lines[3] != "" || !strings.HasPrefix(lines[4], "scenario ") {
		t.Fatalf("%d lines, want header, 2 rows, blank, cost header, 2 rows:\n%s", len(lines), buf.String())
	}
	if !strings.HasPrefix(lines[1], "fanout ") || !strings.HasPrefix(lines[2], "rate ") {
		t.Errorf("rows do not start with their scenario:\n%s", buf.String())
	}
	if !strings.Contains(lines[6], "publish errors: map[503:2]") {
		t.Errorf("rate's cost row does not show its publish errors: %q", lines[6])
	}
	if h, p, r := strings.Index(lines[5], "hookd"), strings.Index(lines[5], "postgres"), strings.Index(lines[5], "redis-server"); !(h < p && p < r) {
		t.Errorf("processes not sorted by name: %q", lines[5])
	}
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, reportResults()); err != nil {
		t.Fatal(err)
	}
	golden(t, "results.golden.jsonl", buf.Bytes())

	// One JSON object per line, each reading back as the result written
	// (latencies to the microsecond, as printed).
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want one per result:\n%s", len(lines), buf.String())
	}
	for i, line := range lines {
		var fields map[string]any
		if err := json.Unmarshal([]byte(line), &fields); err != nil {
			t.Fatalf("line %d is not a JSON object: %v", i+1, err)
		}
		for _, k := range []string{"scenario", "accepted", "publishLatency", "expectedDeliveries", "delivered",
			"duplicates", "missing", "deliveriesPerSec", "endToEnd", "processes", "seconds"} {
			if _, ok := fields[k]; !ok {
				t.Errorf("line %d has no %q", i+1, k)
			}
		}
		var back Result
		if err := json.Unmarshal([]byte(line), &back); err != nil {
			t.Fatal(err)
		}
		want := reportResults()[i]
		if back.Scenario != want.Scenario || back.Missing != want.Missing || back.Duplicates != want.Duplicates ||
			back.Publish != want.Publish || back.EndToEnd != want.EndToEnd || len(back.PublishErrors) != len(want.PublishErrors) {
			t.Errorf("line %d read back as %+v, want %+v", i+1, back, want)
		}
	}
}
