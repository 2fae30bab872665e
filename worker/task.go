package worker

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/webhook"
)

// Task types.
const (
	// TypeDeliveryAttempt makes one attempt of one delivery: a delivery.Job.
	TypeDeliveryAttempt = "delivery:attempt"
)

// DefaultQueue is the asynq queue of delivery attempts unless configured
// otherwise (tests give each run its own queue to share one Redis).
const DefaultQueue = "deliveries"

// RetryQueue is the queue of a base queue's retries (scheduled attempts
// after the first) in its shard 0.
func RetryQueue(base string) string { return base + "-retries" }

// infraMaxRetry is how often asynq retries a task whose handler failed on
// our own infrastructure (database down), about 16 hours at the capped
// back-off. These retries never count against the customer's schedule; past
// them the task is archived and the reconciler enqueues the attempt again.
const infraMaxRetry = 1000

// attemptPayload is a delivery.Job as a task payload. The short names keep
// the tasks small in Redis; tasks queued by older versions decode too.
type attemptPayload struct {
	DeliveryID string        `json:"d"`
	Round      int           `json:"r"`
	Number     int           `json:"n"`
	Manual     string        `json:"m,omitempty"`
	Fresh      *freshPayload `json:"f,omitempty"`
}

// freshPayload is a delivery.Fresh. TraceParent and TraceState, the
// message's trace context, are absent from the tasks of versions before
// tracing (and of messages published without it): their attempts have no
// parent span.
type freshPayload struct {
	OrgID       string          `json:"o"`
	AppID       string          `json:"a"`
	MessageID   string          `json:"m"`
	EndpointID  string          `json:"e"`
	EventType   string          `json:"t"`
	EventID     *string         `json:"i,omitempty"`
	Payload     json.RawMessage `json:"p"`
	TraceParent string          `json:"tp,omitempty"`
	TraceState  string          `json:"ts,omitempty"`
	// Due is delivery.Fresh.Due in Unix milliseconds; 0 in the tasks of
	// versions before it.
	Due int64 `json:"at,omitempty"`
}

// NewAttemptTask returns the task of job on queue, with the handler
// timeout timeout. Its asynq TaskID is the attempt's Ref.ID, so queueing an
// attempt twice is harmless.
func NewAttemptTask(job delivery.Job, queue string, timeout time.Duration) (*asynq.Task, error) {
	p := attemptPayload{DeliveryID: job.Ref.DeliveryID, Round: job.Ref.Round, Number: job.Ref.Number, Manual: job.Ref.Manual}
	if f := job.Fresh; f != nil {
		p.Fresh = &freshPayload{
			OrgID: f.OrgID, AppID: f.AppID, MessageID: f.MessageID, EndpointID: f.EndpointID,
			EventType: f.EventType, EventID: f.EventID, Payload: f.Payload,
			TraceParent: f.Trace.Parent, TraceState: f.Trace.State,
		}
		if !f.Due.IsZero() {
			p.Fresh.Due = f.Due.UnixMilli()
		}
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeDeliveryAttempt, raw,
		asynq.TaskID(job.Ref.ID()),
		asynq.Queue(queue),
		asynq.MaxRetry(infraMaxRetry),
		asynq.Timeout(timeout),
	), nil
}

// DecodeAttemptTask returns the job a task of TypeDeliveryAttempt carries.
func DecodeAttemptTask(t *asynq.Task) (delivery.Job, error) {
	var p attemptPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.DeliveryID == "" {
		return delivery.Job{}, fmt.Errorf("undecodable %s payload %q", TypeDeliveryAttempt, t.Payload())
	}
	job := delivery.Job{Ref: delivery.Ref{DeliveryID: p.DeliveryID, Round: p.Round, Number: p.Number, Manual: p.Manual}}
	if f := p.Fresh; f != nil {
		job.Fresh = &delivery.Fresh{
			OrgID: f.OrgID, AppID: f.AppID, MessageID: f.MessageID, EndpointID: f.EndpointID,
			EventType: f.EventType, EventID: f.EventID, Payload: f.Payload,
			Trace: webhook.TraceContext{Parent: f.TraceParent, State: f.TraceState},
		}
		if f.Due != 0 {
			job.Fresh.Due = time.UnixMilli(f.Due)
		}
	}
	return job, nil
}
