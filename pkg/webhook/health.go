package webhook

import (
	"context"
	"time"
)

// HealthBucket counts an endpoint's attempts that started in [Start,
// Start + an hour or a day): every succeeded or failed attempt, and the
// failed ones among them. Attempts a transformation cancelled are neither.
type HealthBucket struct {
	Start    time.Time
	Attempts int64
	Failures int64
}

// Health is how an endpoint is doing, for the health dot of the web UI.
type Health string

// The health levels, worst last. See EndpointHealth.Level.
const (
	HealthHealthy  Health = "healthy"  // green: its last attempt succeeded, few recent failures
	HealthDegraded Health = "degraded" // amber: its last attempt succeeded, but DegradedRate of the last 24 h failed
	HealthFailing  Health = "failing"  // red: its last attempt failed (FailingSince is set)
	HealthDisabled Health = "disabled" // grey: it receives nothing
)

// DegradedRate is the share of failed attempts over the last 24 hours from
// which an endpoint whose last attempt succeeded is degraded.
const DegradedRate = 0.1

// HealthHours and HealthDays are how many hourly and daily buckets an
// EndpointHealth has: the last 24 hours and the last 30 days, the current
// hour and day included.
const (
	HealthHours = 24
	HealthDays  = 30
)

// EndpointHealth is an endpoint's recent attempts, read from aggregates
// kept up to date as attempts are recorded (never by scanning attempts).
type EndpointHealth struct {
	EndpointID string
	Disabled   bool
	// FailingSince is when its current run of failed attempts began; nil
	// when its last attempt succeeded or it has none.
	FailingSince *time.Time
	// Attempts and Failures count the last 24 hours (HealthHours buckets).
	Attempts, Failures int64
	// Hourly and Daily are oldest first, in UTC; nil in a summary
	// (AppEndpointHealth).
	Hourly, Daily []HealthBucket
}

// Level is the endpoint's health: disabled; failing while its last attempt
// failed; degraded while its last attempt succeeded but at least
// DegradedRate of the last 24 hours' attempts failed; healthy otherwise
// (no attempts included). The last attempt decides first, so an endpoint
// turns red at its first failure and green once it answers again, however
// long its history.
func (h *EndpointHealth) Level() Health {
	switch {
	case h.Disabled:
		return HealthDisabled
	case h.FailingSince != nil:
		return HealthFailing
	case h.Attempts > 0 && float64(h.Failures) >= DegradedRate*float64(h.Attempts):
		return HealthDegraded
	}
	return HealthHealthy
}

// FillHealth sets h's Hourly, Daily, Attempts and Failures from hourly
// counts (any order; hours outside the windows are ignored) as of now.
func FillHealth(h *EndpointHealth, hours []HealthBucket, now time.Time) {
	now = now.UTC()
	hour := now.Truncate(time.Hour)
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	h.Hourly = make([]HealthBucket, HealthHours)
	for i := range h.Hourly {
		h.Hourly[i].Start = hour.Add(time.Duration(i-HealthHours+1) * time.Hour)
	}
	h.Daily = make([]HealthBucket, HealthDays)
	for i := range h.Daily {
		h.Daily[i].Start = day.AddDate(0, 0, i-HealthDays+1)
	}
	h.Attempts, h.Failures = 0, 0
	for _, b := range hours {
		start := b.Start.UTC()
		if !start.Before(hour.Add(time.Hour)) {
			continue // the future (another process's clock)
		}
		if i := int(start.Sub(h.Hourly[0].Start) / time.Hour); i >= 0 && i < HealthHours {
			h.Hourly[i].Attempts += b.Attempts
			h.Hourly[i].Failures += b.Failures
			h.Attempts += b.Attempts
			h.Failures += b.Failures
		}
		d := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)
		for i := range h.Daily {
			if h.Daily[i].Start.Equal(d) {
				h.Daily[i].Attempts += b.Attempts
				h.Daily[i].Failures += b.Failures
			}
		}
	}
}

// HealthStore reads the attempt aggregates of endpoints.
type HealthStore interface {
	// EndpointHealth returns ep's health as of now, with its hourly and
	// daily buckets.
	EndpointHealth(ctx context.Context, ep *Endpoint, now time.Time) (EndpointHealth, error)
	// AppEndpointHealth returns the health of app's endpoints (the newest
	// limit of them), as of now, newest first, without buckets.
	AppEndpointHealth(ctx context.Context, app *Application, now time.Time, limit int) ([]EndpointHealth, error)
	// FailingDeliveries returns app's deliveries that are failing now: the
	// newest limit retrying (StatusSending) and the newest limit out of
	// retries (StatusFail), by message, newest first, with their messages
	// (payloads left out). done is false when either status has more.
	FailingDeliveries(ctx context.Context, app *Application, limit int) (out []EndpointMessage, done bool, err error)
}
