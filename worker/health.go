package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/hookd/hookd/pkg/webhook"
)

// HealthChecker disables endpoints whose attempts have only failed for
// longer than DisableAfter (a success ends a run of failures), fails their
// scheduled deliveries so they can be recovered, and sends endpoint.disabled.
// An endpoint that answers 410 Gone is disabled at once by the Deliverer.
type HealthChecker struct {
	Store  webhook.DeliveryStore
	Events webhook.OperationalEmitter // nil: no events
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
	every(ctx, h.Interval, 10*time.Second, func(ctx context.Context) {
		if _, err := h.RunOnce(ctx); err != nil && ctx.Err() == nil {
			h.Logger.WarnContext(ctx, "endpoint health check failed", slog.String("error", err.Error()))
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
		EmitDisabled(ctx, h.Events, h.Logger, ep, "failing")
	}
	return len(disabled), err
}
