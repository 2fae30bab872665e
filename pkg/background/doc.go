// Package background runs background tasks (webhook.BackgroundTask): work
// too long for one API request, such as recovering an endpoint's failed
// deliveries, and later bulk replays and broadcasts.
//
// The API stores a task with status running and answers at once. Every
// worker process runs a Processor, which claims runnable tasks from the
// store with a lease (FOR UPDATE SKIP LOCKED in Postgres, so workers never
// take the same task) and hands each to the Runner of its kind, one batch
// at a time. After each batch the task's cursor and data are saved and its
// lease renewed; when a worker dies, its lease runs out and another worker
// resumes the task from the last saved cursor. A Runner's batches must
// therefore be safe to repeat.
//
// Each kind of task is one small Runner; Recover is the first.
package background
