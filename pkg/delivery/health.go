package delivery

import (
	"context"
	"log/slog"
	"time"

	"github.com/hookd/hookd/pkg/loop"
	"github.com/hookd/hookd/pkg/webhook"
)

// HealthStore is what a HealthChecker writes (postgres.DB).
type HealthStore interface {
	// DisableFailingEndpoints disables every enabled endpoint whose
	// attempts have only failed since before failingBefore, fails their
	// scheduled deliveries (so they can be recovered) and returns them.
	DisableFailingEndpoints(ctx context.Context, failingBefore time.Time) ([]webhook.DisabledEndpoint, error)
}

// HealthChecker disables endpoints whose attempts have only failed for
// longer than DisableAfter (a success ends a run of failures), fails their
// scheduled deliveries so they can be recovered, and sends
// endpoint.disabled. An endpoint that answers 410 Gone is disabled at once
// by the Attempter.
type HealthChecker struct {
	Store  HealthStore                // required
	Events webhook.OperationalEmitter // nil: no events
	// Logger receives a line per disabled endpoint; nil: nothing.
	Logger *slog.Logger
	// DisableAfter is how long an endpoint may only fail before it is disabled.
	DisableAfter time.Duration
	// Interval between runs; 0 means 10s.
	Interval time.Duration
	// Observer is told about disabled endpoints; nil: nobody.
	Observer Observer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Run loops until ctx is done.
func (h *HealthChecker) Run(ctx context.Context) {
	loop.Every(ctx, h.Interval, 10*time.Second, func(ctx context.Context) {
		if _, err := h.RunOnce(ctx); err != nil && ctx.Err() == nil {
			loggerOr(h.Logger).WarnContext(ctx, "endpoint health check failed", slog.String("error", err.Error()))
		}
	})
}

// RunOnce disables the endpoints failing for too long and returns how many.
func (h *HealthChecker) RunOnce(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	disabled, err := h.Store.DisableFailingEndpoints(ctx, now().Add(-h.DisableAfter))
	for _, ep := range disabled {
		observerOr(h.Observer).EndpointDisabled("failing")
		emitDisabled(ctx, h.Events, loggerOr(h.Logger), now(), ep, "failing")
	}
	return len(disabled), err
}

// emitDisabled logs and sends endpoint.disabled for an endpoint hookd
// disabled (reason "gone" or "failing"; the trigger is automatic).
func emitDisabled(ctx context.Context, events webhook.OperationalEmitter, logger *slog.Logger, now time.Time, ep webhook.DisabledEndpoint, reason string) {
	logger.InfoContext(ctx, "endpoint disabled", slog.String("endpoint_id", ep.ID), slog.String("app_id", ep.AppID), slog.String("reason", reason))
	if events == nil {
		return
	}
	ev := webhook.OperationalEvent{Type: webhook.EventEndpointDisabled, Timestamp: now.UTC(), Data: webhook.EndpointEventData{
		AppID: ep.AppID, EndpointID: ep.ID, EndpointUID: ep.UID, FailSince: ep.FailingSince, Trigger: "automatic",
	}}
	if err := events.Emit(ctx, ep.OrgID, ev); err != nil {
		logger.WarnContext(ctx, "emitting endpoint.disabled failed", slog.String("endpoint_id", ep.ID), slog.String("error", err.Error()))
	}
}
