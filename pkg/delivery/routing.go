package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/hookd/hookd/pkg/webhook"
)

// Routing at publish: payload filters decide which endpoints get a
// delivery, and an event type that enforces its schema refuses payloads it
// does not describe. Both read what they need from short-lived caches, so
// that the publish stays one statement (PublishMessage) for applications
// whose endpoints have no filter.

// maxReasonLength caps a filtered-out delivery's reason, in bytes.
const maxReasonLength = 1024

// errNoFilters is the reason of every filter a Publisher without Filters
// meets.
var errNoFilters = errors.New("this publisher cannot evaluate payload filters")

// filter evaluates the payload filters of msg's application's endpoints
// whose event type and channel filters match msg (the others get nothing
// anyway): the payload is decoded once, and each filter's compiled program
// comes from a cache keyed by its text. An evaluation error counts as no
// match and is recorded (webhook.FilterFailure), never an error of the
// publish; the error returned is the store's.
func (p *Publisher) filter(ctx context.Context, msg *webhook.Message) (webhook.FilterVerdicts, error) {
	var v webhook.FilterVerdicts
	p.caches()
	eps, err := p.filtered.Load(msg.AppID, func() ([]webhook.Endpoint, error) {
		return p.Store.FilteredEndpoints(ctx, msg.AppID)
	})
	if err != nil {
		return v, fmt.Errorf("reading the endpoints' payload filters: %w", err)
	}
	var (
		match   func(string) (bool, error)
		prepErr error
	)
	for i := range eps {
		ep := &eps[i]
		if !ep.Matches(msg) {
			continue
		}
		if match == nil && prepErr == nil {
			if p.Filters == nil {
				prepErr = errNoFilters
			} else if match, prepErr = p.Filters.Matcher(msg); prepErr == nil && match == nil {
				prepErr = errNoFilters
			}
		}
		ok, err := false, prepErr
		if err == nil {
			ok, err = match(ep.Filter)
		}
		switch {
		case err != nil:
			v.Failed = append(v.Failed, webhook.FilterFailure{EndpointID: ep.ID, Reason: filteredOut(err)})
		case ok:
			v.Passed = append(v.Passed, ep.ID)
		}
	}
	return v, nil
}

// filteredOut is the reason of a delivery whose filter failed with err.
func filteredOut(err error) string {
	r := webhook.ReasonFilteredOut + err.Error()
	if len(r) > maxReasonLength {
		r = strings.ToValidUTF8(r[:maxReasonLength-3], "") + "..."
	}
	return r
}

// checkSchema refuses msg when its event type enforces its schema and the
// payload does not validate against the type's newest schema: a
// validation error per problem, at body.payload and the problem's JSON
// pointer, naming the rule broken.
func (p *Publisher) checkSchema(ctx context.Context, msg *webhook.Message) error {
	if p.Schemas == nil {
		return nil
	}
	p.caches()
	// By event type name, the newest schema of each type that enforces it.
	schemas, err := p.enforced.Load(msg.OrgID, func() (map[string]json.RawMessage, error) {
		list, err := p.Store.EnforcedEventTypes(ctx, msg.OrgID)
		if err != nil {
			return nil, err
		}
		m := make(map[string]json.RawMessage, len(list))
		for _, et := range list {
			if schema, ok := et.NewestSchema(); ok {
				m[et.Name] = schema
			}
		}
		return m, nil
	})
	if err != nil {
		return fmt.Errorf("reading the event types that enforce their schema: %w", err)
	}
	schema, ok := schemas[msg.EventType]
	if !ok {
		return nil
	}
	err = p.Schemas.Validate(schema, msg.Payload)
	var se *webhook.SchemaError
	switch {
	case errors.As(err, &se):
		return schemaRejection(msg.EventType, se)
	case err != nil:
		return webhook.Invalid(fmt.Sprintf("the newest schema of event type %s cannot be used: %v", msg.EventType, err), "body", "eventType")
	}
	return nil
}

// schemaRejection turns a schema's problems with a payload into a
// validation error: one entry per problem, located at body.payload and the
// value's JSON pointer, of type value_error.jsonschema.<keyword>.
func schemaRejection(eventType string, se *webhook.SchemaError) error {
	v := &webhook.ValidationError{}
	for _, pr := range se.Problems {
		loc := []string{"body", "payload"}
		if pr.Pointer != "" {
			for _, tok := range strings.Split(strings.TrimPrefix(pr.Pointer, "/"), "/") {
				loc = append(loc, strings.NewReplacer("~1", "/", "~0", "~").Replace(tok))
			}
		}
		v.Fields = append(v.Fields, webhook.FieldError{
			Loc: loc,
			Msg: fmt.Sprintf("at %s: %s (rule %q of the newest schema of event type %s)",
				"/"+strings.TrimPrefix(pr.Pointer, "/"), pr.Message, pr.Keyword, eventType),
			Type: "value_error.jsonschema." + pr.Keyword,
		})
	}
	if len(v.Fields) == 0 {
		v.Add("does not match the newest schema of event type "+eventType, "body", "payload")
	}
	return v
}
