package delivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/retry"
	"github.com/hookd/hookd/pkg/transform"
	"github.com/hookd/hookd/pkg/webhook"
)

// testTransformer adapts package transform to the Attempter, as cmd/hookd
// does.
type testTransformer struct{ engine *transform.Engine }

func (t testTransformer) Transform(ctx context.Context, code string, in delivery.TransformInput) (delivery.TransformOutput, error) {
	p, err := t.engine.Load(ctx, code)
	if err != nil {
		return delivery.TransformOutput{}, err
	}
	out, err := t.engine.Run(ctx, p, transform.Input{
		Method: in.Method, URL: in.URL, Payload: in.Payload, Headers: in.Headers,
		EventType: in.EventType, MsgID: in.MsgID, Variables: in.Variables,
	})
	return delivery.TransformOutput{Method: out.Method, URL: out.URL, Payload: out.Payload, Headers: out.Headers, Cancel: out.Cancel}, err
}

// filtered returns an endpoint edit that sets its payload filter.
func filtered(expr string) func(*webhook.Endpoint) {
	return func(e *webhook.Endpoint) { e.Filter = expr }
}

// Payload filters on nested fields, lists, channels, tags and missing
// keys: a true filter delivers, a false one makes no delivery, and one that
// cannot be evaluated makes a cancelled delivery that says why, without
// failing the publish.
func TestPayloadFilters(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{})
	rcv := newReceiver(t, nil)
	if err := b.db.CreateEventType(b.ctx, &webhook.EventType{OrgID: b.app.OrgID, Name: "invoice.voided", Description: "d"}); err != nil {
		t.Fatal(err)
	}
	type want struct {
		status webhook.MessageStatus // -1: no delivery
		reason string
	}
	none := want{status: -1}
	sent := want{status: webhook.StatusSuccess}
	cancelled := func(reason string) want { return want{webhook.StatusCanceled, "filtered out: " + reason} }
	cases := []struct {
		name   string
		expr   string
		edit   func(*webhook.Endpoint)
		onInv  want // the invoice, with channel eu and tag vip
		onNoAm want // a payload without amount, no channel, no tag
	}{
		// Nested fields.
		{"nested", `payload.customer.address.country == "DE"`, nil, sent, cancelled("no such key: address")},
		{"nested guarded", `has(payload.customer.address) && payload.customer.address.country == "DE"`, nil, sent, none},
		// The example.
		{"example", `eventType == "invoice.paid" && payload.amount > 1000 && payload.currency in ["EUR","USD"]`, nil, sent,
			cancelled("no such key: amount")},
		{"false", `payload.amount > 5000`, nil, none, cancelled("no such key: amount")},
		// Lists.
		{"list exists", `payload.lines.exists(l, l.sku == "B" && l.qty > 5)`, nil, sent, none},
		{"list size", `size(payload.lines) == 2`, nil, sent, none},
		{"channels", `"eu" in channels`, nil, sent, none},
		{"tags", `"vip" in tags`, nil, sent, none},
		// Missing keys.
		{"missing guarded", `has(payload.amount) && payload.amount > 1000`, nil, sent, none},
		{"missing", `payload.refund.id == "r"`, nil, cancelled("no such key: refund"), cancelled("no such key: refund")},
		// A filter on an endpoint whose event types do not match is not
		// evaluated: no delivery at all, not a cancelled one.
		{"other event type", `payload.refund.id == "r"`, func(e *webhook.Endpoint) { e.FilterTypes = []string{"invoice.voided"} }, none, none},
		// Without a filter, as before.
		{"no filter", ``, nil, sent, sent},
	}
	eps := make([]*webhook.Endpoint, len(cases))
	for i, tc := range cases {
		edits := []func(*webhook.Endpoint){filtered(tc.expr)}
		if tc.edit != nil {
			edits = append(edits, tc.edit)
		}
		eps[i] = b.endpoint(rcv.URL, edits...)
	}
	b.publisher.Forget("", b.app.ID)
	invoice, invDs := b.publish("invoice.paid",
		`{"amount":4250,"currency":"EUR","customer":{"address":{"country":"DE"}},"lines":[{"sku":"A","qty":2},{"sku":"B","qty":7}]}`,
		func(msg *webhook.Message) { msg.Channels, msg.Tags = []string{"eu"}, []string{"vip"} })
	noAmount, noAmDs := b.publish("invoice.paid", `{"currency":"EUR","customer":{},"lines":[]}`)
	for i, tc := range cases {
		for _, m := range []struct {
			msg  *webhook.Message
			ds   []webhook.Delivery
			want want
		}{{invoice, invDs, tc.onInv}, {noAmount, noAmDs, tc.onNoAm}} {
			ep := eps[i]
			j := slices.IndexFunc(m.ds, func(d webhook.Delivery) bool { return d.EndpointID == ep.ID })
			if m.want.status == -1 {
				if j >= 0 {
					t.Errorf("%s, %s: a delivery %+v, want none", tc.name, m.msg.Payload, m.ds[j])
				}
				continue
			}
			if j < 0 {
				t.Errorf("%s, %s: no delivery, want status %v", tc.name, m.msg.Payload, m.want.status)
				continue
			}
			d := b.waitStatus(m.msg, ep, m.want.status)
			if d.Reason != m.want.reason {
				t.Errorf("%s, %s: reason %q, want %q", tc.name, m.msg.Payload, d.Reason, m.want.reason)
			}
			if m.want.status == webhook.StatusCanceled && d.NextAttemptAt != nil {
				t.Errorf("%s: a filtered-out delivery is scheduled: %+v", tc.name, d)
			}
		}
	}
	b.waitFor("the queue to drain", func() bool { return b.queue.Len() == 0 })
	if n := len(rcv.got()); n != 10 {
		t.Fatalf("the receiver got %d requests, want 10", n)
	}
	for _, a := range append(b.attempts(invoice), b.attempts(noAmount)...) {
		if a.Status != webhook.StatusSuccess {
			t.Fatalf("attempt %+v: only delivered messages are attempted", a)
		}
	}
}

// A changed filter reaches the next publish once the Publisher forgets
// the application (the API does it on every endpoint write), or within
// its RoutingTTL.
func TestPayloadFilterChange(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{})
	rcv := newReceiver(t, nil)
	ep := b.endpoint(rcv.URL, filtered(`payload.n > 1`))
	has := func(ds []webhook.Delivery) bool {
		return slices.ContainsFunc(ds, func(d webhook.Delivery) bool { return d.EndpointID == ep.ID })
	}
	if _, ds := b.publish("a", `{"n":1}`); has(ds) {
		t.Fatal("n = 1 passed the filter n > 1")
	}
	if err := b.db.UpdateEndpoint(b.ctx, ep, func(e *webhook.Endpoint) error { e.Filter = `payload.n < 2`; return nil }); err != nil {
		t.Fatal(err)
	}
	b.publisher.Forget("", b.app.ID)
	if _, ds := b.publish("a", `{"n":1}`); !has(ds) {
		t.Fatal("n = 1 did not pass the changed filter n < 2")
	}
	// Removed: every message again.
	if err := b.db.UpdateEndpoint(b.ctx, ep, func(e *webhook.Endpoint) error { e.Filter = ""; return nil }); err != nil {
		t.Fatal(err)
	}
	b.publisher.Forget("", b.app.ID)
	if _, ds := b.publish("a", `{"n":5}`); !has(ds) {
		t.Fatal("no delivery once the filter is removed")
	}
}

// transformed returns an endpoint edit that gives it an enabled
// transformation.
func transformed(code string, vars map[string]string) func(*webhook.Endpoint) {
	return func(e *webhook.Endpoint) {
		e.Transformation = webhook.EndpointTransformation{Code: code, Enabled: true, Variables: vars}
	}
}

// A transformation renames fields, changes method, URL and headers: the
// receiver gets what it asked for, signed over the transformed body.
func TestTransformationReshapes(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{endpointTTL: time.Millisecond})
	rcv := newReceiver(t, nil)
	const code = `function handler(webhook) {
  webhook.payload.customerId = webhook.payload.customer_id;
  delete webhook.payload.customer_id;
  webhook.payload.source = webhook.variables.source;
  webhook.method = "PUT";
  webhook.url = webhook.url + "/v2?type=" + webhook.eventType;
  webhook.headers["X-Tenant"] = "t1";
  return webhook;
}`
	ep := b.endpoint(rcv.URL, transformed(code, map[string]string{"source": "hookd"}), func(e *webhook.Endpoint) {
		e.Headers = map[string]string{"X-Custom": "kept"}
	})
	msg, _ := b.publish("user.signup", `{"customer_id":"c_1","plan":"pro"}`)
	b.waitStatus(msg, ep, webhook.StatusSuccess)
	got := rcv.got()
	if len(got) != 1 {
		t.Fatalf("the receiver got %d requests, want 1", len(got))
	}
	r := got[0]
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	if body["customerId"] != "c_1" || body["customer_id"] != nil || body["plan"] != "pro" || body["source"] != "hookd" {
		t.Fatalf("body %s, want customer_id renamed and source added", r.body)
	}
	if r.method != http.MethodPut || r.url != "/v2?type=user.signup" {
		t.Fatalf("%s %s, want PUT /v2?type=user.signup", r.method, r.url)
	}
	if r.header.Get("X-Tenant") != "t1" || r.header.Get("X-Custom") != "kept" {
		t.Fatalf("headers %v, want X-Tenant added and X-Custom kept", r.header)
	}
	verifyBoth(t, r, ep.Secret)
	if a := b.attempts(msg); len(a) != 1 || a[0].URL != rcv.URL+"/v2?type=user.signup" {
		t.Fatalf("attempts %+v, want one to the transformed URL", a)
	}

	// Disabled, it does not run.
	if err := b.db.UpdateEndpoint(b.ctx, ep, func(e *webhook.Endpoint) error { e.Transformation.Enabled = false; return nil }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // the endpoint's cached copy expires
	b.publish("user.signup", `{"customer_id":"c_2"}`)
	b.waitFor("the untransformed request", func() bool { return len(rcv.got()) == 2 })
	if r := rcv.got()[1]; string(r.body) != `{"customer_id":"c_2"}` || r.method != http.MethodPost || r.url != "/" {
		t.Fatalf("%s %s %s: a disabled transformation ran", r.method, r.url, r.body)
	}
}

// A transformation that sets webhook.cancel makes no request: the attempt
// is recorded as cancelled, the delivery is cancelled with the reason,
// nothing is retried, and a resend is cancelled the same way without
// changing the delivery.
func TestTransformationCancels(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{})
	rcv := newReceiver(t, nil)
	ep := b.endpoint(rcv.URL, transformed(`function handler(webhook) {
  if (webhook.payload.test) { webhook.cancel = true; }
  return webhook;
}`, nil))
	msg, _ := b.publish("a", `{"test":true}`)
	d := b.waitStatus(msg, ep, webhook.StatusCanceled)
	if d.Reason != webhook.ReasonTransformCancelled || d.NextAttemptAt != nil {
		t.Fatalf("delivery %+v, want cancelled by transformation, nothing scheduled", d)
	}
	a := b.attempts(msg)
	if len(a) != 1 || a[0].Status != webhook.StatusCanceled || a[0].StatusCode != 0 || !strings.Contains(a[0].Response, "cancelled by transformation") {
		t.Fatalf("attempts %+v, want one cancelled attempt", a)
	}
	if err := b.replayer.Resend(b.ctx, msg, ep); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the resend", func() bool { return len(b.attempts(msg)) == 2 })
	if d := b.delivery(msg, ep); d.Status != webhook.StatusCanceled || d.Reason != webhook.ReasonTransformCancelled {
		t.Fatalf("delivery after a cancelled resend: %+v", d)
	}
	if n := len(rcv.got()); n != 0 {
		t.Fatalf("the receiver got %d requests of cancelled attempts", n)
	}
	// Other messages go through.
	other, _ := b.publish("a", `{"test":false}`)
	b.waitStatus(other, ep, webhook.StatusSuccess)
}

// A transformation that fails (throws, loops for ever, returns a blocked
// URL or a signature header) fails the attempt with the reason shown, and
// the delivery follows the retry schedule like any failure.
func TestTransformationFailures(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{schedule: retry.Schedule{10 * time.Millisecond}})
	rcv := newReceiver(t, nil)
	for i, tc := range []struct {
		name, code, reason string
	}{
		{"throws", "function handler(webhook) {\n  const x = webhook.payload;\n  throw new TypeError('no ' + x.kind);\n}", "transformation failed: TypeError at line 3: no thing"},
		{"loops", "function handler(webhook) {\n  for (;;) {}\n}", "transformation failed: timeout at line"},
		{"blocked url", `function handler(webhook) { webhook.url = "http://10.1.2.3/hook"; return webhook; }`,
			"blocked: address 10.1.2.3 is not allowed: private address (RFC 1918)"},
		{"bad url", `function handler(webhook) { webhook.url = "ftp://example.com/"; return webhook; }`,
			"transformation failed: invalid result: url scheme must be http or https"},
		{"signature header", `function handler(webhook) { webhook.headers["webhook-signature"] = "v1,forged"; return webhook; }`,
			"transformation failed: invalid result: headers.webhook-signature: header webhook-signature is set by hookd and cannot be overridden"},
		{"no result", `function handler(webhook) { }`, "transformation failed: invalid result"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Each endpoint on a channel of its own, so that each gets its message only.
			channel := fmt.Sprintf("c%d", i)
			ep := b.endpoint(rcv.URL, transformed(tc.code, nil), func(e *webhook.Endpoint) { e.Channels = []string{channel} })
			msg, _ := b.publish("a", `{"kind":"thing"}`, func(m *webhook.Message) { m.Channels = []string{channel} })
			b.waitStatus(msg, ep, webhook.StatusFail)
			var mine []webhook.Attempt
			for _, a := range b.attempts(msg) {
				if a.EndpointID == ep.ID {
					mine = append(mine, a)
				}
			}
			if len(mine) != 2 {
				t.Fatalf("%d attempts, want 2 (the schedule has one retry)", len(mine))
			}
			for _, a := range mine {
				if a.Status != webhook.StatusFail || a.StatusCode != 0 || !strings.HasPrefix(a.Response, tc.reason) {
					t.Fatalf("attempt %+v, want a failure %q", a, tc.reason)
				}
			}
		})
	}
	if n := len(rcv.got()); n != 0 {
		t.Fatalf("the receiver got %d requests of failed transformations", n)
	}
}

// plannedDelays is an AttemptStore that notes, for each retry recorded,
// how far ahead its next attempt was planned when the record was stored.
type plannedDelays struct {
	delivery.AttemptStore
	mu     sync.Mutex
	delays map[string][]time.Duration // by message id
}

func (p *plannedDelays) RecordAttempt(ctx context.Context, rec *webhook.AttemptRecord) (bool, error) {
	if rec.NextAttemptAt != nil {
		p.mu.Lock()
		p.delays[rec.Attempt.MessageID] = append(p.delays[rec.Attempt.MessageID], time.Until(*rec.NextAttemptAt))
		p.mu.Unlock()
	}
	return p.AttemptStore.RecordAttempt(ctx, rec)
}

func (p *plannedDelays) of(msgID string) []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.delays[msgID])
}

// A message whose event type has a retry schedule is retried on it, not on
// the Attempter's: the delays planned show it, and so do the times of its
// attempts.
func TestRetrySchedulePerEventType(t *testing.T) {
	t.Parallel()
	planned := &plannedDelays{delays: map[string][]time.Duration{}}
	b := setup(t, bundleOptions{schedule: retry.Schedule{time.Hour}, scheduleTTL: time.Millisecond,
		wrapStore: func(s delivery.AttemptStore) delivery.AttemptStore {
			planned.AttemptStore = s
			return planned
		}})
	rcv := newReceiver(t, status(http.StatusInternalServerError))
	schedule := []time.Duration{300 * time.Millisecond, 1500 * time.Millisecond}
	for _, et := range []*webhook.EventType{
		{OrgID: b.app.OrgID, Name: "payment.failed", Description: "d", RetrySchedule: schedule},
		{OrgID: b.app.OrgID, Name: "analytics.ping", Description: "d", RetrySchedule: []time.Duration{}},
	} {
		if err := b.db.CreateEventType(b.ctx, et); err != nil {
			t.Fatal(err)
		}
	}
	ep := b.endpoint(rcv.URL)
	payment, _ := b.publish("payment.failed", `{"n":1}`)
	ping, _ := b.publish("analytics.ping", `{"n":2}`)
	other, _ := b.publish("user.signup", `{"n":3}`)

	b.waitStatus(payment, ep, webhook.StatusFail)
	// The delays as decided: jitter is ±20 %; the record is stored right
	// after the decision, which may take a little of the delay away.
	delays := planned.of(payment.ID)
	if len(delays) != len(schedule) {
		t.Fatalf("%d retries planned for the payment message, want %d: %v", len(delays), len(schedule), delays)
	}
	for i, d := range schedule {
		if lo, hi := d*8/10-100*time.Millisecond, d*12/10; delays[i] < lo || delays[i] > hi {
			t.Errorf("retry %d planned %v ahead, want %v ±20 %%", i+1, delays[i], d)
		}
	}
	// As sent: never before the delay (a loaded machine may add to it).
	var at []time.Time
	for _, r := range rcv.got() {
		if strings.Contains(string(r.body), `"n":1`) {
			at = append(at, r.at)
		}
	}
	if len(at) != 3 {
		t.Fatalf("%d attempts of the payment message, want 3 (its schedule has two delays)", len(at))
	}
	for i, d := range schedule {
		if gap := at[i+1].Sub(at[i]); gap < d*8/10 {
			t.Errorf("gap %d: %v, want at least %v (%v −20 %%)", i+1, gap, d*8/10, d)
		}
	}
	// An empty schedule: one attempt, then the dead letter.
	b.waitStatus(ping, ep, webhook.StatusFail)
	if n := len(b.attempts(ping)); n != 1 {
		t.Fatalf("%d attempts of the ping, want 1", n)
	}
	// No schedule of its own: the Attempter's, an hour away.
	d := b.waitStatus(other, ep, webhook.StatusSending)
	if d.NextAttemptAt == nil || time.Until(*d.NextAttemptAt) < 40*time.Minute {
		t.Fatalf("next attempt of a message without a type schedule at %v, want about an hour away", d.NextAttemptAt)
	}
}

// An event type that enforces its schema refuses a payload that does not
// validate: the error names the JSON pointer and the rule, and nothing is
// stored or sent. Without the flag, the same payload is published.
func TestEnforceSchema(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{})
	rcv := newReceiver(t, nil)
	ep := b.endpoint(rcv.URL)
	et := &webhook.EventType{OrgID: b.app.OrgID, Name: "invoice.paid", Description: "d", EnforceSchema: true,
		Schemas: json.RawMessage(`{"1":{"type":"object","required":["amount"]},
			"2":{"type":"object","required":["amount"],"properties":{"amount":{"type":"integer","minimum":0},
				"customer":{"type":"object","properties":{"email":{"type":"string"}}}}}}`)}
	if err := b.db.CreateEventType(b.ctx, et); err != nil {
		t.Fatal(err)
	}
	publish := func(payload string) error {
		msg := &webhook.Message{OrgID: b.app.OrgID, AppID: b.app.ID, EventType: "invoice.paid",
			Payload: json.RawMessage(payload), RetentionDays: webhook.DefaultRetentionDays}
		_, err := b.publisher.Publish(b.ctx, msg, "")
		return err
	}
	for _, tc := range []struct {
		payload string
		loc     []string
		typ     string
		msg     string
	}{
		{`{"amount":-5}`, []string{"body", "payload", "amount"}, "value_error.jsonschema.minimum", "at /amount: minimum: got -5, want 0"},
		{`{"amount":1,"customer":{"email":7}}`, []string{"body", "payload", "customer", "email"}, "value_error.jsonschema.type", "at /customer/email: got number, want string"},
		{`{"total":1}`, []string{"body", "payload"}, "value_error.jsonschema.required", "at /: missing property 'amount'"},
	} {
		err := publish(tc.payload)
		var v *webhook.ValidationError
		if !errors.As(err, &v) || len(v.Fields) != 1 {
			t.Fatalf("%s: %v, want one validation error", tc.payload, err)
		}
		f := v.Fields[0]
		if !slices.Equal(f.Loc, tc.loc) || f.Type != tc.typ || !strings.HasPrefix(f.Msg, tc.msg) || !strings.Contains(f.Msg, "invoice.paid") {
			t.Fatalf("%s: %+v, want loc %v, type %s, message %q", tc.payload, f, tc.loc, tc.typ, tc.msg)
		}
	}
	page, err := b.db.ListMessages(b.ctx, b.app, webhook.MessageFilter{}, webhook.ListOptions{Limit: 10})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("%d messages stored after rejections (%v), want none", len(page.Items), err)
	}
	if err := publish(`{"amount":5}`); err != nil {
		t.Fatalf("a valid payload: %v", err)
	}
	// Off: anything goes.
	if err := b.db.UpdateEventType(b.ctx, et, func(et *webhook.EventType) error { et.EnforceSchema = false; return nil }); err != nil {
		t.Fatal(err)
	}
	b.publisher.Forget(b.app.OrgID, "")
	if err := publish(`{"amount":-5}`); err != nil {
		t.Fatalf("a payload of a type that does not enforce its schema: %v", err)
	}
	b.waitFor("two deliveries", func() bool { return len(rcv.got()) == 2 })
	_ = ep
}

// A delivery its transformation cancels is done, for ordering: the next
// message of its key goes.
func TestTransformationCancelHandsTheKeyOn(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{})
	rcv := newReceiver(t, nil)
	ep := b.endpoint(rcv.URL, transformed(`function handler(webhook) {
  webhook.cancel = !!webhook.payload.skip;
  return webhook;
}`, nil), func(e *webhook.Endpoint) { e.Ordering = webhook.OrderingStrict })
	first, _ := b.publish("a", `{"skip":true}`)
	second, ds := b.publish("a", `{"n":2}`)
	if len(ds) != 1 || !ds[0].Held {
		t.Fatalf("the second message's delivery %+v, want held behind the first", ds)
	}
	b.waitStatus(first, ep, webhook.StatusCanceled)
	b.waitStatus(second, ep, webhook.StatusSuccess)
	if got := rcv.got(); len(got) != 1 || string(got[0].body) != `{"n":2}` {
		t.Fatalf("the receiver got %d requests, want the second message only", len(got))
	}
}
