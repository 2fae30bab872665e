package tracing

import (
	"context"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/webhook"
)

// instrumentationName names hookd's tracer (the instrumentation scope).
const instrumentationName = "github.com/hookd/hookd"

// maxRawTraceState bounds a tracestate looked at: W3C's 32 members of at
// most 256 characters of key and of value each. A longer one is dropped
// unread (the traceparent is kept).
const maxRawTraceState = 32*(256+1+256) + 31

// Tracer is delivery.Tracer on an OpenTelemetry tracer provider. Trace
// contexts cross process boundaries in W3C Trace Context form only
// (traceparent and tracestate): never baggage, which could carry a
// publisher's own data to its customers.
type Tracer struct {
	tracer trace.Tracer
	prop   propagation.TraceContext
}

// New returns a Tracer recording spans with provider's tracer, e.g. an
// sdktrace.TracerProvider with a tracetest.InMemoryExporter in tests.
func New(provider trace.TracerProvider) *Tracer {
	return &Tracer{tracer: provider.Tracer(instrumentationName)}
}

var _ delivery.Tracer = (*Tracer)(nil)

// Start implements delivery.Tracer. A remote trace context is parsed by
// the W3C propagator: a traceparent it refuses is ignored, and so is a
// tracestate it refuses (the traceparent is still followed).
func (t *Tracer) Start(ctx context.Context, name string, opts delivery.SpanStart) (context.Context, delivery.Span) {
	if !opts.Remote.IsZero() {
		remote := opts.Remote
		if len(remote.State) > maxRawTraceState {
			remote.State = ""
		}
		ctx = t.prop.Extract(ctx, carrier{tc: &remote})
	}
	so := make([]trace.SpanStartOption, 0, 3)
	so = append(so, trace.WithSpanKind(spanKinds[opts.Kind]))
	if !opts.At.IsZero() {
		so = append(so, trace.WithTimestamp(opts.At))
	}
	if len(opts.Attrs) > 0 {
		so = append(so, trace.WithAttributes(attributes(opts.Attrs)...))
	}
	ctx, s := t.tracer.Start(ctx, name, so...)
	return ctx, span{s}
}

// TraceContext implements delivery.TraceContext: the span's traceparent,
// and its tracestate cut to webhook.MaxTraceStateLength.
func (t *Tracer) TraceContext(ctx context.Context) webhook.TraceContext {
	var tc webhook.TraceContext
	t.prop.Inject(ctx, carrier{tc: &tc})
	tc.State = truncateTraceState(tc.State)
	return tc
}

// truncateTraceState cuts a valid tracestate to webhook.MaxTraceStateLength
// as W3C Trace Context asks: members over 128 characters go first, then
// members from the end, until it fits.
func truncateTraceState(ts string) string {
	if len(ts) <= webhook.MaxTraceStateLength {
		return ts
	}
	members := strings.Split(ts, ",")
	for n := len(ts); n > webhook.MaxTraceStateLength; {
		drop := len(members) - 1
		for i := len(members) - 1; i >= 0; i-- {
			if len(members[i]) > 128 {
				drop = i
				break
			}
		}
		n -= len(members[drop]) + 1
		members = append(members[:drop], members[drop+1:]...)
	}
	return strings.Join(members, ",")
}

// carrier is a webhook.TraceContext as the propagator's carrier.
type carrier struct{ tc *webhook.TraceContext }

func (c carrier) Get(key string) string {
	switch key {
	case "traceparent":
		return c.tc.Parent
	case "tracestate":
		return c.tc.State
	}
	return ""
}

func (c carrier) Set(key, value string) {
	switch key {
	case "traceparent":
		c.tc.Parent = value
	case "tracestate":
		c.tc.State = value
	}
}

func (c carrier) Keys() []string { return []string{"traceparent", "tracestate"} }

var spanKinds = map[delivery.SpanKind]trace.SpanKind{
	delivery.SpanInternal: trace.SpanKindInternal,
	delivery.SpanServer:   trace.SpanKindServer,
	delivery.SpanClient:   trace.SpanKindClient,
	delivery.SpanProducer: trace.SpanKindProducer,
	delivery.SpanConsumer: trace.SpanKindConsumer,
}

// span is delivery.Span on an OpenTelemetry span.
type span struct{ s trace.Span }

func (s span) SetAttributes(attrs ...slog.Attr) { s.s.SetAttributes(attributes(attrs)...) }

func (s span) Fail(description string) { s.s.SetStatus(codes.Error, description) }

func (s span) End() { s.s.End() }

// attributes returns attrs as OpenTelemetry attributes.
func attributes(attrs []slog.Attr) []attribute.KeyValue {
	out := make([]attribute.KeyValue, len(attrs))
	for i, a := range attrs {
		v := a.Value.Resolve()
		switch v.Kind() {
		case slog.KindString:
			out[i] = attribute.String(a.Key, v.String())
		case slog.KindInt64:
			out[i] = attribute.Int64(a.Key, v.Int64())
		case slog.KindUint64:
			out[i] = attribute.Int64(a.Key, int64(v.Uint64())) //nolint:gosec // counts and codes
		case slog.KindBool:
			out[i] = attribute.Bool(a.Key, v.Bool())
		case slog.KindFloat64:
			out[i] = attribute.Float64(a.Key, v.Float64())
		default:
			out[i] = attribute.String(a.Key, v.String())
		}
	}
	return out
}
