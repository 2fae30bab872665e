package filter

import "github.com/hookd/hookd/pkg/webhook"

// Matcher implements delivery.Filters, the Publisher's view of payload
// filters: msg's payload is decoded once (NewInput), and the function
// returned evaluates a filter expression against it, its program from the
// cache (Load). A filter that no longer compiles is an evaluation error,
// like any other: the caller counts it as no match and reports it.
func (e *Env) Matcher(msg *webhook.Message) (func(expr string) (bool, error), error) {
	in, err := NewInput(Message{EventType: msg.EventType, Channels: msg.Channels, Tags: msg.Tags, Payload: msg.Payload})
	if err != nil {
		return nil, err
	}
	return func(expr string) (bool, error) {
		p, err := e.Load(expr)
		if err != nil {
			return false, err
		}
		return p.Match(in)
	}, nil
}
