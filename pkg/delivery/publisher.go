package delivery

import (
	"context"
	"log/slog"
	"time"

	"github.com/hookd/hookd/pkg/webhook"
)

// PublishStore is what a Publisher writes (postgres.DB).
type PublishStore interface {
	// CreateMessage inserts msg and one pending delivery per endpoint of
	// its application that matches it (only to onlyEndpoint when that is
	// set), atomically, and returns the deliveries. A taken eventId is
	// ECONFLICT; a missing application ENOTFOUND.
	CreateMessage(ctx context.Context, msg *webhook.Message, onlyEndpoint string) ([]webhook.Delivery, error)
}

// Publisher is the publish flow: validate, store the message with its
// deliveries, queue their first attempts.
type Publisher struct {
	Store PublishStore // required
	Queue Queue        // required
	// Logger receives a warning when queueing fails; nil: nothing is logged.
	Logger *slog.Logger
	// EnqueueTimeout bounds the queueing after the commit; 0 means 5
	// seconds. What does not make it is queued by the Reconciler.
	EnqueueTimeout time.Duration
	// Tracer records a span per publish, with its store call and its
	// queueing, and keeps its trace context with the message; nil: nothing
	// is traced.
	Tracer Tracer
}

// Publish validates msg (its OrgID and AppID set), stores it with one
// pending delivery per matching endpoint of its application (to
// onlyEndpoint alone when that is set), and queues their first attempts. It
// sets msg's ID and CreatedAt and returns the deliveries.
//
// Once Publish returns nil the message is durable and is delivered at least
// once to each of them: a queue failure after the commit is logged, not
// returned, and the Reconciler queues those attempts once overdue. Errors:
// EINVALID for an invalid message, ECONFLICT for a taken eventId, ENOTFOUND
// for a missing application, or the store's own error.
func (p *Publisher) Publish(ctx context.Context, msg *webhook.Message, onlyEndpoint string) ([]webhook.Delivery, error) {
	if p.Tracer != nil {
		return p.publishTraced(ctx, msg, onlyEndpoint)
	}
	return p.publish(ctx, msg, onlyEndpoint)
}

// publish is Publish.
func (p *Publisher) publish(ctx context.Context, msg *webhook.Message, onlyEndpoint string) ([]webhook.Delivery, error) {
	if err := msg.Validate(); err != nil {
		return nil, err
	}
	sctx, end := startSpan(ctx, p.Tracer, "store message", SpanClient)
	deliveries, err := p.Store.CreateMessage(sctx, msg, onlyEndpoint)
	end(err)
	if err != nil {
		return nil, err
	}
	if len(deliveries) == 0 {
		return deliveries, nil
	}
	timeout := p.EnqueueTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	// Committed: the caller may go, the queueing goes on within its bound.
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	qctx, end = startSpan(qctx, p.Tracer, "enqueue", SpanProducer)
	err = p.Queue.Enqueue(qctx, JobsFor(msg, deliveries)...)
	end(err)
	if err != nil {
		loggerOr(p.Logger).WarnContext(ctx, "queueing deliveries failed; the reconciler will retry",
			slog.String("msg_id", msg.ID), slog.String("event_type", msg.EventType), slog.String("error", err.Error()))
	}
	return deliveries, nil
}
