package tracing_test

import (
	"strings"
	"testing"

	"github.com/hookd/hookd/pkg/tracing"
)

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     tracing.Config
		enabled bool
		err     string // a part of the error; "": none
	}{
		// Off unless an exporter or an endpoint is named.
		{"nothing set", tracing.Config{}, false, ""},
		{"only a sampler", tracing.Config{Sampler: "always_on"}, false, ""},
		{"only a service name's neighbour", tracing.Config{Protocol: "grpc"}, false, ""},
		{"disabled wins", tracing.Config{SDKDisabled: "TRUE", Endpoint: "http://127.0.0.1:4318"}, false, ""},
		{"off ignores wrong values", tracing.Config{SDKDisabled: "true", TracesExporter: "zipkin"}, false, ""},
		// On.
		{"endpoint", tracing.Config{Endpoint: "http://127.0.0.1:4318"}, true, ""},
		{"traces endpoint", tracing.Config{TracesEndpoint: "https://collector:4318/v1/traces"}, true, ""},
		{"exporter otlp", tracing.Config{TracesExporter: "otlp"}, true, ""},
		{"exporter none", tracing.Config{TracesExporter: "none"}, true, ""},
		{"disabled false", tracing.Config{SDKDisabled: "false", TracesExporter: "otlp"}, true, ""},
		{"grpc", tracing.Config{TracesExporter: "otlp", TracesProtocol: "grpc", Protocol: "http/protobuf"}, true, ""},
		{"ratio", tracing.Config{TracesExporter: "otlp", Sampler: "parentbased_traceidratio", SamplerArg: "0.25"}, true, ""},
		// Refused, naming the variable.
		{"exporter console", tracing.Config{TracesExporter: "console"}, true, "OTEL_TRACES_EXPORTER"},
		{"two exporters", tracing.Config{TracesExporter: "otlp,console"}, true, "OTEL_TRACES_EXPORTER"},
		{"http/json", tracing.Config{TracesExporter: "otlp", Protocol: "http/json"}, true, "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{"endpoint without scheme", tracing.Config{Endpoint: "collector:4318"}, true, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"traces endpoint ftp", tracing.Config{TracesEndpoint: "ftp://collector"}, true, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{"unknown sampler", tracing.Config{TracesExporter: "otlp", Sampler: "sometimes"}, true, "OTEL_TRACES_SAMPLER:"},
		{"ratio over 1", tracing.Config{TracesExporter: "otlp", Sampler: "traceidratio", SamplerArg: "2"}, true, "OTEL_TRACES_SAMPLER_ARG"},
		{"ratio not a number", tracing.Config{TracesExporter: "otlp", Sampler: "traceidratio", SamplerArg: "half"}, true, "OTEL_TRACES_SAMPLER_ARG"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cfg.Enabled(); got != tc.enabled {
				t.Errorf("Enabled() = %v, want %v", got, tc.enabled)
			}
			err := tc.cfg.Validate()
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("Validate() = %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("Validate() = %v, want an error naming %s", err, tc.err)
			}
		})
	}
}
