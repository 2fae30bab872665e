package bench

import (
	"encoding/json"
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

// Summarise sorts ds in place and returns its percentiles.
func Summarise(ds []time.Duration) Latencies {
	if len(ds) == 0 {
		return Latencies{}
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return Latencies{Count: len(ds), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: ds[len(ds)-1]}
}

// MarshalJSON writes the durations in milliseconds.
func (l Latencies) MarshalJSON() ([]byte, error) {
	f := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return json.Marshal(struct {
		Count int     `json:"count"`
		P50   float64 `json:"p50ms"`
		P90   float64 `json:"p90ms"`
		P99   float64 `json:"p99ms"`
		Max   float64 `json:"maxms"`
	}{l.Count, f(l.P50), f(l.P90), f(l.P99), f(l.Max)})
}
