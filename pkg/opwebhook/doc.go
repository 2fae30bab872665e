// Package opwebhook emits operational webhooks: events about the platform
// itself (an endpoint created, updated, deleted or disabled; a delivery
// failing, exhausted or recovered) sent to an organisation's own receivers,
// with the payloads Svix documents ({"type", "timestamp", "data"}).
//
// An organisation's operational-webhook endpoints are ordinary endpoints of
// one internal application (webhook.OperationalStore), hidden from the
// application API. Emitting an event stores it as a message of that
// application and dispatches its deliveries like any published message, so
// operational webhooks are signed, retried, recorded and reconciled the same
// way, with the same at-least-once guarantee.
package opwebhook
