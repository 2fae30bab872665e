package retry

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfterSeconds keeps delta-seconds within time.Duration.
const maxRetryAfterSeconds = math.MaxInt64 / int64(time.Second)

// ParseRetryAfter reads a Retry-After header value (RFC 9110 §10.2.3):
// either delta-seconds ("120") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00
// GMT", and the obsolete RFC 850 and asctime forms), relative to now.
// It returns false for an empty or malformed value. A date in the past gives
// 0, and a huge delta saturates at the largest Duration.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs > maxRetryAfterSeconds { // only overflow fails here
			return math.MaxInt64, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// Clamp bounds a receiver's Retry-After to [scheduled, 2×scheduled] (the
// upper bound saturates rather than overflows). A non-positive scheduled
// delay returns scheduled.
func Clamp(retryAfter, scheduled time.Duration) time.Duration {
	if scheduled <= 0 {
		return scheduled
	}
	upper := time.Duration(math.MaxInt64)
	if scheduled <= math.MaxInt64/2 {
		upper = 2 * scheduled
	}
	return min(max(retryAfter, scheduled), upper)
}

// isDigits reports whether s is non-empty and all ASCII digits; unlike
// strconv.ParseInt it refuses signs, as delta-seconds has none.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
