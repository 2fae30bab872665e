// Package postgres stores hookd's state in PostgreSQL through gorm. It is the
// only package that imports gorm: it implements the store interfaces of
// pkg/webhook, owns the embedded, versioned SQL migrations and maps database
// errors (unique violations, missing rows) to webhook error codes.
package postgres
