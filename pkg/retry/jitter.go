package retry

import (
	"math"
	"math/rand/v2"
	"time"
)

// DefaultJitter is the jitter fraction NextDelay applies: ±20 %.
const DefaultJitter = 0.2

// Jitter returns d scaled by a factor drawn uniformly from [1-frac, 1+frac),
// using rnd, which must return values in [0, 1) (values outside are clamped).
// A nil rnd uses math/rand/v2. frac is clamped to [0, 1]: 0 returns d
// unchanged. A non-positive d is returned unchanged, and the result saturates
// instead of overflowing.
func Jitter(d time.Duration, frac float64, rnd func() float64) time.Duration {
	if d <= 0 || !(frac > 0) { // !(frac > 0) also catches NaN
		return d
	}
	frac = min(frac, 1)
	if rnd == nil {
		rnd = rand.Float64
	}
	r := rnd()
	if !(r >= 0) { // also NaN
		r = 0
	}
	r = min(r, 1)
	f := float64(d) * (1 + frac*(2*r-1))
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(f)
}
