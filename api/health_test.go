package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/webhook"
)

// healthJSON is an endpoint's health as the stats route and the
// endpoint-health list answer it (hookd extensions).
type healthJSON struct {
	EndpointID   string     `json:"endpointId"`
	Health       string     `json:"health"`
	FailingSince *time.Time `json:"failingSince"`
	Attempts24h  int64      `json:"attempts24h"`
	Failures24h  int64      `json:"failures24h"`
}

type bucketJSON struct {
	Start    time.Time `json:"start"`
	Attempts int64     `json:"attempts"`
	Failures int64     `json:"failures"`
}

type statsHealthJSON struct {
	healthJSON
	Hourly []bucketJSON `json:"hourly"`
	Daily  []bucketJSON `json:"daily"`
}

// The attempts of the scenario, recorded through RecordAttempt, are counted
// in their endpoint's hour: one ends with a success after failures
// (degraded), two has only failures (failing), three has none (healthy).
func TestEndpointHealthFromRecordedAttempts(t *testing.T) {
	t.Parallel()
	s := setupAttempts(t)
	m3 := s.publish("shop", `{"eventType":"b","payload":{}}`)
	last := s.attempt(s.delivery(m3.ID, s.one.ID).ID, outcome{code: 201})
	three := s.createEndpoint(s.app.ID, map[string]any{"uid": "three"})

	for _, tc := range []struct {
		ep                 string
		health             string
		attempts, failures int64
		failing            bool
	}{
		{s.one.ID, "degraded", 6, 3, false},
		{s.two.ID, "failing", 3, 3, true},
		{three.ID, "healthy", 0, 0, false},
	} {
		st := decode[statsHealthJSON](t, s.do(http.MethodGet, "/api/v1/app/shop/endpoint/"+tc.ep+"/stats", nil).must(t, http.StatusOK))
		if st.Health != tc.health || st.Attempts24h != tc.attempts || st.Failures24h != tc.failures || (st.FailingSince != nil) != tc.failing {
			t.Errorf("health of %s = %+v, want %s, %d attempts, %d failures, failing %v", tc.ep, st.healthJSON, tc.health, tc.attempts, tc.failures, tc.failing)
		}
		checkBuckets(t, st.Hourly, webhook.HealthHours, time.Hour, tc.attempts, tc.failures)
		checkBuckets(t, st.Daily, webhook.HealthDays, 24*time.Hour, tc.attempts, tc.failures)
	}
	if got := decode[statsHealthJSON](t, s.do(http.MethodGet, "/api/v1/app/shop/endpoint/two/stats", nil).must(t, http.StatusOK)); !got.FailingSince.Equal(s.attempts[1].CreatedAt) {
		t.Errorf("two is failing since %v, want its first failed attempt %v", got.FailingSince, s.attempts[1].CreatedAt)
	}

	// The list answers every endpoint, newest first, without buckets; a
	// portal token reads its own application's.
	token := s.portalToken("shop").Token
	for _, key := range []string{s.key, token} {
		list := decode[listJSON[healthJSON]](t, s.doWith(key, http.MethodGet, "/api/v1/app/shop/endpoint-health", nil, nil).must(t, http.StatusOK))
		var got []string
		for _, h := range list.Data {
			got = append(got, h.EndpointID+":"+h.Health)
		}
		want := []string{three.ID + ":healthy", s.two.ID + ":failing", s.one.ID + ":degraded"}
		if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Errorf("endpoint-health = %v, want %v", got, want)
		}
		if one := list.Data[2]; one.Attempts24h != 6 || one.Failures24h != 3 {
			t.Errorf("endpoint-health of one = %+v, want 6 attempts, 3 failures", one)
		}
	}
	// An attempt recorded twice (the same task key, as when a task runs
	// again) is counted once.
	rec := &webhook.AttemptRecord{TaskKey: "m:twice", Transition: webhook.Succeeded, Attempt: last}
	for i := range 2 {
		rec.Attempt.ID = ""
		recorded, err := s.db.RecordAttempt(context.Background(), rec)
		if err != nil || recorded != (i == 0) {
			t.Fatalf("recording the attempt, time %d: recorded %v, %v", i+1, recorded, err)
		}
	}
	if st := decode[statsHealthJSON](t, s.do(http.MethodGet, "/api/v1/app/shop/endpoint/one/stats", nil).must(t, http.StatusOK)); st.Attempts24h != 7 {
		t.Errorf("after one more attempt recorded twice, one has %d attempts, want 7", st.Attempts24h)
	}

	other := s.createApp(map[string]any{"uid": "other"})
	if r := s.doWith(token, http.MethodGet, "/api/v1/app/"+other.ID+"/endpoint-health", nil, nil); r.status != http.StatusNotFound {
		t.Errorf("a portal token on another application's endpoint-health = %d, want 404", r.status)
	}
}

// checkBuckets checks n buckets, oldest first, step apart, ending with the
// current one, that add up to attempts and failures.
func checkBuckets(t *testing.T, bs []bucketJSON, n int, step time.Duration, attempts, failures int64) {
	t.Helper()
	if len(bs) != n {
		t.Fatalf("%d buckets, want %d", len(bs), n)
	}
	var a, f int64
	for i, b := range bs {
		if i > 0 && b.Start.Sub(bs[i-1].Start) != step {
			t.Errorf("bucket %d starts at %v, %v after the one before, want %v", i, b.Start, b.Start.Sub(bs[i-1].Start), step)
		}
		a, f = a+b.Attempts, f+b.Failures
	}
	if now := time.Now(); now.Before(bs[n-1].Start) || !now.Before(bs[n-1].Start.Add(step)) {
		t.Errorf("the last bucket starts at %v, which does not hold now (%v)", bs[n-1].Start, now)
	}
	if a != attempts || f != failures {
		t.Errorf("buckets add up to %d attempts, %d failures, want %d, %d", a, f, attempts, failures)
	}
}

// failingJSON is one delivery of GET /app/{app}/failing.
type failingJSON struct {
	EndpointID  string     `json:"endpointId"`
	ID          string     `json:"id"`
	EventType   string     `json:"eventType"`
	Status      int        `json:"status"`
	NextAttempt *time.Time `json:"nextAttempt"`
}

// What is failing now in the scenario: m1 retrying to two, m2 out of
// retries to one and m0 to two; newest message first.
func TestFailingDeliveries(t *testing.T) {
	t.Parallel()
	s := setupAttempts(t)
	type page struct {
		Data []failingJSON `json:"data"`
		Done bool          `json:"done"`
	}
	got := func(query, key string) (out []string, done bool) {
		t.Helper()
		r := s.doWith(key, http.MethodGet, "/api/v1/app/shop/failing"+query, nil, nil).must(t, http.StatusOK)
		mustKeys(t, r.body, "data", "done")
		p := decode[page](t, r)
		for _, d := range p.Data {
			out = append(out, fmt.Sprintf("%s>%s:%d", d.ID, d.EndpointID, d.Status))
			if (d.Status == 3) != (d.NextAttempt != nil) {
				t.Errorf("%s to %s: status %d, next attempt %v", d.ID, d.EndpointID, d.Status, d.NextAttempt)
			}
		}
		return out, p.Done
	}
	m := func(i int) string { return s.msgs[i].ID }
	all := []string{m(2) + ">" + s.one.ID + ":2", m(1) + ">" + s.two.ID + ":3", m(0) + ">" + s.two.ID + ":2"}
	for _, key := range []string{s.key, s.portalToken("shop").Token} {
		if out, done := got("", key); !slices.Equal(out, all) || !done {
			t.Errorf("failing = %v (done %v), want %v", out, done, all)
		}
	}
	// limit counts per status: the newest retrying and the newest failed.
	if out, done := got("?limit=1", s.key); !slices.Equal(out, all[:2]) || done {
		t.Errorf("failing?limit=1 = %v (done %v), want %v, not done", out, done, all[:2])
	}
	mustInvalid(t, s.do(http.MethodGet, "/api/v1/app/shop/failing?limit=0", nil), "query", "limit")
	// The payloads are left out ({"n": 0} and so on), as with_content=false does.
	if r := s.do(http.MethodGet, "/api/v1/app/shop/failing", nil).must(t, http.StatusOK); strings.Contains(string(r.body), `"n":`) {
		t.Errorf("failing answers payloads: %s", r.body)
	}
}
