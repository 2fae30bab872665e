package delivery

import (
	"errors"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/retry"
	"github.com/hookd/hookd/pkg/webhook"
)

func TestDecide(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	schedule := retry.Schedule{5 * time.Second, time.Minute} // 3 attempts
	noJitter := func() float64 { return 0.5 }                // Jitter's midpoint: no change
	scheduled := func(n int) Ref { return Ref{DeliveryID: "dlv_1", Number: n} }
	manual := Ref{DeliveryID: "dlv_1", Manual: "x"}
	refused := errors.New("connection refused")

	tests := []struct {
		name string
		o    Outcome
		ref  Ref
		want Decision
	}{
		// Success ends the delivery, however the attempt came about.
		{"2xx", Outcome{StatusCode: 204}, scheduled(1), Decision{Transition: webhook.Succeeded}},
		{"2xx on the last attempt", Outcome{StatusCode: 200}, scheduled(3), Decision{Transition: webhook.Succeeded}},
		{"2xx manual", Outcome{StatusCode: 200}, manual, Decision{Transition: webhook.Succeeded}},
		{"2xx whose body could not be read", Outcome{StatusCode: 200, Err: refused}, scheduled(3), Decision{Transition: webhook.Exhausted}},

		// Failed scheduled attempts follow the schedule.
		{"first failure", Outcome{StatusCode: 500}, scheduled(1), Decision{webhook.Retry, now.Add(5 * time.Second)}},
		{"second failure", Outcome{Err: refused}, scheduled(2), Decision{webhook.Retry, now.Add(time.Minute)}},
		{"last attempt failed", Outcome{StatusCode: 500}, scheduled(3), Decision{Transition: webhook.Exhausted}},
		{"3xx is a failure", Outcome{StatusCode: 302}, scheduled(1), Decision{webhook.Retry, now.Add(5 * time.Second)}},
		{"Retry-After on 429, within the clamp", Outcome{StatusCode: 429, RetryAfter: "8"}, scheduled(1), Decision{webhook.Retry, now.Add(8 * time.Second)}},
		{"Retry-After on 503, clamped up", Outcome{StatusCode: 503, RetryAfter: "1"}, scheduled(1), Decision{webhook.Retry, now.Add(5 * time.Second)}},
		{"Retry-After on 500 is ignored", Outcome{StatusCode: 500, RetryAfter: "30"}, scheduled(1), Decision{webhook.Retry, now.Add(5 * time.Second)}},

		// 410 Gone stops at once; a manual 410 leaves the delivery alone.
		{"410 scheduled", Outcome{StatusCode: 410}, scheduled(1), Decision{Transition: webhook.EndpointGone}},
		{"410 manual", Outcome{StatusCode: 410}, manual, Decision{Transition: webhook.ManualFailed}},

		// A failed manual attempt never touches the schedule.
		{"manual failure", Outcome{StatusCode: 500}, manual, Decision{Transition: webhook.ManualFailed}},
		{"manual not sent", Outcome{NotSent: true}, manual, Decision{Transition: webhook.ManualFailed}},

		// No request possible: the delivery fails for good.
		{"not sent", Outcome{NotSent: true}, scheduled(1), Decision{Transition: webhook.Exhausted}},

		// Cancelled by the transformation: no retry, whatever is left; a
		// cancelled resend leaves the delivery alone.
		{"cancelled", Outcome{Cancelled: true}, scheduled(1), Decision{Transition: webhook.Cancelled}},
		{"cancelled on the last attempt", Outcome{Cancelled: true}, scheduled(3), Decision{Transition: webhook.Cancelled}},
		{"cancelled manual", Outcome{Cancelled: true}, manual, Decision{Transition: webhook.ManualFailed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(tt.o, tt.ref, schedule, now, noJitter)
			if got != tt.want {
				t.Errorf("Decide = %v at %v, want %v at %v", got.Transition, got.NextAttemptAt, tt.want.Transition, tt.want.NextAttemptAt)
			}
		})
	}
	if got := Decide(Outcome{StatusCode: 500}, scheduled(1), retry.Schedule{}, now, noJitter); got.Transition != webhook.Exhausted {
		t.Errorf("a failure with an empty schedule: %v, want exhausted", got.Transition)
	}
}

func TestRefNumbering(t *testing.T) {
	next := time.Now()
	d := &webhook.Delivery{ID: "dlv_1", Round: 2, RoundAttempts: 3, NextAttemptAt: &next}
	r := FirstRef(d)
	if r != (Ref{DeliveryID: "dlv_1", Round: 2, Number: 4}) || r.Key() != "s:2:4" || r.ID() != "dlv_1:s:2:4" {
		t.Fatalf("FirstRef = %+v (key %s)", r, r.Key())
	}
	if !r.isCurrent(d) {
		t.Error("the delivery's next attempt is not current")
	}
	if n := r.Next(); n.Number != 5 || n.Round != 2 || n.isCurrent(d) {
		t.Errorf("Next = %+v, current %v", n, n.isCurrent(d))
	}
	if old := (Ref{DeliveryID: "dlv_1", Round: 1, Number: 4}); old.isCurrent(d) {
		t.Error("an attempt of an earlier round is current")
	}
	done := &webhook.Delivery{ID: "dlv_1", Round: 2, RoundAttempts: 3}
	if r.isCurrent(done) {
		t.Error("an attempt of a finished delivery is current")
	}
	m := ManualRef("dlv_1")
	if !m.IsManual() || !m.isCurrent(done) || m.Key() != "m:"+m.Manual || m.Number != 0 {
		t.Errorf("ManualRef = %+v", m)
	}
	if ManualRef("dlv_1").Manual == m.Manual {
		t.Error("two manual attempts share an id")
	}
}
