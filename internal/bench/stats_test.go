package bench

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// msRange returns 1ms, 2ms, ..., n ms in random order.
func msRange(n int) []time.Duration {
	ds := make([]time.Duration, n)
	for i := range ds {
		ds[i] = time.Duration(i+1) * time.Millisecond
	}
	rand.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
	return ds
}

func TestSummarise(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	for _, tt := range []struct {
		name string
		in   []time.Duration
		want Latencies
	}{
		// Nothing measured: all zero.
		{"empty", nil, Latencies{}},
		// One value is every percentile.
		{"one", []time.Duration{7 * ms}, Latencies{Count: 1, P50: 7 * ms, P90: 7 * ms, P99: 7 * ms, Max: 7 * ms}},

		// Nearest rank: the p-th percentile of n values is the ceil(p·n)-th smallest.
		{"three", []time.Duration{3 * ms, 1 * ms, 2 * ms}, Latencies{Count: 3, P50: 2 * ms, P90: 3 * ms, P99: 3 * ms, Max: 3 * ms}},
		{"ten", msRange(10), Latencies{Count: 10, P50: 5 * ms, P90: 9 * ms, P99: 10 * ms, Max: 10 * ms}},
		{"hundred", msRange(100), Latencies{Count: 100, P50: 50 * ms, P90: 90 * ms, P99: 99 * ms, Max: 100 * ms}},
		{"thousand", msRange(1000), Latencies{Count: 1000, P50: 500 * ms, P90: 900 * ms, P99: 990 * ms, Max: 1000 * ms}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Summarise(tt.in); got != tt.want {
				t.Errorf("Summarise = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// Latencies appear in JSON in milliseconds, to the microsecond, and read back.
func TestLatenciesJSON(t *testing.T) {
	t.Parallel()
	l := Latencies{Count: 3, P50: 1500 * time.Microsecond, P90: 20 * time.Millisecond, P99: 250*time.Millisecond + 1, Max: 2 * time.Second}
	raw, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"count":3,"p50ms":1.5,"p90ms":20,"p99ms":250,"maxms":2000}`; string(raw) != want {
		t.Errorf("JSON = %s, want %s", raw, want)
	}
	var back Latencies
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	l.P99 = l.P99.Truncate(time.Microsecond)
	if back != l {
		t.Errorf("read back %+v, want %+v", back, l)
	}
}
