package webhook

import (
	"testing"
	"time"
)

func TestEndpointHealthLevel(t *testing.T) {
	since := time.Now()
	for _, tc := range []struct {
		name string
		h    EndpointHealth
		want Health
	}{
		// The last attempt decides first.
		{"disabled beats failing", EndpointHealth{Disabled: true, FailingSince: &since}, HealthDisabled},
		{"last attempt failed", EndpointHealth{FailingSince: &since, Attempts: 1000, Failures: 1}, HealthFailing},
		// Then the failure rate of the last 24 hours.
		{"no attempts", EndpointHealth{}, HealthHealthy},
		{"under the rate", EndpointHealth{Attempts: 100, Failures: 9}, HealthHealthy},
		{"at the rate", EndpointHealth{Attempts: 100, Failures: 10}, HealthDegraded},
	} {
		if got := tc.h.Level(); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestFillHealth(t *testing.T) {
	now := time.Date(2026, 3, 10, 14, 25, 0, 0, time.UTC)
	hour := func(h int) time.Time { return now.Truncate(time.Hour).Add(time.Duration(h) * time.Hour) }
	var h EndpointHealth
	FillHealth(&h, []HealthBucket{
		{Start: hour(0), Attempts: 5, Failures: 1},
		{Start: hour(-23), Attempts: 2, Failures: 2},   // the oldest hour of the 24
		{Start: hour(-24), Attempts: 7, Failures: 0},   // yesterday, same hour: days only
		{Start: hour(-14 - 24*29), Attempts: 3},        // the oldest day of the 30
		{Start: hour(-14 - 24*30), Attempts: 100},      // too old for both
		{Start: hour(1), Attempts: 100, Failures: 100}, // the future (clock skew): neither
	}, now)
	if len(h.Hourly) != HealthHours || len(h.Daily) != HealthDays {
		t.Fatalf("%d hours and %d days", len(h.Hourly), len(h.Daily))
	}
	if h.Attempts != 7 || h.Failures != 3 {
		t.Errorf("24 h: %d attempts, %d failures, want 7, 3", h.Attempts, h.Failures)
	}
	if b := h.Hourly[HealthHours-1]; !b.Start.Equal(hour(0)) || b.Attempts != 5 {
		t.Errorf("current hour %+v", b)
	}
	if b := h.Hourly[0]; !b.Start.Equal(hour(-23)) || b.Failures != 2 {
		t.Errorf("oldest hour %+v", b)
	}
	today := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	if b := h.Daily[HealthDays-1]; !b.Start.Equal(today) || b.Attempts != 5 {
		t.Errorf("today %+v, want 5 attempts", b)
	}
	if b := h.Daily[HealthDays-2]; b.Attempts != 9 {
		t.Errorf("yesterday %+v, want 9 attempts", b)
	}
	if b := h.Daily[0]; !b.Start.Equal(today.AddDate(0, 0, -29)) || b.Attempts != 3 {
		t.Errorf("oldest day %+v", b)
	}
}
