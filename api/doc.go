// Package api is hookd's HTTP adapter: the Svix-compatible management API
// under /api/v1 on gin, its authentication, idempotency, body limits, and the
// one mapping from webhook error codes to HTTP status codes.
//
// It depends on pkg/webhook's store interfaces, never on gorm or asynq.
package api
