package delivery

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hookd/hookd/pkg/webhook"
)

// Ref names one attempt of one delivery: the Number-th scheduled attempt of
// round Round (each recovery starts a round, and the schedule, afresh), or a
// manual attempt (a resend) when Manual is set.
type Ref struct {
	DeliveryID string
	// Round counts the delivery's recoveries.
	Round int
	// Number is the scheduled attempt's position in its round, from 1; 0
	// for a manual attempt.
	Number int
	// Manual is a manual attempt's unique id; "" for a scheduled one.
	Manual string
}

// FirstRef returns the next scheduled attempt of d: the one its
// NextAttemptAt is for.
func FirstRef(d *webhook.Delivery) Ref {
	return Ref{DeliveryID: d.ID, Round: d.Round, Number: d.RoundAttempts + 1}
}

// ManualRef returns a new manual attempt of a delivery.
func ManualRef(deliveryID string) Ref {
	return Ref{DeliveryID: deliveryID, Manual: webhook.NewID("")}
}

// IsManual reports whether r is a manual attempt.
func (r Ref) IsManual() bool { return r.Manual != "" }

// Next returns the scheduled attempt after r in the same round.
func (r Ref) Next() Ref { return Ref{DeliveryID: r.DeliveryID, Round: r.Round, Number: r.Number + 1} }

// Key identifies the attempt within its delivery: "s:<round>:<number>" or
// "m:<id>". It is the attempt's unique key in the store, so an attempt that
// runs twice is recorded once, and, with the delivery id, the queue's id of
// the job, so queueing it twice is harmless.
func (r Ref) Key() string {
	if r.Manual != "" {
		return "m:" + r.Manual
	}
	return fmt.Sprintf("s:%d:%d", r.Round, r.Number)
}

// ID is the job's id in a queue: the delivery id and Key.
func (r Ref) ID() string { return r.DeliveryID + ":" + r.Key() }

// isCurrent reports whether the scheduled attempt r is the one d waits for:
// d is not finished, not recovered into another round, and not past r.
// Manual attempts are always current.
func (r Ref) isCurrent(d *webhook.Delivery) bool {
	return r.IsManual() || (d.NextAttemptAt != nil && d.Round == r.Round && d.RoundAttempts == r.Number-1)
}

// Job is what a Queue carries: an attempt, when it is due, and for the
// first attempt of a just-published (or just-replayed) delivery what that
// attempt needs, so that it skips reading the delivery back.
type Job struct {
	Ref Ref
	// At is when the attempt is due; zero or past means now.
	At time.Time
	// EndpointID is the endpoint the attempt goes to, "" when unknown: a
	// queue may keep one endpoint's jobs together by it (the asynq queue
	// picks its shard by it).
	EndpointID string
	// Requeue marks a job that may still be queued from before (the
	// Reconciler's): a queue must put it where it put it then, so that its
	// duplicate check sees it, never somewhere else for convenience.
	Requeue bool
	// Fresh is set on the first attempt of a round of a delivery just
	// published, released or replayed, with a payload small enough to
	// travel in the queue.
	Fresh *Fresh
}

// Fresh is a just-published delivery's message, carried by its first job.
type Fresh struct {
	OrgID      string
	AppID      string
	MessageID  string
	EndpointID string
	EventType  string
	EventID    *string
	Payload    json.RawMessage
	// Trace is the message's trace context (webhook.Message.Trace).
	Trace webhook.TraceContext
	// Due is when the round began: the delivery's next attempt time when
	// the job was made, from which the Reconciler counts its grace. Zero
	// in jobs queued by versions before it. (Job.At starts equal but moves
	// when a throttled job is put back, and a queue need not keep it.)
	Due time.Time
}

// MaxInlinePayload bounds the payloads a Fresh carries: each is copied into
// the queue once per endpoint. Larger ones are read from the store.
const MaxInlinePayload = 16 << 10

// JobsFor returns the next scheduled attempt of each delivery that has one
// (held deliveries have none). msg, when given, is the message the
// deliveries were just created, released or replayed for: a small enough
// payload then travels with each first attempt of a round.
func JobsFor(msg *webhook.Message, deliveries []webhook.Delivery) []Job {
	jobs := make([]Job, 0, len(deliveries))
	for i := range deliveries {
		d := &deliveries[i]
		if d.NextAttemptAt == nil {
			continue
		}
		job := Job{Ref: FirstRef(d), At: *d.NextAttemptAt, EndpointID: d.EndpointID}
		if msg != nil && d.RoundAttempts == 0 && len(msg.Payload) <= MaxInlinePayload {
			job.Fresh = &Fresh{
				OrgID: d.OrgID, AppID: d.AppID, MessageID: d.MessageID, EndpointID: d.EndpointID,
				EventType: msg.EventType, EventID: msg.EventID, Payload: msg.Payload, Trace: msg.Trace,
				Due: *d.NextAttemptAt,
			}
		}
		jobs = append(jobs, job)
	}
	return jobs
}
