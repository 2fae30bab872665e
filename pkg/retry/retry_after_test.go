package retry

import (
	"math"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	tests := []struct {
		name   string
		in     string
		want   time.Duration
		wantOK bool
	}{
		// delta-seconds.
		{"zero", "0", 0, true},
		{"seconds", "120", 2 * time.Minute, true},
		{"leading zeros", "007", 7 * time.Second, true},
		{"surrounding space", " 30 ", 30 * time.Second, true},
		{"largest representable", "9223372036", 9223372036 * time.Second, true},
		{"beyond Duration saturates", "9223372037", math.MaxInt64, true},
		{"beyond int64 saturates", "99999999999999999999999", math.MaxInt64, true},

		// HTTP-date, in its three forms, relative to now.
		{"IMF-fixdate", "Wed, 21 Oct 2015 07:30:00 GMT", 2 * time.Minute, true},
		{"RFC 850", "Wednesday, 21-Oct-15 07:29:00 GMT", time.Minute, true},
		{"asctime", "Wed Oct 21 08:28:00 2015", time.Hour, true},
		{"now", "Wed, 21 Oct 2015 07:28:00 GMT", 0, true},
		{"past date is zero", "Tue, 20 Oct 2015 07:28:00 GMT", 0, true},

		// Malformed.
		{"empty", "", 0, false},
		{"blank", "   ", 0, false},
		{"negative", "-5", 0, false},
		{"plus sign", "+5", 0, false},
		{"fraction", "1.5", 0, false},
		{"unit", "5s", 0, false},
		{"hex", "0x10", 0, false},
		{"date without zone", "Wed, 21 Oct 2015 07:30:00", 0, false},
		{"ISO 8601", "2015-10-21T07:30:00Z", 0, false},
		{"words", "later", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := ParseRetryAfter(tt.in, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestClamp(t *testing.T) {
	t.Parallel()
	const m = time.Minute
	tests := []struct {
		name                  string
		retryAfter, scheduled time.Duration
		want                  time.Duration
	}{
		// Inside the bounds: kept.
		{"between", 90 * time.Second, m, 90 * time.Second},
		{"at lower bound", m, m, m},
		{"at upper bound", 2 * m, m, 2 * m},

		// Outside: clamped.
		{"sooner than scheduled", time.Second, m, m},
		{"zero", 0, m, m},
		{"negative", -m, m, m},
		{"later than twice scheduled", time.Hour, m, 2 * m},
		{"huge", math.MaxInt64, m, 2 * m},

		// Degenerate schedules.
		{"scheduled zero", time.Hour, 0, 0},
		{"scheduled negative", time.Hour, -m, -m},
		{"upper bound saturates", math.MaxInt64, math.MaxInt64/2 + 1, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Clamp(tt.retryAfter, tt.scheduled); got != tt.want {
				t.Errorf("Clamp(%v, %v) = %v, want %v", tt.retryAfter, tt.scheduled, got, tt.want)
			}
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "Wed, 21 Oct 2015 07:28:00 GMT", "Wednesday, 21-Oct-15 07:29:00 GMT", "Wed Oct 21 08:28:00 2015", "-1", "", "99999999999999999999"} {
		f.Add(s)
	}
	now := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseRetryAfter(s, now)
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, false; want 0 when not ok", s, d)
		}
		if d < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, negative", s, d)
		}
	})
}
