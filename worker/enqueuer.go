package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/hookd/hookd/pkg/delivery"
)

// Enqueuer is delivery.Queue on asynq. Postgres stays the source of truth:
// an enqueue that fails is redone by the delivery.Reconciler.
type Enqueuer struct {
	client    *asynq.Client
	inspector *asynq.Inspector
	queues    Queues
	// taskTimeout bounds one attempt's handler: the request, and the
	// retries of recording its outcome.
	taskTimeout time.Duration
}

// NewEnqueuer returns an Enqueuer on Redis and queues. handlerTimeout
// bounds each attempt's handler: it must cover the delivery request and
// delivery.Attempter's RecordTimeout, or asynq would run an attempt again
// while it is still being recorded.
func NewEnqueuer(redis asynq.RedisConnOpt, queues Queues, handlerTimeout time.Duration) *Enqueuer {
	return &Enqueuer{
		client:      asynq.NewClient(redis),
		inspector:   asynq.NewInspector(redis),
		queues:      queues,
		taskTimeout: handlerTimeout,
	}
}

// HandlerTimeout is the handler timeout NewEnqueuer needs for a delivery
// request timeout and a record timeout (delivery.Attempter's RecordTimeout,
// 0 for its default).
func HandlerTimeout(requestTimeout, recordTimeout time.Duration) time.Duration {
	if recordTimeout == 0 {
		recordTimeout = 10 * time.Minute
	}
	return requestTimeout + recordTimeout + time.Minute
}

// Close closes the Redis connection.
func (e *Enqueuer) Close() error { return errors.Join(e.client.Close(), e.inspector.Close()) }

// dispatchParallelism bounds the enqueues of one call in flight at once.
const dispatchParallelism = 8

// Enqueue implements delivery.Queue: each job becomes a task on its queue
// (retries on RetryQueue), up to dispatchParallelism at once.
func (e *Enqueuer) Enqueue(ctx context.Context, jobs ...delivery.Job) error {
	if len(jobs) == 1 {
		return e.enqueue(ctx, jobs[0])
	}
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, dispatchParallelism)
	var wg sync.WaitGroup
	for i, job := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = e.enqueue(ctx, job)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// enqueue queues one job on its endpoint's shard. When that shard's Redis
// refuses (its master is failing over), a new job goes to the next shard,
// so that a failover does not delay it: a job's shard is where its work is
// spread to, not what keeps it correct (order is kept in Postgres, and
// in-flight caps per process). A job that may be queued already
// (Requeue) stays on its shard, where asynq's duplicate check finds it.
func (e *Enqueuer) enqueue(ctx context.Context, job delivery.Job) error {
	home := e.queues.shardOf(job)
	err := e.enqueueOn(ctx, e.queues.queueOf(home, job), job)
	if err != nil && !job.Requeue && e.queues.Len() > 1 && ctx.Err() == nil {
		next := e.queues.queueOf((home+1)%e.queues.Len(), job)
		if err2 := e.enqueueOn(ctx, next, job); err2 == nil {
			return nil
		}
	}
	return err
}

// enqueueOn queues job on queue. A task already queued there with its id
// is not queued again, unless asynq archived it after too many
// infrastructure errors: then it is taken out and queued afresh.
func (e *Enqueuer) enqueueOn(ctx context.Context, queue string, job delivery.Job) error {
	task, err := NewAttemptTask(job, queue, e.taskTimeout)
	if err != nil {
		return err
	}
	var opts []asynq.Option
	if !job.At.IsZero() && time.Until(job.At) > 0 {
		opts = append(opts, asynq.ProcessAt(job.At))
	}
	_, err = e.client.EnqueueContext(ctx, task, opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		info, ierr := e.inspector.GetTaskInfo(queue, job.Ref.ID())
		if ierr != nil || info.State != asynq.TaskStateArchived {
			return nil
		}
		if err := e.inspector.DeleteTask(queue, job.Ref.ID()); err != nil {
			return fmt.Errorf("deleting archived task of delivery %s: %w", job.Ref.DeliveryID, err)
		}
		_, err = e.client.EnqueueContext(ctx, task, opts...)
	}
	if err != nil {
		return fmt.Errorf("enqueueing delivery %s on %s: %w", job.Ref.DeliveryID, queue, err)
	}
	return nil
}
