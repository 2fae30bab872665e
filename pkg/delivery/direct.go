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
// A fresh attempt that finds every slot busy waits here for one, in order
// of arrival, as long as the jobs waiting weigh at most BacklogBytes
// (their payloads and DirectJobOverhead each), and each up to MaxWait: a
// burst of fan-out (a message to many endpoints) is absorbed by the slots
// as they free up rather than sent through the shared queue, whose round
// trips cost more CPU than the attempt. A job still waiting after MaxWait
// goes to Next when a slot frees up, or when Direct closes.
//
// What Next gets: a job not due yet (retries), one that is not a fresh
// first attempt (a reconciled or replayed job, which may be queued there
// already), one beyond Capacity and BacklogBytes, one that waited past
// MaxWait, and, after their attempt, a throttled job (due after its
// delay) and one whose attempt failed on our own infrastructure (due a
// second later, without its message, so that it is read afresh). Jobs
// running or waiting here are lost if the process dies; the Reconciler
// queues them again once overdue, as it does any job a queue lost: the
// store stays the source of truth. So MaxWait plus an attempt's time
// must stay under the Reconciler's grace, or a job could be sent twice.
type Direct struct {
	Next      Queue      // required
	Attempter *Attempter // required
	// Capacity caps the attempts running here at once; 0 runs none here.
	Capacity int
	// BacklogBytes caps the weight of the fresh attempts waiting here
	// for a slot (DirectJobOverhead and the payload each); 0: none wait,
	// those beyond Capacity go to Next at once.
	BacklogBytes int
	// MaxWait bounds how long a fresh attempt waits here for a slot
	// before it goes to Next; 0 means a second.
	MaxWait time.Duration
	// Timeout bounds one attempt run here, its recording included; 0
	// means 15 minutes.
	Timeout time.Duration
	// Logger receives a warning when passing a job on to Next fails; nil:
	// nothing is logged.
	Logger *slog.Logger

	once    sync.Once
	running sync.WaitGroup
	stop    context.CancelFunc
	ctx     context.Context

	mu     sync.Mutex
	closed bool
	// busy counts the slots taken: goroutines running attempts, each
	// taking the next waiting job when its attempt is done.
	busy    int
	waiting []waitingJob
	// weight is the weight of waiting.
	weight int
	// sweeping is set while sweep runs; closing is closed by Close.
	sweeping bool
	closing  chan struct{}
}

// DirectJobOverhead is what a waiting job weighs besides its payload: its
// Job, Fresh and their strings, rounded up.
const DirectJobOverhead = 512

// weightOf is job's weight in the backlog.
func weightOf(job Job) int {
	return DirectJobOverhead + len(job.Fresh.Payload)
}

// waitingJob is a fresh attempt waiting for a slot since when.
type waitingJob struct {
	job   Job
	since time.Time
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
// free, or keeps it waiting for one if the backlog has room; it reports
// whether it did either.
func (d *Direct) start(job Job, now time.Time) bool {
	if job.Fresh == nil || job.Requeue || job.Ref.IsManual() || job.Ref.Number != 1 || job.At.After(now) {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.closed:
		return false
	case d.busy < d.Capacity:
		d.busy++
		d.running.Add(1)
		go d.run(job)
		return true
	case d.Capacity > 0 && d.weight+weightOf(job) <= d.BacklogBytes:
		d.waiting = append(d.waiting, waitingJob{job: job, since: now})
		d.weight += weightOf(job)
		if !d.sweeping {
			d.sweeping = true
			go d.sweep()
		}
		return true
	}
	return false
}

// maxWait is MaxWait or its default.
func (d *Direct) maxWait() time.Duration {
	if d.MaxWait == 0 {
		return time.Second
	}
	return d.MaxWait
}

// sweep passes the jobs that waited past MaxWait to Next, even while no
// slot frees up (every attempt running may take minutes to record), until
// none waits; at most one runs at a time.
func (d *Direct) sweep() {
	for {
		d.mu.Lock()
		late := d.expire(time.Now())
		if len(d.waiting) == 0 || d.closed {
			d.sweeping = false
			d.mu.Unlock()
			d.pass(context.Background(), late...)
			return
		}
		due := time.Until(d.waiting[0].since.Add(d.maxWait()))
		d.mu.Unlock()
		d.pass(context.Background(), late...)
		select {
		case <-time.After(due + time.Millisecond):
		case <-d.closing:
		}
	}
}

// expire removes the waiting jobs that waited past MaxWait at now (all of
// them once closed) and returns them. d.mu must be held.
func (d *Direct) expire(now time.Time) []Job {
	var late []Job
	for len(d.waiting) > 0 && (d.closed || now.Sub(d.waiting[0].since) > d.maxWait()) {
		late = append(late, d.pop())
	}
	if len(d.waiting) == 0 {
		d.waiting = nil // lets go of the emptied array
	}
	return late
}

// pop removes the first waiting job and returns it. d.mu must be held.
func (d *Direct) pop() Job {
	job := d.waiting[0].job
	d.waiting[0] = waitingJob{}
	d.waiting = d.waiting[1:]
	d.weight -= weightOf(job)
	return job
}

// run makes job's attempt, then those of the jobs waiting, one after the
// other, until none is left; it holds one slot all along.
func (d *Direct) run(job Job) {
	defer d.running.Done()
	for {
		d.attempt(job)
		next, late, ok := d.take()
		d.pass(context.Background(), late...)
		if !ok {
			return
		}
		job = next
	}
}

// take returns the next waiting job that has not waited past MaxWait and
// the ones that have (for Next); with none to run, it frees the caller's
// slot and reports false.
func (d *Direct) take() (next Job, late []Job, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	late = d.expire(time.Now())
	if len(d.waiting) > 0 {
		return d.pop(), late, true
	}
	d.busy--
	return Job{}, late, false
}

// attempt makes job's attempt and hands it to Next when it must run again.
func (d *Direct) attempt(job Job) {
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
	d.pass(context.Background(), job)
}

// pass queues jobs on Next, for at most 5 s and until ctx ends; when that
// fails, the Reconciler will.
func (d *Direct) pass(ctx context.Context, jobs ...Job) {
	if len(jobs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := d.Next.Enqueue(ctx, jobs...); err != nil {
		loggerOr(d.Logger).WarnContext(ctx, "queueing attempts failed; the reconciler will retry",
			slog.Int("attempts", len(jobs)), slog.String("first_delivery_id", jobs[0].Ref.DeliveryID),
			slog.String("error", err.Error()))
	}
}

// Close stops running jobs here (later ones go to Next, and so do those
// waiting for a slot) and waits for the attempts running, until ctx ends:
// then it cancels them (each records its request as stopped, and its
// retry) and waits for them to finish.
func (d *Direct) Close(ctx context.Context) {
	d.init()
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.closing)
	}
	waiting := d.expire(time.Now())
	d.mu.Unlock()
	d.pass(ctx, waiting...)
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
		d.ctx, d.stop = context.WithCancel(context.Background())
		d.closing = make(chan struct{})
	})
}
