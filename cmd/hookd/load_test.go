//go:build cluster

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// loadReceiver answers 200 to every webhook after delay and records, per
// message number (the payload's "n"), how often and when it first arrived.
type loadReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	got   map[int]int
	first map[int]time.Time
}

func newLoadReceiver(t *testing.T, delay time.Duration) *loadReceiver {
	t.Helper()
	r := &loadReceiver{got: map[int]int{}, first: map[int]time.Time{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body struct {
			N *int `json:"n"`
		}
		raw, _ := io.ReadAll(req.Body)
		if err := json.Unmarshal(raw, &body); err != nil || body.N == nil {
			http.Error(w, "no n", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		if r.got[*body.N] == 0 {
			r.first[*body.N] = time.Now()
		}
		r.got[*body.N]++
		r.mu.Unlock()
		time.Sleep(delay)
	}))
	t.Cleanup(r.Close)
	return r
}

// counts returns how many distinct messages arrived and how many requests.
func (r *loadReceiver) counts() (distinct, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.got {
		total += c
	}
	return len(r.got), total
}

// loadPublisher publishes messages through one or more APIs, as a client
// behind a load balancer would: a call that fails (no answer, or 5xx) is
// sent again, to the next API, with the same eventId, and a 409 for that
// eventId then means the first call stored it.
type loadPublisher struct {
	key    string
	bases  []string // the APIs' base URLs
	client *http.Client

	mu        sync.Mutex
	calls     []publishCall
	stored    map[int]time.Time // message number → when its first call started
	gaveUp    []int
	published int // messages whose publishing ended, stored or not
}

// publishCall is one HTTP call of a publish.
type publishCall struct {
	at     time.Time
	took   time.Duration
	status int // 0: no answer (connection refused or reset)
}

func newLoadPublisher(key string, bases ...string) *loadPublisher {
	return &loadPublisher{key: key, bases: bases, stored: map[int]time.Time{},
		client: &http.Client{Timeout: 30 * time.Second}}
}

// run publishes one message per entry of apps (message n to app apps[n])
// at rate messages per second, each in its own goroutine, and returns once
// every message is stored or given up (after a minute of failures).
func (p *loadPublisher) run(apps []string, rate float64) {
	var wg sync.WaitGroup
	start := time.Now()
	for n, app := range apps {
		if wait := time.Until(start.Add(time.Duration(float64(n) / rate * float64(time.Second)))); wait > 0 {
			time.Sleep(wait)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.publish(n, app)
		}()
	}
	wg.Wait()
}

// publish publishes message n to app until it is stored, for a minute at
// most.
func (p *loadPublisher) publish(n int, app string) {
	began := time.Now()
	body, _ := json.Marshal(map[string]any{"eventType": "load.test", "eventId": fmt.Sprintf("m%d", n), "payload": map[string]any{"n": n}})
	for try := 0; time.Since(began) < time.Minute; try++ {
		base := p.bases[(n+try)%len(p.bases)]
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/app/"+app+"/msg", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+p.key)
		req.Header.Set("Content-Type", "application/json")
		at := time.Now()
		status := 0
		if res, err := p.client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			status = res.StatusCode
		}
		p.mu.Lock()
		p.calls = append(p.calls, publishCall{at: at, took: time.Since(at), status: status})
		stored := status == http.StatusAccepted || (status == http.StatusConflict && try > 0)
		if stored {
			p.stored[n] = began
			p.published++
		}
		p.mu.Unlock()
		if stored {
			return
		}
		if status != 0 && status < 500 {
			break // refused for good
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.mu.Lock()
	p.gaveUp = append(p.gaveUp, n)
	p.published++
	p.mu.Unlock()
}

// progress returns how many messages are done publishing.
func (p *loadPublisher) progress() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.published
}

// publishStats sums up the calls of a publisher.
type publishStats struct {
	calls, serverErrors, noAnswer int
	// serverErrorSpan is from the first 5xx answer to the last (0: none).
	serverErrorSpan time.Duration
	p50, p99, max   time.Duration
}

func (p *loadPublisher) stats() publishStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := publishStats{calls: len(p.calls)}
	var first, last time.Time
	var took []time.Duration
	for _, c := range p.calls {
		took = append(took, c.took)
		switch {
		case c.status == 0:
			s.noAnswer++
		case c.status >= 500:
			s.serverErrors++
			if first.IsZero() || c.at.Before(first) {
				first = c.at
			}
			if end := c.at.Add(c.took); end.After(last) {
				last = end
			}
		}
	}
	if !first.IsZero() {
		s.serverErrorSpan = last.Sub(first)
	}
	slices.Sort(took)
	if len(took) > 0 {
		s.p50, s.p99, s.max = took[len(took)/2], took[len(took)*99/100], took[len(took)-1]
	}
	return s
}

func (s publishStats) String() string {
	return fmt.Sprintf("%d calls, %d answered 5xx (over %v), %d unanswered; latency p50 %v, p99 %v, max %v",
		s.calls, s.serverErrors, s.serverErrorSpan.Round(time.Millisecond), s.noAnswer,
		s.p50.Round(time.Millisecond), s.p99.Round(time.Millisecond), s.max.Round(time.Millisecond))
}

// loadOutcome is what the receiver saw of a publisher's messages.
type loadOutcome struct {
	duplicates int // requests beyond the first of a message
	// slowest is the longest time from a message's first publish call to
	// its first arrival; late counts the messages that took over 5 s.
	slowest time.Duration
	late    int
}

func (o loadOutcome) String() string {
	return fmt.Sprintf("%d duplicate requests, slowest end to end %v, %d messages over 5 s",
		o.duplicates, o.slowest.Round(time.Millisecond), o.late)
}

// checkLoad checks that every stored message arrived, and returns what
// the receiver saw.
func checkLoad(t *testing.T, p *loadPublisher, r *loadReceiver) loadOutcome {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(p.gaveUp) > 0 {
		t.Errorf("%d messages could not be published in a minute of tries: %v", len(p.gaveUp), p.gaveUp[:min(10, len(p.gaveUp))])
	}
	var (
		missing []int
		o       loadOutcome
	)
	for n, began := range p.stored {
		if r.got[n] == 0 {
			missing = append(missing, n)
			continue
		}
		o.duplicates += r.got[n] - 1
		took := r.first[n].Sub(began)
		o.slowest = max(o.slowest, took)
		if took > 5*time.Second {
			o.late++
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		t.Errorf("%d of %d stored messages never arrived: %v", len(missing), len(p.stored), missing[:min(10, len(missing))])
	}
	return o
}

// waitDelivered waits until the receiver has every stored message.
func waitDelivered(t *testing.T, timeout time.Duration, p *loadPublisher, r *loadReceiver) {
	t.Helper()
	waitUntil(t, timeout, "every stored message at the receiver", func() bool {
		p.mu.Lock()
		stored := len(p.stored)
		p.mu.Unlock()
		distinct, _ := r.counts()
		return distinct >= stored
	})
}

// waitRecorded waits until Postgres holds a successful delivery of every
// message the publisher stored (one endpoint per message). Failed queries
// (the server is out of connections, on a shared machine) are tried again.
func waitRecorded(t *testing.T, timeout time.Duration, dsn string, p *loadPublisher) {
	t.Helper()
	p.mu.Lock()
	stored := len(p.stored)
	p.mu.Unlock()
	var last error
	deadline := time.Now().Add(timeout)
	for {
		c, err := queryAttempts(dsn)
		if err == nil && c.succeeded >= stored {
			return
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %d successful deliveries in postgres (%d; last error %v)",
				timeout, stored, c.succeeded, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// attemptChecks is what Postgres holds: deliveries, those succeeded,
// successful attempts, deliveries with more than one successful attempt,
// and attempt task keys recorded more than once.
type attemptChecks struct {
	deliveries, succeeded, successfulAttempts, deliveriesWithTwoSuccesses, repeatedTaskKeys int
}

func queryAttempts(dsn string) (attemptChecks, error) {
	var c attemptChecks
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return c, err
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status = 0) FROM deliveries`).Scan(&c.deliveries, &c.succeeded)
	if err == nil {
		err = conn.QueryRow(ctx, `SELECT count(*) FROM attempts WHERE status = 0`).Scan(&c.successfulAttempts)
	}
	if err == nil {
		err = conn.QueryRow(ctx, `SELECT count(*) FROM (SELECT delivery_id FROM attempts WHERE status = 0
			GROUP BY delivery_id HAVING count(*) > 1) d`).Scan(&c.deliveriesWithTwoSuccesses)
	}
	if err == nil {
		err = conn.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM attempts
			GROUP BY delivery_id, task_key HAVING count(*) > 1) k`).Scan(&c.repeatedTaskKeys)
	}
	return c, err
}

// wantAttemptsOnce fails t unless every one of want deliveries succeeded
// with exactly one successful attempt, and no attempt was recorded twice.
func wantAttemptsOnce(t *testing.T, dsn string, want int) {
	t.Helper()
	var (
		c   attemptChecks
		err error
	)
	for range 20 {
		if c, err = queryAttempts(dsn); err == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if c.deliveries != want || c.succeeded != want || c.successfulAttempts != want ||
		c.deliveriesWithTwoSuccesses != 0 || c.repeatedTaskKeys != 0 {
		t.Errorf("postgres: %d deliveries (%d succeeded), %d successful attempts, %d deliveries with two, %d task keys twice; want %d, one successful attempt each",
			c.deliveries, c.succeeded, c.successfulAttempts, c.deliveriesWithTwoSuccesses, c.repeatedTaskKeys, want)
	}
}

// createApps creates n applications ("a0", "a1", ...) at base, each with
// one endpoint at url, and returns their endpoint ids.
func createApps(t *testing.T, base, key, url string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		ids[i] = createApp(t, base, key, fmt.Sprintf("a%d", i), url)
	}
	return ids
}

// createApp creates application uid with one endpoint at url and returns
// the endpoint's id.
func createApp(t *testing.T, base, key, uid, url string) string {
	t.Helper()
	apiCall(t, base, key, http.MethodPost, "/api/v1/app", map[string]any{"name": uid, "uid": uid}, http.StatusCreated)
	var ep struct {
		ID string `json:"id"`
	}
	raw := apiCall(t, base, key, http.MethodPost, "/api/v1/app/"+uid+"/endpoint", map[string]any{"url": url}, http.StatusCreated)
	if err := json.Unmarshal(raw, &ep); err != nil || ep.ID == "" {
		t.Fatalf("endpoint: %s", raw)
	}
	return ep.ID
}

// roundRobin returns n messages' apps, "a0", "a1", ... over apps apps.
func roundRobin(n, apps int) []string {
	plan := make([]string, n)
	for i := range plan {
		plan[i] = fmt.Sprintf("a%d", i%apps)
	}
	return plan
}

// waitAPI waits until the API at base answers its ping.
func waitAPI(t *testing.T, base string) {
	t.Helper()
	waitUntil(t, 30*time.Second, "the API at "+base, func() bool {
		res, err := http.Get(base + "/api/v1/health/ping")
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == http.StatusNoContent
	})
}
