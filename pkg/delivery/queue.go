package delivery

import "context"

// Queue carries Jobs to an Attempter at their time. The store stays the
// source of truth: a job the queue loses is queued again by the Reconciler
// once overdue, so an implementation may lose jobs in a crash but should
// not in normal operation.
//
// An implementation runs each job's attempt with Attempter.Attempt and
// honours its answer: a Throttled result runs the job again after RetryIn
// without counting it as a failure; an error runs it again later with a
// back-off of the queue's own.
type Queue interface {
	// Enqueue schedules each job at its At. A job whose attempt (Ref.ID) is
	// already queued is not queued twice, and that is not an error. It
	// tries every job and returns the errors joined.
	Enqueue(ctx context.Context, jobs ...Job) error
}
