package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/secretbox"
	"github.com/hookd/hookd/pkg/webhook"
)

// The benchmarks below time the three statements of the delivery hot path
// (publish, load, record) against a fresh database each. The parallel
// variants run benchParallelism goroutines per CPU, as the API handlers and
// worker goroutines do; their ns/op is wall time per operation, the inverse
// of throughput.

// benchParallelism is the RunParallel multiplier of the parallel variants.
const benchParallelism = 4

// benchPayload is a small, typical event body.
const benchPayload = `{"type":"invoice.paid","data":{"id":"in_1P2q3R4s5T","customer":"cus_9s8r7q","amount":4200,"currency":"eur","lines":[{"sku":"pro-monthly","qty":1}]},"sentAt":1700000000000000000}`

// benchStore is a fresh database with an organisation whose event types
// "bench.event" and "other.event" exist, so endpoints may filter on them.
type benchStore struct {
	ctx context.Context
	db  *postgres.DB
	org *webhook.Organisation
}

func newBenchStore(b *testing.B) *benchStore {
	b.Helper()
	box, err := secretbox.New("bench-main-secret") // secrets sealed at rest, as configured in production
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	db := postgrestest.NewDBWith(b, postgres.Options{Box: box, MaxOpenConns: 16})
	org, err := db.EnsureOrg(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"bench.event", "other.event"} {
		if err := db.CreateEventType(ctx, &webhook.EventType{OrgID: org.ID, Name: name}); err != nil {
			b.Fatal(err)
		}
	}
	return &benchStore{ctx: ctx, db: db, org: org}
}

// app creates an application whose bench.event messages on channel "eu"
// match exactly matching endpoints (open ones, ones filtering on the type,
// ones on the channel), next to two that never match (another event type,
// disabled), so the fan-out query has something to filter out.
func (s *benchStore) app(b *testing.B, matching int) *webhook.Application {
	b.Helper()
	app := &webhook.Application{OrgID: s.org.ID, Name: fmt.Sprintf("bench-%d", matching)}
	if err := s.db.CreateApp(s.ctx, app); err != nil {
		b.Fatal(err)
	}
	edits := []func(*webhook.Endpoint){
		func(*webhook.Endpoint) {},
		func(ep *webhook.Endpoint) { ep.FilterTypes = []string{"bench.event", "other.event"} },
		func(ep *webhook.Endpoint) { ep.Channels = []string{"us", "eu"} },
	}
	for i := range matching {
		s.endpoint(b, app, edits[i%len(edits)])
	}
	s.endpoint(b, app, func(ep *webhook.Endpoint) { ep.FilterTypes = []string{"other.event"} })
	s.endpoint(b, app, func(ep *webhook.Endpoint) { ep.Disabled = true })
	return app
}

func (s *benchStore) endpoint(b *testing.B, app *webhook.Application, edit func(*webhook.Endpoint)) {
	b.Helper()
	ep := &webhook.Endpoint{
		OrgID: app.OrgID, AppID: app.ID, URL: "https://receiver.example.com/hook", Version: 1,
		Secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", Headers: map[string]string{"X-Tenant": "t1"},
	}
	edit(ep)
	if err := s.db.CreateEndpoint(s.ctx, ep); err != nil {
		b.Fatal(err)
	}
}

// publish stores one bench.event message of app and checks that it fanned
// out to want deliveries.
func (s *benchStore) publish(app *webhook.Application, want int) ([]webhook.Delivery, error) {
	msg := &webhook.Message{
		OrgID: app.OrgID, AppID: app.ID, EventType: "bench.event", Channels: []string{"eu"},
		Payload: json.RawMessage(benchPayload), RetentionDays: webhook.DefaultRetentionDays,
	}
	ds, err := s.db.CreateMessage(s.ctx, msg, "")
	if err != nil {
		return nil, err
	}
	if len(ds) != want {
		return nil, fmt.Errorf("message fanned out to %d deliveries, want %d", len(ds), want)
	}
	return ds, nil
}

func (s *benchStore) mustPublish(b *testing.B, app *webhook.Application, want int) []webhook.Delivery {
	b.Helper()
	ds, err := s.publish(app, want)
	if err != nil {
		b.Fatal(err)
	}
	return ds
}

func BenchmarkCreateMessage(b *testing.B) {
	s := newBenchStore(b)
	for _, n := range []int{1, 10} {
		app := s.app(b, n)
		b.Run(fmt.Sprintf("endpoints=%d", n), func(b *testing.B) {
			b.Run("serial", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					s.mustPublish(b, app, n)
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism(benchParallelism)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := s.publish(app, n); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}

func BenchmarkLoadDelivery(b *testing.B) {
	s := newBenchStore(b)
	app := s.app(b, 1)
	id := s.mustPublish(b, app, 1)[0].ID
	job, err := s.db.LoadDelivery(s.ctx, id)
	if err != nil || string(job.Message.Payload) != benchPayload || job.Endpoint.Secret == "" {
		b.Fatalf("LoadDelivery = %+v, %v", job, err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.db.LoadDelivery(s.ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(benchParallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.db.LoadDelivery(s.ctx, id); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkRecordAttempt records failed scheduled attempts one after the
// other on a delivery, each moving it to its next attempt: every operation
// inserts an attempt and updates the delivery. Afterwards the delivery must
// count exactly the attempts recorded.
func BenchmarkRecordAttempt(b *testing.B) {
	s := newBenchStore(b)
	app := s.app(b, 1)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		d := s.mustPublish(b, app, 1)[0]
		n := 0
		for b.Loop() {
			n++
			if err := s.recordAttempt(d, n); err != nil {
				b.Fatal(err)
			}
		}
		s.checkRoundAttempts(b, d, n)
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(benchParallelism)
		// One delivery per goroutine: attempts of one delivery are sequential.
		ds := make([]webhook.Delivery, benchParallelism*runtime.GOMAXPROCS(0))
		counts := make([]int, len(ds))
		for i := range ds {
			ds[i] = s.mustPublish(b, app, 1)[0]
		}
		var next atomic.Int32
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1)) - 1
			for pb.Next() {
				counts[i]++
				if err := s.recordAttempt(ds[i], counts[i]); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.StopTimer()
		for i := range ds {
			s.checkRoundAttempts(b, ds[i], counts[i])
		}
	})
}

// recordAttempt records the number-th scheduled attempt of d, round 0, as
// a 500 with a retry due in a minute; it fails unless the attempt was new.
func (s *benchStore) recordAttempt(d webhook.Delivery, number int) error {
	next := time.Now().Add(time.Minute)
	rec := &webhook.AttemptRecord{
		Attempt: webhook.Attempt{
			DeliveryID: d.ID, OrgID: d.OrgID, AppID: d.AppID, MessageID: d.MessageID, EndpointID: d.EndpointID,
			URL: "https://receiver.example.com/hook", Status: webhook.StatusFail, StatusCode: 500,
			Response: `{"error":"upstream unavailable"}`, DurationMs: 12, TriggerType: webhook.TriggerScheduled,
		},
		TaskKey: fmt.Sprintf("s:0:%d", number), Round: 0, Number: number,
		Transition: webhook.Retry, NextAttemptAt: &next,
	}
	recorded, err := s.db.RecordAttempt(s.ctx, rec)
	if err == nil && !recorded {
		err = fmt.Errorf("attempt %d of %s was not recorded", number, d.ID)
	}
	return err
}

// checkRoundAttempts fails b unless d went through exactly n attempts.
func (s *benchStore) checkRoundAttempts(b *testing.B, d webhook.Delivery, n int) {
	b.Helper()
	job, err := s.db.LoadDelivery(s.ctx, d.ID)
	if err != nil {
		b.Fatal(err)
	}
	if got := job.Delivery.RoundAttempts; got != n {
		b.Fatalf("delivery %s counts %d attempts, %d were recorded", d.ID, got, n)
	}
}
