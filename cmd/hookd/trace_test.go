package main

import (
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpSpan is a span as an OTLP collector received it.
type otlpSpan struct {
	service, name, trace, id, parent string
	attrs                            map[string]string
}

// collector is an OTLP/HTTP trace collector in memory.
type collector struct {
	*httptest.Server
	mu    sync.Mutex
	spans []otlpSpan
}

func newCollector(t *testing.T) *collector {
	t.Helper()
	c := &collector{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "not OTLP/HTTP traces", http.StatusNotFound)
			return
		}
		body := r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		raw, _ := io.ReadAll(body)
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(raw, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.add(&req)
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *collector) add(req *coltracepb.ExportTraceServiceRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		var service string
		for _, kv := range rs.Resource.GetAttributes() {
			if kv.Key == "service.name" {
				service = kv.Value.GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				c.spans = append(c.spans, otlpSpan{service: service, name: s.Name, trace: hex.EncodeToString(s.TraceId),
					id: hex.EncodeToString(s.SpanId), parent: hex.EncodeToString(s.ParentSpanId), attrs: attrsOf(s)})
			}
		}
	}
}

func attrsOf(s *tracepb.Span) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes {
		v := kv.Value
		switch {
		case v.GetStringValue() != "":
			m[kv.Key] = v.GetStringValue()
		default:
			m[kv.Key] = fmt.Sprint(v.GetIntValue())
		}
	}
	return m
}

// named returns the spans named name.
func (c *collector) named(name string) []otlpSpan {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []otlpSpan
	for _, s := range c.spans {
		if s.name == name {
			out = append(out, s)
		}
	}
	return out
}

// One event followed from its publisher into its receiver, through the
// real binary in two processes: `hookd api` continues the traceparent the
// publisher sent and `hookd worker` makes the attempts, a failed one and
// its retry, each under the publish span, and sends the receiver the
// trace context of each request; both export their spans to an OTLP/HTTP
// collector named by the standard variable.
func TestTraceAcrossProcesses(t *testing.T) {
	t.Parallel()
	key := randomKey(t)
	col := newCollector(t)
	env := crashEnv(t, key)
	env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = col.URL + "/v1/traces"
	env["OTEL_BSP_SCHEDULE_DELAY"] = "100" // export within 100 ms
	env["OTEL_SERVICE_NAME"] = ""          // hookd's own default

	var (
		mu       sync.Mutex
		received []http.Header
	)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		received = append(received, r.Header.Clone())
		n := len(received)
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(rcv.Close)

	startHookd(t, "api", env)
	base := "http://" + env["HOOKD_LISTEN_ADDRESS"]
	waitUntil(t, 30*time.Second, "the API", func() bool {
		res, err := http.Get(base + "/api/v1/health/ping")
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == http.StatusNoContent
	})
	startHookd(t, "worker", env)
	apiCall(t, base, key, http.MethodPost, "/api/v1/app", map[string]any{"name": "traced", "uid": "traced"}, http.StatusCreated)
	apiCall(t, base, key, http.MethodPost, "/api/v1/app/traced/endpoint", map[string]any{"url": rcv.URL}, http.StatusCreated)

	const publisherTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	raw, _ := json.Marshal(map[string]any{"eventType": "order.paid", "payload": map[string]any{"id": 1}})
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/app/traced/msg", strings.NewReader(string(raw)))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Traceparent", "00-"+publisherTrace+"-00f067aa0ba902b7-01")
	req.Header.Set("Tracestate", "shop=checkout")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		ID string `json:"id"`
	}
	_ = json.NewDecoder(res.Body).Decode(&msg)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("publish = %d", res.StatusCode)
	}

	waitUntil(t, 30*time.Second, "the retry's request and every span", func() bool {
		mu.Lock()
		n := len(received)
		mu.Unlock()
		// An attempt span ends after its request's span, and either may
		// come in a later export batch: wait for every span counted below.
		return n >= 2 && len(col.named("POST")) >= 2 && len(col.named("attempt")) >= 2 &&
			len(col.named("enqueue")) >= 1 && len(col.named("store message")) >= 1 &&
			len(col.named("publish")) >= 1 && len(col.named("POST /api/v1/app/{app_id}/msg")) >= 1
	})
	server := col.named("POST /api/v1/app/{app_id}/msg")
	publish, store, enqueue := col.named("publish"), col.named("store message"), col.named("enqueue")
	attempts, requests := col.named("attempt"), col.named("POST")
	if len(server) != 1 || len(publish) != 1 || len(store) != 1 || len(attempts) != 2 || len(requests) != 2 {
		t.Fatalf("spans: %d server, %d publish, %d store, %d attempt, %d POST", len(server), len(publish), len(store), len(attempts), len(requests))
	}
	if s := server[0]; s.trace != publisherTrace || s.parent != "00f067aa0ba902b7" || s.service != "hookd" {
		t.Errorf("the API span is in trace %s under %s of %q: want the publisher's span, service hookd", s.trace, s.parent, s.service)
	}
	child := func(c, p otlpSpan) {
		t.Helper()
		if c.trace != publisherTrace || c.parent != p.id {
			t.Errorf("%s (trace %s, parent %s) is not a child of %s (%s)", c.name, c.trace, c.parent, p.name, p.id)
		}
	}
	child(publish[0], server[0])
	child(store[0], publish[0])
	child(enqueue[0], publish[0])
	if publish[0].attrs["hookd.message.id"] != msg.ID {
		t.Errorf("publish span attributes %v, want message %s", publish[0].attrs, msg.ID)
	}
	statuses := map[string]bool{}
	for _, a := range attempts {
		child(a, publish[0])
		if a.attrs["hookd.message.id"] != msg.ID {
			t.Errorf("attempt attributes %v", a.attrs)
		}
		statuses[a.attrs["hookd.attempt.number"]+":"+a.attrs["http.response.status_code"]] = true
	}
	if !statuses["1:500"] || !statuses["2:200"] {
		t.Errorf("attempts %v, want 1:500 and 2:200", statuses)
	}
	ids := map[string]otlpSpan{}
	for _, a := range attempts {
		ids[a.id] = a
	}
	mu.Lock()
	defer mu.Unlock()
	for i, h := range received[:2] {
		tp := h.Get("Traceparent")
		parts := strings.Split(tp, "-")
		if len(parts) != 4 || parts[1] != publisherTrace {
			t.Errorf("request %d: traceparent %q, want the publisher's trace", i+1, tp)
			continue
		}
		found := false
		for _, r := range requests {
			if r.id == parts[2] {
				found = true
				if _, ok := ids[r.parent]; !ok {
					t.Errorf("request span %s is not a child of an attempt", r.id)
				}
			}
		}
		if !found {
			t.Errorf("request %d: traceparent names span %s, which is no request span", i+1, parts[2])
		}
		if h.Get("Tracestate") != "shop=checkout" {
			t.Errorf("request %d: tracestate %q", i+1, h.Get("Tracestate"))
		}
	}
}

// Tracing is off by default; the standard variables turn it on, and a
// wrong value stops the start naming the variable.
func TestLoadConfigTracing(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(map[string]string{})
	if err != nil || cfg.Tracing.Enabled() {
		t.Fatalf("defaults: tracing on %v, %v", cfg.Tracing.Enabled(), err)
	}
	cfg, err = LoadConfig(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"})
	if err != nil || !cfg.Tracing.Enabled() {
		t.Fatalf("with an endpoint: tracing on %v, %v", cfg.Tracing.Enabled(), err)
	}
	if cfg, err := LoadConfig(map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}); err != nil || cfg.Tracing.Enabled() {
		t.Errorf("OTEL_SDK_DISABLED=true: tracing on %v, %v", cfg.Tracing.Enabled(), err)
	}
	for _, tt := range []struct{ name, value string }{
		{"OTEL_TRACES_EXPORTER", "jaeger"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318"},
		{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
		{"OTEL_TRACES_SAMPLER", "half"},
	} {
		environ := map[string]string{"OTEL_TRACES_EXPORTER": "otlp", tt.name: tt.value}
		if _, err := LoadConfig(environ); err == nil || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("%s=%s: error %v, want one naming the variable", tt.name, tt.value, err)
		}
	}
}
