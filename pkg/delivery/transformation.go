package delivery

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/hookd/hookd/pkg/webhook"
)

// Transformations: an endpoint's JavaScript code reshapes each attempt's
// request before it is signed (webhook.EndpointTransformation). The code
// runs in a sandbox outside this package (package transform, on goja,
// wired in by cmd/hookd); this file decides what its result may change.

// TransformInput is what a transformation's handler receives as webhook.
type TransformInput struct {
	Method  string // "POST"
	URL     string // the endpoint's URL
	Payload []byte // the message payload as stored
	// Headers are the endpoint's custom headers.
	Headers   map[string]string
	EventType string
	MsgID     string
	Variables map[string]string
}

// TransformOutput is the request a transformation asks for.
type TransformOutput struct {
	Method  string // "POST" or "PUT"
	URL     string // not checked yet: the Attempter checks it like an endpoint URL
	Payload []byte // JSON
	// Headers replace the endpoint's custom headers.
	Headers map[string]string
	// Cancel asks that no request be sent.
	Cancel bool
}

// Transformer runs transformation code (transform.Engine, through an
// adapter in cmd/hookd).
type Transformer interface {
	// Transform compiles code (cached by its text) and runs its handler on
	// in, within the sandbox's time and memory limits. Every error is the
	// transformation's failure, with a message meant for the attempt's
	// record: "transformation failed: TypeError at line 3: ...".
	Transform(ctx context.Context, code string, in TransformInput) (TransformOutput, error)
}

// errNoTransformer fails the attempts of endpoints with a transformation
// in an Attempter without a Transformer.
var errNoTransformer = &failure{reason: "transformation failed: this worker cannot run transformations"}

// transformed is the request an attempt sends after its transformation.
type transformed struct {
	method, url string
	payload     []byte
	headers     map[string]string
	cancel      bool
}

// transform runs the endpoint's transformation for the attempt, when it
// has an active one, and checks its result: a method of POST or PUT, a URL
// that passes webhook.CheckEndpointURL (the egress guard checks its address
// when the request is sent), and headers that hookd does not set itself
// (the signature headers among them). A verification challenge is never
// transformed. It returns nil when there is nothing to run; a failure is a
// *failure whose reason the attempt records.
func (a *Attempter) transform(ctx context.Context, at *attempt) (*transformed, error) {
	t := &at.ep.Transformation
	if !t.Active() || at.msg.EventType == webhook.EventTypeVerification {
		return nil, nil
	}
	if a.Transform == nil {
		return nil, errNoTransformer
	}
	out, err := a.Transform.Transform(ctx, t.Code, TransformInput{
		Method: http.MethodPost, URL: at.ep.URL, Payload: at.msg.Payload, Headers: maps.Clone(at.ep.Headers),
		EventType: at.msg.EventType, MsgID: at.msg.ID, Variables: maps.Clone(t.Variables),
	})
	if err != nil {
		return nil, &failure{reason: transformReason(err.Error()), err: err}
	}
	if out.Cancel {
		return &transformed{cancel: true}, nil
	}
	if err := CheckTransformOutput(out, a.HTTPSOnly); err != nil {
		return nil, &failure{reason: err.Error()}
	}
	return &transformed{method: out.Method, url: out.URL, payload: out.Payload, headers: out.Headers}, nil
}

// CheckTransformOutput checks what a transformation returned as an
// attempt would (the simulate route uses it too): the method, the URL by
// the rules of endpoint URLs, and the headers, none of which may be one
// hookd sets itself. Its error's message is the attempt's reason,
// "transformation failed: invalid result: ...".
func CheckTransformOutput(out TransformOutput, httpsOnly bool) error {
	if out.Cancel {
		return nil
	}
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("transformation failed: invalid result: "+format, args...)
	}
	if out.Method != http.MethodPost && out.Method != http.MethodPut {
		return invalid("method must be POST or PUT, not %q", out.Method)
	}
	if msg := webhook.CheckEndpointURL(out.URL, httpsOnly); msg != "" {
		return invalid("url %s", msg)
	}
	v := &webhook.ValidationError{}
	webhook.CheckHeaders(v, out.Headers, "headers")
	if len(v.Fields) > 0 {
		f := v.Fields[0]
		return invalid("%s: %s", strings.Join(f.Loc, "."), f.Msg)
	}
	return nil
}

// transformReason makes sure a transformation's error reads as one.
func transformReason(msg string) string {
	if strings.HasPrefix(msg, "transformation failed") {
		return msg
	}
	return "transformation failed: " + msg
}

// attemptURL is the URL an attempt goes to: the transformation's, or the
// endpoint's.
func (at *attempt) attemptURL() string {
	if at.shaped != nil && at.shaped.url != "" {
		return at.shaped.url
	}
	return at.ep.URL
}
