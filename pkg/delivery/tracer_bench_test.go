package delivery_test

import (
	"encoding/json"
	"syscall"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/delivery/memqueue"
	"github.com/hookd/hookd/pkg/tracing"
	"github.com/hookd/hookd/pkg/webhook"
)

// BenchmarkTracing is the publish (store and queue in memory) and the
// fresh attempt (sign, POST to a local receiver, record) without a Tracer
// and with one sampling every span into a batch exporter that drops them,
// as a traced hookd does before the network: what tracing costs on the
// hot paths. Besides the time, it reports this process's CPU time per
// operation (cpu-ns/op), which other processes on the machine disturb
// less. docs/scaling.md ("Traces") has the figures.
func BenchmarkTracing(b *testing.B) {
	f := newDeliverBench(b)
	for _, tc := range []struct {
		name   string
		tracer delivery.Tracer
	}{
		{"off", nil},
		{"on", tracing.New(sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter())))},
	} {
		b.Run("publish/"+tc.name, func(b *testing.B) {
			p := &delivery.Publisher{Store: f.db, Queue: memqueue.New(), Tracer: tc.tracer}
			payload := json.RawMessage(`{"type":"invoice.paid","data":{"id":"in_1P2q3R4s5T","amount":4200,"currency":"eur"}}`)
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				msg := &webhook.Message{OrgID: f.app.OrgID, AppID: f.app.ID, EventType: "invoice.paid",
					Payload: payload, RetentionDays: webhook.DefaultRetentionDays}
				if _, err := p.Publish(f.ctx, msg, ""); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
		b.Run("attempt/"+tc.name, func(b *testing.B) {
			jobs := f.jobs(b, b.N, true)
			f.receiver.reset()
			a := &delivery.Attempter{Store: f.db, Queue: f.attempter.Queue, Headers: f.attempter.Headers,
				Send: f.attempter.Send, Tracer: tc.tracer}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for _, job := range jobs {
				if _, err := a.Attempt(f.ctx, job); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			b.StopTimer()
			f.receiver.check(b, b.N)
		})
	}
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
