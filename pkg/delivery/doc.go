// Package delivery is what hookd does with a message: its use cases, between
// the domain (package webhook) and the adapters (the gin API, the asynq
// worker, the Postgres store).
//
//   - Publisher stores a message with one delivery per matching endpoint and
//     queues their first attempts: the one publish flow, used by the API's
//     publish and send-example and by operational webhooks.
//   - Attempter makes one attempt of one delivery: load, throttle, sign,
//     send, decide, record, tell, schedule the next.
//   - Decide is the delivery state machine: a pure function from an
//     attempt's result to a webhook.Transition.
//   - Replayer resends one message and recovers an endpoint's failures.
//   - Reconciler queues again the attempts whose queue entry was lost, and
//     HealthChecker disables endpoints that only fail.
//
// The queue is a plug: anything that implements Queue (asynq in package
// worker, an in-memory one in package memqueue) carries Jobs to an
// Attempter. The package imports the domain and hookd's small
// standard-library packages only (signature, retry, egress), never gin,
// asynq or gorm; a test enforces it.
package delivery
