package delivery

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Direct is a Queue for a process that publishes and delivers (hookd
// serve): it runs the fresh first attempts it is given, due now, itself,
// with Attempter, up to Capacity at once, and passes every other job to
// Next, the shared queue. A fresh attempt run here saves the shared
// queue's round trips (its enqueue, its dequeue, its acknowledgement) and
// the wait for a worker to poll it.
//
// What Next gets: a job not due yet (retries), one that is not a fresh
// first attempt (a reconciled or replayed job, which may be queued there
// already), one beyond Capacity, and, after their attempt, a throttled job
// (due after its delay) and one whose attempt failed on our own
// infrastructure (due a second later, without its message, so that it is
// read afresh). Jobs running here are lost if the process dies; the
// Reconciler queues them again once overdue, as it does any job a queue
// lost: the store stays the source of truth.
type Direct struct {
	Next      Queue      // required
	Attempter *Attempter // required
	// Capacity caps the attempts running here at once; 0 runs none here.
	Capacity int
	// Timeout bounds one attempt run here, its recording included; 0
	// means 15 minutes.
	Timeout time.Duration
	// Logger receives a warning when passing a job on to Next fails; nil:
	// nothing is logged.
	Logger *slog.Logger

	once    sync.Once
	slots   chan struct{}
	running sync.WaitGroup
	mu      sync.Mutex
	closed  bool
	stop    context.CancelFunc
	ctx     context.Context
}

// directRetryDelay is how long a job whose attempt failed on our own
// infrastructure waits in Next.
const directRetryDelay = time.Second

// Enqueue implements Queue: it starts the fresh first attempts due now
// that fit within Capacity and queues the other jobs on Next.
func (d *Direct) Enqueue(ctx context.Context, jobs ...Job) error {
	d.init()
	now := time.Now()
	rest := jobs[:0:0]
	for _, job := range jobs {
		if !d.start(job, now) {
			rest = append(rest, job)
		}
	}
	if len(rest) == 0 {
		return nil
	}
	return d.Next.Enqueue(ctx, rest...)
}

// start runs job here if it is a fresh first attempt due now and a slot is
// free; it reports whether it did.
func (d *Direct) start(job Job, now time.Time) bool {
	if job.Fresh == nil || job.Requeue || job.Ref.IsManual() || job.Ref.Number != 1 || job.At.After(now) {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	select {
	case d.slots <- struct{}{}:
	default:
		return false
	}
	d.running.Add(1)
	go d.run(job)
	return true
}

// run makes job's attempt and hands it to Next when it must run again.
func (d *Direct) run(job Job) {
	defer d.running.Done()
	defer func() { <-d.slots }()
	timeout := d.Timeout
	if timeout == 0 {
		timeout = 15 * time.Minute
	}
	ctx, cancel := context.WithTimeout(d.ctx, timeout)
	defer cancel()
	res, err := d.Attempter.Attempt(ctx, job)
	switch {
	case err != nil:
		loggerOr(d.Logger).WarnContext(ctx, "attempt failed on our infrastructure; queueing it again",
			slog.String("delivery_id", job.Ref.DeliveryID), slog.String("error", err.Error()))
		job.Fresh, job.At = nil, time.Now().Add(directRetryDelay)
	case res.Throttled:
		job.At = time.Now().Add(res.RetryIn)
	default:
		return
	}
	qctx, qcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer qcancel()
	if err := d.Next.Enqueue(qctx, job); err != nil {
		loggerOr(d.Logger).WarnContext(ctx, "queueing an attempt failed; the reconciler will retry",
			slog.String("delivery_id", job.Ref.DeliveryID), slog.String("error", err.Error()))
	}
}

// Close stops running jobs here (later ones go to Next) and waits for the
// attempts running, until ctx ends: then it cancels them (each records its
// request as stopped, and its retry) and waits for them to finish.
func (d *Direct) Close(ctx context.Context) {
	d.init()
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	done := make(chan struct{})
	go func() { d.running.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		d.stop()
		<-done
	}
}

func (d *Direct) init() {
	d.once.Do(func() {
		d.slots = make(chan struct{}, max(0, d.Capacity))
		d.ctx, d.stop = context.WithCancel(context.Background())
	})
}
