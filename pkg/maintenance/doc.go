// Package maintenance holds the background loops that keep hookd's
// storage in bounds: Retention clears expired payloads and responses and
// deletes old messages, Janitor deletes expired idempotency records and
// portal tokens. Each runs in every worker process; their statements are
// safe to run concurrently.
package maintenance
