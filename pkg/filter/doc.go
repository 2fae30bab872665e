// Package filter compiles and evaluates payload filters: CEL expressions
// (https://cel.dev) that decide whether a message goes to an endpoint.
//
// A filter sees four variables:
//
//	payload    dyn           the message payload, decoded from its JSON
//	eventType  string        the message's event type
//	channels   list(string)  the message's channels (empty when none)
//	tags       list(string)  the message's tags (empty when none)
//
// for example
//
//	eventType == "invoice.paid" && payload.amount > 1000 && payload.currency in ["EUR", "USD"]
//
// JSON numbers are CEL doubles; comparisons between doubles and integer
// literals work both at type-check time and at run time, so
// payload.amount > 1000 means what it says. JSON objects are maps: a missing
// key is an evaluation error ("no such key: amount"), which has(payload.amount)
// tests for first.
//
// # Contract
//
// Env.Compile is the write-time check: it parses and type-checks an
// expression and estimates its worst-case cost for a payload of
// Config.MaxPayloadBytes. It returns a *CompileError, whose Issues carry a
// 1-based line and column and a message, when the expression is not valid CEL,
// does not evaluate to a bool, or may cost more than Config.MaxEstimatedCost.
// The API layer maps that error to a 422.
//
// The runtime cost limit is enforced only for expressions whose estimate
// exceeds it (or for payloads larger than Config.MaxPayloadBytes, which the
// estimate does not cover): tracking the cost more than doubles the time of
// a simple filter, and cannot stop an evaluation the estimate bounds.
//
// Env.Load is the read path: the same as Compile behind a cache keyed by the
// expression text, so an endpoint's filter is compiled once however many
// messages it sees, and a changed filter (a new text) is a new entry. Programs
// are immutable and safe for concurrent use.
//
// NewInput decodes a message's payload once; the resulting *Input is then
// evaluated by any number of Programs (one per endpoint) without decoding
// again. Program.Match returns the result or an evaluation error: a missing
// key, a type mismatch at run time, a result that is not a bool, or a run
// time cost above Config.MaxRuntimeCost. Callers treat an evaluation error
// as "no match" and report it (a delivery "filtered out: no such key:
// amount"), never as a failure of the publish.
//
// Program.Explain evaluates without short-circuiting and returns the result,
// the error, and the value of each top-level operand of && and ||, for the
// filter/test route.
package filter
