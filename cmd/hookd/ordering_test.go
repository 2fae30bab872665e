package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"
)

// orderReceiver fails each message's first attempts (0 to 2 of them, at
// random) and checks, per ordering key, that no message arrives before
// every earlier one of its key succeeded.
type orderReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	rnd      *rand.Rand
	failures map[string]int // planned failures left, by key/seq
	done     map[string]map[int]bool
	arrivals int
	bad      []string
}

func newOrderReceiver(t *testing.T, seed uint64) *orderReceiver {
	r := &orderReceiver{rnd: rand.New(rand.NewPCG(seed, 2)), failures: map[string]int{}, done: map[string]map[int]bool{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var m struct {
			Key string `json:"key"`
			Seq int    `json:"seq"`
		}
		if json.Unmarshal(body, &m) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		time.Sleep(time.Millisecond) // a receiver takes a little time
		r.mu.Lock()
		defer r.mu.Unlock()
		r.arrivals++
		if r.done[m.Key] == nil {
			r.done[m.Key] = map[int]bool{}
		}
		for j := 0; j < m.Seq; j++ {
			if !r.done[m.Key][j] {
				r.bad = append(r.bad, fmt.Sprintf("key %s: message %d arrived before message %d succeeded", m.Key, m.Seq, j))
				break
			}
		}
		id := fmt.Sprint(m.Key, "/", m.Seq)
		left, planned := r.failures[id]
		if !planned {
			left = r.rnd.IntN(3) * r.rnd.IntN(2) // about a third of the messages fail once or twice
		}
		if left > 0 {
			r.failures[id] = left - 1
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		r.failures[id] = 0
		r.done[m.Key][m.Seq] = true
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *orderReceiver) state() (succeeded, arrivals int, bad []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.done {
		succeeded += len(d)
	}
	return succeeded, r.arrivals, append([]string(nil), r.bad...)
}

// TestOrderingSurvivesAWorkerKill publishes 10,000 messages on 100 ordering
// keys to a receiver that fails at random, kills the worker with SIGKILL
// mid-way and starts another: every message arrives, and within each key
// none arrives before the one published before it succeeded.
func TestOrderingSurvivesAWorkerKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	t.Parallel()
	const keys, perKey = 100, 100
	key := "order_test_admin_key_" + hex.EncodeToString([]byte("0123456789"))
	env := crashEnv(t, key)
	env["HOOKD_RETRY_SCHEDULE"] = "100ms,100ms,100ms"
	env["HOOKD_WORKER_CONCURRENCY"] = "100"
	// 100 publishers at full speed go past the per-key API rate limit
	// (1000/s) on an idle machine; the limit is not what this tests.
	env["HOOKD_API_RATE_LIMIT"] = "0"
	base := "http://" + env["HOOKD_LISTEN_ADDRESS"]
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rcv := newOrderReceiver(t, seed)

	startHookd(t, "api", env)
	prepareApp(t, base, key, rcv.URL)
	w1 := startHookd(t, "worker", env)
	var wg sync.WaitGroup
	for k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			okey := fmt.Sprintf("customer-%03d", k)
			for i := range perKey {
				apiCall(t, base, key, http.MethodPost, "/api/v1/app/crash/msg", map[string]any{
					"eventType": "order.updated", "orderingKey": okey, "payload": map[string]any{"key": okey, "seq": i},
				}, http.StatusAccepted)
			}
		}()
	}
	// Kill the worker once a fair share is through, keys' heads in flight.
	waitUntil(t, 120*time.Second, "deliveries under way", func() bool { ok, _, _ := rcv.state(); return ok >= 2000 })
	if err := w1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = w1.wait()
	killedAt, _, _ := rcv.state()
	startHookd(t, "worker", env)
	wg.Wait()

	waitUntil(t, 300*time.Second, "every message to succeed", func() bool { ok, _, _ := rcv.state(); return ok == keys*perKey })
	ok, arrivals, bad := rcv.state()
	t.Logf("killed after %d successes; %d messages succeeded in %d requests", killedAt, ok, arrivals)
	for i, v := range bad {
		if i == 10 {
			t.Errorf("... and %d more", len(bad)-10)
			break
		}
		t.Error(v)
	}
	waitUntil(t, 30*time.Second, "every delivery recorded", func() bool {
		succeeded, total, _, _ := deliveryCounts(t, env["HOOKD_DB_DSN"])
		return total == keys*perKey && succeeded == total
	})
}
