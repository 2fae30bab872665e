package delivery_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hookd/hookd/pkg/delivery"
	"github.com/hookd/hookd/pkg/delivery/memqueue"
	"github.com/hookd/hookd/pkg/egress"
	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/secretbox"
	"github.com/hookd/hookd/pkg/signature"
	"github.com/hookd/hookd/pkg/webhook"
)

// deliverBench is what BenchmarkAttempt needs: a fresh database with one
// endpoint at a local receiver, and an Attempter as the worker builds it.
type deliverBench struct {
	ctx       context.Context
	db        *postgres.DB
	app       *webhook.Application
	attempter *delivery.Attempter
	receiver  *benchReceiver
}

func newDeliverBench(b *testing.B) *deliverBench {
	b.Helper()
	ctx := context.Background()
	box, err := secretbox.New("bench-main-secret")
	if err != nil {
		b.Fatal(err)
	}
	db := postgrestest.NewDBWith(b, postgres.Options{Box: box, MaxOpenConns: 16})
	org, err := db.EnsureOrg(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	app := &webhook.Application{OrgID: org.ID, Name: "bench"}
	if err := db.CreateApp(ctx, app); err != nil {
		b.Fatal(err)
	}
	rcv := newBenchReceiver(b)
	secret, err := signature.GenerateSecret()
	if err != nil {
		b.Fatal(err)
	}
	ep := &webhook.Endpoint{OrgID: org.ID, AppID: app.ID, URL: rcv.URL + "/hook", Version: 1, Secret: secret.String()}
	if err := db.CreateEndpoint(ctx, ep); err != nil {
		b.Fatal(err)
	}
	return &deliverBench{
		ctx: ctx, db: db, app: app, receiver: rcv,
		attempter: &delivery.Attempter{
			// Only a failed attempt queues the next; the queue stays empty
			// unless the receiver misbehaves.
			Store: db, Queue: memqueue.New(), Headers: signature.WebhookHeaders,
			Send: egress.New(egress.Config{AllowedSubnets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}),
		},
	}
}

// jobs publishes n messages and returns the first-attempt job of each
// one's delivery, as the publisher queues them: with the message inlined
// (fresh), or naming the delivery alone, as a reconciled or large-payload
// first attempt does.
func (f *deliverBench) jobs(b *testing.B, n int, fresh bool) []delivery.Job {
	b.Helper()
	jobs := make([]delivery.Job, n)
	for i := range jobs {
		msg := &webhook.Message{
			OrgID: f.app.OrgID, AppID: f.app.ID, EventType: "invoice.paid",
			Payload:       json.RawMessage(`{"type":"invoice.paid","data":{"id":"in_1P2q3R4s5T","amount":4200,"currency":"eur"}}`),
			RetentionDays: webhook.DefaultRetentionDays,
		}
		ds, err := f.db.CreateMessage(f.ctx, msg, "")
		if err != nil || len(ds) != 1 {
			b.Fatalf("CreateMessage = %d deliveries, %v", len(ds), err)
		}
		job := delivery.JobsFor(msg, ds)[0]
		if !fresh {
			job.Fresh = nil
		}
		jobs[i] = job
	}
	return jobs
}

// BenchmarkAttempt is one delivery attempt end to end: get the delivery
// (from the job and the endpoint cache when fresh, else from Postgres),
// sign, POST to a receiver on 127.0.0.1 answering 204, and record the
// attempt. Afterwards the receiver must have seen each message exactly
// once.
func BenchmarkAttempt(b *testing.B) {
	f := newDeliverBench(b)
	for _, path := range []struct {
		name  string
		fresh bool
	}{{"fresh", true}, {"loaded", false}} {
		b.Run(path.name, func(b *testing.B) {
			b.Run("serial", func(b *testing.B) {
				jobs := f.jobs(b, b.N, path.fresh)
				f.receiver.reset()
				b.ReportAllocs()
				b.ResetTimer()
				for _, job := range jobs {
					if _, err := f.attempter.Attempt(f.ctx, job); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				f.receiver.check(b, b.N)
			})
			b.Run("parallel", func(b *testing.B) {
				jobs := f.jobs(b, b.N, path.fresh)
				f.receiver.reset()
				b.ReportAllocs()
				b.SetParallelism(4)
				var next atomic.Int64
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := f.attempter.Attempt(f.ctx, jobs[next.Add(1)-1]); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.StopTimer()
				f.receiver.check(b, b.N)
			})
		})
	}
}

// benchReceiver answers 204 and counts arrivals per webhook-id.
type benchReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string]int
}

func newBenchReceiver(b *testing.B) *benchReceiver {
	b.Helper()
	r := &benchReceiver{seen: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.seen[req.Header.Get("webhook-id")]++
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(r.Close)
	return r
}

func (r *benchReceiver) reset() {
	r.mu.Lock()
	r.seen = map[string]int{}
	r.mu.Unlock()
}

// check fails b unless n distinct messages arrived, each once.
func (r *benchReceiver) check(b *testing.B, n int) {
	b.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) != n {
		b.Fatalf("receiver saw %d distinct messages, want %d", len(r.seen), n)
	}
	for id, k := range r.seen {
		if k != 1 {
			b.Fatalf("message %s arrived %d times", id, k)
		}
	}
}
