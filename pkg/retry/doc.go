// Package retry decides when a failed delivery is attempted again.
//
// A Schedule lists the delays between attempts: after the n-th failed
// attempt (n counted from 1) the next one waits Schedule[n-1], spread by
// Jitter so that deliveries that failed together do not retry together. A
// receiver answering 429 or 503 with a Retry-After header is honoured within
// [Schedule[n-1], 2×Schedule[n-1]]: it can slow hookd down, but neither
// speed it up nor stall it.
//
// Everything here is a pure function of its arguments: the current time and
// the random source are parameters, so callers and tests control them.
package retry
