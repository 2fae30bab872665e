package api_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/hookd/hookd/pkg/tracing"
)

// With a Tracer, each API request is a server span named after its route
// that continues the caller's traceparent; the message a publish stores
// keeps the trace context of its publish span, a child of the request's.
// What W3C Trace Context refuses starts a new trace.
func TestAPIRequestSpans(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewInMemoryExporter()
	b := setupWith(t, setupOptions{tracer: tracing.New(sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans)))})
	app := b.createApp(map[string]any{"name": "traced"})
	b.createEndpoint(app.ID, map[string]any{"url": "https://example.com/hook"})
	const caller = "4bf92f3577b34da6a3ce929d0e0e4736"
	parent := "00-" + caller + "-00f067aa0ba902b7-01"

	for _, tc := range []struct {
		name   string
		header http.Header
		// trace is the trace the request joins; "": a new one.
		trace string
		state string
	}{
		// Continued.
		{"traceparent", http.Header{"Traceparent": {parent}}, caller, ""},
		{"with tracestate", http.Header{"Traceparent": {parent}, "Tracestate": {"a=1", "b=2"}}, caller, "a=1,b=2"},
		// A tracestate W3C refuses is dropped; its traceparent still counts.
		{"tracestate of 33 members", http.Header{"Traceparent": {parent}, "Tracestate": {members(33)}}, caller, ""},
		{"tracestate with a bad key", http.Header{"Traceparent": {parent}, "Tracestate": {"BAD KEY=1"}}, caller, ""},
		// Refused: a new trace.
		{"none", nil, "", ""},
		{"two traceparents", http.Header{"Traceparent": {parent, parent}}, "", ""},
		{"upper-case hex", http.Header{"Traceparent": {strings.ToUpper(parent)}}, "", ""},
		{"zero trace id", http.Header{"Traceparent": {"00-00000000000000000000000000000000-00f067aa0ba902b7-01"}}, "", ""},
		{"extra field in version 00", http.Header{"Traceparent": {parent + "-00"}}, "", ""},
		{"not a traceparent", http.Header{"Traceparent": {"<script>"}}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spans.Reset()
			header := http.Header{"Content-Type": {"application/json"}}
			for k, v := range tc.header {
				header[k] = v
			}
			r := b.doWith(b.key, http.MethodPost, "/api/v1/app/"+app.ID+"/msg", map[string]any{"eventType": "a", "payload": map[string]any{}}, header)
			r.must(t, http.StatusAccepted)
			msgID := decode[messageJSON](t, r).ID
			got := spans.GetSpans()
			server, publish := named(got, "POST /api/v1/app/{app_id}/msg"), named(got, "publish")
			if len(server) != 1 || len(publish) != 1 {
				t.Fatalf("spans %v, want the request's and the publish's", got)
			}
			s := server[0]
			if tc.trace == "" {
				if s.Parent.IsValid() {
					t.Errorf("the request joined %v, want a new trace", s.Parent)
				}
			} else if s.Parent.TraceID().String() != tc.trace || !s.Parent.IsRemote() {
				t.Errorf("the request's parent is %v, want the caller's span", s.Parent)
			}
			if got := s.SpanContext.TraceState().String(); got != tc.state {
				t.Errorf("tracestate %q, want %q", got, tc.state)
			}
			if attr(s, "http.route").AsString() != "/api/v1/app/:app_id/msg" || attr(s, "http.response.status_code").AsInt64() != 202 {
				t.Errorf("attributes %v", s.Attributes)
			}
			if publish[0].Parent.SpanID() != s.SpanContext.SpanID() {
				t.Error("the publish is not the request's child")
			}
			// The message keeps its publish span's context, for its attempts.
			dj, err := b.db.LoadDelivery(context.Background(), b.dispatchedFor(msgID)[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			want := "00-" + publish[0].SpanContext.TraceID().String() + "-" + publish[0].SpanContext.SpanID().String() + "-01"
			if dj.Message.Trace.Parent != want || dj.Message.Trace.State != tc.state {
				t.Errorf("stored trace context %+v, want %s and %q", dj.Message.Trace, want, tc.state)
			}
		})
	}

	// Health checks, which orchestrators call every few seconds, are not
	// traced; other routes are, named after their route.
	spans.Reset()
	b.do(http.MethodGet, "/api/v1/health", nil)
	b.do(http.MethodGet, "/api/v1/app/"+app.ID, nil).must(t, http.StatusOK)
	b.do(http.MethodGet, "/api/v1/nothing-here", nil)
	if got := spans.GetSpans(); len(got) != 1 || got[0].Name != "GET /api/v1/app/{app_id}" {
		t.Errorf("spans %v, want one of GET /api/v1/app/{app_id}", got)
	}
}

func members(n int) string {
	var m []string
	for i := range n {
		m = append(m, "k"+strconv.Itoa(i)+"=v")
	}
	return strings.Join(m, ",")
}

func named(spans tracetest.SpanStubs, name string) tracetest.SpanStubs {
	var out tracetest.SpanStubs
	for _, s := range spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s tracetest.SpanStub, key string) (v attribute.Value) {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return v
}
