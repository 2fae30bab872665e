package tracing

import (
	"context"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Provider is OpenTelemetry's SDK set up for a hookd process: spans
// sampled by OTEL_TRACES_SAMPLER and exported in batches (OTEL_BSP_*) to
// the OTLP collector, under the service name "hookd" unless
// OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES names another. Its Tracer
// is what the publish and attempt flows record with.
type Provider struct {
	*Tracer
	tp *sdktrace.TracerProvider
}

// Options are what a Provider says about its process.
type Options struct {
	// ServiceVersion is hookd's version (the service.version attribute).
	ServiceVersion string
	// Logger is told when exporting fails; nil: nothing is logged.
	Logger *slog.Logger
}

// Open sets up the SDK as cfg says. It returns nil, and no error, when
// tracing is off. The exporter connects lazily: a collector that is down
// at start only makes exports fail (logged), never hookd.
func Open(ctx context.Context, cfg Config, opts Options) (*Provider, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "hookd"), attribute.String("service.version", opts.ServiceVersion)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES win
		resource.WithTelemetrySDK(),
	)
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if cfg.exporter() == ExporterOTLP {
		exp, err := newExporter(ctx, cfg.protocol())
		if err != nil {
			return nil, err
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// The SDK reports export failures here (a process has one handler).
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("tracing: exporting spans failed", slog.String("error", err.Error()))
	}))
	tp := sdktrace.NewTracerProvider(tpOpts...)
	return &Provider{Tracer: New(tp), tp: tp}, nil
}

// newExporter returns the OTLP exporter of protocol; it reads its
// endpoint, headers, TLS and timeout from OTEL_EXPORTER_OTLP_*.
func newExporter(ctx context.Context, protocol string) (sdktrace.SpanExporter, error) {
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch protocol {
	case ProtocolGRPC:
		exp, err = otlptracegrpc.New(ctx)
	default:
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	return exp, nil
}

// Shutdown exports the spans still buffered, within ctx, and stops.
func (p *Provider) Shutdown(ctx context.Context) error {
	return p.tp.Shutdown(ctx)
}
