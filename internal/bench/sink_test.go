package bench

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// newTestSink starts a sink closed when t ends.
func newTestSink(t *testing.T) *Sink {
	t.Helper()
	s, err := NewSink(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// deliver POSTs a webhook to the sink at path with the id header given
// (name "webhook-id" or "svix-id") and a payload sent at sentAt (zero:
// without sentAt).
func deliver(t *testing.T, s *Sink, path, header, id string, sentAt time.Time) {
	t.Helper()
	body := `{"seq":1}`
	if !sentAt.IsZero() {
		body = fmt.Sprintf(`{"seq":1,"sentAt":%d,"data":{"plan":"pro"}}`, sentAt.UnixNano())
	}
	req, err := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(header, id)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("sink answered %d, want 204", res.StatusCode)
	}
}

func TestSinkCounts(t *testing.T) {
	t.Parallel()
	s := newTestSink(t)
	sent := time.Now().Add(-250 * time.Millisecond)
	start := time.Now()

	// Two endpoints of app a get msg_1; the first gets it twice.
	deliver(t, s, "/a/0", "webhook-id", "msg_1", sent)
	deliver(t, s, "/a/1", "webhook-id", "msg_1", sent)
	deliver(t, s, "/a/0", "webhook-id", "msg_1", sent)
	// svix-id names the message when webhook-id is absent.
	deliver(t, s, "/a/0", "svix-id", "msg_2", sent)
	deliver(t, s, "/a/0", "webhook-id", "msg_2", sent)
	// Without sentAt an arrival counts but has no end-to-end latency.
	deliver(t, s, "/a/1", "webhook-id", "msg_3", time.Time{})
	// Another application's endpoint.
	deliver(t, s, "/b/0", "webhook-id", "msg_1", sent)

	st := s.Stats("/a/")
	if st.Arrivals != 7 || st.Distinct != 4 || st.Duplicates != 2 {
		t.Errorf("Stats(/a/) = %d arrivals, %d distinct, %d duplicates; want 7, 4, 2", st.Arrivals, st.Distinct, st.Duplicates)
	}
	if st.First.Before(start) || st.Last.Before(st.First) || time.Since(st.Last) < 0 {
		t.Errorf("first %v, last %v: not within the test", st.First, st.Last)
	}
	// End to end runs from sentAt to the first arrival of each pair:
	// msg_1 at /a/0 and /a/1, msg_2 at /a/0, msg_1 at /b/0.
	if len(st.EndToEnd) != 4 {
		t.Fatalf("%d end-to-end latencies, want 4 (first arrivals with sentAt)", len(st.EndToEnd))
	}
	for _, d := range st.EndToEnd {
		if d < 250*time.Millisecond || d > 250*time.Millisecond+time.Since(start) {
			t.Errorf("end-to-end latency %v, want 250ms plus the time the test took", d)
		}
	}
	if st := s.Stats("/b/"); st.Distinct != 1 || st.Duplicates != 0 {
		t.Errorf("Stats(/b/) = %d distinct, %d duplicates; want 1, 0", st.Distinct, st.Duplicates)
	}

	s.Reset()
	if st := s.Stats("/"); st.Arrivals != 0 || st.Distinct != 0 || len(st.EndToEnd) != 0 || !st.Last.IsZero() {
		t.Errorf("after Reset: %+v", st)
	}
	// A message seen before Reset is new after it.
	deliver(t, s, "/a/0", "webhook-id", "msg_1", sent)
	if st := s.Stats("/a/"); st.Distinct != 1 || st.Duplicates != 0 {
		t.Errorf("after Reset, msg_1 again: %d distinct, %d duplicates; want 1, 0", st.Distinct, st.Duplicates)
	}
}

func TestSinkDelay(t *testing.T) {
	t.Parallel()
	s := newTestSink(t)
	const delay = 300 * time.Millisecond
	s.SetDelay(delay)
	t0 := time.Now()
	deliver(t, s, "/a/0", "webhook-id", "msg_1", time.Time{})
	if d := time.Since(t0); d < delay {
		t.Errorf("answered after %v, want at least the %v delay", d, delay)
	}
	// The arrival is recorded before the delay, as the receiver saw it.
	if st := s.Stats("/a/"); st.Last.Sub(t0) >= delay {
		t.Errorf("arrival recorded %v after the request started, want before the delay", st.Last.Sub(t0))
	}
}
