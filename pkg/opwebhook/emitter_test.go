package opwebhook_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/opwebhook"
	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/webhook"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// recordingQueue remembers the jobs it was given.
type recordingQueue struct {
	mu   sync.Mutex
	jobs []delivery.Job
}

func (r *recordingQueue) Enqueue(_ context.Context, jobs ...delivery.Job) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jobs = append(r.jobs, jobs...)
	return nil
}

func (r *recordingQueue) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.jobs)
}

// bundle is an Emitter on its own database, with an organisation and one
// of its applications ("shop") with an endpoint ("ep-1").
type bundle struct {
	t          *testing.T
	db         *postgres.DB
	emitter    *opwebhook.Emitter
	dispatched *recordingQueue
	orgID      string
	app        *webhook.Application
	ep         *webhook.Endpoint
	now        time.Time
}

func setup(t *testing.T, ttl time.Duration) *bundle {
	t.Helper()
	ctx := context.Background()
	b := &bundle{t: t, db: postgrestest.NewDB(t, nil), dispatched: &recordingQueue{},
		now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	org, err := b.db.EnsureOrg(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	b.orgID = org.ID
	uid, epUID := "shop", "ep-1"
	b.app = &webhook.Application{OrgID: org.ID, Name: "Shop", UID: &uid}
	if err := b.db.CreateApp(ctx, b.app); err != nil {
		t.Fatal(err)
	}
	b.ep = &webhook.Endpoint{OrgID: org.ID, AppID: b.app.ID, UID: &epUID, URL: "https://example.com/h", Version: 1, Secret: testSecret}
	if err := b.db.CreateEndpoint(ctx, b.ep); err != nil {
		t.Fatal(err)
	}
	b.emitter = opwebhook.New(opwebhook.Config{
		Store: b.db, Publisher: &delivery.Publisher{Store: b.db, Queue: b.dispatched}, TTL: ttl,
		Now: func() time.Time { return b.now },
	})
	return b
}

// subscribe adds an operational endpoint taking filter (nil: every type).
func (b *bundle) subscribe(filter ...string) *webhook.Application {
	b.t.Helper()
	ctx := context.Background()
	app, err := b.db.OperationalApp(ctx, b.orgID, true)
	if err != nil {
		b.t.Fatal(err)
	}
	ep := &webhook.Endpoint{OrgID: b.orgID, AppID: app.ID, URL: "https://example.com/ops", Version: 1, FilterTypes: filter, Secret: testSecret}
	if err := b.db.CreateEndpoint(ctx, ep); err != nil {
		b.t.Fatal(err)
	}
	b.emitter.Invalidate(b.orgID)
	return app
}

// events returns the operational events stored so far, oldest first.
func (b *bundle) events() []map[string]any {
	b.t.Helper()
	ctx := context.Background()
	app, err := b.db.OperationalApp(ctx, b.orgID, false)
	if webhook.ErrorCode(err) == webhook.ENOTFOUND {
		return nil
	}
	if err != nil {
		b.t.Fatal(err)
	}
	page, err := b.db.ListMessages(ctx, app, webhook.MessageFilter{}, webhook.ListOptions{Limit: 50, Ascending: true})
	if err != nil {
		b.t.Fatal(err)
	}
	var out []map[string]any
	for _, m := range page.Items {
		var ev map[string]any
		if err := json.Unmarshal(m.Payload, &ev); err != nil {
			b.t.Fatalf("payload %s: %v", m.Payload, err)
		}
		if ev["type"] != m.EventType {
			b.t.Fatalf("message event type %q carries payload type %v", m.EventType, ev["type"])
		}
		out = append(out, ev)
	}
	return out
}

func (b *bundle) emit(ev webhook.OperationalEvent) {
	b.t.Helper()
	if err := b.emitter.Emit(context.Background(), b.orgID, ev); err != nil {
		b.t.Fatalf("Emit(%s): %v", ev.Type, err)
	}
}

func (b *bundle) created() webhook.OperationalEvent {
	return webhook.OperationalEvent{Type: webhook.EventEndpointCreated,
		Data: webhook.EndpointEventData{AppID: b.app.ID, EndpointID: b.ep.ID}}
}

func TestEmitWithoutSubscribersDoesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	b.emit(b.created())
	if _, err := b.db.OperationalApp(context.Background(), b.orgID, false); webhook.ErrorCode(err) != webhook.ENOTFOUND {
		t.Fatalf("an event without subscribers created the internal app: %v", err)
	}
	// Subscribed to other types only: still nothing stored.
	b.subscribe(webhook.EventEndpointDisabled)
	b.emit(b.created())
	if evs := b.events(); len(evs) != 0 || b.dispatched.count() != 0 {
		t.Fatalf("stored %v, dispatched %d; want nothing", evs, b.dispatched.count())
	}
}

func TestEmitStoresResolvesAndDispatches(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	b.subscribe()
	b.emit(b.created()) // uids left out: looked up
	msgEventID := "order-1"
	b.emit(webhook.OperationalEvent{Type: webhook.EventMessageAttemptExhausted, Timestamp: b.now.Add(time.Minute),
		Data: &webhook.AttemptEventData{AppID: b.app.ID, MsgID: "msg_x", MsgEventID: &msgEventID, EndpointID: b.ep.ID,
			LastAttempt: webhook.LastAttempt{ID: "atmpt_x", Timestamp: b.now, ResponseStatusCode: 500}}})
	evs := b.events()
	if len(evs) != 2 || b.dispatched.count() != 2 {
		t.Fatalf("stored %d events, dispatched %d deliveries; want 2 and 2", len(evs), b.dispatched.count())
	}
	data := evs[0]["data"].(map[string]any)
	if evs[0]["type"] != "endpoint.created" || evs[0]["timestamp"] != "2026-01-02T03:04:05Z" ||
		data["appId"] != b.app.ID || data["appUid"] != "shop" || data["endpointId"] != b.ep.ID || data["endpointUid"] != "ep-1" {
		t.Fatalf("endpoint.created event = %v", evs[0])
	}
	data = evs[1]["data"].(map[string]any)
	last, _ := data["lastAttempt"].(map[string]any)
	if evs[1]["timestamp"] != "2026-01-02T03:05:05Z" || data["appUid"] != "shop" || data["msgEventId"] != "order-1" ||
		last["responseStatusCode"] != 500.0 {
		t.Fatalf("message.attempt.exhausted event = %v", evs[1])
	}
}

func TestEmitAfterDeletionKeepsUIDsNull(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	b.subscribe()
	ctx := context.Background()
	if err := b.db.DeleteEndpoint(ctx, b.ep); err != nil {
		t.Fatal(err)
	}
	b.emit(webhook.OperationalEvent{Type: webhook.EventEndpointDeleted,
		Data: webhook.EndpointEventData{AppID: b.app.ID, EndpointID: b.ep.ID}})
	evs := b.events()
	if len(evs) != 1 {
		t.Fatalf("stored %d events, want 1", len(evs))
	}
	data := evs[0]["data"].(map[string]any)
	if data["appUid"] != "shop" || data["endpointUid"] != nil {
		t.Fatalf("endpoint.deleted data = %v, want appUid shop and endpointUid null", data)
	}
}

func TestEmitDropsEventsAboutOperationalEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	internal := b.subscribe()
	b.emit(webhook.OperationalEvent{Type: webhook.EventMessageAttemptFailing,
		Data: webhook.AttemptEventData{AppID: internal.ID, MsgID: "msg_x", EndpointID: "ep_x"}})
	if evs := b.events(); len(evs) != 0 {
		t.Fatalf("an event about an operational endpoint was stored: %v", evs)
	}
}

func TestEmitCachesSubscriptionsUntilInvalidated(t *testing.T) {
	t.Parallel()
	b := setup(t, time.Hour)
	b.emit(b.created()) // caches "nobody listens"
	ctx := context.Background()
	app, err := b.db.OperationalApp(ctx, b.orgID, true)
	if err != nil {
		t.Fatal(err)
	}
	ep := &webhook.Endpoint{OrgID: b.orgID, AppID: app.ID, URL: "https://example.com/ops", Version: 1, Secret: testSecret}
	if err := b.db.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	b.emit(b.created())
	if evs := b.events(); len(evs) != 0 {
		t.Fatalf("stored %d events within the TTL of a negative lookup, want 0", len(evs))
	}
	b.emitter.Invalidate(b.orgID)
	b.emit(b.created())
	if evs := b.events(); len(evs) != 1 {
		t.Fatalf("stored %d events after Invalidate, want 1", len(evs))
	}
}
