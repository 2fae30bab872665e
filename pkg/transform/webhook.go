package transform

import (
	"fmt"

	"github.com/dop251/goja"
	"golang.org/x/net/http/httpguts"
)

// Input is what the handler receives as its webhook argument.
type Input struct {
	// Method is the request's method; "" means POST.
	Method string
	// URL is the endpoint's URL.
	URL string
	// Payload is the message's JSON as stored; the handler sees it parsed.
	Payload []byte
	// Headers are the endpoint's custom headers; the handler may change
	// them.
	Headers map[string]string
	// EventType and MsgID describe the message; changing them has no
	// effect.
	EventType string
	MsgID     string
	// Variables are the transformation's variables
	// (EndpointTransformationPatch.variables), as webhook.variables;
	// changing them has no effect.
	Variables map[string]string
}

// Output is the request the handler asks for.
type Output struct {
	// Method is "POST" or "PUT".
	Method string
	// URL is the handler's URL: a string of 1 to MaxURLLength characters.
	// Run does not check that it is a valid, allowed endpoint URL: the
	// caller puts it through the same checks (webhook.CheckEndpointURL,
	// the egress guard) as any endpoint URL.
	URL string
	// Payload is the handler's payload as JSON, at most
	// Config.MaxOutputBytes. The caller signs and sends these bytes.
	Payload []byte
	// Headers is webhook.headers as the handler left it: the input
	// headers it kept and those it added. Names are valid HTTP field names
	// and values valid field values. The caller decides which headers a
	// transformation may not override (the signature headers).
	Headers map[string]string
	// Cancel is true when the handler set webhook.cancel: no request is
	// to be sent.
	Cancel bool
}

// Limits on the result beyond Config's.
const (
	// MaxURLLength is Svix's maximum for a URL (TransformationSimulateOut).
	MaxURLLength = 65_536
	// MaxHeaders caps the number of headers a handler may set.
	MaxHeaders = 64
)

// output validates the record that sandbox.js's extract returned.
func (sb *sandbox) output(x *goja.Object, cfg Config) (Output, error) {
	invalid := func(format string, args ...any) (Output, error) {
		return Output{}, &Error{Kind: kindInvalidResult, Message: fmt.Sprintf(format, args...)}
	}
	if msg := x.Get("invalid"); msg != nil && !goja.IsUndefined(msg) {
		return invalid("%s", msg.String())
	}
	out := Output{
		Method:  x.Get("method").String(),
		URL:     x.Get("url").String(),
		Payload: []byte(x.Get("payload").String()),
		Cancel:  x.Get("cancel").ToBoolean(),
	}
	switch {
	case out.Method != "POST" && out.Method != "PUT":
		return invalid("method must be \"POST\" or \"PUT\", not %q", out.Method)
	case out.URL == "":
		return invalid("url is empty")
	case len(out.URL) > MaxURLLength:
		return invalid("url is longer than %d characters", MaxURLLength)
	case len(out.Payload) > cfg.MaxOutputBytes:
		return invalid("payload is %d bytes of JSON, more than the limit of %d", len(out.Payload), cfg.MaxOutputBytes)
	}
	flat, _ := x.Get("headers").Export().([]any)
	if len(flat)/2 > MaxHeaders {
		return invalid("%d headers, more than the limit of %d", len(flat)/2, MaxHeaders)
	}
	if len(flat) > 0 {
		out.Headers = make(map[string]string, len(flat)/2)
	}
	for i := 0; i+1 < len(flat); i += 2 {
		k, v := fmt.Sprint(flat[i]), fmt.Sprint(flat[i+1])
		if !httpguts.ValidHeaderFieldName(k) {
			return invalid("header name %q is not a valid HTTP field name", k)
		}
		if !httpguts.ValidHeaderFieldValue(v) {
			return invalid("header %s has a value that is not a valid HTTP field value", k)
		}
		out.Headers[k] = v
	}
	return out, nil
}
