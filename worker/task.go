package worker

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Task types.
const (
	// TypeDeliveryAttempt makes one HTTP attempt of one delivery.
	TypeDeliveryAttempt = "delivery:attempt"
)

// DefaultQueue is the asynq queue of delivery attempts unless configured
// otherwise (tests give each run its own queue to share one Redis).
const DefaultQueue = "deliveries"

// RetryQueue is the queue of a base queue's retries (scheduled attempts
// after the first).
func RetryQueue(base string) string { return base + "-retries" }

// queueFor returns the queue of attempt p: retries go to RetryQueue.
func queueFor(base string, p DeliveryAttemptPayload) string {
	if p.Manual == "" && p.Number > 1 {
		return RetryQueue(base)
	}
	return base
}

// infraMaxRetry is how often asynq retries a task whose handler failed on
// our own infrastructure (database down), about 16 hours at the capped
// back-off. These retries never count against the customer's schedule; past
// them the task is archived and the reconciler enqueues the attempt again.
const infraMaxRetry = 1000

// DeliveryAttemptPayload names one attempt: the Number-th scheduled attempt
// of round Round, or, when Manual is set, a manual attempt with that id.
type DeliveryAttemptPayload struct {
	DeliveryID string `json:"d"`
	Round      int    `json:"r"`
	Number     int    `json:"n"`
	Manual     string `json:"m,omitempty"`
	// Fresh carries what the first attempt of a just-published delivery
	// needs, so that it can skip reading the delivery back from Postgres.
	Fresh *FreshDelivery `json:"f,omitempty"`
}

// FreshDelivery is a just-published delivery's message, inlined in its
// first task. Payloads over maxInlinePayload are not inlined.
type FreshDelivery struct {
	OrgID      string          `json:"o"`
	AppID      string          `json:"a"`
	MessageID  string          `json:"m"`
	EndpointID string          `json:"e"`
	EventType  string          `json:"t"`
	Payload    json.RawMessage `json:"p"`
}

// maxInlinePayload bounds the payloads copied into tasks (and so into Redis
// once per endpoint); larger ones are read from Postgres.
const maxInlinePayload = 16 << 10

// TaskKey identifies the attempt: it is the asynq TaskID (so enqueueing it
// twice is harmless) and the attempt's unique key in Postgres (so running
// it twice records it once).
func (p DeliveryAttemptPayload) TaskKey() string {
	if p.Manual != "" {
		return "m:" + p.Manual
	}
	return fmt.Sprintf("s:%d:%d", p.Round, p.Number)
}

func (p DeliveryAttemptPayload) taskID() string { return p.DeliveryID + ":" + p.TaskKey() }

// NewDeliveryAttemptTask returns the task for p on queue, with a handler timeout.
func NewDeliveryAttemptTask(p DeliveryAttemptPayload, queue string, timeout time.Duration) (*asynq.Task, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeDeliveryAttempt, raw,
		asynq.TaskID(p.taskID()),
		asynq.Queue(queue),
		asynq.MaxRetry(infraMaxRetry),
		asynq.Timeout(timeout),
	), nil
}
