package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/filter"
	"github.com/hookd/hookd/pkg/jsonschema"
	"github.com/hookd/hookd/pkg/signature"
	"github.com/hookd/hookd/pkg/transform"
	"github.com/hookd/hookd/pkg/webhook"
)

// routingStore serves what the routing step of a publish reads: the
// filtered endpoints of an application and the event types that enforce
// their schema, from memory, so that the benchmarks time hookd's work
// alone (the store is read once per RoutingTTL anyway).
type routingStore struct {
	PublishStore
	endpoints []webhook.Endpoint
	enforced  []webhook.EventType
}

func (s *routingStore) FilteredEndpoints(context.Context, string) ([]webhook.Endpoint, error) {
	return s.endpoints, nil
}

func (s *routingStore) EnforcedEventTypes(context.Context, string) ([]webhook.EventType, error) {
	return s.enforced, nil
}

// invoicePayload is a 1 KiB invoice event.
func invoicePayload(i int) []byte {
	var lines []string
	for j := range 6 {
		lines = append(lines, fmt.Sprintf(`{"sku":"SKU-%04d","description":"line item number %d","quantity":%d,"unitPrice":%d.5}`, j, j, j+1, 100*j))
	}
	return []byte(fmt.Sprintf(`{"id":"in_%d","object":"invoice","amount":%d,"currency":"EUR","status":"paid",`+
		`"customer":{"id":"cus_9s6XKzkNRiz8i3","email":"jenny.rosen@example.com","name":"Jenny Rosen","address":{"city":"Berlin","country":"DE"}},`+
		`"metadata":{"order_id":"6735","source":"web"},"created":1714665600,"lines":[%s]}`, i, 2000+i%5000, strings.Join(lines, ",")))
}

// BenchmarkPublishFilters times the routing step of publishing a message
// to an application with 100 endpoints that have payload filters (ten
// different filters of the kind): the payload decoded once, each
// filter evaluated from the compiled-program cache, the verdicts made. It
// reports the cost per (message, endpoint) at the 50th and 99th percentile
// of messages, in wall time and in the process's CPU time (which on a busy
// machine leaves out the other processes' turns). Issue 13 sets the bound:
// 5 µs at the p99.
func BenchmarkPublishFilters(b *testing.B) {
	env, err := filter.NewEnv(filter.Config{})
	if err != nil {
		b.Fatal(err)
	}
	const endpoints = 100
	exprs := []string{
		`eventType == "invoice.paid" && payload.amount > 1000 && payload.currency in ["EUR","USD"]`,
		`payload.customer.address.country in ["DE", "FR"]`,
		`has(payload.amount) && payload.amount < 100000`,
		`payload.lines.exists(l, l.quantity > 5)`,
		`"eu" in channels`,
		`payload.status == "paid" && !("test" in tags)`,
		`payload.metadata.source == "web"`,
		`size(payload.lines) > 0`,
		`payload.customer.email.endsWith("@example.com")`,
		`payload.amount >= 1000`,
	}
	store := &routingStore{}
	for i := range endpoints {
		store.endpoints = append(store.endpoints, webhook.Endpoint{ID: fmt.Sprintf("ep_%d", i), Filter: exprs[i%len(exprs)]})
	}
	p := &Publisher{Store: store, Filters: env}
	msgs := make([]*webhook.Message, 256)
	for i := range msgs {
		msgs[i] = &webhook.Message{AppID: "app_1", EventType: "invoice.paid", Channels: []string{"eu"}, Payload: invoicePayload(i)}
	}
	ctx := context.Background()
	if v, err := p.filter(ctx, msgs[0]); err != nil || len(v.Passed) != endpoints {
		b.Fatalf("%d of %d filters passed (%+v), err %v", len(v.Passed), endpoints, v.Failed, err)
	}
	wall := make([]time.Duration, 0, 1<<16)
	cpu0 := processCPU(b)
	i := 0
	for b.Loop() {
		start := time.Now()
		if _, err := p.filter(ctx, msgs[i%len(msgs)]); err != nil {
			b.Fatal(err)
		}
		wall = append(wall, time.Since(start)/endpoints)
		i++
	}
	cpu := (processCPU(b) - cpu0) / time.Duration(b.N*endpoints)
	slices.Sort(wall)
	b.ReportMetric(float64(wall[len(wall)/2]), "p50-ns/endpoint")
	b.ReportMetric(float64(wall[len(wall)*99/100]), "p99-ns/endpoint")
	b.ReportMetric(float64(cpu), "cpu-ns/endpoint")
}

// BenchmarkPublishSchemaCheck times the schema check of publishing a 2 KiB
// payload of an event type that enforces its schema (a schema describing
// every field): the enforced types from the cache, the compiled schema
// from jsonschema's cache, the validation. Issue 13 sets the bound: 50 µs.
func BenchmarkPublishSchemaCheck(b *testing.B) {
	schema, payload := schema2KiB()
	store := &routingStore{enforced: []webhook.EventType{{Name: "invoice.paid", EnforceSchema: true,
		Schemas: json.RawMessage(`{"1":` + string(schema) + `}`)}}}
	p := &Publisher{Store: store, Schemas: jsonschema.New()}
	msg := &webhook.Message{OrgID: "org_1", AppID: "app_1", EventType: "invoice.paid", Payload: payload}
	ctx := context.Background()
	if err := p.checkSchema(ctx, msg); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(payload)))
	cpu0 := processCPU(b)
	for b.Loop() {
		if err := p.checkSchema(ctx, msg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// schema2KiB returns a 2 KiB invoice payload and a schema describing all
// of it.
func schema2KiB() (schema, payload json.RawMessage) {
	schema = json.RawMessage(`{"type":"object","required":["id","amount","currency","customer","lines"],"properties":{
		"id":{"type":"string","pattern":"^in_[A-Za-z0-9]+$"},"amount":{"type":"integer","minimum":0},
		"currency":{"enum":["EUR","USD","GBP"]},"status":{"type":"string"},"created":{"type":"integer"},
		"customer":{"type":"object","required":["id","email"],"properties":{"id":{"type":"string"},
			"email":{"type":"string","maxLength":254},"name":{"type":"string"},
			"address":{"type":"object","additionalProperties":{"type":"string"}}}},
		"metadata":{"type":"object","additionalProperties":{"type":"string"}},
		"lines":{"type":"array","maxItems":100,"items":{"type":"object","required":["sku","quantity","unitPrice"],
			"properties":{"sku":{"type":"string","pattern":"^SKU-[0-9]{4}$"},"description":{"type":"string"},
				"quantity":{"type":"integer","minimum":1},"unitPrice":{"type":"number","minimum":0}}}}}}`)
	var lines []string
	for j := range 21 {
		lines = append(lines, fmt.Sprintf(`{"sku":"SKU-%04d","description":"line item number %d","quantity":%d,"unitPrice":%d.5}`, j, j, j+1, 100*j))
	}
	payload = json.RawMessage(`{"id":"in_1NqR7Y2eZvKYlo2C","object":"invoice","amount":4250,"currency":"EUR","status":"paid",` +
		`"customer":{"id":"cus_9s6XKzkNRiz8i3","email":"jenny.rosen@example.com","name":"Jenny Rosen","address":{"city":"Berlin","country":"DE","line1":"Unter den Linden 1","postal_code":"10117"}},` +
		`"metadata":{"order_id":"6735","source":"web"},"created":1714665600,` +
		`"lines":[` + strings.Join(lines, ",") + `]}`)
	return schema, payload
}

// processCPU returns the CPU time the process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// gojaTransformer adapts package transform as cmd/hookd does.
type gojaTransformer struct{ engine *transform.Engine }

func (t gojaTransformer) Transform(ctx context.Context, code string, in TransformInput) (TransformOutput, error) {
	p, err := t.engine.Load(ctx, code)
	if err != nil {
		return TransformOutput{}, err
	}
	out, err := t.engine.Run(ctx, p, transform.Input{Method: in.Method, URL: in.URL, Payload: in.Payload,
		Headers: in.Headers, EventType: in.EventType, MsgID: in.MsgID, Variables: in.Variables})
	return TransformOutput{Method: out.Method, URL: out.URL, Payload: out.Payload, Headers: out.Headers, Cancel: out.Cancel}, err
}

// BenchmarkPrepareTransformed times building an attempt's request through
// a typical transformation (rename two fields, add one, set a header), the
// code cached and the VM pooled, then signing the transformed body: what
// an attempt pays for its transformation. Issue 13 sets the bound: 200 µs.
func BenchmarkPrepareTransformed(b *testing.B) {
	const code = `function handler(webhook) {
  const p = webhook.payload;
  p.customerId = p.customer.id;
  delete p.customer;
  p.amountCents = Math.round(p.amount * 100);
  delete p.amount;
  p.source = webhook.variables.source;
  webhook.headers["X-Event-Type"] = webhook.eventType;
  return webhook;
}`
	a := &Attempter{Transform: gojaTransformer{transform.New(transform.Config{PoolSize: 2})}, Headers: signature.WebhookHeaders}
	secret, err := signature.GenerateSecret()
	if err != nil {
		b.Fatal(err)
	}
	at := &attempt{
		msg: webhook.Message{ID: "msg_1", EventType: "invoice.paid", Payload: invoicePayload(1)},
		ep: webhook.Endpoint{ID: "ep_1", URL: "https://example.com/hook", Secret: secret.String(),
			Headers:        map[string]string{"X-Custom": "1"},
			Transformation: webhook.EndpointTransformation{Code: code, Enabled: true, Variables: map[string]string{"source": "hookd"}}},
	}
	ctx := context.Background()
	now := time.Now()
	req, err := a.prepare(ctx, at, now)
	if err != nil || req.Method != "POST" || req.Header.Get("X-Event-Type") != "invoice.paid" {
		b.Fatalf("prepare: %v %v", req, err)
	}
	b.ReportAllocs()
	cpu0 := processCPU(b)
	for b.Loop() {
		if _, err := a.prepare(ctx, at, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}
