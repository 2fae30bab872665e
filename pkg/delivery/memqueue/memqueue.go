// Package memqueue is a delivery.Queue in memory, for tests of the
// delivery flow without Redis (and for trying hookd without one). It keeps
// nothing across restarts: what it holds when its process ends is lost, as
// the Reconciler expects of any queue.
package memqueue

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/hookd/hookd/pkg/delivery"
)

// Runner runs one job: delivery.Attempter.Attempt.
type Runner interface {
	Attempt(ctx context.Context, job delivery.Job) (delivery.Result, error)
}

// Queue holds jobs until they are due and runs them with Workers
// goroutines. A job that fails is run again after RetryDelay; a throttled one
// after the delay its result names. The zero value is not usable: use New.
type Queue struct {
	// RetryDelay is how long a job that returned an error waits before it
	// runs again.
	RetryDelay time.Duration

	mu   sync.Mutex
	jobs jobHeap
	ids  map[string]bool // queued or running, by Ref.ID
	wake chan struct{}
	done int // jobs run to an end (not an error, not throttled)
	errs int // runs that returned an error
}

// New returns an empty queue.
func New() *Queue {
	return &Queue{RetryDelay: 20 * time.Millisecond, ids: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// Enqueue implements delivery.Queue.
func (q *Queue) Enqueue(_ context.Context, jobs ...delivery.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, j := range jobs {
		if q.ids[j.Ref.ID()] {
			continue
		}
		q.ids[j.Ref.ID()] = true
		heap.Push(&q.jobs, j)
	}
	q.signal()
	return nil
}

// signal wakes a waiting worker; q.mu is held.
func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run runs due jobs with workers goroutines until ctx ends; it returns once
// the jobs running then have finished.
func (q *Queue) Run(ctx context.Context, r Runner, workers int) {
	var wg sync.WaitGroup
	for range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.work(ctx, r)
		}()
	}
	wg.Wait()
}

func (q *Queue) work(ctx context.Context, r Runner) {
	for {
		job, ok := q.next(ctx)
		if !ok {
			return
		}
		res, err := r.Attempt(ctx, job)
		q.mu.Lock()
		switch {
		case err != nil:
			q.errs++
			job.At = time.Now().Add(q.RetryDelay)
			heap.Push(&q.jobs, job)
		case res.Throttled:
			job.At = time.Now().Add(res.RetryIn)
			heap.Push(&q.jobs, job)
		default:
			delete(q.ids, job.Ref.ID())
			q.done++
		}
		q.signal()
		q.mu.Unlock()
	}
}

// next takes the earliest due job, waiting for one until ctx ends.
func (q *Queue) next(ctx context.Context) (delivery.Job, bool) {
	for {
		q.mu.Lock()
		wait := time.Hour
		if len(q.jobs) > 0 {
			wait = time.Until(q.jobs[0].At)
			if wait <= 0 {
				job := heap.Pop(&q.jobs).(delivery.Job)
				if len(q.jobs) > 0 {
					q.signal()
				}
				q.mu.Unlock()
				return job, true
			}
		}
		q.mu.Unlock()
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return delivery.Job{}, false
		case <-q.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// Len returns how many jobs are queued, due or not (running ones excluded).
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.jobs)
}

// Stats returns how many jobs ran to an end and how many runs failed.
func (q *Queue) Stats() (done, errs int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.done, q.errs
}

// Take removes every queued job and returns them in due order, for a
// test that runs them itself.
func (q *Queue) Take() []delivery.Job {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []delivery.Job
	for len(q.jobs) > 0 {
		j := heap.Pop(&q.jobs).(delivery.Job)
		delete(q.ids, j.Ref.ID())
		out = append(out, j)
	}
	return out
}

// Drop forgets every queued job, as a queue that lost its data would.
func (q *Queue) Drop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, j := range q.jobs {
		delete(q.ids, j.Ref.ID())
	}
	q.jobs = nil
}

// jobHeap orders jobs by due time.
type jobHeap []delivery.Job

func (h jobHeap) Len() int           { return len(h) }
func (h jobHeap) Less(i, j int) bool { return h[i].At.Before(h[j].At) }
func (h jobHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *jobHeap) Push(x any)        { *h = append(*h, x.(delivery.Job)) }
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	*h = old[:len(old)-1]
	return j
}
