package delivery

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/hookd/hookd/pkg/ttlcache"
	"github.com/hookd/hookd/pkg/webhook"
)

// PublishStore is what a Publisher reads and writes (postgres.DB).
type PublishStore interface {
	// PublishMessage inserts msg and one delivery per endpoint of its
	// application that matches it (only to onlyEndpoint when that is set,
	// whatever its filters), atomically, and returns the deliveries. An
	// endpoint with a payload filter matches when verdicts.Passed names it;
	// verdicts.Failed gives it a cancelled delivery with the failure's
	// reason. A taken eventId is ECONFLICT; a missing application
	// ENOTFOUND.
	PublishMessage(ctx context.Context, msg *webhook.Message, onlyEndpoint string, verdicts webhook.FilterVerdicts) ([]webhook.Delivery, error)
	// FilteredEndpoints returns the enabled endpoints of the application
	// appID that have a payload filter, with ID, Filter, FilterTypes and
	// Channels set.
	FilteredEndpoints(ctx context.Context, appID string) ([]webhook.Endpoint, error)
	// EnforcedEventTypes returns the event types of the organisation orgID
	// that enforce their schema, with Name and Schemas set.
	EnforcedEventTypes(ctx context.Context, orgID string) ([]webhook.EventType, error)
}

// Filters evaluates payload filters: CEL expressions (package filter,
// which is not standard library; cmd/hookd wires it in).
type Filters interface {
	// Matcher prepares msg for evaluation, decoding its payload once, and
	// returns a function that evaluates one filter expression against it:
	// the result, or an evaluation error whose message is meant for people
	// ("no such key: amount"). An error from Matcher itself means that no
	// filter can be evaluated against msg.
	Matcher(msg *webhook.Message) (func(expr string) (bool, error), error)
}

// Publisher is the publish flow: validate, check the payload against an
// enforced schema, evaluate the endpoints' payload filters, store the
// message with its deliveries, queue their first attempts.
type Publisher struct {
	Store PublishStore // required
	Queue Queue        // required
	// Filters evaluates endpoints' payload filters; nil: no filter can be
	// evaluated, and endpoints with one get cancelled deliveries saying so.
	Filters Filters
	// Schemas checks the payloads of event types that enforce their
	// schema; nil: none is checked.
	Schemas webhook.SchemaValidator
	// Logger receives a warning when queueing fails; nil: nothing is logged.
	Logger *slog.Logger
	// EnqueueTimeout bounds the queueing after the commit; 0 means 5
	// seconds. What does not make it is queued by the Reconciler.
	EnqueueTimeout time.Duration
	// Tracer records a span per publish, with its store call and its
	// queueing, and keeps its trace context with the message; nil: nothing
	// is traced.
	Tracer Tracer
	// RoutingTTL is how long the filtered endpoints of an application and
	// the enforced event types of an organisation are kept in memory; 0
	// means one second. Changes made through this process's API reach
	// publishes at once (Forget); others within RoutingTTL.
	RoutingTTL time.Duration

	cacheOnce sync.Once
	filtered  *ttlcache.Cache[string, []webhook.Endpoint]         // by app id
	enforced  *ttlcache.Cache[string, map[string]json.RawMessage] // by org id: newest schemas by event type
}

// routingCacheSize caps the applications (and organisations) whose routing
// a Publisher keeps.
const routingCacheSize = 10_000

// Publish validates msg (its OrgID and AppID set), checks its payload
// against its event type's newest schema when the type enforces it,
// evaluates the payload filters of its application's endpoints, stores it
// with one pending delivery per matching endpoint (to onlyEndpoint alone
// when that is set, whatever its filters) and queues their first attempts.
// It sets msg's ID and CreatedAt and returns the deliveries, the cancelled
// ones of filters that failed to evaluate included.
//
// Once Publish returns nil the message is durable and is delivered at least
// once to each pending delivery: a queue failure after the commit is
// logged, not returned, and the Reconciler queues those attempts once
// overdue. Errors: EINVALID for an invalid message or a payload its
// enforced schema refuses (at body.payload and the refused value's JSON
// pointer), ECONFLICT for a taken eventId, ENOTFOUND for a missing
// application, or the store's own error.
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
	if err := p.checkSchema(ctx, msg); err != nil {
		return nil, err
	}
	var verdicts webhook.FilterVerdicts
	if onlyEndpoint == "" {
		var err error
		if verdicts, err = p.filter(ctx, msg); err != nil {
			return nil, err
		}
	}
	sctx, end := startSpan(ctx, p.Tracer, "store message", SpanClient)
	deliveries, err := p.Store.PublishMessage(sctx, msg, onlyEndpoint, verdicts)
	end(err)
	if err != nil {
		return nil, err
	}
	jobs := JobsFor(msg, deliveries)
	if len(jobs) == 0 {
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
	err = p.Queue.Enqueue(qctx, jobs...)
	end(err)
	if err != nil {
		loggerOr(p.Logger).WarnContext(ctx, "queueing deliveries failed; the reconciler will retry",
			slog.String("msg_id", msg.ID), slog.String("event_type", msg.EventType), slog.String("error", err.Error()))
	}
	return deliveries, nil
}

// Check validates msg (its OrgID set) and checks its payload against its
// event type's enforced schema, as Publish does first, for a caller that
// must know before it does anything else (the API, before it creates the
// application a message names). Its errors are Publish's.
func (p *Publisher) Check(ctx context.Context, msg *webhook.Message) error {
	if err := msg.Validate(); err != nil {
		return err
	}
	return p.checkSchema(ctx, msg)
}

// Forget drops what the Publisher keeps about the application appID and
// the organisation orgID (either may be ""), so that a change to their
// endpoints' filters or event types reaches the next publish.
func (p *Publisher) Forget(orgID, appID string) {
	p.caches()
	if appID != "" {
		p.filtered.Delete(appID)
	}
	if orgID != "" {
		p.enforced.Delete(orgID)
	}
}

func (p *Publisher) caches() {
	p.cacheOnce.Do(func() {
		ttl := p.RoutingTTL
		if ttl == 0 {
			ttl = time.Second
		}
		p.filtered = ttlcache.New[string, []webhook.Endpoint](ttl, routingCacheSize)
		p.enforced = ttlcache.New[string, map[string]json.RawMessage](ttl, routingCacheSize)
	})
}
