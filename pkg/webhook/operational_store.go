package webhook

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// OperationalEventTypes are the event types of operational webhooks: the
// only names an operational-webhook endpoint's filter may hold.
var OperationalEventTypes = []string{
	EventEndpointCreated, EventEndpointUpdated, EventEndpointDeleted, EventEndpointDisabled,
	EventMessageAttemptFailing, EventMessageAttemptExhausted, EventMessageAttemptRecovered,
	EventMessageOrderingBlocked,
}

// ValidateOperational checks an operational-webhook endpoint: the rules of
// Validate, a filter naming only OperationalEventTypes (rather than the
// organisation's event types), and no channels, since operational events
// carry none and such an endpoint would receive nothing.
func (e *Endpoint) ValidateOperational(httpsOnly bool) error {
	v := &ValidationError{}
	if err := e.Validate(httpsOnly); err != nil {
		var ok bool
		if v, ok = err.(*ValidationError); !ok {
			return err
		}
	}
	for i, name := range e.FilterTypes {
		if ValidName(name) && !slices.Contains(OperationalEventTypes, name) {
			v.Add(fmt.Sprintf("event type %q is not an operational event type (%s)", name,
				strings.Join(OperationalEventTypes, ", ")), "body", "filterTypes", fmt.Sprint(i))
		}
	}
	if len(e.Channels) > 0 {
		v.Add("operational webhook endpoints have no channels", "body", "channels")
	}
	return v.Err()
}

// OperationalSubscriptions says who receives an organisation's operational
// events.
type OperationalSubscriptions struct {
	// AppID is the organisation's internal application; "" when it has no
	// enabled operational-webhook endpoint.
	AppID string
	// Filters holds the event type filter of each enabled endpoint of the
	// internal application; an empty one takes every type.
	Filters [][]string
}

// Wants reports whether at least one enabled endpoint takes eventType.
func (s OperationalSubscriptions) Wants(eventType string) bool {
	for _, f := range s.Filters {
		if len(f) == 0 || slices.Contains(f, eventType) {
			return true
		}
	}
	return false
}

// OperationalStore keeps each organisation's internal application: the
// owner of its operational-webhook endpoints, which are ordinary endpoints
// otherwise. AppStore never sees an internal application (ENOTFOUND), and
// no application created through AppStore can take its uid.
type OperationalStore interface {
	// OperationalApp returns the organisation's internal application. With
	// create it is created on first use (once, even when called
	// concurrently); without, an organisation that has none is ENOTFOUND.
	OperationalApp(ctx context.Context, orgID string, create bool) (*Application, error)
	// OperationalSubscriptions returns the enabled endpoints' filters of the
	// organisation's internal application, in one cheap query.
	OperationalSubscriptions(ctx context.Context, orgID string) (OperationalSubscriptions, error)
}
