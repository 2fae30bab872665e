package retry

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	const (
		s = time.Second
		m = time.Minute
		h = time.Hour
	)
	tests := []struct {
		name    string
		in      string
		want    Schedule
		wantErr string // substring of the error; "" means success
	}{
		// Accepted.
		{"hookd default", "5s,5m,30m,2h,5h,10h,10h", Schedule{5 * s, 5 * m, 30 * m, 2 * h, 5 * h, 10 * h, 10 * h}, ""},
		{"single item", "1m", Schedule{m}, ""},
		{"spaces around items", " 5s , 1m\t,2h ", Schedule{5 * s, m, 2 * h}, ""},
		{"compound durations", "1h30m,1.5s,250ms", Schedule{90 * m, 1500 * time.Millisecond, 250 * time.Millisecond}, ""},
		{"decreasing order allowed", "1h,1s", Schedule{h, s}, ""},
		{"smallest positive", "1ns", Schedule{1}, ""},

		// Empty input or items.
		{"empty", "", nil, "empty"},
		{"blank", "  ", nil, "empty"},
		{"leading comma", ",5s", nil, "item 1 is empty"},
		{"trailing comma", "5s,", nil, "item 2 is empty"},
		{"double comma", "5s,,5m", nil, "item 2 is empty"},
		{"blank item", "5s, ,5m", nil, "item 2 is empty"},

		// Not durations.
		{"no unit", "5", nil, `item 1 ("5") is not a duration`},
		{"unknown unit", "5s,3d", nil, `item 2 ("3d") is not a duration`},
		{"garbage", "soon", nil, `item 1 ("soon") is not a duration`},
		{"semicolons", "5s;5m", nil, `item 1 ("5s;5m") is not a duration`},
		{"overflow", "9999999999h", nil, "is not a duration"},

		// Not positive.
		{"zero", "0s", nil, `item 1 ("0s") must be positive`},
		{"bare zero", "5s,0", nil, `item 2 ("0") must be positive`},
		{"negative", "5s,-1m", nil, `item 2 ("-1m") must be positive`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSchedule(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSchedule(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSchedule(%q): %v", tt.in, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ParseSchedule(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestScheduleAttemptsAndString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sched    Schedule
		attempts int
		str      string
	}{
		// Empty schedules still make one attempt.
		{nil, 1, ""},
		{Schedule{}, 1, ""},

		// One attempt more than delays; String round-trips.
		{Schedule{5 * time.Second}, 2, "5s"},
		{Schedule{5 * time.Second, 5 * time.Minute, 2 * time.Hour}, 4, "5s,5m0s,2h0m0s"},
	}
	for _, tt := range tests {
		if got := tt.sched.Attempts(); got != tt.attempts {
			t.Errorf("%v.Attempts() = %d, want %d", tt.sched, got, tt.attempts)
		}
		if got := tt.sched.String(); got != tt.str {
			t.Errorf("String() = %q, want %q", got, tt.str)
		}
		if len(tt.sched) > 0 {
			back, err := ParseSchedule(tt.sched.String())
			if err != nil || !slices.Equal(back, tt.sched) {
				t.Errorf("round trip of %q = %v, %v", tt.str, back, err)
			}
		}
	}
}

func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"5s,5m,30m,2h,5h,10h,10h", "", ",", "1h30m, 2s", "-1s", "0", "1e9h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sched, err := ParseSchedule(s)
		if err != nil {
			if sched != nil {
				t.Fatalf("error %v with a non-nil schedule %v", err, sched)
			}
			return
		}
		if len(sched) != strings.Count(s, ",")+1 {
			t.Fatalf("%q gave %d items", s, len(sched))
		}
		for _, d := range sched {
			if d <= 0 {
				t.Fatalf("%q gave non-positive delay %v", s, d)
			}
		}
		back, err := ParseSchedule(sched.String())
		if err != nil || !slices.Equal(back, sched) {
			t.Fatalf("round trip of %q: %v, %v", s, back, err)
		}
	})
}
