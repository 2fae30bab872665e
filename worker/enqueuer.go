package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/hookd/hookd/pkg/webhook"
)

// Enqueuer puts delivery attempts on the queue. Postgres stays the source of
// truth: an enqueue that fails is redone by the reconciler.
type Enqueuer struct {
	client    *asynq.Client
	inspector *asynq.Inspector
	queue     string
	// taskTimeout bounds one attempt's handler (request time plus bookkeeping).
	taskTimeout time.Duration
}

// NewEnqueuer returns an Enqueuer on Redis and queue ("" means DefaultQueue);
// requestTimeout is the delivery request timeout the handler's own timeout
// is derived from.
func NewEnqueuer(redis asynq.RedisConnOpt, queue string, requestTimeout time.Duration) *Enqueuer {
	if queue == "" {
		queue = DefaultQueue
	}
	return &Enqueuer{
		client:      asynq.NewClient(redis),
		inspector:   asynq.NewInspector(redis),
		queue:       queue,
		taskTimeout: requestTimeout + 30*time.Second,
	}
}

// Close closes the Redis connection.
func (e *Enqueuer) Close() error { return errors.Join(e.client.Close(), e.inspector.Close()) }

// Enqueue schedules attempt p at at (zero or past: now). An attempt already
// queued (same task id) is not an error.
func (e *Enqueuer) Enqueue(ctx context.Context, p DeliveryAttemptPayload, at time.Time) error {
	queue := queueFor(e.queue, p)
	task, err := NewDeliveryAttemptTask(p, queue, e.taskTimeout)
	if err != nil {
		return err
	}
	var opts []asynq.Option
	if !at.IsZero() && time.Until(at) > 0 {
		opts = append(opts, asynq.ProcessAt(at))
	}
	_, err = e.client.EnqueueContext(ctx, task, opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		// Queued already, unless asynq archived it after too many
		// infrastructure errors: then it is taken out and queued afresh.
		info, ierr := e.inspector.GetTaskInfo(queue, p.taskID())
		if ierr != nil || info.State != asynq.TaskStateArchived {
			return nil
		}
		if err := e.inspector.DeleteTask(queue, p.taskID()); err != nil {
			return fmt.Errorf("deleting archived task of delivery %s: %w", p.DeliveryID, err)
		}
		_, err = e.client.EnqueueContext(ctx, task, opts...)
	}
	if err != nil {
		return fmt.Errorf("enqueueing delivery %s: %w", p.DeliveryID, err)
	}
	return nil
}

// dispatchParallelism bounds the enqueues of one fan-out in flight at once.
const dispatchParallelism = 8

// Dispatch enqueues the next scheduled attempt of each delivery. msg, when
// given, is the message the deliveries were just created for: a payload
// small enough is inlined in the first attempt's task. It tries every
// delivery and returns the errors joined.
func (e *Enqueuer) Dispatch(ctx context.Context, msg *webhook.Message, deliveries []webhook.Delivery) error {
	errs := make([]error, len(deliveries))
	sem := make(chan struct{}, dispatchParallelism)
	var wg sync.WaitGroup
	for i, d := range deliveries {
		p := DeliveryAttemptPayload{DeliveryID: d.ID, Round: d.Round, Number: d.RoundAttempts + 1}
		if msg != nil && p.Round == 0 && p.Number == 1 && len(msg.Payload) <= maxInlinePayload {
			p.Fresh = &FreshDelivery{
				OrgID: d.OrgID, AppID: d.AppID, MessageID: d.MessageID, EndpointID: d.EndpointID,
				EventType: msg.EventType, Payload: msg.Payload,
			}
		}
		var at time.Time
		if d.NextAttemptAt != nil {
			at = *d.NextAttemptAt
		}
		if len(deliveries) == 1 {
			errs[i] = e.Enqueue(ctx, p, at)
			break
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = e.Enqueue(ctx, p, at)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Resend enqueues one manual attempt of a delivery.
func (e *Enqueuer) Resend(ctx context.Context, deliveryID string) error {
	return e.Enqueue(ctx, DeliveryAttemptPayload{DeliveryID: deliveryID, Manual: webhook.NewID("")}, time.Time{})
}
