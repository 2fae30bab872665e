package tracing_test

import (
	"context"
	"fmt"
	"log/slog"
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

func newTracer() (*tracing.Tracer, *tracetest.InMemoryExporter) {
	spans := tracetest.NewInMemoryExporter()
	return tracing.New(sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))), spans
}

const (
	remoteTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	remote      = "00-" + remoteTrace + "-00f067aa0ba902b7-01"
)

// What a remote trace context becomes: only what W3C Trace Context allows
// goes on, written again by hookd, so nothing a caller sends can break the
// headers of a delivery, nor make them grow beyond bounds.
func TestRemoteTraceContext(t *testing.T) {
	long := strings.Repeat("x", 200)
	for _, tc := range []struct {
		name   string
		remote webhook.TraceContext
		// trace is the trace continued; "": a new one.
		trace string
		state string
	}{
		{"valid", webhook.TraceContext{Parent: remote, State: "a=1,b=2"}, remoteTrace, "a=1,b=2"},
		{"not sampled", webhook.TraceContext{Parent: "00-" + remoteTrace + "-00f067aa0ba902b7-00"}, remoteTrace, ""},
		{"future version, extra field", webhook.TraceContext{Parent: "cc-" + remoteTrace + "-00f067aa0ba902b7-01-what"}, remoteTrace, ""},
		{"CR LF in traceparent", webhook.TraceContext{Parent: remote + "\r\nX-Evil: 1"}, "", ""},
		{"CR LF in tracestate", webhook.TraceContext{Parent: remote, State: "a=1\r\nX-Evil: 1"}, remoteTrace, ""},
		{"comma and equals in a value", webhook.TraceContext{Parent: remote, State: "a=b=c"}, remoteTrace, ""},
		{"version ff", webhook.TraceContext{Parent: "ff-" + remoteTrace + "-00f067aa0ba902b7-01"}, "", ""},
		{"zero span id", webhook.TraceContext{Parent: "00-" + remoteTrace + "-0000000000000000-01"}, "", ""},
		{"huge tracestate", webhook.TraceContext{Parent: remote, State: strings.Repeat("a=1,", 1<<20)}, remoteTrace, ""},
		// Cut to 512 characters: members over 128 characters first, from
		// the end, then others from the end.
		{"long tracestate", webhook.TraceContext{Parent: remote, State: "a=1,b=" + long + ",c=2,d=" + long + ",e=3,f=" + long},
			remoteTrace, "a=1,b=" + long + ",c=2,d=" + long + ",e=3"},
		{"many short members", webhook.TraceContext{Parent: remote, State: members(32, 20)}, remoteTrace, members(24, 20)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, spans := newTracer()
			ctx, s := tr.Start(context.Background(), "x", delivery.SpanStart{Remote: tc.remote})
			got := tr.TraceContext(ctx)
			s.End()
			if len(spans.GetSpans()) == 0 {
				// Not sampled, as its parent: not recorded, but its context goes on.
				if !strings.HasPrefix(got.Parent, "00-"+tc.trace+"-") || !strings.HasSuffix(got.Parent, "-00") {
					t.Fatalf("unsampled traceparent %q, want trace %s unsampled", got.Parent, tc.trace)
				}
				return
			}
			stub := spans.GetSpans()[0]
			if tc.trace == "" {
				if stub.Parent.IsValid() {
					t.Fatalf("continued %v, want a new trace", stub.Parent)
				}
			} else if stub.Parent.TraceID().String() != tc.trace {
				t.Fatalf("parent %v, want trace %s", stub.Parent, tc.trace)
			}
			want := "00-" + stub.SpanContext.TraceID().String() + "-" + stub.SpanContext.SpanID().String() + "-" + stub.SpanContext.TraceFlags().String()
			if got.Parent != want {
				t.Errorf("traceparent %q, want %q", got.Parent, want)
			}
			if got.State != tc.state {
				t.Errorf("tracestate %q, want %q", got.State, tc.state)
			}
			if len(got.State) > webhook.MaxTraceStateLength || strings.ContainsAny(got.Parent+got.State, "\r\n") {
				t.Errorf("unsafe trace context %q", got)
			}
		})
	}
}

// A span's kind, start time, attributes and status are as asked; a span
// in a context is the parent of the next one, unless a remote one is given.
func TestSpans(t *testing.T) {
	tr, spans := newTracer()
	at := time.Now().Add(-time.Second).Truncate(time.Millisecond)
	ctx, parent := tr.Start(context.Background(), "parent", delivery.SpanStart{Kind: delivery.SpanConsumer, At: at, Attrs: []slog.Attr{
		slog.String("s", "v"), slog.Int("i", 7), slog.Bool("b", true), slog.Float64("f", 0.5),
		slog.Uint64("u", 3), slog.Duration("d", time.Second),
	}})
	_, child := tr.Start(ctx, "child", delivery.SpanStart{Kind: delivery.SpanClient})
	child.SetAttributes(slog.Int("http.response.status_code", 500))
	child.Fail("the receiver answered 500")
	child.End()
	_, other := tr.Start(ctx, "other", delivery.SpanStart{Remote: webhook.TraceContext{Parent: remote}})
	other.End()
	parent.End()
	got := map[string]tracetest.SpanStub{}
	for _, s := range spans.GetSpans() {
		got[s.Name] = s
	}
	p, c, o := got["parent"], got["child"], got["other"]
	if p.SpanKind != trace.SpanKindConsumer || c.SpanKind != trace.SpanKindClient || o.SpanKind != trace.SpanKindInternal {
		t.Errorf("kinds %v %v %v", p.SpanKind, c.SpanKind, o.SpanKind)
	}
	if !p.StartTime.Equal(at) {
		t.Errorf("start %v, want %v", p.StartTime, at)
	}
	want := []attribute.KeyValue{
		attribute.String("s", "v"), attribute.Int64("i", 7), attribute.Bool("b", true), attribute.Float64("f", 0.5),
		attribute.Int64("u", 3), attribute.String("d", "1s"),
	}
	if len(p.Attributes) != len(want) {
		t.Fatalf("attributes %v, want %v", p.Attributes, want)
	}
	for i := range want {
		if p.Attributes[i] != want[i] {
			t.Errorf("attribute %v, want %v", p.Attributes[i], want[i])
		}
	}
	if c.Parent.SpanID() != p.SpanContext.SpanID() || c.Status.Code != codes.Error || c.Status.Description != "the receiver answered 500" {
		t.Errorf("child: parent %v, status %v", c.Parent, c.Status)
	}
	if o.Parent.TraceID().String() != remoteTrace {
		t.Errorf("other: parent %v, want the remote one", o.Parent)
	}
	if tc := tr.TraceContext(context.Background()); !tc.IsZero() {
		t.Errorf("trace context of no span: %+v", tc)
	}
}

// Open is nil when tracing is off, and a working provider when it is on,
// whatever its collector (export failures are only logged).
func TestOpen(t *testing.T) {
	ctx := context.Background()
	p, err := tracing.Open(ctx, tracing.Config{}, tracing.Options{})
	if p != nil || err != nil {
		t.Fatalf("Open(off) = %v, %v", p, err)
	}
	if _, err := tracing.Open(ctx, tracing.Config{TracesExporter: "zipkin"}, tracing.Options{}); err == nil {
		t.Fatal("Open accepted a wrong exporter")
	}
	for _, cfg := range []tracing.Config{
		{TracesExporter: "none"},
		{TracesEndpoint: "http://127.0.0.1:1/v1/traces"},
		{TracesEndpoint: "http://127.0.0.1:1", TracesProtocol: "grpc"},
	} {
		p, err := tracing.Open(ctx, cfg, tracing.Options{ServiceVersion: "test"})
		if err != nil || p == nil {
			t.Fatalf("Open(%+v) = %v, %v", cfg, p, err)
		}
		sctx, s := p.Start(ctx, "x", delivery.SpanStart{})
		if p.TraceContext(sctx).IsZero() {
			t.Errorf("%+v: no trace context", cfg)
		}
		s.End()
		shutdown, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		_ = p.Shutdown(shutdown) // the collector is not there: the export fails
		cancel()
	}
}

// members returns a tracestate of n members of size characters each.
func members(n, size int) string {
	var m []string
	for i := range n {
		k := fmt.Sprintf("k%02d=", i)
		m = append(m, k+strings.Repeat("v", size-len(k)))
	}
	return strings.Join(m, ",")
}
