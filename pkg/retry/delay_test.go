package retry

import (
	"net/http"
	"testing"
	"time"
)

func TestNextDelay(t *testing.T) {
	t.Parallel()
	sched := Schedule{5 * time.Second, 5 * time.Minute, 30 * time.Minute}
	now := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	const (
		mid  = 0.5 // no jitter
		low  = 0.0 // -20 %
		high = 1.0 // +20 %
	)
	tests := []struct {
		name       string
		made       int
		status     int
		retryAfter string
		r          float64
		want       time.Duration
		wantOK     bool
	}{
		// Walking the schedule.
		{"before the first attempt", 0, 0, "", mid, 0, true},
		{"negative attempts", -1, 0, "", mid, 0, true},
		{"after attempt 1", 1, 500, "", mid, 5 * time.Second, true},
		{"after attempt 2", 2, 500, "", mid, 5 * time.Minute, true},
		{"after attempt 3, the last delay", 3, 500, "", mid, 30 * time.Minute, true},
		{"after attempt 4, exhausted", 4, 500, "", mid, 0, false},
		{"far beyond", 100, 500, "", mid, 0, false},

		// Jitter is applied to scheduled delays.
		{"jitter low", 2, 500, "", low, 4 * time.Minute, true},
		{"jitter high", 2, 500, "", high, 6 * time.Minute, true},
		{"no response", 2, 0, "", high, 6 * time.Minute, true},

		// Retry-After on 429 and 503, clamped to [scheduled, 2×scheduled], no jitter.
		{"429 inside bounds", 2, http.StatusTooManyRequests, "420", high, 7 * time.Minute, true},
		{"503 inside bounds", 2, http.StatusServiceUnavailable, "420", low, 7 * time.Minute, true},
		{"429 too soon", 2, http.StatusTooManyRequests, "1", low, 5 * time.Minute, true},
		{"429 too late", 2, http.StatusTooManyRequests, "86400", high, 10 * time.Minute, true},
		{"503 as HTTP-date", 2, http.StatusServiceUnavailable, "Wed, 21 Oct 2015 07:34:00 GMT", high, 6 * time.Minute, true},
		{"503 date in the past", 2, http.StatusServiceUnavailable, "Wed, 21 Oct 2015 07:00:00 GMT", high, 5 * time.Minute, true},
		{"429 malformed falls back to jitter", 2, http.StatusTooManyRequests, "soon", high, 6 * time.Minute, true},
		{"429 empty falls back to jitter", 2, http.StatusTooManyRequests, "", low, 4 * time.Minute, true},
		{"429 still ends the schedule", 4, http.StatusTooManyRequests, "5", mid, 0, false},

		// Retry-After on other statuses is ignored.
		{"500 ignores Retry-After", 2, http.StatusInternalServerError, "420", mid, 5 * time.Minute, true},
		{"502 ignores Retry-After", 2, http.StatusBadGateway, "420", mid, 5 * time.Minute, true},
		{"301 ignores Retry-After", 2, http.StatusMovedPermanently, "420", mid, 5 * time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := NextDelay(sched, tt.made, tt.status, tt.retryAfter, now, constant(tt.r))
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("NextDelay(made=%d, status=%d, %q) = %v, %v; want %v, %v",
					tt.made, tt.status, tt.retryAfter, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestNextDelayEmptySchedule(t *testing.T) {
	t.Parallel()
	if d, ok := NextDelay(nil, 1, 500, "", time.Now(), nil); ok || d != 0 {
		t.Errorf("NextDelay on an empty schedule = %v, %v; want 0, false", d, ok)
	}
}
