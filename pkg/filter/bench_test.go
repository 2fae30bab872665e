package filter

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// exampleExpr is the example filter.
const exampleExpr = `eventType == "invoice.paid" && payload.amount > 1000 && payload.currency in ["EUR","USD"]`

// benchPayload returns a JSON object of about 1 KiB shaped like an invoice
// event: a few scalars, a nested customer, a list of line items.
func benchPayload() []byte {
	var items []string
	for i := range 6 {
		items = append(items, fmt.Sprintf(`{"sku":"SKU-%04d","description":"line item number %d","quantity":%d,"unitPrice":%d.5}`, i, i, i+1, 100*i))
	}
	return []byte(`{"id":"in_1NqR7Y2eZvKYlo2C","object":"invoice","amount":4250,"currency":"EUR","status":"paid",` +
		`"customer":{"id":"cus_9s6XKzkNRiz8i3","email":"jenny.rosen@example.com","name":"Jenny Rosen","address":{"city":"Berlin","country":"DE","line1":"Unter den Linden 1","postal_code":"10117"}},` +
		`"metadata":{"order_id":"6735","source":"web"},"created":1714665600,"due_date":null,"paid":true,` +
		`"lines":[` + strings.Join(items, ",") + `]}`)
}

func benchInput(b testing.TB) *Input {
	in, err := NewInput(Message{EventType: "invoice.paid", Channels: []string{"project_1337"}, Tags: []string{"eu"}, Payload: benchPayload()})
	if err != nil {
		b.Fatal(err)
	}
	return in
}

func BenchmarkMatch(b *testing.B) {
	env, err := NewEnv(Config{})
	if err != nil {
		b.Fatal(err)
	}
	in := benchInput(b)
	for _, expr := range []string{
		exampleExpr,
		`payload.customer.address.country in ["DE", "FR"]`,
		`payload.lines.exists(l, l.quantity > 5)`,
	} {
		p, err := env.Compile(expr)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(expr, func(b *testing.B) {
			b.ReportAllocs()
			cpu := cpuTime(b)
			for b.Loop() {
				if ok, err := p.Match(in); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
			b.ReportMetric(float64((cpuTime(b)-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkMatchP99 times each evaluation of the example filter on the
// 1 KiB payload and reports the 50th and 99th percentiles, the figure the
// issue sets a bound on (5 µs): p50-ns and p99-ns in wall time, which on a
// busy machine include the other processes' turns, and p50-cpu-ns and
// p99-cpu-ns in the thread's CPU time, which do not (less the cost of
// reading the clock).
func BenchmarkMatchP99(b *testing.B) {
	env, err := NewEnv(Config{})
	if err != nil {
		b.Fatal(err)
	}
	p, err := env.Compile(exampleExpr)
	if err != nil {
		b.Fatal(err)
	}
	in := benchInput(b)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var clockCost []time.Duration
	for range 10_000 {
		t0 := threadCPU(b)
		clockCost = append(clockCost, threadCPU(b)-t0)
	}
	overhead := percentile(clockCost, 50)
	wall := make([]time.Duration, 0, 1<<16)
	cpu := make([]time.Duration, 0, 1<<16)
	for b.Loop() {
		start, c0 := time.Now(), threadCPU(b)
		_, _ = p.Match(in)
		c1 := threadCPU(b)
		wall = append(wall, time.Since(start))
		cpu = append(cpu, c1-c0-overhead)
	}
	b.ReportMetric(float64(percentile(wall, 50)), "p50-ns")
	b.ReportMetric(float64(percentile(wall, 99)), "p99-ns")
	b.ReportMetric(float64(percentile(cpu, 50)), "p50-cpu-ns")
	b.ReportMetric(float64(percentile(cpu, 99)), "p99-cpu-ns")
}

// percentile sorts d and returns its p-th percentile.
func percentile(d []time.Duration, p int) time.Duration {
	slices.Sort(d)
	return d[len(d)*p/100]
}

// threadCPU returns the calling thread's CPU time.
func threadCPU(b *testing.B) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ts.Nano())
}

// BenchmarkNewInput is the once-per-message cost shared by all endpoints.
func BenchmarkNewInput(b *testing.B) {
	payload := benchPayload()
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewInput(Message{EventType: "invoice.paid", Payload: payload}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFanOut is one message against 100 endpoints' filters: one
// NewInput and 100 Matches, the publish path's cost.
func BenchmarkFanOut(b *testing.B) {
	env, err := NewEnv(Config{})
	if err != nil {
		b.Fatal(err)
	}
	var progs []*Program
	for i := range 100 {
		p, err := env.Load(fmt.Sprintf(`eventType == "invoice.paid" && payload.amount > %d && payload.currency in ["EUR","USD"]`, i*100))
		if err != nil {
			b.Fatal(err)
		}
		progs = append(progs, p)
	}
	payload := benchPayload()
	b.ReportAllocs()
	cpu := cpuTime(b)
	for b.Loop() {
		in, err := NewInput(Message{EventType: "invoice.paid", Payload: payload})
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range progs {
			_, _ = p.Match(in)
		}
	}
	b.ReportMetric(float64((cpuTime(b)-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// cpuTime returns the process's user and system CPU time: on a shared
// machine, ns/op (wall time) also counts other processes' turns.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkCompile(b *testing.B) {
	env, err := NewEnv(Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := env.Compile(exampleExpr); err != nil {
			b.Fatal(err)
		}
	}
}
