package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/webhook"
)

// attemptJSON is the contract's MessageAttemptOut.
type attemptJSON struct {
	ID                 string    `json:"id"`
	MsgID              string    `json:"msgId"`
	EndpointID         string    `json:"endpointId"`
	URL                string    `json:"url"`
	Response           string    `json:"response"`
	ResponseStatusCode int       `json:"responseStatusCode"`
	ResponseDurationMs int64     `json:"responseDurationMs"`
	Status             int       `json:"status"`
	StatusText         string    `json:"statusText"`
	TriggerType        int       `json:"triggerType"`
	Timestamp          time.Time `json:"timestamp"`
}

var attemptKeys = []string{"id", "msgId", "endpointId", "url", "response", "responseStatusCode",
	"responseDurationMs", "status", "statusText", "triggerType", "timestamp"}

// endpointMessageJSON is the contract's EndpointMessageOut.
type endpointMessageJSON struct {
	messageJSON
	Status      int        `json:"status"`
	StatusText  string     `json:"statusText"`
	NextAttempt *time.Time `json:"nextAttempt"`
}

// messageEndpointJSON is the contract's MessageEndpointOut.
type messageEndpointJSON struct {
	endpointJSON
	Status      int        `json:"status"`
	StatusText  string     `json:"statusText"`
	NextAttempt *time.Time `json:"nextAttempt"`
}

// outcome is how one simulated HTTP attempt ended.
type outcome struct {
	code     int    // response status code; 0: no response arrived
	response string // response body, or why none arrived
	ms       int64  // response duration
	manual   bool   // a resend (trigger type 1) rather than a scheduled attempt
	last     bool   // the schedule's last attempt: a failure dead-letters the delivery
}

// attempt records one attempt of delivery id the way delivery.Attempter does
// after its HTTP request, and returns the attempt as stored.
func (b *bundle) attempt(deliveryID string, o outcome) webhook.Attempt {
	b.t.Helper()
	ctx := context.Background()
	job, err := b.db.LoadDelivery(ctx, deliveryID)
	if err != nil {
		b.t.Fatalf("loading delivery %s: %v", deliveryID, err)
	}
	dl := job.Delivery
	rec := &webhook.AttemptRecord{
		TaskKey: fmt.Sprintf("s:%d:%d", dl.Round, dl.RoundAttempts+1),
		Round:   dl.Round,
		Number:  dl.RoundAttempts + 1,
		Attempt: webhook.Attempt{
			DeliveryID: dl.ID, OrgID: dl.OrgID, AppID: dl.AppID, MessageID: dl.MessageID,
			EndpointID: dl.EndpointID, URL: job.Endpoint.URL, TriggerType: webhook.TriggerScheduled,
			StatusCode: o.code, Response: o.response, DurationMs: o.ms,
		},
	}
	if o.manual {
		rec.TaskKey, rec.Round, rec.Number = "m:"+webhook.NewID(webhook.PrefixAttempt), 0, 0
		rec.Attempt.TriggerType = webhook.TriggerManual
	}
	switch {
	case o.code >= 200 && o.code < 300:
		rec.Attempt.Status, rec.Transition = webhook.StatusSuccess, webhook.Succeeded
	case o.manual:
		rec.Attempt.Status, rec.Transition = webhook.StatusFail, webhook.ManualFailed
	case o.last:
		rec.Attempt.Status, rec.Transition = webhook.StatusFail, webhook.Exhausted
	default:
		next := time.Now().Add(time.Hour)
		rec.Attempt.Status, rec.Transition, rec.NextAttemptAt = webhook.StatusFail, webhook.Retry, &next
	}
	recorded, err := b.db.RecordAttempt(ctx, rec)
	if err != nil || !recorded {
		b.t.Fatalf("recording attempt of %s: recorded %v, %v", deliveryID, recorded, err)
	}
	return rec.Attempt
}

// delivery returns the delivery of message msgID to endpoint epID as stored.
func (b *bundle) delivery(msgID, epID string) webhook.Delivery {
	b.t.Helper()
	ids := b.dispatched.resent()
	for _, d := range b.dispatched.dispatchedTo() {
		ids = append(ids, d.ID)
	}
	for _, id := range ids {
		job, err := b.db.LoadDelivery(context.Background(), id)
		if err != nil {
			b.t.Fatal(err)
		}
		if job.Delivery.MessageID == msgID && job.Delivery.EndpointID == epID {
			return job.Delivery
		}
	}
	b.t.Fatalf("no delivery of %s to %s was queued", msgID, epID)
	return webhook.Delivery{}
}

// attemptScenario is an application with two endpoints, three messages and
// attempts with every outcome:
//
//	attempt  message  endpoint  outcome                       delivery after
//	0        m0       one       500, retry scheduled
//	1        m0       two       no response, retry scheduled
//	2        m0       one       200                           m0→one success
//	3        m1       one       200                           m1→one success
//	4        m1       two       503, retry scheduled          m1→two sending
//	5        m2       one       400, last attempt             m2→one fail
//	6        m0       two       404, last attempt             m0→two fail
//	7        m2       one       manual, 502                   m2→one fail (kept)
//	                                                          m2→two pending
//
// m0 is of type a in channel eu, m1 of type b in channel us, m2 of type a
// without channels. marks[i] is a time between attempts i-1 and i.
type attemptScenario struct {
	*bundle
	app      appJSON
	one, two endpointJSON
	msgs     []messageJSON
	attempts []webhook.Attempt
	marks    []time.Time
}

func setupAttempts(t *testing.T) *attemptScenario {
	t.Helper()
	s := &attemptScenario{bundle: setup(t)}
	s.app = s.createApp(map[string]any{"uid": "shop"})
	s.one = s.createEndpoint(s.app.ID, map[string]any{"uid": "one", "url": "https://one.example/hook"})
	s.two = s.createEndpoint(s.app.ID, map[string]any{"uid": "two", "url": "https://two.example/hook"})
	for _, body := range []string{
		`{"eventType":"a","eventId":"m0","channels":["eu"],"payload":{"n":0}}`,
		`{"eventType":"b","eventId":"m1","channels":["us"],"payload":{"n":1}}`,
		`{"eventType":"a","eventId":"m2","payload":{"n":2}}`,
	} {
		s.msgs = append(s.msgs, s.publish("shop", body))
	}
	for _, a := range []struct {
		msg int
		ep  string
		o   outcome
	}{
		{0, s.one.ID, outcome{code: 500, response: "boom", ms: 120}},
		{0, s.two.ID, outcome{response: "dial tcp: connection refused", ms: 3}},
		{0, s.one.ID, outcome{code: 200, response: "ok", ms: 45}},
		{1, s.one.ID, outcome{code: 200, response: `{"received":true}`, ms: 12}},
		{1, s.two.ID, outcome{code: 503, response: "unavailable", ms: 30}},
		{2, s.one.ID, outcome{code: 400, response: "bad", ms: 8, last: true}},
		{0, s.two.ID, outcome{code: 404, response: "not found", ms: 9, last: true}},
		{2, s.one.ID, outcome{code: 502, response: "bad gateway", ms: 70, manual: true}},
	} {
		s.marks = append(s.marks, time.Now())
		s.attempts = append(s.attempts, s.attempt(s.delivery(s.msgs[a.msg].ID, a.ep).ID, a.o))
	}
	return s
}

// pick returns the ids of attempts i..., newest first as listed.
func (s *attemptScenario) pick(i ...int) []string {
	slices.Sort(i)
	slices.Reverse(i)
	ids := []string{}
	for _, n := range i {
		ids = append(ids, s.attempts[n].ID)
	}
	return ids
}

// checkAttempt fails unless got shows the stored attempt want.
func checkAttempt(t *testing.T, got attemptJSON, want webhook.Attempt) {
	t.Helper()
	if got.ID != want.ID || !webhook.ValidID(webhook.PrefixAttempt, got.ID) || got.MsgID != want.MessageID ||
		got.EndpointID != want.EndpointID || got.URL != want.URL || got.Response != want.Response ||
		got.ResponseStatusCode != want.StatusCode || got.ResponseDurationMs != want.DurationMs ||
		got.Status != int(want.Status) || got.StatusText != want.Status.String() ||
		got.TriggerType != int(want.TriggerType) || !got.Timestamp.Equal(want.CreatedAt) {
		t.Fatalf("attempt = %+v, want %+v", got, want)
	}
}

func TestListAttempts(t *testing.T) {
	t.Parallel()
	s := setupAttempts(t)
	byEndpoint := "/api/v1/app/shop/attempt/endpoint/"
	byMsg := "/api/v1/app/shop/attempt/msg/"

	// Every field, as recorded, newest first.
	r := s.do(http.MethodGet, byEndpoint+s.one.ID, nil).must(t, http.StatusOK)
	raw := decode[listJSON[json.RawMessage]](t, r)
	for _, item := range raw.Data {
		mustKeys(t, item, attemptKeys...)
	}
	l := decode[listJSON[attemptJSON]](t, r)
	wantOne := []int{7, 5, 3, 2, 0}
	if len(l.Data) != len(wantOne) {
		t.Fatalf("endpoint one lists %d attempts, want %d", len(l.Data), len(wantOne))
	}
	for i, n := range wantOne {
		checkAttempt(t, l.Data[i], s.attempts[n])
	}
	if a := l.Data[0]; a.TriggerType != 1 || a.Status != 2 || a.StatusText != "fail" || a.URL != "https://one.example/hook" {
		t.Fatalf("manual failed attempt = %+v", a)
	}
	if a := l.Data[2]; a.TriggerType != 0 || a.Status != 0 || a.StatusText != "success" || a.ResponseStatusCode != 200 {
		t.Fatalf("successful attempt = %+v", a)
	}

	// Paged both ways, by endpoint id or uid, by message id or eventId.
	s.walk(byEndpoint+s.one.ID, nil, "id", s.pick(0, 2, 3, 5, 7))
	s.walk(byEndpoint+"two", nil, "id", s.pick(1, 4, 6))
	s.walk(byMsg+s.msgs[0].ID, nil, "id", s.pick(0, 1, 2, 6))
	s.walk(byMsg+"m2", nil, "id", s.pick(5, 7))

	rfc := func(at time.Time) string { return at.Format(time.RFC3339Nano) }
	for _, tc := range []struct {
		name  string
		path  string
		query url.Values
		want  []string
	}{
		// Status of the attempt.
		{"success", byEndpoint + "one", url.Values{"status": {"0"}}, s.pick(2, 3)},
		{"fail", byEndpoint + "one", url.Values{"status": {"2"}}, s.pick(0, 5, 7)},
		{"pending: attempts are never pending", byEndpoint + "one", url.Values{"status": {"1"}}, s.pick()},
		{"fail by message", byMsg + "m0", url.Values{"status": {"2"}}, s.pick(0, 1, 6)},
		// Class of the response code; 0 is no response at all.
		{"2xx", byEndpoint + "one", url.Values{"status_code_class": {"200"}}, s.pick(2, 3)},
		{"4xx", byEndpoint + "one", url.Values{"status_code_class": {"400"}}, s.pick(5)},
		{"5xx", byEndpoint + "one", url.Values{"status_code_class": {"500"}}, s.pick(0, 7)},
		{"no response", byEndpoint + "two", url.Values{"status_code_class": {"0"}}, s.pick(1)},
		{"no response on one", byEndpoint + "one", url.Values{"status_code_class": {"0"}}, s.pick()},
		{"3xx", byMsg + "m0", url.Values{"status_code_class": {"300"}}, s.pick()},
		// Endpoint of an attempt by message, by id or uid.
		{"endpoint id", byMsg + "m0", url.Values{"endpoint_id": {s.one.ID}}, s.pick(0, 2)},
		{"endpoint uid", byMsg + "m0", url.Values{"endpoint_id": {"two"}}, s.pick(1, 6)},
		{"unknown endpoint", byMsg + "m0", url.Values{"endpoint_id": {"three"}}, s.pick()},
		{"endpoint and code class", byMsg + "m0", url.Values{"endpoint_id": {"two"}, "status_code_class": {"400"}}, s.pick(6)},
		// The message's event type and channel.
		{"event type a", byEndpoint + "one", url.Values{"event_types": {"a"}}, s.pick(0, 2, 5, 7)},
		{"event type b", byEndpoint + "one", url.Values{"event_types": {"b"}}, s.pick(3)},
		{"event types a,b", byEndpoint + "one", url.Values{"event_types": {"a,b"}}, s.pick(0, 2, 3, 5, 7)},
		{"event types repeated", byEndpoint + "two", url.Values{"event_types": {"b", "z"}}, s.pick(4)},
		{"channel eu", byEndpoint + "one", url.Values{"channel": {"eu"}}, s.pick(0, 2)},
		{"channel us", byEndpoint + "two", url.Values{"channel": {"us"}}, s.pick(4)},
		{"channel and type", byEndpoint + "one", url.Values{"channel": {"eu"}, "event_types": {"b"}}, s.pick()},
		// Time of the attempt.
		{"before", byEndpoint + "one", url.Values{"before": {rfc(s.marks[3])}}, s.pick(0, 2)},
		{"after", byEndpoint + "one", url.Values{"after": {rfc(s.marks[3])}}, s.pick(3, 5, 7)},
		{"between", byMsg + "m0", url.Values{"after": {rfc(s.marks[1])}, "before": {rfc(s.marks[6])}}, s.pick(1, 2)},
		// An attempt's own timestamp splits the list: before excludes it, after includes it.
		{"before a timestamp", byEndpoint + "one", url.Values{"before": {rfc(s.attempts[3].CreatedAt)}}, s.pick(0, 2)},
		{"after a timestamp", byEndpoint + "one", url.Values{"after": {rfc(s.attempts[3].CreatedAt)}}, s.pick(3, 5, 7)},
		{"before a timestamp by message", byMsg + "m0", url.Values{"before": {rfc(s.attempts[6].CreatedAt)}}, s.pick(0, 1, 2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := s.in(t)
			if got := b.listPage(tc.path, tc.query, "id").keys; !slices.Equal(got, tc.want) {
				t.Fatalf("GET %s?%s = %v, want %v", tc.path, tc.query.Encode(), got, tc.want)
			}
		})
	}
	s.walk(byEndpoint+"one", url.Values{"event_types": {"a"}}, "id", s.pick(0, 2, 5, 7))

	// with_content=false empties the responses, and only them.
	for _, path := range []string{byEndpoint + "one", byMsg + "m0"} {
		l := decode[listJSON[attemptJSON]](t, s.do(http.MethodGet, path+"?with_content=false", nil).must(t, http.StatusOK))
		full := decode[listJSON[attemptJSON]](t, s.do(http.MethodGet, path, nil).must(t, http.StatusOK))
		if len(l.Data) != len(full.Data) || len(l.Data) == 0 {
			t.Fatalf("%s with_content=false: %d items, want %d", path, len(l.Data), len(full.Data))
		}
		for i, a := range l.Data {
			f := full.Data[i]
			if a.Response != "" || f.Response == "" {
				t.Fatalf("%s: response %q with_content=false, %q with", path, a.Response, f.Response)
			}
			f.Response = ""
			if a != f {
				t.Fatalf("%s with_content=false changed more than the response: %+v, want %+v", path, a, f)
			}
		}
	}

	// Malformed filters are 422s naming the parameter.
	for _, query := range []struct {
		q   string
		loc []string
	}{
		{"status=5", []string{"query", "status"}},
		{"status=fail", []string{"query", "status"}},
		{"status_code_class=201", []string{"query", "status_code_class"}},
		{"status_code_class=2xx", []string{"query", "status_code_class"}},
		{"channel=e%20u", []string{"query", "channel"}},
		{"event_types=a%20b", []string{"query", "event_types"}},
		{"before=last-week", []string{"query", "before"}},
		{"with_content=0x", []string{"query", "with_content"}},
		{"iterator=" + s.msgs[0].ID, []string{"query", "iterator"}},
	} {
		for _, path := range []string{byEndpoint + "one", byMsg + "m0"} {
			mustInvalid(t, s.do(http.MethodGet, path+"?"+query.q, nil), query.loc...)
		}
	}

	// Unknown endpoints and messages, and another organisation's, are 404s.
	other := s.newKey("other")
	s.doWith(other, http.MethodPost, "/api/v1/app", map[string]any{"name": "x", "uid": "shop"}, nil).must(t, http.StatusCreated)
	for _, tc := range []struct{ key, path string }{
		{s.key, byEndpoint + "three"},
		{s.key, byMsg + "m9"},
		{s.key, byMsg + s.one.ID},
		{other, byEndpoint + s.one.ID},
		{other, byMsg + s.msgs[0].ID},
		{other, "/api/v1/app/" + s.app.ID + "/attempt/msg/m0"},
	} {
		mustError(t, s.doWith(tc.key, http.MethodGet, tc.path, nil, nil), http.StatusNotFound, "not_found")
	}
}

func TestGetAndExpungeAttempt(t *testing.T) {
	t.Parallel()
	s := setupAttempts(t)
	msgPath := func(msg string) string { return "/api/v1/app/shop/msg/" + msg }

	// Each attempt is found through its own message, by the message's id or eventId.
	for i, a := range s.attempts {
		for _, msg := range []string{a.MessageID, s.eventIDOf(a.MessageID)} {
			r := s.do(http.MethodGet, msgPath(msg)+"/attempt/"+a.ID, nil).must(t, http.StatusOK)
			mustKeys(t, r.body, attemptKeys...)
			checkAttempt(t, decode[attemptJSON](t, r), s.attempts[i])
		}
	}

	// Not through another message, and not with an unknown id.
	a0 := s.attempts[0]
	for _, path := range []string{
		msgPath("m1") + "/attempt/" + a0.ID,
		msgPath("m0") + "/attempt/atmpt_2ZyAv3fEt1BKqvHEdDAWG4zOfAz",
		msgPath("m0") + "/attempt/" + s.msgs[0].ID,
		msgPath("m9") + "/attempt/" + a0.ID,
	} {
		mustError(t, s.do(http.MethodGet, path, nil), http.StatusNotFound, "not_found")
		mustError(t, s.do(http.MethodDelete, path+"/content", nil), http.StatusNotFound, "not_found")
	}
	other := s.newKey("other")
	mustError(t, s.doWith(other, http.MethodDelete, "/api/v1/app/"+s.app.ID+"/msg/m0/attempt/"+a0.ID+"/content", nil, nil),
		http.StatusNotFound, "not_found")

	// Expunging empties the response for good, everywhere; the rest stays.
	r := s.do(http.MethodDelete, msgPath("m0")+"/attempt/"+a0.ID+"/content", nil).must(t, http.StatusNoContent)
	if len(r.body) != 0 {
		t.Fatalf("204 with body %s", r.body)
	}
	expunged := a0
	expunged.Response = "EXPUNGED"
	checkAttempt(t, decode[attemptJSON](t, s.do(http.MethodGet, msgPath("m0")+"/attempt/"+a0.ID, nil).must(t, http.StatusOK)), expunged)
	for _, path := range []string{"/api/v1/app/shop/attempt/endpoint/one", "/api/v1/app/shop/attempt/msg/m0"} {
		l := decode[listJSON[attemptJSON]](t, s.do(http.MethodGet, path, nil).must(t, http.StatusOK))
		for _, a := range l.Data {
			if want := s.attemptByID(a.ID); a.ID == a0.ID {
				checkAttempt(t, a, expunged)
			} else {
				checkAttempt(t, a, want)
			}
		}
	}
	s.do(http.MethodDelete, msgPath("m0")+"/attempt/"+a0.ID+"/content", nil).must(t, http.StatusNoContent)
}

// eventIDOf returns the eventId of the scenario's message msgID.
func (s *attemptScenario) eventIDOf(msgID string) string {
	for _, m := range s.msgs {
		if m.ID == msgID {
			return *m.EventID
		}
	}
	s.t.Fatalf("no message %s", msgID)
	return ""
}

func (s *attemptScenario) attemptByID(id string) webhook.Attempt {
	for _, a := range s.attempts {
		if a.ID == id {
			return a
		}
	}
	s.t.Fatalf("no attempt %s", id)
	return webhook.Attempt{}
}

func TestListEndpointMessages(t *testing.T) {
	t.Parallel()
	s := setupAttempts(t)
	path := func(ep string) string { return "/api/v1/app/shop/endpoint/" + ep + "/msg" }

	// Every message towards the endpoint, newest first, with its delivery's state.
	type state struct {
		msg    int
		status int
		text   string
		next   bool // nextAttempt set
	}
	for _, tc := range []struct {
		ep   string
		want []state
	}{
		{"one", []state{{2, 2, "fail", false}, {1, 0, "success", false}, {0, 0, "success", false}}},
		{s.two.ID, []state{{2, 1, "pending", true}, {1, 3, "sending", true}, {0, 2, "fail", false}}},
	} {
		r := s.do(http.MethodGet, path(tc.ep), nil).must(t, http.StatusOK)
		raw := decode[listJSON[json.RawMessage]](t, r)
		for _, item := range raw.Data {
			mustKeys(t, item, append(slices.Clone(messageKeys), "status", "statusText", "nextAttempt")...)
		}
		l := decode[listJSON[endpointMessageJSON]](t, r)
		if len(l.Data) != len(tc.want) || !l.Done {
			t.Fatalf("endpoint %s lists %d messages, want %d", tc.ep, len(l.Data), len(tc.want))
		}
		for i, w := range tc.want {
			got, m := l.Data[i], s.msgs[w.msg]
			if got.ID != m.ID || got.EventType != m.EventType || str(got.EventID) != str(m.EventID) ||
				string(got.Payload) != string(m.Payload) || !slices.Equal(got.Channels, m.Channels) ||
				!got.Timestamp.Equal(m.Timestamp) || got.Status != w.status || got.StatusText != w.text ||
				(got.NextAttempt != nil) != w.next {
				t.Fatalf("endpoint %s item %d = %+v (payload %s), want message %+v in state %+v", tc.ep, i, got, got.Payload, m, w)
			}
		}
	}
	// A scheduled retry reads as its due time.
	m1two := s.delivery(s.msgs[1].ID, s.two.ID)
	l := decode[listJSON[endpointMessageJSON]](t, s.do(http.MethodGet, path("two")+"?status=3", nil).must(t, http.StatusOK))
	if len(l.Data) != 1 || l.Data[0].NextAttempt == nil || !l.Data[0].NextAttempt.Equal(*m1two.NextAttemptAt) {
		t.Fatalf("sending message = %+v, want nextAttempt %v", l.Data, m1two.NextAttemptAt)
	}

	pick := func(i ...int) []string {
		ids := []string{}
		for _, n := range i {
			ids = append(ids, s.msgs[n].ID)
		}
		return ids
	}
	for _, tc := range []struct {
		name  string
		ep    string
		query url.Values
		want  []string
	}{
		// Delivery status.
		{"success", "one", url.Values{"status": {"0"}}, pick(1, 0)},
		{"fail", "one", url.Values{"status": {"2"}}, pick(2)},
		{"pending", "two", url.Values{"status": {"1"}}, pick(2)},
		{"sending", "two", url.Values{"status": {"3"}}, pick(1)},
		{"fail on two", "two", url.Values{"status": {"2"}}, pick(0)},
		{"none sending on one", "one", url.Values{"status": {"3"}}, pick()},
		// Message filters.
		{"event type", "one", url.Values{"event_types": {"a"}}, pick(2, 0)},
		{"channel", "two", url.Values{"channel": {"us"}}, pick(1)},
		{"before", "one", url.Values{"before": {s.msgs[1].Timestamp.Format(time.RFC3339Nano)}}, pick(0)},
		{"after", "one", url.Values{"after": {s.msgs[1].Timestamp.Format(time.RFC3339Nano)}}, pick(2, 1)},
		{"status and type", "two", url.Values{"status": {"2"}, "event_types": {"a"}}, pick(0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := s.in(t)
			if got := b.listPage(path(tc.ep), tc.query, "id").keys; !slices.Equal(got, tc.want) {
				t.Fatalf("GET %s?%s = %v, want %v", path(tc.ep), tc.query.Encode(), got, tc.want)
			}
		})
	}
	s.walk(path("one"), nil, "id", pick(2, 1, 0))

	// with_content=false empties the payloads.
	l = decode[listJSON[endpointMessageJSON]](t, s.do(http.MethodGet, path("one")+"?with_content=false", nil).must(t, http.StatusOK))
	for _, m := range l.Data {
		if string(m.Payload) != "{}" || m.StatusText == "" {
			t.Fatalf("with_content=false item = %+v (payload %s)", m, m.Payload)
		}
	}
	mustInvalid(t, s.do(http.MethodGet, path("one")+"?status=9", nil), "query", "status")
	mustError(t, s.do(http.MethodGet, path("three"), nil), http.StatusNotFound, "not_found")
}

func TestListEndpointMessagesPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{})
	ep := b.createEndpoint(app.ID, map[string]any{"channels": []string{"eu"}})
	var want []string
	for i := range 8 {
		channel := "eu"
		if i%3 == 0 {
			channel = "us" // not delivered to ep
		}
		m := b.publish(app.ID, map[string]any{"eventType": "a", "channels": []string{channel}, "payload": map[string]int{"i": i}})
		if channel == "eu" {
			want = append(want, m.ID)
		}
	}
	b.walk("/api/v1/app/"+app.ID+"/endpoint/"+ep.ID+"/msg", nil, "id", reversed(want))
}

func TestListMessageEndpoints(t *testing.T) {
	t.Parallel()
	s := setupAttempts(t)

	type state struct {
		status int
		text   string
		next   bool
	}
	for _, tc := range []struct {
		msg  string
		want map[string]state
	}{
		{"m0", map[string]state{s.one.ID: {0, "success", false}, s.two.ID: {2, "fail", false}}},
		{s.msgs[1].ID, map[string]state{s.one.ID: {0, "success", false}, s.two.ID: {3, "sending", true}}},
		{"m2", map[string]state{s.one.ID: {2, "fail", false}, s.two.ID: {1, "pending", true}}},
	} {
		r := s.do(http.MethodGet, "/api/v1/app/shop/msg/"+tc.msg+"/endpoint", nil).must(t, http.StatusOK)
		raw := decode[listJSON[json.RawMessage]](t, r)
		for _, item := range raw.Data {
			mustKeys(t, item, "id", "uid", "url", "description", "disabled", "filterTypes", "channels", "throttleRate",
				"createdAt", "updatedAt", "status", "statusText", "nextAttempt")
		}
		l := decode[listJSON[messageEndpointJSON]](t, r)
		got := map[string]state{}
		for _, e := range l.Data {
			got[e.ID] = state{e.Status, e.StatusText, e.NextAttempt != nil}
			want := s.one
			if e.ID == s.two.ID {
				want = s.two
			}
			if e.URL != want.URL || str(e.UID) != str(want.UID) || !e.CreatedAt.Equal(want.CreatedAt) {
				t.Fatalf("message %s: endpoint %+v, want %+v", tc.msg, e.endpointJSON, want)
			}
		}
		if !maps.Equal(got, tc.want) {
			t.Fatalf("message %s endpoints = %v, want %v", tc.msg, got, tc.want)
		}
	}

	// Paged one at a time, every endpoint once.
	var seen []string
	var it *string
	for range 4 {
		q := url.Values{"limit": {"1"}}
		if it != nil {
			q.Set("iterator", *it)
		}
		p := s.listPage("/api/v1/app/shop/msg/m0/endpoint", q, "id")
		seen = append(seen, p.keys...)
		if p.done {
			break
		}
		it = p.iterator
	}
	slices.Sort(seen)
	want := []string{s.one.ID, s.two.ID}
	slices.Sort(want)
	if !slices.Equal(seen, want) {
		t.Fatalf("paging saw %v, want %v", seen, want)
	}
	mustError(t, s.do(http.MethodGet, "/api/v1/app/shop/msg/m9/endpoint", nil), http.StatusNotFound, "not_found")
}

func TestResend(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{"uid": "shop"})
	one := b.createEndpoint(app.ID, map[string]any{"uid": "one"})
	m := b.publish("shop", `{"eventType":"a","eventId":"m0","payload":{}}`)
	d := b.delivery(m.ID, one.ID)
	b.attempt(d.ID, outcome{code: 500, last: true})
	resend := func(msg, ep string) response {
		return b.do(http.MethodPost, "/api/v1/app/shop/msg/"+msg+"/endpoint/"+ep+"/resend", nil)
	}

	// 202 with an empty JSON object, one manual attempt queued for the
	// delivery, by ids or by eventId and uid.
	for i, tc := range []struct{ msg, ep string }{{m.ID, one.ID}, {"m0", "one"}} {
		r := resend(tc.msg, tc.ep).must(t, http.StatusAccepted)
		if strings.TrimSpace(string(r.body)) != "{}" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Fatalf("resend answered %q (%s), want {}", r.body, r.header.Get("Content-Type"))
		}
		if got := b.dispatched.resent(); len(got) != i+1 || got[i] != d.ID {
			t.Fatalf("resends = %v, want %d of %s", got, i+1, d.ID)
		}
	}
	// The delivery's own schedule is left alone.
	job, err := b.db.LoadDelivery(context.Background(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if job.Delivery.Status != webhook.StatusFail || job.Delivery.NextAttemptAt != nil {
		t.Fatalf("delivery after resend = %+v", job.Delivery)
	}

	// An endpoint created after the message had no delivery: one is made
	// for the manual attempt, without a schedule of its own.
	late := b.createEndpoint(app.ID, map[string]any{"uid": "late"})
	resend("m0", "late").must(t, http.StatusAccepted)
	resends := b.dispatched.resent()
	job, err = b.db.LoadDelivery(context.Background(), resends[len(resends)-1])
	if err != nil {
		t.Fatal(err)
	}
	if job.Delivery.MessageID != m.ID || job.Delivery.EndpointID != late.ID || job.Delivery.NextAttemptAt != nil {
		t.Fatalf("delivery made for the resend = %+v", job.Delivery)
	}
	resend("m0", late.ID).must(t, http.StatusAccepted)
	if again := b.dispatched.resent(); again[len(again)-1] != job.Delivery.ID {
		t.Fatalf("second resend to the late endpoint queued %s, want %s", again[len(again)-1], job.Delivery.ID)
	}
	// The worker's manual attempt then shows up like any other.
	b.attempt(job.Delivery.ID, outcome{code: 204, manual: true})
	l := decode[listJSON[attemptJSON]](t, b.do(http.MethodGet, "/api/v1/app/shop/attempt/msg/m0?endpoint_id=late", nil).must(t, http.StatusOK))
	if len(l.Data) != 1 || l.Data[0].TriggerType != 1 || l.Data[0].Status != 0 {
		t.Fatalf("attempts of the late endpoint = %+v", l.Data)
	}
	if n := len(b.dispatched.dispatchedTo()); n != 1 {
		t.Fatalf("resends dispatched %d scheduled deliveries, want only the publish's", n-1)
	}

	// Unknown endpoints and messages, another organisation's: 404, nothing queued.
	sent := len(b.dispatched.resent())
	other := b.newKey("other")
	for _, tc := range []struct{ key, path string }{
		{b.key, "/api/v1/app/shop/msg/m0/endpoint/nowhere/resend"},
		{b.key, "/api/v1/app/shop/msg/m9/endpoint/one/resend"},
		{b.key, "/api/v1/app/nowhere/msg/m0/endpoint/one/resend"},
		{other, "/api/v1/app/" + app.ID + "/msg/" + m.ID + "/endpoint/" + one.ID + "/resend"},
	} {
		mustError(t, b.doWith(tc.key, http.MethodPost, tc.path, nil, nil), http.StatusNotFound, "not_found")
	}
	if n := len(b.dispatched.resent()); n != sent {
		t.Fatalf("refused resends queued %d attempts", n-sent)
	}

	// When the queue is down, a JSON 503, and a retry with the same
	// idempotency key is processed again once it is back.
	key := http.Header{"Idempotency-Key": {"auto_resend"}}
	b.dispatched.setFail(errors.New("redis: connection refused"))
	r := b.doWith(b.key, http.MethodPost, "/api/v1/app/shop/msg/m0/endpoint/one/resend", nil, key)
	mustError(t, r, http.StatusServiceUnavailable, "unavailable")
	if strings.Contains(string(r.body), "redis") {
		t.Fatalf("503 leaks the infrastructure error: %s", r.body)
	}
	b.dispatched.setFail(nil)
	b.doWith(b.key, http.MethodPost, "/api/v1/app/shop/msg/m0/endpoint/one/resend", nil, key).must(t, http.StatusAccepted)
}

func TestRecover(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{"uid": "shop"})
	one := b.createEndpoint(app.ID, map[string]any{"uid": "one"})
	two := b.createEndpoint(app.ID, map[string]any{"uid": "two"})
	publish := func(n int) messageJSON {
		return b.publish("shop", map[string]any{"eventType": "a", "payload": map[string]int{"n": n}})
	}
	fail := func(m messageJSON, ep endpointJSON) {
		b.attempt(b.delivery(m.ID, ep.ID).ID, outcome{code: 500, last: true})
	}

	old := publish(0)
	fail(old, one)
	mark := time.Now()
	failed := publish(1) // failed on both endpoints
	fail(failed, one)
	fail(failed, two)
	succeeded := publish(2)
	b.attempt(b.delivery(succeeded.ID, one.ID).ID, outcome{code: 200})
	sending := publish(3)
	b.attempt(b.delivery(sending.ID, one.ID).ID, outcome{code: 500})
	pending := publish(4)
	failedToo := publish(5)
	fail(failedToo, one)
	before := map[string]webhook.Delivery{}
	for _, m := range []messageJSON{old, failed, succeeded, sending, pending, failedToo} {
		for _, ep := range []endpointJSON{one, two} {
			before[m.ID+ep.ID] = b.delivery(m.ID, ep.ID)
		}
	}
	path := "/api/v1/app/shop/endpoint/one/recover"

	// recover answers a running background task; when a worker has run it,
	// it has re-queued only the failed deliveries of this endpoint whose
	// message is in [since, until), and reads as finished with the count.
	recoverSince := func(body string, want ...messageJSON) {
		t.Helper()
		dispatched := len(b.dispatched.dispatchedTo())
		start := time.Now()
		r := b.do(http.MethodPost, path, body).must(t, http.StatusAccepted)
		mustKeys(t, r.body, "id", "status", "task", "updatedAt")
		out := decode[struct {
			ID        string    `json:"id"`
			Status    string    `json:"status"`
			Task      string    `json:"task"`
			UpdatedAt time.Time `json:"updatedAt"`
		}](t, r)
		if !webhook.ValidID(webhook.PrefixTask, out.ID) || out.Status != "running" || out.Task != "endpoint.recover" ||
			out.UpdatedAt.Before(start.Add(-time.Second)) {
			t.Fatalf("recover answered %s", r.body)
		}
		if n := len(b.dispatched.dispatchedTo()); n != dispatched {
			t.Fatalf("recover queued %d deliveries before any worker ran its task", n-dispatched)
		}
		b.runTasks()
		task := decode[backgroundTaskJSON](t, b.do(http.MethodGet, "/api/v1/background-task/"+out.ID, nil).must(t, http.StatusOK))
		if task.Status != "finished" || task.Task != "endpoint.recover" || task.Data["recovered"] != float64(len(want)) {
			t.Fatalf("recover task after the worker ran = %+v, want finished with recovered %d", task, len(want))
		}
		queued := b.dispatched.dispatchedTo()[dispatched:]
		var wantIDs []string
		for _, m := range want {
			wantIDs = append(wantIDs, before[m.ID+one.ID].ID)
		}
		var got []string
		for _, d := range queued {
			got = append(got, d.ID)
			round := before[d.MessageID+d.EndpointID].Round + 1
			if d.Status != webhook.StatusPending || d.NextAttemptAt == nil || d.Round != round || d.RoundAttempts != 0 || d.EndpointID != one.ID {
				t.Fatalf("recovered delivery = %+v, want round %d", d, round)
			}
			stored := b.delivery(d.MessageID, d.EndpointID)
			if stored.Status != webhook.StatusPending || stored.Round != round || stored.NextAttemptAt == nil {
				t.Fatalf("stored recovered delivery = %+v", stored)
			}
			before[d.MessageID+d.EndpointID] = stored
		}
		slices.Sort(got)
		slices.Sort(wantIDs)
		if !slices.Equal(got, wantIDs) {
			t.Fatalf("recover %s queued %v, want %v", body, got, wantIDs)
		}
		// Everything else is as it was.
		for k, d := range before {
			if now := b.delivery(d.MessageID, d.EndpointID); now.Status != d.Status || now.Round != d.Round {
				t.Fatalf("delivery %s changed from %+v to %+v", k, d, now)
			}
		}
	}
	rfc := func(at time.Time) string { return at.Format(time.RFC3339Nano) }

	// Since the mark: the two failed after it, not the older one, not
	// the other endpoint's, not the successful, sending or pending ones.
	recoverSince(`{"since":"`+rfc(mark)+`"}`, failed, failedToo)
	// Until the mark: the older one.
	recoverSince(`{"since":"`+rfc(mark.Add(-time.Hour))+`","until":"`+rfc(mark)+`"}`, old)
	// Nothing failed is left.
	recoverSince(`{"since":"` + rfc(mark.Add(-time.Hour)) + `","until":null}`)

	// A recovered delivery starts its schedule anew and may fail again;
	// until excludes the message created at that time.
	d := b.delivery(failed.ID, one.ID)
	b.attempt(d.ID, outcome{code: 500, last: true})
	b.attempt(b.delivery(failedToo.ID, one.ID).ID, outcome{code: 500, last: true})
	before[failed.ID+one.ID] = b.delivery(failed.ID, one.ID)
	before[failedToo.ID+one.ID] = b.delivery(failedToo.ID, one.ID)
	if got := before[failed.ID+one.ID]; got.Status != webhook.StatusFail || got.Round != 1 || got.RoundAttempts != 1 {
		t.Fatalf("recovered delivery after its first attempt = %+v", got)
	}
	recoverSince(`{"since":"`+rfc(mark)+`","until":"`+rfc(failedToo.Timestamp)+`"}`, failed)
	b.attempt(b.delivery(failed.ID, one.ID).ID, outcome{code: 500, last: true})
	before[failed.ID+one.ID] = b.delivery(failed.ID, one.ID)

	// Invalid requests queue nothing.
	dispatched := len(b.dispatched.dispatchedTo())
	for _, tc := range []struct {
		name string
		body string
		loc  []string
	}{
		{"no since", `{}`, []string{"body", "since"}},
		{"null since", `{"since":null}`, []string{"body", "since"}},
		{"since before the retention period", `{"since":"` + rfc(time.Now().Add(-91*24*time.Hour)) + `"}`, []string{"body", "since"}},
		{"since not a date", `{"since":"yesterday"}`, []string{"body", "since"}},
		{"since a number", `{"since":1700000000}`, []string{"body", "since"}},
		{"until not a date", `{"since":"` + rfc(mark) + `","until":"2024-13-01T00:00:00Z"}`, []string{"body", "until"}},
		{"no body", ``, []string{"body"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := b.in(t)
			var body any
			if tc.body != "" {
				body = tc.body
			}
			mustInvalid(t, b.do(http.MethodPost, path, body), tc.loc...)
		})
	}
	mustError(t, b.do(http.MethodPost, path, `{"since":`), http.StatusBadRequest, "bad_request")
	mustError(t, b.do(http.MethodPost, "/api/v1/app/shop/endpoint/three/recover", `{"since":"`+rfc(mark)+`"}`), http.StatusNotFound, "not_found")
	mustError(t, b.doWith(b.newKey("other"), http.MethodPost, "/api/v1/app/"+app.ID+"/endpoint/"+one.ID+"/recover",
		`{"since":"`+rfc(mark)+`"}`, nil), http.StatusNotFound, "not_found")
	if n := len(b.dispatched.dispatchedTo()); n != dispatched {
		t.Fatalf("refused recovers queued %d deliveries", n-dispatched)
	}
	if got := b.delivery(failed.ID, one.ID); got.Status != webhook.StatusFail {
		t.Fatalf("refused recovers changed a delivery: %+v", got)
	}
	// Within the retention period is accepted.
	recoverSince(`{"since":"`+rfc(time.Now().Add(-89*24*time.Hour))+`"}`, failed, failedToo)
}

func TestSendExample(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{"uid": "shop"})
	one := b.createEndpoint(app.ID, map[string]any{"uid": "one"})
	b.createEndpoint(app.ID, map[string]any{"uid": "two"})
	b.do(http.MethodPost, "/api/v1/event-type",
		`{"name":"order.paid","description":"d","schemas":{"1":{"type":"object","examples":[{"z":1,"a":"first"},{"b":2}]}}}`).
		must(t, http.StatusCreated)
	b.createEventType("user.created") // without a schema
	path := "/api/v1/app/shop/endpoint/one/send-example"

	for _, tc := range []struct {
		eventType string
		check     func(payload json.RawMessage) bool
	}{
		// examples[0] of the schema, byte for byte.
		{"order.paid", func(p json.RawMessage) bool { return string(p) == `{"z":1,"a":"first"}` }},
		// Without a schema, some JSON object naming the event type.
		{"user.created", func(p json.RawMessage) bool {
			var obj map[string]any
			return json.Unmarshal(p, &obj) == nil && strings.Contains(string(p), "user.created")
		}},
	} {
		r := b.do(http.MethodPost, path, map[string]string{"eventType": tc.eventType}).must(t, http.StatusOK)
		mustKeys(t, r.body, messageKeys...)
		m := decode[messageJSON](t, r)
		if !webhook.ValidID(webhook.PrefixMessage, m.ID) || m.EventType != tc.eventType || !tc.check(m.Payload) {
			t.Fatalf("example message = %+v (payload %s)", m, m.Payload)
		}
		// Delivered to this endpoint only, and stored like any message.
		if got := endpointsOf(b.dispatchedFor(m.ID)); !slices.Equal(got, []string{one.ID}) {
			t.Fatalf("example dispatched to %v, want [%s]", got, one.ID)
		}
		stored := decode[messageJSON](t, b.do(http.MethodGet, "/api/v1/app/shop/msg/"+m.ID, nil).must(t, http.StatusOK))
		if string(stored.Payload) != string(m.Payload) || stored.EventType != tc.eventType {
			t.Fatalf("stored example = %+v", stored)
		}
	}

	// Unknown or missing event types are 422s and send nothing.
	list := b.snapshot("/api/v1/app/shop/msg")
	sent := len(b.dispatched.dispatchedTo())
	for _, tc := range []struct {
		body string
		loc  []string
	}{
		{`{"eventType":"order.unknown"}`, []string{"body", "eventType"}},
		{`{"eventType":"bad type"}`, []string{"body", "eventType"}},
		{`{}`, []string{"body", "eventType"}},
		{`{"eventType":5}`, []string{"body", "eventType"}},
	} {
		mustInvalid(t, b.do(http.MethodPost, path, tc.body), tc.loc...)
	}
	mustError(t, b.do(http.MethodPost, "/api/v1/app/shop/endpoint/three/send-example", `{"eventType":"order.paid"}`),
		http.StatusNotFound, "not_found")
	b.unchanged("/api/v1/app/shop/msg", list)
	if n := len(b.dispatched.dispatchedTo()); n != sent {
		t.Fatalf("refused examples dispatched %d deliveries", n-sent)
	}
}

func TestEndpointStatsCountDeliveries(t *testing.T) {
	t.Parallel()
	s := setupAttempts(t)
	// One more message to one, delivered on the first try, and one pending.
	m3 := s.publish("shop", `{"eventType":"b","payload":{}}`)
	s.attempt(s.delivery(m3.ID, s.one.ID).ID, outcome{code: 201})
	s.publish("shop", `{"eventType":"b","channels":["x"],"payload":{}}`)
	// A third endpoint without deliveries.
	three := s.createEndpoint(s.app.ID, map[string]any{"uid": "three"})

	type stats struct{ Success, Pending, Sending, Fail, Canceled int64 }
	for _, tc := range []struct {
		ep   string
		want stats
	}{
		{"one", stats{Success: 3, Pending: 1, Fail: 1}},
		{s.two.ID, stats{Pending: 3, Sending: 1, Fail: 1}},
		{three.ID, stats{}},
	} {
		r := s.do(http.MethodGet, "/api/v1/app/shop/endpoint/"+tc.ep+"/stats", nil).must(t, http.StatusOK)
		mustKeys(t, r.body, "success", "pending", "sending", "fail", "canceled")
		if got := decode[stats](t, r); got != tc.want {
			t.Fatalf("stats of %s = %+v, want %+v", tc.ep, got, tc.want)
		}
	}
	// Bounded in time: nothing before the first message.
	r := s.do(http.MethodGet, "/api/v1/app/shop/endpoint/one/stats?until="+url.QueryEscape(s.msgs[0].Timestamp.Add(-time.Second).Format(time.RFC3339Nano)), nil)
	if got := decode[stats](t, r.must(t, http.StatusOK)); got != (stats{}) {
		t.Fatalf("stats until before the first message = %+v", got)
	}
}
