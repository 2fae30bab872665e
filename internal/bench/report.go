package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

// WriteTable prints results as a readable table.
func WriteTable(w io.Writer, results []Result) {
	fmt.Fprintf(w, "%-12s %5s %6s %4s %6s | %9s %7s %7s %7s %7s | %9s %7s %7s %7s %7s %4s %4s\n",
		"scenario", "eps", "msgs", "conc", "rate", "publish/s", "p50ms", "p90ms", "p99ms", "maxms",
		"deliver/s", "e2e50", "e2e90", "e2e99", "e2emax", "dup", "miss")
	for _, r := range results {
		rate := "-"
		if r.OfferedRate > 0 {
			rate = fmt.Sprintf("%.0f", r.OfferedRate)
		}
		fmt.Fprintf(w, "%-12s %5d %6d %4d %6s | %9.0f %7s %7s %7s %7s | %9.0f %7s %7s %7s %7s %4d %4d\n",
			r.Scenario, r.Endpoints, r.Messages, r.Concurrency, rate,
			r.PublishPerSec, ms(r.Publish.P50), ms(r.Publish.P90), ms(r.Publish.P99), ms(r.Publish.Max),
			r.DeliverPerSec, ms(r.EndToEnd.P50), ms(r.EndToEnd.P90), ms(r.EndToEnd.P99), ms(r.EndToEnd.Max),
			r.Duplicates, r.Missing)
	}
	for _, r := range results {
		if r.Replayed > 0 {
			var cpu []string
			for _, p := range r.ReplayProcs {
				cpu = append(cpu, fmt.Sprintf("%s %.1fs", p.Name, p.CPUSeconds))
			}
			fmt.Fprintf(w, "%-12s replayed %d deliveries: %.0f/s at the sink, queued by the replay tasks in %.1fs; CPU %s\n",
				r.Scenario, r.Replayed, r.ReplayPerSec, r.ReplayTaskSeconds, strings.Join(cpu, ", "))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-12s %s\n", "scenario", "cost: CPU seconds / peak RSS MiB")
	for _, r := range results {
		procs := append([]ProcUsage(nil), r.Procs...)
		sort.Slice(procs, func(i, j int) bool { return procs[i].Name < procs[j].Name })
		var parts []string
		for _, p := range procs {
			parts = append(parts, fmt.Sprintf("%s %.1fs/%.0fMiB", p.Name, p.CPUSeconds, p.PeakRSSMiB))
		}
		errs := ""
		if len(r.PublishErrors) > 0 {
			errs = fmt.Sprintf("  publish errors: %v", r.PublishErrors)
		}
		fmt.Fprintf(w, "%-12s %s%s\n", r.Scenario, strings.Join(parts, ", "), errs)
	}
}

// WriteJSON prints one JSON line per result.
func WriteJSON(w io.Writer, results []Result) error {
	enc := json.NewEncoder(w)
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// FilterRatio returns the publish rate of the last "filtered" result over
// that of the last "unfiltered" one; ok is false unless both ran.
func FilterRatio(results []Result) (ratio float64, ok bool) {
	var filtered, unfiltered *Result
	for i := range results {
		switch results[i].Scenario {
		case "filtered":
			filtered = &results[i]
		case "unfiltered":
			unfiltered = &results[i]
		}
	}
	if filtered == nil || unfiltered == nil || unfiltered.PublishPerSec == 0 {
		return 0, false
	}
	return filtered.PublishPerSec / unfiltered.PublishPerSec, true
}
