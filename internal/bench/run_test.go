package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// fakeHookd is just enough of hookd's API for a Runner: it creates apps and
// endpoints, and delivers each published message to the app's endpoints
// before answering, as many times as copies says (0 loses it, 2 duplicates
// it). A message for which reject is true is refused with 503.
type fakeHookd struct {
	t      *testing.T
	copies func(seq int) int
	reject func(seq int) bool
	// late delivers one more copy of the message after a delay, as a
	// retry that should not have happened would.
	late func(seq int) time.Duration

	mu        sync.Mutex
	endpoints map[string][]string // app uid -> endpoint URLs
	wg        sync.WaitGroup      // late deliveries
}

const fakeKey = "fake-key"

func newFakeHookd(t *testing.T, f *fakeHookd) *httptest.Server {
	t.Helper()
	f.t, f.endpoints = t, map[string][]string{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/app", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("POST /api/v1/app/{uid}/endpoint", func(w http.ResponseWriter, r *http.Request) {
		var ep struct{ URL string }
		if err := json.NewDecoder(r.Body).Decode(&ep); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.endpoints[r.PathValue("uid")] = append(f.endpoints[r.PathValue("uid")], ep.URL)
		f.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("POST /api/v1/app/{uid}/msg", f.publish)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+fakeKey {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { srv.Close(); f.wg.Wait() })
	return srv
}

func (f *fakeHookd) publish(w http.ResponseWriter, r *http.Request) {
	var msg struct {
		EventType string          `json:"eventType"`
		Payload   json.RawMessage `json:"payload"`
	}
	var p struct {
		Seq int `json:"seq"`
	}
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil || json.Unmarshal(msg.Payload, &p) != nil {
		http.Error(w, "bad message", http.StatusBadRequest)
		return
	}
	if f.reject != nil && f.reject(p.Seq) {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	f.mu.Lock()
	urls := f.endpoints[r.PathValue("uid")]
	f.mu.Unlock()
	id := fmt.Sprintf("msg_%d", p.Seq)
	n := 1
	if f.copies != nil {
		n = f.copies(p.Seq)
	}
	for range n {
		for _, u := range urls {
			f.send(u, id, msg.Payload)
		}
	}
	if f.late != nil {
		if d := f.late(p.Seq); d > 0 {
			f.wg.Add(1)
			time.AfterFunc(d, func() {
				defer f.wg.Done()
				f.send(urls[0], id, msg.Payload)
			})
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

// send POSTs one delivery as hookd's worker would.
func (f *fakeHookd) send(url, id string, payload []byte) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		f.t.Error(err)
		return
	}
	req.Header.Set("webhook-id", id)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Error(err)
		return
	}
	res.Body.Close()
}

// runFake runs sc against a fake hookd behaving as f.
func runFake(t *testing.T, f *fakeHookd, sc Scenario) Result {
	t.Helper()
	srv := newFakeHookd(t, f)
	sink := newTestSink(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := NewRunner(srv.URL, fakeKey, sink, NewMeter(nil)).Run(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRunCountsLossesAndDuplicates(t *testing.T) {
	t.Parallel()
	f := &fakeHookd{
		copies: func(seq int) int {
			switch seq {
			case 3: // lost
				return 0
			case 5: // delivered twice
				return 2
			}
			return 1
		},
		reject: func(seq int) bool { return seq == 7 },
	}
	res := runFake(t, f, Scenario{Name: "faulty", Endpoints: 3, Messages: 20, Concurrency: 4, Deadline: 300 * time.Millisecond})

	// 19 of 20 messages accepted, each for 3 endpoints; message 3 reached
	// none of them, message 5 reached each twice.
	if res.Accepted != 19 || len(res.PublishErrors) != 1 || res.PublishErrors["503"] != 1 {
		t.Errorf("accepted %d, publish errors %v; want 19 and one 503", res.Accepted, res.PublishErrors)
	}
	if res.Expected != 57 || res.Delivered != 54 || res.Missing != 3 || res.Duplicates != 3 {
		t.Errorf("expected %d, delivered %d, missing %d, duplicates %d; want 57, 54, 3, 3",
			res.Expected, res.Delivered, res.Missing, res.Duplicates)
	}
	if res.Publish.Count != 19 || res.EndToEnd.Count != 54 {
		t.Errorf("%d publish latencies, %d end-to-end latencies; want 19 and 54", res.Publish.Count, res.EndToEnd.Count)
	}
	if res.Scenario != "faulty" || res.Endpoints != 3 || res.Messages != 20 || res.Concurrency != 4 {
		t.Errorf("result does not describe the scenario: %+v", res)
	}
}

func TestRunCleanRun(t *testing.T) {
	t.Parallel()
	res := runFake(t, &fakeHookd{}, Scenario{Name: "clean", Endpoints: 2, Messages: 50, Concurrency: 8, Deadline: 10 * time.Second})
	if res.Accepted != 50 || res.Expected != 100 || res.Delivered != 100 || res.Missing != 0 || res.Duplicates != 0 || len(res.PublishErrors) != 0 {
		t.Errorf("clean run: %+v", res)
	}
	if res.PublishPerSec <= 0 || res.DeliverPerSec <= 0 || res.Seconds <= 0 || res.EndToEnd.Max <= 0 {
		t.Errorf("clean run measured no rates or latencies: %+v", res)
	}
	// Everything arrived before the last publish returned: the run does
	// not wait out its deadline.
	if res.Seconds > 5 {
		t.Errorf("clean run took %.1fs, the deadline is 10s: it waited for nothing", res.Seconds)
	}
}

// A duplicate arriving after every delivery did is seen only with Settle.
func TestRunSettleSeesLateDuplicates(t *testing.T) {
	t.Parallel()
	f := &fakeHookd{late: func(seq int) time.Duration {
		if seq == 0 {
			return 100 * time.Millisecond
		}
		return 0
	}}
	res := runFake(t, f, Scenario{Name: "late", Endpoints: 1, Messages: 5, Concurrency: 1, Deadline: 5 * time.Second, Settle: 500 * time.Millisecond})
	if res.Duplicates != 1 || res.Missing != 0 {
		t.Errorf("duplicates %d, missing %d; want 1 late duplicate and nothing missing", res.Duplicates, res.Missing)
	}
}
