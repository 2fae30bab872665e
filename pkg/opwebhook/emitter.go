package opwebhook

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/ttlcache"
	"github.com/hookd/hookd/pkg/webhook"
)

// Store is what the Emitter reads and writes (implemented by postgres.DB).
type Store interface {
	// OperationalSubscriptions says whether anyone receives the event.
	OperationalSubscriptions(ctx context.Context, orgID string) (webhook.OperationalSubscriptions, error)
	// FindApp and FindEndpoint resolve the uids the event's data lacks.
	FindApp(ctx context.Context, orgID, idOrUID string) (*webhook.Application, error)
	FindEndpoint(ctx context.Context, app *webhook.Application, idOrUID string) (*webhook.Endpoint, error)
}

// Config configures an Emitter. Zero values of optional fields are noted.
type Config struct {
	Store Store // required
	// Publisher stores and queues the events, as messages of the
	// organisation's internal application; required.
	Publisher *delivery.Publisher
	// TTL is how long an organisation's subscriptions (who has operational
	// endpoints, for which types) are reused before being read again;
	// Invalidate drops them at once. 0 means 5 seconds.
	TTL time.Duration
	// Now is the clock for events without a timestamp; nil means time.Now.
	Now func() time.Time
}

// subscriptionsCacheSize caps the cached organisations; when full it is emptied.
const subscriptionsCacheSize = 10000

// Emitter implements webhook.OperationalEmitter. It is safe for concurrent use.
//
// Emit is cheap when nobody listens: an organisation without an enabled
// operational endpoint taking the event's type costs one indexed query per
// TTL and nothing else, so it can be called from the delivery path.
type Emitter struct {
	cfg  Config
	subs *ttlcache.Cache[string, webhook.OperationalSubscriptions] // by organisation
}

// New returns an Emitter.
func New(cfg Config) *Emitter {
	if cfg.TTL == 0 {
		cfg.TTL = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Emitter{cfg: cfg, subs: ttlcache.New[string, webhook.OperationalSubscriptions](cfg.TTL, subscriptionsCacheSize)}
}

// Emit stores ev as a message of orgID's internal application and enqueues
// its deliveries, when at least one enabled operational endpoint takes its
// type; otherwise it does nothing and returns nil.
//
// The data's missing appUid (and endpointUid) is looked up. Events about
// the internal application's own endpoints are dropped, so that a failing
// operational endpoint never feeds events to itself. A zero timestamp is
// set to now. An error means the event was not stored; once Emit returns
// nil, it is delivered at least once to each subscribed endpoint.
func (e *Emitter) Emit(ctx context.Context, orgID string, ev webhook.OperationalEvent) error {
	subs, err := e.subscriptions(ctx, orgID)
	if err != nil {
		return fmt.Errorf("loading operational webhook endpoints: %w", err)
	}
	if subs.AppID == "" || !subs.Wants(ev.Type) {
		return nil
	}
	if aboutApp(ev.Data) == subs.AppID {
		return nil
	}
	if ev.Data, err = e.resolve(ctx, orgID, ev.Data); err != nil {
		return fmt.Errorf("resolving uids of %s event: %w", ev.Type, err)
	}
	if ev.Timestamp.IsZero() {
		ev.Timestamp = e.cfg.Now()
	}
	ev.Timestamp = ev.Timestamp.UTC()
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encoding %s event: %w", ev.Type, err)
	}
	msg := &webhook.Message{
		OrgID: orgID, AppID: subs.AppID, EventType: ev.Type, Payload: payload,
		RetentionDays: webhook.DefaultRetentionDays,
	}
	if _, err := e.cfg.Publisher.Publish(ctx, msg, ""); err != nil {
		return fmt.Errorf("storing %s event: %w", ev.Type, err)
	}
	return nil
}

// Invalidate forgets orgID's cached subscriptions: the API calls it after
// changing the organisation's operational endpoints, so that this process
// sends the very next event to them. Other processes see the change
// within TTL.
func (e *Emitter) Invalidate(orgID string) { e.subs.Delete(orgID) }

// subscriptions returns orgID's subscriptions, from the cache when fresh.
func (e *Emitter) subscriptions(ctx context.Context, orgID string) (webhook.OperationalSubscriptions, error) {
	return e.subs.Load(orgID, func() (webhook.OperationalSubscriptions, error) {
		return e.cfg.Store.OperationalSubscriptions(ctx, orgID)
	})
}

// aboutApp returns the application an event's data is about ("" for
// data of another type).
func aboutApp(data any) string {
	switch d := data.(type) {
	case webhook.EndpointEventData:
		return d.AppID
	case *webhook.EndpointEventData:
		if d != nil {
			return d.AppID
		}
	case webhook.AttemptEventData:
		return d.AppID
	case *webhook.AttemptEventData:
		if d != nil {
			return d.AppID
		}
	case webhook.OrderingBlockedEventData:
		return d.AppID
	}
	return ""
}

// resolve fills in the uids missing from an event's data (given by value
// or by pointer; the caller's value is never changed).
func (e *Emitter) resolve(ctx context.Context, orgID string, data any) (any, error) {
	switch d := data.(type) {
	case webhook.EndpointEventData:
		err := e.resolveUIDs(ctx, orgID, d.AppID, &d.AppUID, d.EndpointID, &d.EndpointUID)
		return d, err
	case *webhook.EndpointEventData:
		if d != nil {
			return e.resolve(ctx, orgID, *d)
		}
	case webhook.AttemptEventData:
		err := e.resolveUIDs(ctx, orgID, d.AppID, &d.AppUID, "", nil)
		return d, err
	case webhook.OrderingBlockedEventData:
		err := e.resolveUIDs(ctx, orgID, d.AppID, &d.AppUID, d.EndpointID, &d.EndpointUID)
		return d, err
	case *webhook.AttemptEventData:
		if d != nil {
			return e.resolve(ctx, orgID, *d)
		}
	}
	return data, nil
}

// resolveUIDs sets *appUID and, when endpointUID is given, *endpointUID
// where they are nil, by looking the application and endpoint up. Either
// may be gone (endpoint.deleted): its uid then stays nil.
func (e *Emitter) resolveUIDs(ctx context.Context, orgID, appID string, appUID **string, endpointID string, endpointUID **string) error {
	if appID == "" {
		return nil
	}
	app := &webhook.Application{ID: appID, OrgID: orgID}
	if *appUID == nil {
		found, err := e.cfg.Store.FindApp(ctx, orgID, appID)
		switch {
		case err == nil && found.ID == appID: // not another app whose uid is this id
			app, *appUID = found, found.UID
		case err != nil && webhook.ErrorCode(err) != webhook.ENOTFOUND:
			return err
		}
	}
	if endpointUID == nil || *endpointUID != nil || endpointID == "" {
		return nil
	}
	ep, err := e.cfg.Store.FindEndpoint(ctx, app, endpointID)
	switch {
	case err == nil && ep.ID == endpointID:
		*endpointUID = ep.UID
	case err != nil && webhook.ErrorCode(err) != webhook.ENOTFOUND:
		return err
	}
	return nil
}
