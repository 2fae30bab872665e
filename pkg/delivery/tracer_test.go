package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/tracing"
	"github.com/hookd/hookd/pkg/webhook"
)

// traced is a bundle whose Publisher and Attempter record spans in memory.
type traced struct {
	*bundle
	spans  *tracetest.InMemoryExporter
	tracer *tracing.Tracer
}

func setupTraced(t *testing.T) *traced {
	t.Helper()
	spans := tracetest.NewInMemoryExporter()
	tracer := tracing.New(sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans)))
	return &traced{bundle: setup(t, bundleOptions{tracer: tracer}), spans: spans, tracer: tracer}
}

// waitSpans waits until n spans named name have ended and returns every
// span ended by then.
func (b *traced) waitSpans(name string, n int) tracetest.SpanStubs {
	b.t.Helper()
	var got tracetest.SpanStubs
	b.waitFor(fmt.Sprintf("%d %q spans", n, name), func() bool {
		got = b.spans.GetSpans()
		return len(named(got, name)) >= n
	})
	return got
}

// named returns the spans named name, in the order they started.
func named(spans tracetest.SpanStubs, name string) tracetest.SpanStubs {
	var out tracetest.SpanStubs
	for _, s := range spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b tracetest.SpanStub) int { return a.StartTime.Compare(b.StartTime) })
	return out
}

// attr returns a span's attribute key, or an invalid value.
func attr(s tracetest.SpanStub, key string) attribute.Value {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

func checkChild(t *testing.T, child, parent tracetest.SpanStub) {
	t.Helper()
	if child.Parent.SpanID() != parent.SpanContext.SpanID() || child.SpanContext.TraceID() != parent.SpanContext.TraceID() {
		t.Errorf("span %q has parent %s in trace %s, want %q (%s in %s)", child.Name, child.Parent.SpanID(),
			child.SpanContext.TraceID(), parent.Name, parent.SpanContext.SpanID(), parent.SpanContext.TraceID())
	}
}

// The publisher's trace context reaches the receiver through one trace:
// the API request continues the publisher's traceparent, the publish, its
// store call and its queueing are its children, each attempt (the fresh
// first one, which reads its trace context from the queue, and the retry,
// which reads it from the store) is a child of the publish, and each
// attempt's HTTP request a child of it, whose trace context the receiver
// gets in traceparent and tracestate, in place of the endpoint's own.
func TestTraceFromPublisherToReceiver(t *testing.T) {
	t.Parallel()
	b := setupTraced(t)
	rcv := newReceiver(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	ep := b.endpoint(rcv.URL+"/hook?token=secret", func(ep *webhook.Endpoint) {
		ep.Headers = map[string]string{"Traceparent": "00-11111111111111111111111111111111-2222222222222222-01",
			"Tracestate": "mine=1", "X-Custom": "kept"}
	})

	// What the API does with a request carrying the publisher's context.
	const publisherTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	ctx, api := b.tracer.Start(b.ctx, "POST /api/v1/app/{app_id}/msg", delivery.SpanStart{
		Kind:   delivery.SpanServer,
		Remote: webhook.TraceContext{Parent: "00-" + publisherTrace + "-00f067aa0ba902b7-01", State: "vendor=abc"},
	})
	msg := &webhook.Message{OrgID: b.app.OrgID, AppID: b.app.ID, EventType: "a", Payload: json.RawMessage(`{"a":1}`),
		RetentionDays: webhook.DefaultRetentionDays}
	if _, err := b.publisher.Publish(ctx, msg, ""); err != nil {
		t.Fatal(err)
	}
	api.End()
	b.waitStatus(msg, ep, webhook.StatusSuccess)
	spans := b.waitSpans("attempt", 2)

	server := named(spans, "POST /api/v1/app/{app_id}/msg")
	publish, store, enqueue := named(spans, "publish"), named(spans, "store message"), named(spans, "enqueue")
	attempts, requests := named(spans, "attempt"), named(spans, "POST")
	if len(server) != 1 || len(publish) != 1 || len(store) != 1 || len(enqueue) != 1 || len(attempts) != 2 || len(requests) != 2 {
		t.Fatalf("spans: %d server, %d publish, %d store, %d enqueue, %d attempt, %d POST; want 1, 1, 1, 1, 2, 2",
			len(server), len(publish), len(store), len(enqueue), len(attempts), len(requests))
	}
	if got := server[0].Parent; got.TraceID().String() != publisherTrace || !got.IsRemote() {
		t.Errorf("the API span's parent is %v, want the publisher's remote span", got)
	}
	checkChild(t, publish[0], server[0])
	checkChild(t, store[0], publish[0])
	checkChild(t, enqueue[0], publish[0])
	if publish[0].SpanKind != trace.SpanKindInternal || store[0].SpanKind != trace.SpanKindClient ||
		enqueue[0].SpanKind != trace.SpanKindProducer {
		t.Errorf("kinds: publish %v, store %v, enqueue %v", publish[0].SpanKind, store[0].SpanKind, enqueue[0].SpanKind)
	}
	if got := attr(publish[0], delivery.AttrMessageID).AsString(); got != msg.ID {
		t.Errorf("publish span's message id = %q, want %s", got, msg.ID)
	}
	if got := attr(publish[0], delivery.AttrDeliveries).AsInt64(); got != 1 {
		t.Errorf("publish span's deliveries = %d, want 1", got)
	}

	got := rcv.got()
	if len(got) != 2 {
		t.Fatalf("the receiver got %d requests, want 2", len(got))
	}
	for i, want := range []struct {
		status     int64
		transition string
		failed     bool
	}{
		{http.StatusServiceUnavailable, "retry", true},
		{http.StatusNoContent, "succeeded", false},
	} {
		at, req := attempts[i], requests[i]
		checkChild(t, at, publish[0])
		checkChild(t, req, at)
		if at.SpanKind != trace.SpanKindConsumer || req.SpanKind != trace.SpanKindClient {
			t.Errorf("attempt %d: kinds %v and %v", i+1, at.SpanKind, req.SpanKind)
		}
		for key, value := range map[string]attribute.Value{
			delivery.AttrMessageID:      attribute.StringValue(msg.ID),
			delivery.AttrEndpointID:     attribute.StringValue(ep.ID),
			delivery.AttrAttemptNumber:  attribute.Int64Value(int64(i + 1)),
			delivery.AttrHTTPStatusCode: attribute.Int64Value(want.status),
			delivery.AttrTransition:     attribute.StringValue(want.transition),
			delivery.AttrRecorded:       attribute.BoolValue(true),
		} {
			if got := attr(at, key); got != value {
				t.Errorf("attempt %d: %s = %v, want %v", i+1, key, got.String(), value.String())
			}
		}
		if (at.Status.Code == codes.Error) != want.failed || (req.Status.Code == codes.Error) != want.failed {
			t.Errorf("attempt %d: statuses %v and %v, failed want %v", i+1, at.Status, req.Status, want.failed)
		}
		if got := attr(req, delivery.AttrHTTPStatusCode).AsInt64(); got != want.status {
			t.Errorf("request %d: status code %d, want %d", i+1, got, want.status)
		}
		if got := attr(req, "url.full").AsString(); got != rcv.URL+"/hook?token=REDACTED" {
			t.Errorf("request %d: url.full = %q: the query's values must be redacted", i+1, got)
		}
		// The receiver continues from the request's span.
		h := got[i].header
		wantParent := "00-" + publisherTrace + "-" + req.SpanContext.SpanID().String() + "-01"
		if tp := h.Values("Traceparent"); len(tp) != 1 || tp[0] != wantParent {
			t.Errorf("request %d: traceparent %q, want %q", i+1, tp, wantParent)
		}
		if ts := h.Values("Tracestate"); len(ts) != 1 || ts[0] != "vendor=abc" {
			t.Errorf("request %d: tracestate %q, want the publisher's vendor=abc", i+1, ts)
		}
		if h.Get("X-Custom") != "kept" {
			t.Errorf("request %d: the endpoint's other headers are lost", i+1)
		}
	}
	// Both attempts joined the trace: the first through the queue, the
	// retry through the store.
	if !attempts[0].StartTime.Before(attempts[1].StartTime) {
		t.Error("attempts out of order")
	}
}

// A message published without a trace context (tracing off in the API, or
// before tracing) gets its attempts in a trace of their own, and its
// receiver a traceparent naming it; the endpoint's own tracestate does not
// go with hookd's traceparent. The URL's credentials are not recorded.
func TestTraceOfMessageWithoutTraceContext(t *testing.T) {
	t.Parallel()
	b := setupTraced(t)
	untraced := &delivery.Publisher{Store: b.db, Queue: b.queue}
	rcv := newReceiver(t, nil)
	withCredentials := strings.Replace(rcv.URL, "http://", "http://user:pass@", 1)
	ep := b.endpoint(withCredentials, func(ep *webhook.Endpoint) { ep.Headers = map[string]string{"Tracestate": "mine=1"} })
	msg := &webhook.Message{OrgID: b.app.OrgID, AppID: b.app.ID, EventType: "a", Payload: json.RawMessage(`{}`),
		RetentionDays: webhook.DefaultRetentionDays}
	if _, err := untraced.Publish(b.ctx, msg, ""); err != nil {
		t.Fatal(err)
	}
	b.waitStatus(msg, ep, webhook.StatusSuccess)
	spans := b.waitSpans("attempt", 1)
	at, req := named(spans, "attempt")[0], named(spans, "POST")[0]
	if at.Parent.IsValid() {
		t.Errorf("the attempt has parent %v, want none", at.Parent)
	}
	checkChild(t, req, at)
	if got, want := attr(req, "url.full").AsString(), strings.Replace(rcv.URL, "http://", "http://REDACTED:REDACTED@", 1); got != want {
		t.Errorf("url.full = %q, want %q: the credentials must be redacted", got, want)
	}
	h := rcv.got()[0].header
	if want := "00-" + at.SpanContext.TraceID().String() + "-" + req.SpanContext.SpanID().String() + "-01"; h.Get("Traceparent") != want {
		t.Errorf("traceparent %q, want %q", h.Get("Traceparent"), want)
	}
	if ts := h.Values("Tracestate"); len(ts) != 0 {
		t.Errorf("tracestate %q sent with hookd's traceparent, want none", ts)
	}
}

// Without a Tracer nothing is added to a delivery: the endpoint's own
// trace headers go as they are.
func TestNoTraceHeadersWhenTracingIsOff(t *testing.T) {
	t.Parallel()
	b := setup(t, bundleOptions{})
	rcv := newReceiver(t, nil)
	ep := b.endpoint(rcv.URL, func(ep *webhook.Endpoint) { ep.Headers = map[string]string{"Tracestate": "mine=1"} })
	msg, _ := b.publish("a", `{}`)
	b.waitStatus(msg, ep, webhook.StatusSuccess)
	h := rcv.got()[0].header
	if h.Get("Traceparent") != "" || h.Get("Tracestate") != "mine=1" {
		t.Errorf("traceparent %q, tracestate %q; want none and the endpoint's own", h.Get("Traceparent"), h.Get("Tracestate"))
	}
}

// An attempt that fails on hookd's own infrastructure before it could
// begin is a failed span in the message's trace; one whose delivery is
// gone has no span.
func TestTraceOfAttemptThatCouldNotBegin(t *testing.T) {
	t.Parallel()
	b := setupTraced(t)
	parent := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	// Gone: nothing to trace.
	if _, err := b.attempter.Attempt(b.ctx, delivery.Job{Ref: delivery.Ref{DeliveryID: "dlv_gone", Number: 2}}); err != nil {
		t.Fatal(err)
	}
	// The store is down (a cancelled context fails the read).
	ctx, cancel := context.WithCancel(b.ctx)
	cancel()
	job := delivery.Job{Ref: delivery.Ref{DeliveryID: "dlv_x", Number: 1}, EndpointID: "ep_x", Fresh: &delivery.Fresh{
		OrgID: b.app.OrgID, AppID: b.app.ID, MessageID: "msg_x", EndpointID: "ep_x", EventType: "a",
		Payload: json.RawMessage(`{}`), Trace: webhook.TraceContext{Parent: parent},
	}}
	if _, err := b.attempter.Attempt(ctx, job); err == nil {
		t.Fatal("the attempt did not fail")
	}
	spans := b.spans.GetSpans()
	if len(spans) != 1 || spans[0].Name != "attempt" {
		t.Fatalf("spans %v, want one attempt", spanNames(spans))
	}
	s := spans[0]
	if s.Status.Code != codes.Error || !strings.Contains(s.Status.Description, "context canceled") {
		t.Errorf("status %v, want the error", s.Status)
	}
	if s.Parent.TraceID().String() != "0af7651916cd43dd8448eb211c80319c" || attr(s, delivery.AttrDeliveryID).AsString() != "dlv_x" {
		t.Errorf("parent %v, delivery %v", s.Parent, attr(s, delivery.AttrDeliveryID).String())
	}
	if d := time.Since(s.StartTime); d < 0 || d > time.Minute {
		t.Errorf("start time %v", s.StartTime)
	}
}

func spanNames(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

// A transformation cannot set the trace headers either, and the request
// span is named after the method it chose; an attempt it cancels is a span
// that did not fail, without a request.
func TestTraceWithTransformation(t *testing.T) {
	t.Parallel()
	b := setupTraced(t)
	rcv := newReceiver(t, nil)
	const code = `function handler(webhook) {
  if (webhook.payload.cancel) { webhook.cancel = true; return webhook; }
  webhook.method = "PUT";
  webhook.headers["traceparent"] = "00-11111111111111111111111111111111-2222222222222222-01";
  webhook.headers["tracestate"] = "evil=1";
  return webhook;
}`
	ep := b.endpoint(rcv.URL, transformed(code, nil))
	msg, _ := b.publish("a", `{}`)
	b.waitStatus(msg, ep, webhook.StatusSuccess)
	spans := b.waitSpans("attempt", 1)
	req := named(spans, "PUT")
	if len(req) != 1 {
		t.Fatalf("spans %v, want a PUT", spanNames(spans))
	}
	h := rcv.got()[0].header
	if want := "00-" + req[0].SpanContext.TraceID().String() + "-" + req[0].SpanContext.SpanID().String() + "-01"; h.Get("Traceparent") != want || h.Get("Tracestate") != "" {
		t.Errorf("traceparent %q, tracestate %q; want %q and none", h.Get("Traceparent"), h.Get("Tracestate"), want)
	}

	cancelled, _ := b.publish("a", `{"cancel":true}`)
	b.waitStatus(cancelled, ep, webhook.StatusCanceled)
	spans = b.waitSpans("attempt", 2)
	at := named(spans, "attempt")[1]
	if at.Status.Code == codes.Error || attr(at, delivery.AttrTransition).AsString() != "cancelled" || len(named(spans, "PUT")) != 1 {
		t.Errorf("cancelled attempt: status %v, transition %v, %d requests", at.Status, attr(at, delivery.AttrTransition).String(), len(named(spans, "PUT")))
	}
}
