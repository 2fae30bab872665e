package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/webhook"
)

// messageJSON is the contract's MessageOut. Payload keeps the raw bytes of
// the answer, so tests can compare key order.
type messageJSON struct {
	ID        string          `json:"id"`
	EventType string          `json:"eventType"`
	EventID   *string         `json:"eventId"`
	Payload   json.RawMessage `json:"payload"`
	Channels  []string        `json:"channels"`
	Timestamp time.Time       `json:"timestamp"`
}

// messageKeys are the keys every MessageOut carries, null or not.
var messageKeys = []string{"id", "eventType", "eventId", "payload", "channels", "timestamp"}

// publish posts body (a string sent as is, or a value JSON-encoded) as a
// message of app, which must be accepted.
func (b *bundle) publish(app string, body any) messageJSON {
	b.t.Helper()
	r := b.do(http.MethodPost, "/api/v1/app/"+app+"/msg", body).must(b.t, http.StatusAccepted)
	mustKeys(b.t, r.body, messageKeys...)
	return decode[messageJSON](b.t, r)
}

// dispatchedFor returns the deliveries queued for message msgID.
func (b *bundle) dispatchedFor(msgID string) []webhook.Delivery {
	var out []webhook.Delivery
	for _, d := range b.dispatched.dispatchedTo() {
		if d.MessageID == msgID {
			out = append(out, d)
		}
	}
	return out
}

// endpointsOf returns the sorted endpoint ids of deliveries.
func endpointsOf(deliveries []webhook.Delivery) []string {
	ids := make([]string, 0, len(deliveries))
	for _, d := range deliveries {
		ids = append(ids, d.EndpointID)
	}
	slices.Sort(ids)
	return ids
}

// compact returns raw without insignificant whitespace.
func compact(t *testing.T, raw string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// listMessages GETs the app's message list with query, which must answer 200.
func (b *bundle) listMessages(app string, query url.Values) listJSON[messageJSON] {
	b.t.Helper()
	path := "/api/v1/app/" + app + "/msg"
	if q := query.Encode(); q != "" {
		path += "?" + q
	}
	return decode[listJSON[messageJSON]](b.t, b.do(http.MethodGet, path, nil).must(b.t, http.StatusOK))
}

func idsOf(msgs []messageJSON) []string {
	ids := make([]string, 0, len(msgs))
	for _, m := range msgs {
		ids = append(ids, m.ID)
	}
	return ids
}

func TestCreateMessageKeepsPayloadBytes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{"uid": "shop"})

	// Keys out of alphabetical order, nested, with escapes, HTML characters,
	// big and decimal numbers: a jsonb column or a map would change them.
	const payload = `{
		"zebra": 1, "apple": {"y": [1, 2.50, {"b": null}], "x": "caf\u00e9 ☕ \"q\""},
		"html": "<b>&amp;</b>", "mango": true, "empty": {}, "big": 12345678901234567890
	}`
	want := compact(t, payload)
	before := time.Now().UTC().Add(-time.Second)
	m := b.publish("shop", `{"eventType":"order.paid","eventId":"evt-1","channels":["eu","b2b"],"payload":`+payload+`}`)
	if !webhook.ValidID(webhook.PrefixMessage, m.ID) || m.EventType != "order.paid" || str(m.EventID) != `"evt-1"` ||
		!slices.Equal(m.Channels, []string{"eu", "b2b"}) {
		t.Fatalf("created message = %+v", m)
	}
	if m.Timestamp.Before(before) || m.Timestamp.After(time.Now().Add(time.Second)) {
		t.Fatalf("timestamp %s is not the time of creation", m.Timestamp)
	}
	if string(m.Payload) != want {
		t.Fatalf("payload bytes in the answer:\n got %s\nwant %s", m.Payload, want)
	}

	// Every read gives the same bytes, by id and by eventId.
	for _, path := range []string{"/api/v1/app/shop/msg/" + m.ID, "/api/v1/app/" + app.ID + "/msg/evt-1"} {
		got := decode[messageJSON](t, b.do(http.MethodGet, path, nil).must(t, http.StatusOK))
		if string(got.Payload) != want || got.ID != m.ID || !got.Timestamp.Equal(m.Timestamp) {
			t.Fatalf("GET %s = %+v (payload %s), want payload %s", path, got, got.Payload, want)
		}
	}
	if l := b.listMessages("shop", nil); len(l.Data) != 1 || string(l.Data[0].Payload) != want {
		t.Fatalf("listed payload = %s, want %s", l.Data[0].Payload, want)
	}

	// And the worker gets them too.
	ep := b.createEndpoint(app.ID, map[string]any{})
	m2 := b.publish("shop", `{"eventType":"order.paid","payload":`+payload+`}`)
	if m2.EventID != nil || m2.Channels != nil {
		t.Fatalf("message without eventId and channels = %+v", m2)
	}
	ds := b.dispatchedFor(m2.ID)
	if len(ds) != 1 || ds[0].EndpointID != ep.ID {
		t.Fatalf("dispatched %+v, want one delivery to %s", ds, ep.ID)
	}
	job, err := b.db.LoadDelivery(context.Background(), ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(job.Message.Payload) != want {
		t.Fatalf("payload the worker sends:\n got %s\nwant %s", job.Message.Payload, want)
	}
}

func TestCreateMessageFansOutToMatchingEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{})
	b.createEventType("order.paid")
	b.createEventType("order.refunded")

	// Three messages: typed with channels, typed without channels, and of a
	// type that was never declared (messages may use any type).
	messages := []string{
		`{"eventType":"order.paid","channels":["eu","b2b"],"payload":{}}`,
		`{"eventType":"order.paid","payload":{}}`,
		`{"eventType":"user.created","payload":{}}`,
	}
	endpoints := []struct {
		name    string
		body    map[string]any
		disable bool // disabled by a PATCH after creation
		want    [3]bool
	}{
		// No filter receives everything.
		{"no filter", map[string]any{}, false, [3]bool{true, true, true}},
		// Event type filter.
		{"type filter names the type", map[string]any{"filterTypes": []string{"order.paid"}}, false, [3]bool{true, true, false}},
		{"type filter names another type", map[string]any{"filterTypes": []string{"order.refunded"}}, false, [3]bool{}},
		{"type filter names several types", map[string]any{"eventTypes": []string{"order.refunded", "order.paid"}}, false, [3]bool{true, true, false}},
		// Channel filter: a message without channels matches no channel filter.
		{"channel shared", map[string]any{"channels": []string{"eu"}}, false, [3]bool{true, false, false}},
		{"one of several channels shared", map[string]any{"channels": []string{"us", "b2b"}}, false, [3]bool{true, false, false}},
		{"channel not shared", map[string]any{"channels": []string{"us"}}, false, [3]bool{}},
		// Both filters must match.
		{"type and channel match", map[string]any{"filterTypes": []string{"order.paid"}, "channels": []string{"eu"}}, false, [3]bool{true, false, false}},
		{"type matches, channel does not", map[string]any{"filterTypes": []string{"order.paid"}, "channels": []string{"us"}}, false, [3]bool{}},
		{"channel matches, type does not", map[string]any{"filterTypes": []string{"order.refunded"}, "channels": []string{"eu"}}, false, [3]bool{}},
		// Disabled endpoints receive nothing.
		{"disabled", map[string]any{"disabled": true}, false, [3]bool{}},
		{"disabled later", map[string]any{}, true, [3]bool{}},
	}
	ids := make([]string, len(endpoints))
	for i, e := range endpoints {
		ids[i] = b.createEndpoint(app.ID, e.body).ID
		if e.disable {
			b.do(http.MethodPatch, "/api/v1/app/"+app.ID+"/endpoint/"+ids[i], map[string]any{"disabled": true}).must(t, http.StatusOK)
		}
	}

	total := 0
	for mi, body := range messages {
		m := b.publish(app.ID, body)
		var want []string
		for i, e := range endpoints {
			if e.want[mi] {
				want = append(want, ids[i])
			}
		}
		slices.Sort(want)
		ds := b.dispatchedFor(m.ID)
		if got := endpointsOf(ds); !slices.Equal(got, want) {
			for i, e := range endpoints {
				if slices.Contains(got, ids[i]) != e.want[mi] {
					t.Errorf("message %s: endpoint %q received it: %v, want %v", body, e.name, !e.want[mi], e.want[mi])
				}
			}
			t.Fatalf("message %s dispatched to %v, want %v", body, got, want)
		}
		for _, d := range ds {
			if !strings.HasPrefix(d.ID, webhook.PrefixDelivery) || d.AppID != app.ID || d.Status != webhook.StatusPending ||
				d.NextAttemptAt == nil || d.Round != 0 || d.RoundAttempts != 0 {
				t.Fatalf("dispatched delivery = %+v", d)
			}
		}
		total += len(want)
	}
	if n := len(b.dispatched.dispatchedTo()); n != total {
		t.Fatalf("%d deliveries dispatched in all, want %d", n, total)
	}
}

func TestCreateMessageWithoutContent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{})
	path := "/api/v1/app/" + app.ID + "/msg"

	r := b.do(http.MethodPost, path+"?with_content=false", `{"eventType":"a","payload":{"secret":"s3cr3t"}}`).must(t, http.StatusAccepted)
	obj := mustKeys(t, r.body, messageKeys...)
	if string(obj["payload"]) != "{}" || bytes.Contains(r.body, []byte("s3cr3t")) {
		t.Fatalf("with_content=false answered %s, want payload {}", r.body)
	}
	// The payload is stored all the same.
	m := decode[messageJSON](t, r)
	got := decode[messageJSON](t, b.do(http.MethodGet, path+"/"+m.ID, nil).must(t, http.StatusOK))
	if string(got.Payload) != `{"secret":"s3cr3t"}` {
		t.Fatalf("stored payload = %s", got.Payload)
	}
	got = decode[messageJSON](t, b.do(http.MethodGet, path+"/"+m.ID+"?with_content=false", nil).must(t, http.StatusOK))
	if string(got.Payload) != "{}" || got.EventType != "a" {
		t.Fatalf("GET with_content=false = %+v", got)
	}
	mustInvalid(t, b.do(http.MethodGet, path+"/"+m.ID+"?with_content=maybe", nil), "query", "with_content")
}

func TestCreateMessageCreatesApplication(t *testing.T) {
	t.Parallel()
	b := setup(t)
	apps := b.snapshot("/api/v1/app")

	// An unknown application without "application" is a 404.
	mustError(t, b.do(http.MethodPost, "/api/v1/app/new-shop/msg", `{"eventType":"a","payload":{}}`), http.StatusNotFound, "not_found")
	b.unchanged("/api/v1/app", apps)

	// An invalid message does not create the application it names.
	mustInvalid(t, b.do(http.MethodPost, "/api/v1/app/new-shop/msg",
		`{"eventType":"a","payload":[],"application":{"name":"New shop"}}`), "body", "payload")
	mustInvalid(t, b.do(http.MethodPost, "/api/v1/app/new-shop/msg",
		`{"eventType":"bad type","payload":{},"application":{"name":"New shop"}}`), "body", "eventType")
	mustError(t, b.do(http.MethodGet, "/api/v1/app/new-shop", nil), http.StatusNotFound, "not_found")
	// Nor does an invalid application.
	mustInvalid(t, b.do(http.MethodPost, "/api/v1/app/new-shop/msg", `{"eventType":"a","payload":{},"application":{}}`),
		"body", "application", "name")
	mustInvalid(t, b.do(http.MethodPost, "/api/v1/app/new-shop/msg",
		`{"eventType":"a","payload":{},"application":{"name":"n","throttleRate":-1}}`), "body", "application", "throttleRate")
	b.unchanged("/api/v1/app", apps)

	// With "application", the path's uid becomes the new application's uid.
	m := b.publish("new-shop", `{"eventType":"a","payload":{"n":1},"application":{"name":"New shop","metadata":{"k":"v"}}}`)
	a := decode[appJSON](t, b.do(http.MethodGet, "/api/v1/app/new-shop", nil).must(t, http.StatusOK))
	if a.Name != "New shop" || str(a.UID) != `"new-shop"` || a.Metadata["k"] != "v" {
		t.Fatalf("created application = %+v", a)
	}
	if l := b.listMessages(a.ID, nil); !slices.Equal(idsOf(l.Data), []string{m.ID}) {
		t.Fatalf("messages of the new application = %v, want [%s]", idsOf(l.Data), m.ID)
	}

	// When the application exists, "application" is ignored.
	for _, ref := range []string{"new-shop", a.ID} {
		b.publish(ref, `{"eventType":"a","payload":{},"application":{"name":"Renamed","uid":"other-uid"}}`)
	}
	got := decode[appJSON](t, b.do(http.MethodGet, "/api/v1/app/"+a.ID, nil).must(t, http.StatusOK))
	if got.Name != "New shop" || str(got.UID) != `"new-shop"` {
		t.Fatalf("existing application changed to %+v", got)
	}
	if l := decode[listJSON[appJSON]](t, b.do(http.MethodGet, "/api/v1/app", nil).must(t, http.StatusOK)); len(l.Data) != 1 {
		t.Fatalf("%d applications, want 1", len(l.Data))
	}
	if l := b.listMessages("new-shop", nil); len(l.Data) != 3 {
		t.Fatalf("%d messages, want 3", len(l.Data))
	}
}

func TestCreateMessageEventIDConflict(t *testing.T) {
	t.Parallel()
	b := setup(t)
	shop := b.createApp(map[string]any{"uid": "shop"})
	other := b.createApp(map[string]any{"uid": "other"})
	b.createEndpoint(shop.ID, map[string]any{})

	first := b.publish("shop", `{"eventType":"a","eventId":"evt-1","payload":{"n":1}}`)
	list := b.snapshot("/api/v1/app/shop/msg")
	sent := len(b.dispatched.dispatchedTo())

	// The same eventId in the same application is a conflict, whatever the
	// rest of the message says, and stores nothing.
	for _, body := range []string{
		`{"eventType":"a","eventId":"evt-1","payload":{"n":1}}`,
		`{"eventType":"b","eventId":"evt-1","payload":{"n":2},"channels":["x"]}`,
	} {
		mustError(t, b.do(http.MethodPost, "/api/v1/app/shop/msg", body), http.StatusConflict, "conflict")
	}
	b.unchanged("/api/v1/app/shop/msg", list)
	if n := len(b.dispatched.dispatchedTo()); n != sent {
		t.Fatalf("a conflicting message dispatched %d deliveries", n-sent)
	}
	got := decode[messageJSON](t, b.do(http.MethodGet, "/api/v1/app/shop/msg/evt-1", nil).must(t, http.StatusOK))
	if got.ID != first.ID || string(got.Payload) != `{"n":1}` {
		t.Fatalf("evt-1 = %+v, want the first message", got)
	}

	// Another application, or another organisation, may use the same eventId.
	m := b.publish(other.ID, `{"eventType":"a","eventId":"evt-1","payload":{"n":3}}`)
	if m.ID == first.ID {
		t.Fatal("second application got the first message back")
	}
	otherKey := b.newKey("other")
	b.doWith(otherKey, http.MethodPost, "/api/v1/app", map[string]any{"name": "x", "uid": "shop"}, nil).must(t, http.StatusCreated)
	b.doWith(otherKey, http.MethodPost, "/api/v1/app/shop/msg", `{"eventType":"a","eventId":"evt-1","payload":{}}`, nil).
		must(t, http.StatusAccepted)
}

func TestCreateMessageIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{})
	ep1 := b.createEndpoint(app.ID, map[string]any{})
	ep2 := b.createEndpoint(app.ID, map[string]any{})
	path := "/api/v1/app/" + app.ID + "/msg"
	key := http.Header{"Idempotency-Key": {"auto_6a1c1f1e-2f4e-4a47-9d8f-3f0c2a1b9e11"}}
	const body = `{"eventType":"a","payload":{"z":1,"a":2}}`

	first := b.doWith(b.key, http.MethodPost, path, body, key).must(t, http.StatusAccepted)
	for range 3 {
		again := b.doWith(b.key, http.MethodPost, path, body, key).must(t, http.StatusAccepted)
		if !bytes.Equal(again.body, first.body) {
			t.Fatalf("replayed body %s, want %s", again.body, first.body)
		}
	}
	m := decode[messageJSON](t, first)
	if l := b.listMessages(app.ID, nil); !slices.Equal(idsOf(l.Data), []string{m.ID}) {
		t.Fatalf("messages after replays = %v, want [%s]", idsOf(l.Data), m.ID)
	}
	want := []string{ep1.ID, ep2.ID}
	slices.Sort(want)
	if got := endpointsOf(b.dispatched.dispatchedTo()); !slices.Equal(got, want) {
		t.Fatalf("deliveries dispatched to %v, want one per endpoint %v", got, want)
	}

	// Another key is another message.
	key.Set("Idempotency-Key", "auto_other")
	second := decode[messageJSON](t, b.doWith(b.key, http.MethodPost, path, body, key).must(t, http.StatusAccepted))
	if second.ID == m.ID {
		t.Fatal("a new idempotency key replayed the first message")
	}
	if n := len(b.dispatched.dispatchedTo()); n != 4 {
		t.Fatalf("%d deliveries dispatched, want 4", n)
	}
}

func TestCreateMessageInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{"uid": "shop"})
	b.createEndpoint(app.ID, map[string]any{})
	b.publish("shop", `{"eventType":"a","payload":{}}`)
	path := "/api/v1/app/shop/msg"
	list := b.snapshot(path)
	sent := len(b.dispatched.dispatchedTo())
	long := strings.Repeat("x", 257)
	channels := func(n int) string {
		var cs []string
		for i := range n {
			cs = append(cs, `"c`+string(rune('a'+i))+`"`)
		}
		return "[" + strings.Join(cs, ",") + "]"
	}

	for _, tc := range []struct {
		name  string
		query string
		body  string
		loc   []string
	}{
		// Required fields.
		{"no eventType", "", `{"payload":{}}`, []string{"body", "eventType"}},
		{"null eventType", "", `{"eventType":null,"payload":{}}`, []string{"body", "eventType"}},
		{"no payload", "", `{"eventType":"a"}`, []string{"body", "payload"}},
		{"null payload", "", `{"eventType":"a","payload":null}`, []string{"body", "payload"}},
		{"empty object", "", `{}`, []string{"body", "eventType"}},
		// The payload is a JSON object.
		{"payload array", "", `{"eventType":"a","payload":[{"a":1}]}`, []string{"body", "payload"}},
		{"payload string", "", `{"eventType":"a","payload":"{}"}`, []string{"body", "payload"}},
		{"payload number", "", `{"eventType":"a","payload":42}`, []string{"body", "payload"}},
		{"payload boolean", "", `{"eventType":"a","payload":true}`, []string{"body", "payload"}},
		// eventType: ^[a-zA-Z0-9\-_.]+$, at most 256 characters, a string.
		{"eventType with a space", "", `{"eventType":"order paid","payload":{}}`, []string{"body", "eventType"}},
		{"eventType with a slash", "", `{"eventType":"order/paid","payload":{}}`, []string{"body", "eventType"}},
		{"empty eventType", "", `{"eventType":"","payload":{}}`, []string{"body", "eventType"}},
		{"eventType too long", "", `{"eventType":"` + long + `","payload":{}}`, []string{"body", "eventType"}},
		{"eventType not a string", "", `{"eventType":7,"payload":{}}`, []string{"body", "eventType"}},
		// eventId: same pattern, 1 to 256 characters.
		{"eventId with a space", "", `{"eventType":"a","eventId":"evt 1","payload":{}}`, []string{"body", "eventId"}},
		{"eventId with unicode", "", `{"eventType":"a","eventId":"évt","payload":{}}`, []string{"body", "eventId"}},
		{"empty eventId", "", `{"eventType":"a","eventId":"","payload":{}}`, []string{"body", "eventId"}},
		{"eventId too long", "", `{"eventType":"a","eventId":"` + long + `","payload":{}}`, []string{"body", "eventId"}},
		// channels: 1 to 5 unique names of at most 128 characters.
		{"six channels", "", `{"eventType":"a","channels":` + channels(6) + `,"payload":{}}`, []string{"body", "channels"}},
		{"duplicate channels", "", `{"eventType":"a","channels":["eu","us","eu"],"payload":{}}`, []string{"body", "channels"}},
		{"no channels", "", `{"eventType":"a","channels":[],"payload":{}}`, []string{"body", "channels"}},
		{"channel pattern", "", `{"eventType":"a","channels":["e u"],"payload":{}}`, []string{"body", "channels"}},
		{"channel too long", "", `{"eventType":"a","channels":["` + long[:129] + `"],"payload":{}}`, []string{"body", "channels"}},
		{"channels not a list", "", `{"eventType":"a","channels":"eu","payload":{}}`, []string{"body", "channels"}},
		// payloadRetentionPeriod: 5 to 90 days.
		{"retention 4", "", `{"eventType":"a","payloadRetentionPeriod":4,"payload":{}}`, []string{"body", "payloadRetentionPeriod"}},
		{"retention 0", "", `{"eventType":"a","payloadRetentionPeriod":0,"payload":{}}`, []string{"body", "payloadRetentionPeriod"}},
		{"retention 91", "", `{"eventType":"a","payloadRetentionPeriod":91,"payload":{}}`, []string{"body", "payloadRetentionPeriod"}},
		{"retention not an integer", "", `{"eventType":"a","payloadRetentionPeriod":"30","payload":{}}`, []string{"body", "payloadRetentionPeriod"}},
		// payloadRetentionHours: 1 to 2160 (it was stored as 5 days whatever it said).
		{"retention hours 0", "", `{"eventType":"a","payloadRetentionHours":0,"payload":{}}`, []string{"body", "payloadRetentionHours"}},
		{"retention hours negative", "", `{"eventType":"a","payloadRetentionHours":-5,"payload":{}}`, []string{"body", "payloadRetentionHours"}},
		{"retention hours 2161", "", `{"eventType":"a","payloadRetentionHours":2161,"payload":{}}`, []string{"body", "payloadRetentionHours"}},
		{"retention hours overflowing", "", `{"eventType":"a","payloadRetentionHours":9223372036854775807,"payload":{}}`, []string{"body", "payloadRetentionHours"}},
		{"retention hours beyond int64", "", `{"eventType":"a","payloadRetentionHours":9223372036854775808,"payload":{}}`, []string{"body", "payloadRetentionHours"}},
		// Scheduled delivery is not supported: refused, not ignored.
		{"deliverAt", "", `{"eventType":"a","deliverAt":"2099-01-01T00:00:00Z","payload":{}}`, []string{"body", "deliverAt"}},
		// Query and body shape.
		{"with_content not a boolean", "?with_content=maybe", `{"eventType":"a","payload":{}}`, []string{"query", "with_content"}},
		{"body an array", "", `[{"eventType":"a","payload":{}}]`, []string{"body"}},
		{"empty body", "", ``, []string{"body"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := b.in(t)
			var body any
			if tc.body != "" {
				body = tc.body
			}
			mustInvalid(t, b.do(http.MethodPost, path+tc.query, body), tc.loc...)
		})
	}

	// JSON that does not parse is a 400 with the contract's error body.
	for _, body := range []string{`{"eventType":"a","payload":{}`, `{"eventType":"a","payload":{"x":}}`, `not json`,
		`{"eventType":"a","payload":{}} {}`} {
		mustError(t, b.do(http.MethodPost, path, body), http.StatusBadRequest, "bad_request")
	}

	b.unchanged(path, list)

	// Boundaries that are accepted.
	accepted := time.Now()
	for _, body := range []string{
		`{"eventType":"a","channels":` + channels(5) + `,"payload":{}}`,
		`{"eventType":"` + long[:256] + `","eventId":"` + long[:256] + `","payload":{}}`,
		`{"eventType":"a","payloadRetentionPeriod":5,"payload":{}}`,
		`{"eventType":"a","payloadRetentionPeriod":90,"payload":{}}`,
		`{"eventType":"a","payloadRetentionHours":2160,"payload":{"nul":"\u0000"}}`,
		`{"eventType":"a","deliverAt":null,"payload":{}}`,
	} {
		b.publish("shop", body)
	}

	// Nothing of the rejected messages was stored or dispatched.
	b.unchanged(path+"?before="+url.QueryEscape(accepted.Format(time.RFC3339Nano)), list)
	if l := b.listMessages("shop", url.Values{"limit": {"250"}}); len(l.Data) != 7 {
		t.Fatalf("%d messages stored, want the 7 accepted", len(l.Data))
	}
	if n := len(b.dispatched.dispatchedTo()); n != sent+6 {
		t.Fatalf("%d deliveries dispatched, want %d (one per accepted message)", n, sent+6)
	}
}

func TestCreateMessageTooLarge(t *testing.T) {
	t.Parallel()
	b := setupWith(t, setupOptions{maxBodyBytes: 4096})
	app := b.createApp(map[string]any{})
	b.createEndpoint(app.ID, map[string]any{})
	path := "/api/v1/app/" + app.ID + "/msg"
	list := b.snapshot(path)
	body := func(n int) string { return `{"eventType":"a","payload":{"data":"` + strings.Repeat("x", n) + `"}}` }

	// Refused from its Content-Length, or while reading a chunked body.
	mustError(t, b.do(http.MethodPost, path, body(5000)), http.StatusRequestEntityTooLarge, "payload_too_large")
	mustError(t, b.do(http.MethodPost, path, io.Reader(strings.NewReader(body(5000)))), http.StatusRequestEntityTooLarge, "payload_too_large")
	b.unchanged(path, list)
	if n := len(b.dispatched.dispatchedTo()); n != 0 {
		t.Fatalf("a refused message dispatched %d deliveries", n)
	}

	// Under the limit is fine.
	b.publish(app.ID, body(3500))
	b.publish(app.ID, io.Reader(strings.NewReader(body(3500))))
}

func TestListMessages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{"uid": "shop"})
	path := "/api/v1/app/shop/msg"

	specs := []struct{ eventType, channels string }{
		{"a", `["eu"]`}, {"b", `["us"]`}, {"c", ``}, {"a", `["eu","us"]`}, {"b", ``}, {"a", ``}, {"c", `["us"]`},
	}
	var msgs []messageJSON
	var marks []time.Time // marks[i]: a time between messages i-1 and i
	for i, s := range specs {
		marks = append(marks, time.Now())
		body := `{"eventType":"` + s.eventType + `","payload":{"i":` + string(rune('0'+i)) + `}`
		if s.channels != "" {
			body += `,"channels":` + s.channels
		}
		msgs = append(msgs, b.publish("shop", body+"}"))
	}
	// pick returns the ids of messages i..., newest first as listed.
	pick := func(i ...int) []string {
		slices.Sort(i)
		slices.Reverse(i)
		ids := []string{}
		for _, n := range i {
			ids = append(ids, msgs[n].ID)
		}
		return ids
	}
	rfc := func(at time.Time) string { return at.In(time.FixedZone("", 2*3600)).Format(time.RFC3339Nano) }

	// Newest first, paged both ways.
	all := pick(0, 1, 2, 3, 4, 5, 6)
	b.walk(path, nil, "id", all)
	b.walk("/api/v1/app/"+app.ID+"/msg", url.Values{"event_types": {"a,c"}}, "id", pick(0, 2, 3, 5, 6))

	for _, tc := range []struct {
		name  string
		query url.Values
		want  []string
	}{
		// Channel.
		{"channel eu", url.Values{"channel": {"eu"}}, pick(0, 3)},
		{"channel us", url.Values{"channel": {"us"}}, pick(1, 3, 6)},
		{"unknown channel", url.Values{"channel": {"nowhere"}}, pick()},
		// Event types: repeated, comma-separated, the SDKs' bracket form.
		{"one type", url.Values{"event_types": {"a"}}, pick(0, 3, 5)},
		{"repeated types", url.Values{"event_types": {"a", "c"}}, pick(0, 2, 3, 5, 6)},
		{"comma-separated types", url.Values{"event_types": {"a,c"}}, pick(0, 2, 3, 5, 6)},
		{"bracket form", url.Values{"event_types[]": {"b"}}, pick(1, 4)},
		{"unknown type", url.Values{"event_types": {"z"}}, pick()},
		// Creation time, RFC 3339 in any offset.
		{"before", url.Values{"before": {rfc(marks[3])}}, pick(0, 1, 2)},
		{"after", url.Values{"after": {rfc(marks[3])}}, pick(3, 4, 5, 6)},
		{"between", url.Values{"after": {rfc(marks[2])}, "before": {rfc(marks[5])}}, pick(2, 3, 4)},
		{"before the first", url.Values{"before": {rfc(marks[0])}}, pick()},
		{"after now", url.Values{"after": {rfc(time.Now())}}, pick()},
		// A message's own timestamp splits the list: before excludes it, after includes it.
		{"before a timestamp", url.Values{"before": {msgs[3].Timestamp.Format(time.RFC3339Nano)}}, pick(0, 1, 2)},
		{"after a timestamp", url.Values{"after": {msgs[3].Timestamp.Format(time.RFC3339Nano)}}, pick(3, 4, 5, 6)},
		// Combined.
		{"type and channel", url.Values{"event_types": {"a"}, "channel": {"us"}}, pick(3)},
		{"type and time", url.Values{"event_types": {"a", "b"}, "after": {rfc(marks[2])}}, pick(3, 4, 5)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := b.in(t)
			if got := b.listPage(path, tc.query, "id").keys; !slices.Equal(got, tc.want) {
				t.Fatalf("GET ?%s = %v, want %v", tc.query.Encode(), got, tc.want)
			}
		})
	}

	// with_content=false empties the payloads, and only them.
	l := b.listMessages("shop", url.Values{"with_content": {"false"}})
	full := b.listMessages("shop", nil)
	for i, m := range l.Data {
		f := full.Data[i]
		if string(m.Payload) != "{}" || m.ID != f.ID || m.EventType != f.EventType || !slices.Equal(m.Channels, f.Channels) ||
			!m.Timestamp.Equal(f.Timestamp) {
			t.Fatalf("with_content=false item %+v, full %+v", m, f)
		}
		if string(f.Payload) == "{}" {
			t.Fatalf("listed payload of %s is empty", f.ID)
		}
	}

	// Malformed filters are 422s naming the parameter.
	for _, tc := range []struct {
		query string
		loc   []string
	}{
		{"channel=e+u", []string{"query", "channel"}},
		{"channel=" + strings.Repeat("c", 129), []string{"query", "channel"}},
		{"event_types=a,b%2Fc", []string{"query", "event_types"}},
		{"before=yesterday", []string{"query", "before"}},
		{"after=2024-01-01", []string{"query", "after"}},
		{"with_content=nope", []string{"query", "with_content"}},
		{"limit=-1", []string{"query", "limit"}},
		{"iterator=not-an-id", []string{"query", "iterator"}},
		{"iterator=ep_" + msgs[0].ID[4:], []string{"query", "iterator"}},
	} {
		mustInvalid(t, b.do(http.MethodGet, path+"?"+tc.query, nil), tc.loc...)
	}

	// Another organisation's application with the same uid is another list.
	other := b.newKey("other")
	b.doWith(other, http.MethodPost, "/api/v1/app", map[string]any{"name": "x", "uid": "shop"}, nil).must(t, http.StatusCreated)
	b.doWith(other, http.MethodPost, path, `{"eventType":"a","payload":{}}`, nil).must(t, http.StatusAccepted)
	if got := b.listPage(path, url.Values{"limit": {"250"}}, "id").keys; !slices.Equal(got, all) {
		t.Fatalf("acme's list after another organisation published = %v, want %v", got, all)
	}
	ol := decode[listJSON[messageJSON]](t, b.doWith(other, http.MethodGet, path, nil, nil).must(t, http.StatusOK))
	if len(ol.Data) != 1 {
		t.Fatalf("other organisation lists %d messages, want 1", len(ol.Data))
	}
}

func TestGetMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	shop := b.createApp(map[string]any{"uid": "shop"})
	b.createApp(map[string]any{"uid": "second"})
	m := b.publish("shop", `{"eventType":"a","eventId":"evt-1","channels":["eu"],"payload":{"b":1,"a":2}}`)
	// A message whose eventId is another message's id: the id wins.
	shadow := b.publish("shop", map[string]any{"eventType": "b", "eventId": m.ID, "payload": map[string]int{"s": 1}})
	inSecond := b.publish("second", `{"eventType":"a","eventId":"evt-2","payload":{}}`)

	// Found by id and by eventId, through the application's id or uid.
	for _, tc := range []struct{ app, msg, want string }{
		{"shop", m.ID, m.ID},
		{shop.ID, m.ID, m.ID},
		{"shop", "evt-1", m.ID},
		{shop.ID, "evt-1", m.ID},
		{"shop", shadow.ID, shadow.ID},
		{"second", "evt-2", inSecond.ID},
	} {
		r := b.do(http.MethodGet, "/api/v1/app/"+tc.app+"/msg/"+tc.msg, nil).must(t, http.StatusOK)
		mustKeys(t, r.body, messageKeys...)
		if got := decode[messageJSON](t, r); got.ID != tc.want {
			t.Fatalf("GET /app/%s/msg/%s = %s, want %s", tc.app, tc.msg, got.ID, tc.want)
		}
	}
	got := decode[messageJSON](t, b.do(http.MethodGet, "/api/v1/app/shop/msg/evt-1", nil).must(t, http.StatusOK))
	if got.EventType != "a" || str(got.EventID) != `"evt-1"` || !slices.Equal(got.Channels, []string{"eu"}) ||
		string(got.Payload) != `{"b":1,"a":2}` || !got.Timestamp.Equal(m.Timestamp) {
		t.Fatalf("GET = %+v (payload %s), want %+v", got, got.Payload, m)
	}

	// Unknown messages, another application's, another organisation's: 404.
	other := b.newKey("other")
	b.doWith(other, http.MethodPost, "/api/v1/app", map[string]any{"name": "x", "uid": "shop"}, nil).must(t, http.StatusCreated)
	for _, tc := range []struct {
		name, key, path string
	}{
		{"unknown id", b.key, "/api/v1/app/shop/msg/msg_2ZyAv3fEt1BKqvHEdDAWG4zOfAz"},
		{"unknown eventId", b.key, "/api/v1/app/shop/msg/evt-404"},
		{"another application's", b.key, "/api/v1/app/shop/msg/" + inSecond.ID},
		{"another application's eventId", b.key, "/api/v1/app/shop/msg/evt-2"},
		{"unknown application", b.key, "/api/v1/app/nowhere/msg/" + m.ID},
		{"other organisation, by app id", other, "/api/v1/app/" + shop.ID + "/msg/" + m.ID},
		{"other organisation, its own app with the uid", other, "/api/v1/app/shop/msg/" + m.ID},
		{"other organisation, by eventId", other, "/api/v1/app/shop/msg/evt-1"},
		{"other organisation, content", other, "/api/v1/app/" + shop.ID + "/msg/" + m.ID + "/content"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := b.in(t)
			method := http.MethodGet
			if strings.HasSuffix(tc.path, "/content") {
				method = http.MethodDelete
			}
			r := b.doWith(tc.key, method, tc.path, nil, nil)
			mustError(t, r, http.StatusNotFound, "not_found")
			if bytes.Contains(r.body, []byte(`"b":1`)) {
				t.Fatalf("404 leaks the payload: %s", r.body)
			}
		})
	}
	// The other organisation's refused expunge changed nothing.
	got = decode[messageJSON](t, b.do(http.MethodGet, "/api/v1/app/shop/msg/"+m.ID, nil).must(t, http.StatusOK))
	if string(got.Payload) != `{"b":1,"a":2}` {
		t.Fatalf("payload after another organisation's expunge = %s", got.Payload)
	}
}

func TestExpungeMessageContent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{"uid": "shop"})
	ep := b.createEndpoint(app.ID, map[string]any{})
	m := b.publish("shop", `{"eventType":"a","eventId":"evt-1","payload":{"card":"4242"}}`)
	kept := b.publish("shop", `{"eventType":"a","payload":{"card":"5555"}}`)

	r := b.do(http.MethodDelete, "/api/v1/app/shop/msg/evt-1/content", nil).must(t, http.StatusNoContent)
	if len(r.body) != 0 {
		t.Fatalf("204 with body %s", r.body)
	}

	// Every read of the message shows an empty payload; the rest is kept.
	reads := []string{
		"/api/v1/app/shop/msg/" + m.ID,
		"/api/v1/app/shop/msg",
		"/api/v1/app/shop/endpoint/" + ep.ID + "/msg",
	}
	for _, path := range reads {
		body := b.snapshot(path)
		if bytes.Contains(body, []byte(`"card":"4242"`)) {
			t.Fatalf("GET %s still shows the expunged payload: %s", path, body)
		}
		if !bytes.Contains(body, []byte(`"card":"5555"`)) && path != reads[0] {
			t.Fatalf("GET %s lost the other message's payload: %s", path, body)
		}
	}
	got := decode[messageJSON](t, b.do(http.MethodGet, "/api/v1/app/shop/msg/"+m.ID, nil).must(t, http.StatusOK))
	if string(got.Payload) != "{}" || got.EventType != "a" || str(got.EventID) != `"evt-1"` {
		t.Fatalf("expunged message = %+v (payload %s)", got, got.Payload)
	}
	// The worker finds no payload to send.
	ds := b.dispatchedFor(m.ID)
	if len(ds) != 1 {
		t.Fatalf("dispatched %+v", ds)
	}
	job, err := b.db.LoadDelivery(context.Background(), ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if job.Message.Payload != nil {
		t.Fatalf("the worker still loads payload %s", job.Message.Payload)
	}
	if got := decode[messageJSON](t, b.do(http.MethodGet, "/api/v1/app/shop/msg/"+kept.ID, nil).must(t, http.StatusOK)); string(got.Payload) != `{"card":"5555"}` {
		t.Fatalf("other message's payload = %s", got.Payload)
	}

	// Expunging again is harmless; an unknown message is a 404.
	b.do(http.MethodDelete, "/api/v1/app/shop/msg/"+m.ID+"/content", nil).must(t, http.StatusNoContent)
	mustError(t, b.do(http.MethodDelete, "/api/v1/app/shop/msg/evt-404/content", nil), http.StatusNotFound, "not_found")
}
