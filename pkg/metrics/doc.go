// Package metrics holds hookd's Prometheus metrics: one Metrics value owns
// its own registry (no global state, so tests can run side by side), is told
// what the API and the worker do, and serves the registry in the Prometheus
// text format.
//
// Metrics satisfies worker.Observer and api.Metrics structurally: neither
// package imports this one, and this one imports neither, nor asynq. Queue
// depth is read at scrape time through QueueDepthFunc, which cmd/hookd
// implements with an asynq.Inspector.
//
// Label values are bounded: routes are gin's route patterns (never raw
// paths), outcomes, response classes and disable reasons are fixed sets.
// docs/operations.md describes every metric and the alerts to set.
package metrics
