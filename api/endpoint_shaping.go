package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/filter"
	"github.com/hookd/hookd/pkg/transform"
	"github.com/hookd/hookd/pkg/webhook"
)

// Payload filters (a hookd extension) and transformations (Svix's shapes):
// the endpoint's filter field, POST .../filter/test, and GET and PATCH
// .../transformation with POST .../transformation/simulate.

// payloadFilter applies a filter field: absent keeps it, null or "" removes it.
func payloadFilter(ep *webhook.Endpoint, f Opt[string]) {
	switch {
	case !f.Set:
	case f.Null:
		ep.Filter = ""
	default:
		ep.Filter = f.V
	}
}

// filterOut shows an endpoint's filter: null when it has none.
func filterOut(ep *webhook.Endpoint) *string {
	if ep.Filter == "" {
		return nil
	}
	f := ep.Filter
	return &f
}

// checkFilter compiles a filter (from the cache: an unchanged filter costs
// nothing) and turns a rejection into a validation error at body.filter,
// one entry per problem, each with its line and column.
func (s *Server) checkFilter(expr string) error {
	if expr == "" {
		return nil
	}
	_, err := s.filters.Load(expr)
	return filterError(err, "body", "filter")
}

// filterError maps a *filter.CompileError to a validation error at loc.
func filterError(err error, loc ...string) error {
	var ce *filter.CompileError
	if !errors.As(err, &ce) {
		return err
	}
	v := &webhook.ValidationError{}
	for _, iss := range ce.Issues {
		v.Fields = append(v.Fields, webhook.FieldError{Loc: loc, Msg: "invalid filter: " + iss.String(), Type: "value_error.filter"})
	}
	return v
}

// filterTestIn is the body of POST .../filter/test: a message to try the
// endpoint's filter on (or the filter given, before saving it).
type filterTestIn struct {
	Filter    Opt[string]     `json:"filter"`
	EventType *string         `json:"eventType"`
	Payload   json.RawMessage `json:"payload"`
	Channels  []string        `json:"channels"`
	Tags      []string        `json:"tags"`
}

// filterTestOut says whether the endpoint would receive the message, and why.
type filterTestOut struct {
	// Filter is the expression tested; null when the endpoint has none.
	Filter *string `json:"filter"`
	// Delivered says whether a publish of the message would reach the
	// endpoint: it is enabled, its filterTypes and channels match, and the
	// filter is true.
	Delivered bool `json:"delivered"`
	// Summary says why, in a sentence.
	Summary string `json:"summary"`
	// FilterTypesMatch and ChannelsMatch are the endpoint's other filters.
	FilterTypesMatch bool `json:"filterTypesMatch"`
	ChannelsMatch    bool `json:"channelsMatch"`
	// Matched, Error and Terms are the filter's evaluation
	// (filter.Explanation): its result, its evaluation error (the delivery
	// would be cancelled, "filtered out: ..."), and the value of each
	// top-level operand of && and ||.
	Matched bool          `json:"matched"`
	Error   string        `json:"error,omitempty"`
	Terms   []filter.Term `json:"terms"`
}

// testFilter evaluates the endpoint's payload filter (or the filter the
// body gives) against a message, as a publish would, and explains the
// result.
func (s *Server) testFilter(c *gin.Context) {
	var in filterTestIn
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	ep := *pathEndpoint(c)
	payloadFilter(&ep, in.Filter)
	msg := &webhook.Message{Channels: in.Channels, Tags: in.Tags}
	v := &webhook.ValidationError{}
	required(v, in.EventType != nil, "body", "eventType")
	if in.EventType != nil {
		msg.EventType = *in.EventType
	}
	payload := payloadObject(v, in.Payload)
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	msg.Payload = payload
	out := filterTestOut{Filter: filterOut(&ep), Terms: []filter.Term{}, Matched: true}
	out.FilterTypesMatch = len(ep.FilterTypes) == 0 || slices.Contains(ep.FilterTypes, msg.EventType)
	out.ChannelsMatch = len(ep.Channels) == 0 || slices.ContainsFunc(msg.Channels, func(ch string) bool { return slices.Contains(ep.Channels, ch) })
	if ep.Filter != "" {
		p, err := s.filters.Load(ep.Filter)
		if err != nil {
			fail(c, filterError(err, "body", "filter"))
			return
		}
		input, err := filter.NewInput(filter.Message{EventType: msg.EventType, Channels: msg.Channels, Tags: msg.Tags, Payload: msg.Payload})
		if err != nil {
			fail(c, webhook.Invalid("must be a JSON object", "body", "payload"))
			return
		}
		x := p.Explain(input)
		out.Matched, out.Error, out.Terms = x.Matched, x.Error, x.Terms
	}
	out.Delivered = !ep.Disabled && out.FilterTypesMatch && out.ChannelsMatch && out.Matched
	out.Summary = filterSummary(&ep, &out)
	c.PureJSON(http.StatusOK, out)
}

// filterSummary says in a sentence why the message would or would not be
// delivered.
func filterSummary(ep *webhook.Endpoint, out *filterTestOut) string {
	var why []string
	if ep.Disabled {
		why = append(why, "the endpoint is disabled")
	}
	if !out.FilterTypesMatch {
		why = append(why, "the event type is not in the endpoint's filterTypes")
	}
	if !out.ChannelsMatch {
		why = append(why, "the message shares no channel with the endpoint")
	}
	switch {
	case out.Error != "":
		why = append(why, webhook.ReasonFilteredOut+out.Error+" (the delivery would be cancelled with this reason)")
	case !out.Matched:
		var falseTerms []string
		for _, t := range out.Terms {
			if t.Value == "false" {
				falseTerms = append(falseTerms, t.Expr)
			}
		}
		switch n := len(falseTerms); {
		case n == 1 && len(out.Terms) > 1:
			why = append(why, "the filter is false: "+falseTerms[0]+" is false")
		case n > 1:
			why = append(why, "the filter is false: "+strings.Join(falseTerms[:n-1], ", ")+" and "+falseTerms[n-1]+" are false")
		default:
			why = append(why, "the filter is false")
		}
	}
	if len(why) == 0 {
		if ep.Filter == "" {
			return "delivered: the endpoint has no payload filter"
		}
		return "delivered: the filter is true"
	}
	return "not delivered: " + strings.Join(why, "; ")
}

// transformationOut is Svix's EndpointTransformationOut.
type transformationOut struct {
	Code      *string           `json:"code"`
	Enabled   bool              `json:"enabled"`
	Variables map[string]string `json:"variables"`
	UpdatedAt *time.Time        `json:"updatedAt"`
}

// transformationPatch is Svix's EndpointTransformationPatch (and the older
// EndpointTransformationIn, its code and enabled): absent fields are kept,
// a null code removes the code (and disables the transformation), null
// variables remove them.
type transformationPatch struct {
	Code      Opt[string]            `json:"code"`
	Enabled   Opt[bool]              `json:"enabled"`
	Variables Opt[map[string]string] `json:"variables"`
}

func (s *Server) getTransformation(c *gin.Context) {
	t := &pathEndpoint(c).Transformation
	out := transformationOut{Enabled: t.Enabled, Variables: t.Variables, UpdatedAt: t.UpdatedAt}
	if t.Code != "" {
		code := t.Code
		out.Code = &code
	}
	c.PureJSON(http.StatusOK, out)
}

// patchTransformation changes the endpoint's transformation and answers
// 204. New code is compiled first: a syntax error, no handler function, or
// a top level that throws or runs too long is a 422 at body.code.
func (s *Server) patchTransformation(c *gin.Context) {
	var in transformationPatch
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	if in.Enabled.Set && in.Enabled.Null {
		fail(c, webhook.Invalid("must not be null", "body", "enabled"))
		return
	}
	if in.Code.Set && !in.Code.Null {
		if err := s.compileTransformation(c, in.Code.V); err != nil {
			fail(c, err)
			return
		}
	}
	ep := pathEndpoint(c)
	err := s.cfg.Store.UpdateEndpoint(c.Request.Context(), ep, func(ep *webhook.Endpoint) error {
		t := ep.Transformation
		switch {
		case in.Code.Set && in.Code.Null:
			t.Code, t.Enabled = "", false
		case in.Code.Set:
			t.Code = in.Code.V
		}
		if in.Enabled.Set {
			t.Enabled = in.Enabled.V
		}
		if in.Variables.Set {
			t.Variables = in.Variables.V
		}
		if err := t.Validate(); err != nil {
			return err
		}
		now := s.cfg.Now().UTC().Truncate(time.Microsecond)
		t.UpdatedAt = &now
		ep.Transformation = t
		return nil
	})
	if err != nil {
		fail(c, err)
		return
	}
	s.endpointChanged(c, webhook.EventEndpointUpdated, ep)
	noContent(c)
}

// compileTransformation checks code: its length, then that it compiles
// and defines handler. A rejection is a 422 at body.code.
func (s *Server) compileTransformation(c *gin.Context, code string) error {
	if err := (&webhook.EndpointTransformation{Code: code}).Validate(); err != nil {
		return err
	}
	_, err := s.transforms.Load(c.Request.Context(), code)
	var ce *transform.CompileError
	if errors.As(err, &ce) {
		return &webhook.ValidationError{Fields: []webhook.FieldError{{
			Loc: []string{"body", "code"}, Msg: ce.Error(), Type: "value_error.transformation",
		}}}
	}
	return err
}

// simulateIn is Svix's TransformationSimulateIn.
type simulateIn struct {
	Code      *string           `json:"code"`
	EventType *string           `json:"eventType"`
	Channels  []string          `json:"channels"`
	Payload   json.RawMessage   `json:"payload"`
	Variables map[string]string `json:"variables"`
}

// simulateOut is Svix's TransformationSimulateOut, with the headers the
// request would carry (a hookd extension).
type simulateOut struct {
	URL     string            `json:"url"`
	Payload string            `json:"payload"`
	Method  *string           `json:"method"`
	Cancel  bool              `json:"cancel"`
	Headers map[string]string `json:"headers"`
}

// simulateTransformation runs code on a payload as an attempt to the
// endpoint would (its URL and custom headers as input) and answers the
// request it would make. What would fail the attempt is a 422 at
// body.code whose message is the attempt's reason: a compile error, an
// exception, the timeout, an invalid result (a method other than POST or
// PUT, a URL an endpoint may not have, a header hookd sets itself).
func (s *Server) simulateTransformation(c *gin.Context) {
	var in simulateIn
	if err := bind(c, &in); err != nil {
		fail(c, err)
		return
	}
	v := &webhook.ValidationError{}
	required(v, in.Code != nil, "body", "code")
	required(v, in.EventType != nil, "body", "eventType")
	payload := payloadObject(v, in.Payload)
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	if err := s.compileTransformation(c, *in.Code); err != nil {
		fail(c, err)
		return
	}
	ep := pathEndpoint(c)
	p, err := s.transforms.Load(c.Request.Context(), *in.Code)
	if err != nil {
		fail(c, err)
		return
	}
	res, err := s.transforms.Run(c.Request.Context(), p, transform.Input{
		Method: http.MethodPost, URL: ep.URL, Payload: payload, Headers: maps.Clone(ep.Headers),
		EventType: *in.EventType, MsgID: "msg_simulated", Variables: in.Variables,
	})
	var te *transform.Error
	if errors.As(err, &te) {
		fail(c, simulateError(te.Error()))
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	out := delivery.TransformOutput{Method: res.Method, URL: res.URL, Payload: res.Payload, Headers: res.Headers, Cancel: res.Cancel}
	if err := delivery.CheckTransformOutput(out, s.cfg.HTTPSOnly); err != nil {
		fail(c, simulateError(err.Error()))
		return
	}
	method := res.Method
	c.PureJSON(http.StatusOK, simulateOut{URL: res.URL, Payload: string(res.Payload), Method: &method, Cancel: res.Cancel, Headers: orEmpty(res.Headers)})
}

// simulateError is a failed simulation: the attempt's reason, at body.code.
func simulateError(reason string) error {
	return &webhook.ValidationError{Fields: []webhook.FieldError{{
		Loc: []string{"body", "code"}, Msg: reason, Type: "value_error.transformation",
	}}}
}

// newShaping returns cfg's filter environment and transformation engine,
// or ones of the server's own.
func newShaping(cfg *Config) (*filter.Env, *transform.Engine) {
	env := cfg.Filters
	if env == nil {
		var err error
		if env, err = filter.NewEnv(filter.Config{}); err != nil {
			panic(fmt.Sprintf("declaring the filter environment: %v", err)) // a programming error
		}
	}
	eng := cfg.Transforms
	if eng == nil {
		eng = transform.New(transform.Config{})
	}
	return env, eng
}

// payloadObject returns raw compacted when it is a JSON object, and adds
// to v that the body's payload must be one when it is not.
func payloadObject(v *webhook.ValidationError, raw json.RawMessage) []byte {
	var out bytes.Buffer
	if len(raw) == 0 || raw[0] != '{' || json.Compact(&out, raw) != nil {
		v.Add("must be a JSON object", "body", "payload")
		return nil
	}
	return out.Bytes()
}
