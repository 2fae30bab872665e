// Package webhook is the domain core of hookd: applications, endpoints, event
// types, their validation rules and the error model shared by every adapter.
//
// It imports only the standard library. Adapters (api for HTTP, postgres for
// storage, worker for the queue) depend on it; it depends on none of them.
// Store interfaces declared here are implemented by pkg/postgres.
package webhook
