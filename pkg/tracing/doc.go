// Package tracing is hookd's OpenTelemetry adapter: it sets up the
// official Go SDK from the standard OTEL_* environment variables (Config,
// Open) and implements delivery.Tracer on it (Tracer), so that the use
// cases in package delivery, which import no framework, record spans and
// carry W3C trace contexts. cmd/hookd wires it in when tracing is on; it
// is off by default (docs/scaling.md, "Traces").
package tracing
