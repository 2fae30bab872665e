package retry

import (
	"math"
	"testing"
	"time"
)

func constant(r float64) func() float64 { return func() float64 { return r } }

func TestJitter(t *testing.T) {
	t.Parallel()
	const d = 10 * time.Second
	tests := []struct {
		name string
		d    time.Duration
		frac float64
		r    float64
		want time.Duration
	}{
		// The range [d(1-frac), d(1+frac)) maps linearly from r in [0, 1).
		{"r=0 is the lower bound", d, 0.2, 0, 8 * time.Second},
		{"r=0.5 is d", d, 0.2, 0.5, d},
		{"r=0.75", d, 0.2, 0.75, 11 * time.Second},
		{"r=1 is the upper bound", d, 0.2, 1, 12 * time.Second},
		{"frac 1 can halve to zero", d, 1, 0, 0},
		{"frac 0.5", d, 0.5, 0.25, 7500 * time.Millisecond},

		// Fractions outside (0, 1].
		{"frac 0 is no jitter", d, 0, 0, d},
		{"negative frac is no jitter", d, -0.5, 0, d},
		{"NaN frac is no jitter", d, math.NaN(), 0, d},
		{"frac above 1 is 1", d, 3, 1, 20 * time.Second},

		// Random values outside [0, 1] are clamped.
		{"r below 0", d, 0.2, -5, 8 * time.Second},
		{"r above 1", d, 0.2, 7, 12 * time.Second},
		{"r NaN", d, 0.2, math.NaN(), 8 * time.Second},

		// Durations at the edges.
		{"zero", 0, 0.2, 1, 0},
		{"negative", -d, 0.2, 1, -d},
		{"saturates", math.MaxInt64, 0.2, 1, math.MaxInt64},
		{"one nanosecond", 1, 0.2, 0.5, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Jitter(tt.d, tt.frac, constant(tt.r)); got != tt.want {
				t.Errorf("Jitter(%v, %v, %v) = %v, want %v", tt.d, tt.frac, tt.r, got, tt.want)
			}
		})
	}
}

func TestJitterDefaultSourceStaysInRange(t *testing.T) {
	t.Parallel()
	const d = time.Minute
	lo, hi := time.Duration(float64(d)*0.8), time.Duration(float64(d)*1.2)
	seen := map[time.Duration]bool{}
	for range 1000 {
		got := Jitter(d, DefaultJitter, nil)
		if got < lo || got > hi {
			t.Fatalf("Jitter(%v) = %v, outside [%v, %v]", d, got, lo, hi)
		}
		seen[got] = true
	}
	if len(seen) < 100 {
		t.Errorf("only %d distinct values in 1000 draws", len(seen))
	}
}
