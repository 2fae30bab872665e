package delivery

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hookd/hookd/pkg/egress"
	"github.com/hookd/hookd/pkg/webhook"
)

// Tracing: with a Tracer, a message is one trace. Its publish span (child
// of the API request's span, which continues the publisher's traceparent)
// has the store call and the queueing as children, and its trace context
// is kept with the message (webhook.Message.Trace: in the store, and in
// the queue with a fresh first attempt). Each attempt of each of its
// deliveries, whichever process runs it and however late, is a span under
// the publish span, with the attempt's HTTP request as its child; the
// request carries that child's trace context in its traceparent and
// tracestate headers, so the receiver can go on with the trace.

// SpanKind says what a span is to the processes around it (OpenTelemetry's
// span kinds).
type SpanKind int

// Span kinds.
const (
	SpanInternal SpanKind = iota
	SpanServer            // an API request hookd serves
	SpanClient            // a request hookd makes: to the store, to a receiver
	SpanProducer          // queueing attempts
	SpanConsumer          // an attempt taken from the queue
)

// Tracer records the spans of the publish and attempt flows. Package
// tracing implements it on OpenTelemetry, and cmd/hookd wires it in when
// tracing is configured. Without one (nil, the default) nothing is traced,
// at the cost of a nil check per publish and attempt. It must be safe for
// concurrent use.
type Tracer interface {
	// Start starts a span named name and returns ctx with it. Its parent
	// is opts.Remote when that is a valid trace context, else the span in
	// ctx, else none: the span starts a trace. An invalid Remote is
	// ignored.
	Start(ctx context.Context, name string, opts SpanStart) (context.Context, Span)
	// TraceContext returns the trace context of the span in ctx; zero when
	// there is none.
	TraceContext(ctx context.Context) webhook.TraceContext
}

// SpanStart is how a span starts.
type SpanStart struct {
	Kind SpanKind
	// Remote, when set, is the parent: a trace context received with a
	// request or kept with a message.
	Remote webhook.TraceContext
	// At is when the span began; zero means now.
	At time.Time
	// Attrs are the span's first attributes.
	Attrs []slog.Attr
}

// Span is a span being recorded. Its methods do nothing once End was
// called.
type Span interface {
	// SetAttributes sets attributes of the span: strings, integers,
	// booleans (other kinds are recorded as their text).
	SetAttributes(attrs ...slog.Attr)
	// Fail marks the span as failed, saying why.
	Fail(description string)
	// End ends the span.
	End()
}

// Attributes of hookd's spans, besides OpenTelemetry's semantic
// conventions for HTTP.
const (
	AttrAppID          = "hookd.app.id"
	AttrMessageID      = "hookd.message.id"
	AttrEventType      = "hookd.event_type"
	AttrDeliveries     = "hookd.deliveries" // the deliveries a publish created
	AttrEndpointID     = "hookd.endpoint.id"
	AttrDeliveryID     = "hookd.delivery.id"
	AttrAttemptNumber  = "hookd.attempt.number" // in its round, from 1; 0 for a manual attempt
	AttrAttemptRound   = "hookd.attempt.round"
	AttrAttemptManual  = "hookd.attempt.manual"
	AttrTransition     = "hookd.attempt.transition" // what the attempt did to its delivery
	AttrRecorded       = "hookd.attempt.recorded"   // false: an earlier run of the job recorded it
	AttrThrottled      = "hookd.attempt.throttled"  // put back, not attempted
	AttrHTTPStatusCode = "http.response.status_code"
)

// noEnd ends the span of an untraced call.
func noEnd(error) {}

// startSpan starts a child span of ctx's named name with t, and returns
// the function that ends it, failed when its error is not nil. With t nil
// it returns ctx and a function that does nothing.
func startSpan(ctx context.Context, t Tracer, name string, kind SpanKind) (context.Context, func(error)) {
	if t == nil {
		return ctx, noEnd
	}
	ctx, s := t.Start(ctx, name, SpanStart{Kind: kind})
	return ctx, func(err error) {
		if err != nil {
			s.Fail(err.Error())
		}
		s.End()
	}
}

// publishTraced is Publish in a span of its own: the message keeps the
// span's trace context, for its attempts.
func (p *Publisher) publishTraced(ctx context.Context, msg *webhook.Message, onlyEndpoint string) ([]webhook.Delivery, error) {
	ctx, s := p.Tracer.Start(ctx, "publish", SpanStart{Attrs: []slog.Attr{
		slog.String(AttrAppID, msg.AppID), slog.String(AttrEventType, msg.EventType),
	}})
	defer s.End()
	msg.Trace = p.Tracer.TraceContext(ctx)
	deliveries, err := p.publish(ctx, msg, onlyEndpoint)
	if err != nil {
		s.Fail(err.Error())
		return deliveries, err
	}
	s.SetAttributes(slog.String(AttrMessageID, msg.ID), slog.Int(AttrDeliveries, len(deliveries)))
	return deliveries, nil
}

// attemptTrace is the span of one attempt. Attempt makes it, knowing when
// the attempt began; the attempt starts the span once it has loaded its
// message, whose trace is the span's parent (startAttemptSpan), and says
// what it recorded (noteRecorded).
type attemptTrace struct {
	began time.Time
	span  Span // nil until started
}

type attemptTraceKey struct{}

// attemptTraced is Attempt in a span: an attempt that did nothing (its
// delivery is gone or has moved past it) has none.
func (a *Attempter) attemptTraced(ctx context.Context, job Job) (Result, error) {
	tr := &attemptTrace{began: time.Now()}
	res, err := a.attempt(context.WithValue(ctx, attemptTraceKey{}, tr), job)
	if tr.span == nil {
		if err == nil {
			return res, nil
		}
		// Our infrastructure failed before the attempt could begin.
		var remote webhook.TraceContext
		if job.Fresh != nil {
			remote = job.Fresh.Trace
		}
		_, tr.span = a.Tracer.Start(ctx, "attempt", SpanStart{
			Kind: SpanConsumer, Remote: remote, At: tr.began, Attrs: refAttrs(job.Ref, job.EndpointID),
		})
	}
	if res.Throttled {
		tr.span.SetAttributes(slog.Bool(AttrThrottled, true))
	}
	if err != nil {
		tr.span.Fail(err.Error())
	}
	tr.span.End()
	return res, err
}

// startAttemptSpan starts the span of the attempt at, begun earlier, under
// its message's trace, and returns ctx with it. Without a Tracer it
// returns ctx.
func (a *Attempter) startAttemptSpan(ctx context.Context, at *attempt) context.Context {
	if a.Tracer == nil {
		return ctx
	}
	tr, _ := ctx.Value(attemptTraceKey{}).(*attemptTrace)
	if tr == nil {
		return ctx
	}
	attrs := append(refAttrs(at.ref, at.ep.ID), slog.String(AttrMessageID, at.msg.ID), slog.String(AttrAppID, at.msg.AppID))
	ctx, tr.span = a.Tracer.Start(ctx, "attempt", SpanStart{Kind: SpanConsumer, Remote: at.msg.Trace, At: tr.began, Attrs: attrs})
	return ctx
}

// noteRecorded sets what the attempt recorded on its span.
func (a *Attempter) noteRecorded(ctx context.Context, rec *webhook.AttemptRecord, recorded bool) {
	if a.Tracer == nil {
		return
	}
	tr, _ := ctx.Value(attemptTraceKey{}).(*attemptTrace)
	if tr == nil || tr.span == nil {
		return
	}
	tr.span.SetAttributes(slog.String(AttrTransition, rec.Transition.String()), slog.Bool(AttrRecorded, recorded))
	if rec.Attempt.StatusCode != 0 {
		tr.span.SetAttributes(slog.Int(AttrHTTPStatusCode, rec.Attempt.StatusCode))
	}
	switch {
	case rec.Attempt.Status == webhook.StatusSuccess, rec.Attempt.Status == webhook.StatusCanceled:
		// Delivered, or cancelled by the endpoint's transformation: no failure.
	case rec.Attempt.StatusCode != 0:
		// Never the receiver's answer: it is the customer's.
		tr.span.Fail("the receiver answered " + strconv.Itoa(rec.Attempt.StatusCode))
	default:
		tr.span.Fail(rec.Attempt.Response) // hookd's own reason
	}
}

// refAttrs are the attributes naming an attempt.
func refAttrs(ref Ref, endpointID string) []slog.Attr {
	return []slog.Attr{
		slog.String(AttrDeliveryID, ref.DeliveryID), slog.String(AttrEndpointID, endpointID),
		slog.Int(AttrAttemptRound, ref.Round), slog.Int(AttrAttemptNumber, ref.Number),
		slog.Bool(AttrAttemptManual, ref.IsManual()),
		slog.String("messaging.operation.type", "process"),
	}
}

// sendTraced sends req to ep (sendAs) in a client span of its own, whose
// trace context req carries to the receiver: hookd sets the traceparent
// and tracestate headers last, replacing any that the endpoint's custom
// headers (or a transformation) set, and drops a custom tracestate when it
// has none of its own, so the pair always names hookd's span. Without a
// Tracer it is sendAs.
func (a *Attempter) sendTraced(ctx context.Context, ep *webhook.Endpoint, req *http.Request) (*egress.Response, error) {
	if a.Tracer == nil {
		return a.sendAs(ctx, ep, req)
	}
	ctx, s := a.Tracer.Start(ctx, req.Method, SpanStart{Kind: SpanClient, Attrs: requestAttrs(req)})
	defer s.End()
	tc := a.Tracer.TraceContext(ctx)
	req.Header.Del(webhook.TraceParentHeader)
	req.Header.Del(webhook.TraceStateHeader)
	if !tc.IsZero() {
		req.Header.Set(webhook.TraceParentHeader, tc.Parent)
		if tc.State != "" {
			req.Header.Set(webhook.TraceStateHeader, tc.State)
		}
	}
	res, err := a.sendAs(ctx, ep, req)
	switch {
	case err != nil:
		reason := a.reason(err)
		s.SetAttributes(slog.String("error.type", reason))
		s.Fail(reason)
	case res.StatusCode >= 400:
		code := strconv.Itoa(res.StatusCode)
		s.SetAttributes(slog.Int(AttrHTTPStatusCode, res.StatusCode), slog.String("error.type", code))
		s.Fail("the receiver answered " + code)
	default:
		s.SetAttributes(slog.Int(AttrHTTPStatusCode, res.StatusCode))
	}
	return res, err
}

// requestAttrs are the attributes of a delivery request's span: its
// method and where it goes. The URL is recorded without what may be a
// credential: its user information and its query's values are REDACTED.
func requestAttrs(req *http.Request) []slog.Attr {
	u := req.URL
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	attrs := []slog.Attr{
		slog.String("http.request.method", req.Method),
		slog.String("url.full", redactedURL(u)),
		slog.String("server.address", u.Hostname()),
	}
	if n, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, slog.Int("server.port", n))
	}
	return attrs
}

// redactedURL returns u with its user information and the values of its
// query replaced by REDACTED (OpenTelemetry's convention): endpoint URLs
// often carry tokens there.
func redactedURL(u *url.URL) string {
	r := *u
	if r.User != nil {
		r.User = url.UserPassword("REDACTED", "REDACTED")
	}
	if r.RawQuery != "" {
		q := r.Query()
		for k := range q {
			q[k] = []string{"REDACTED"}
		}
		r.RawQuery = q.Encode()
	}
	r.Fragment, r.RawFragment = "", ""
	return r.String()
}
