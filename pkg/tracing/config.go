package tracing

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Config is the part of OpenTelemetry's standard environment that decides
// whether hookd traces, and where to: hookd reads it once at start to turn
// tracing on and to refuse wrong values with a clear message. The SDK and
// the OTLP exporters read these variables, and the rest of OTEL_* (headers,
// timeouts, TLS files, resource attributes, batch sizes), from the process
// environment themselves.
//
// Tracing is off unless OTEL_TRACES_EXPORTER or an OTLP endpoint is set,
// and OTEL_SDK_DISABLED=true turns it off whatever else is set: unlike the
// specification's default exporter, a hookd that nobody configured for
// tracing exports nothing and pays nothing.
type Config struct {
	// SDKDisabled, when "true" (in any case), turns tracing off.
	SDKDisabled string `env:"OTEL_SDK_DISABLED"`
	// TracesExporter is "otlp" (the default once tracing is on) or "none":
	// spans are made, and the trace context goes on to receivers, but
	// nothing is exported.
	TracesExporter string `env:"OTEL_TRACES_EXPORTER"`
	// Endpoint is the OTLP collector's base URL; the traces go to its
	// /v1/traces over HTTP.
	Endpoint string `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	// TracesEndpoint is the full URL traces go to; it wins over Endpoint.
	TracesEndpoint string `env:"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"`
	// Protocol is "http/protobuf" (the default) or "grpc".
	Protocol string `env:"OTEL_EXPORTER_OTLP_PROTOCOL"`
	// TracesProtocol is Protocol for traces; it wins over Protocol.
	TracesProtocol string `env:"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"`
	// Sampler is the SDK's sampler; "" means parentbased_always_on: a
	// publisher's sampling decision is followed, every other trace sampled.
	Sampler string `env:"OTEL_TRACES_SAMPLER"`
	// SamplerArg is the ratio of the traceidratio samplers, 0 to 1.
	SamplerArg string `env:"OTEL_TRACES_SAMPLER_ARG"`
}

// Exporters and protocols.
const (
	ExporterOTLP     = "otlp"
	ExporterNone     = "none"
	ProtocolHTTP     = "http/protobuf"
	ProtocolGRPC     = "grpc"
	defaultEndpoints = "http://localhost:4318 (http/protobuf) or http://localhost:4317 (grpc)"
)

// samplers are the values of OTEL_TRACES_SAMPLER the SDK knows, and
// whether they take OTEL_TRACES_SAMPLER_ARG.
var samplers = map[string]bool{
	"always_on": false, "always_off": false, "traceidratio": true,
	"parentbased_always_on": false, "parentbased_always_off": false, "parentbased_traceidratio": true,
}

// Enabled reports whether tracing is on.
func (c *Config) Enabled() bool {
	if strings.EqualFold(strings.TrimSpace(c.SDKDisabled), "true") {
		return false
	}
	return c.TracesExporter != "" || c.Endpoint != "" || c.TracesEndpoint != ""
}

// exporter returns the exporter to use: ExporterOTLP or ExporterNone.
func (c *Config) exporter() string {
	if e := strings.ToLower(strings.TrimSpace(c.TracesExporter)); e != "" {
		return e
	}
	return ExporterOTLP
}

// protocol returns the OTLP protocol to use.
func (c *Config) protocol() string {
	for _, p := range []string{c.TracesProtocol, c.Protocol} {
		if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
			return p
		}
	}
	return ProtocolHTTP
}

// Validate checks the values that turn tracing on, naming each wrong
// variable and what it accepts. With tracing off it checks nothing.
func (c *Config) Validate() error {
	if !c.Enabled() {
		return nil
	}
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	switch e := c.exporter(); e {
	case ExporterOTLP, ExporterNone:
	default:
		bad("OTEL_TRACES_EXPORTER", "got %q (accepted: otlp or none)", c.TracesExporter)
	}
	for _, p := range []struct{ name, value string }{
		{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", c.TracesProtocol}, {"OTEL_EXPORTER_OTLP_PROTOCOL", c.Protocol},
	} {
		switch strings.ToLower(strings.TrimSpace(p.value)) {
		case "", ProtocolHTTP, ProtocolGRPC:
		default:
			bad(p.name, "got %q (accepted: http/protobuf or grpc)", p.value)
		}
	}
	for _, e := range []struct{ name, value string }{
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", c.TracesEndpoint}, {"OTEL_EXPORTER_OTLP_ENDPOINT", c.Endpoint},
	} {
		if e.value == "" {
			continue
		}
		if u, err := url.Parse(e.value); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(e.name, "got %q (accepted: an http:// or https:// URL such as %s)", e.value, defaultEndpoints)
		}
	}
	sampler := strings.ToLower(strings.TrimSpace(c.Sampler))
	takesArg, known := samplers[sampler]
	switch {
	case sampler == "":
	case !known:
		bad("OTEL_TRACES_SAMPLER", "got %q (accepted: always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio)", c.Sampler)
	case takesArg && strings.TrimSpace(c.SamplerArg) != "":
		if r, err := strconv.ParseFloat(strings.TrimSpace(c.SamplerArg), 64); err != nil || !(r >= 0 && r <= 1) {
			bad("OTEL_TRACES_SAMPLER_ARG", "got %q (accepted: a ratio from 0 to 1, such as 0.1)", c.SamplerArg)
		}
	}
	return errors.Join(errs...)
}
