package webhook

// Trace context headers (W3C Trace Context, https://www.w3.org/TR/trace-context/):
// read from a publish request and sent with every delivery request when
// tracing is on (docs/scaling.md, "Traces").
const (
	TraceParentHeader = "Traceparent"
	TraceStateHeader  = "Tracestate"
)

// MaxTraceStateLength bounds the tracestate hookd keeps and sends: the 512
// characters that W3C Trace Context asks every participant to pass on.
// Longer ones lose their members from the end (and any member over 128
// characters first), as the specification says.
const MaxTraceStateLength = 512

// TraceContext is a W3C trace context: the values of the traceparent and
// tracestate headers that name a span. A message keeps the one of the span
// that published it, so that each of its attempts, in whichever process
// and however late, joins the publisher's trace. The zero value is no
// trace context.
//
// The tracing adapter produces it (parsed and written again, never copied
// from a request), so it holds lowercase hex and dashes in Parent and
// W3C's list characters in State: nothing that could break a header.
type TraceContext struct {
	// Parent is the traceparent: "00-<trace id>-<span id>-<flags>".
	Parent string
	// State is the tracestate, at most MaxTraceStateLength characters; ""
	// when there is none.
	State string
}

// IsZero reports whether tc is no trace context.
func (tc TraceContext) IsZero() bool { return tc.Parent == "" }
