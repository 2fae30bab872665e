package bench

import (
	"encoding/json"
	"math"
	"slices"
	"time"
)

// Latencies summarises a set of durations.
type Latencies struct {
	Count int           `json:"count"`
	P50   time.Duration `json:"p50"`
	P90   time.Duration `json:"p90"`
	P99   time.Duration `json:"p99"`
	Max   time.Duration `json:"max"`
}

// Summarise sorts ds in place and returns its percentiles by the
// nearest-rank method: the q-th percentile is the smallest value at least
// q% of the values are at or below. An empty ds gives the zero Latencies.
func Summarise(ds []time.Duration) Latencies {
	if len(ds) == 0 {
		return Latencies{}
	}
	slices.Sort(ds)
	at := func(pct int) time.Duration {
		rank := (pct*len(ds) + 99) / 100 // 1-based ceil(pct·n/100), in integers: 0.07*100 > 7 in floats
		return ds[rank-1]
	}
	return Latencies{Count: len(ds), P50: at(50), P90: at(90), P99: at(99), Max: ds[len(ds)-1]}
}

// latenciesJSON is how Latencies appear in a result's JSON line.
type latenciesJSON struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50ms"`
	P90   float64 `json:"p90ms"`
	P99   float64 `json:"p99ms"`
	Max   float64 `json:"maxms"`
}

// MarshalJSON writes the durations in milliseconds, to the microsecond.
func (l Latencies) MarshalJSON() ([]byte, error) {
	f := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return json.Marshal(latenciesJSON{l.Count, f(l.P50), f(l.P90), f(l.P99), f(l.Max)})
}

// UnmarshalJSON reads what MarshalJSON wrote, so JSON lines can be read back.
func (l *Latencies) UnmarshalJSON(raw []byte) error {
	var v latenciesJSON
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	d := func(ms float64) time.Duration { return time.Duration(math.Round(ms*1000)) * time.Microsecond }
	*l = Latencies{Count: v.Count, P50: d(v.P50), P90: d(v.P90), P99: d(v.P99), Max: d(v.Max)}
	return nil
}
