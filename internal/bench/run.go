package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Scenario is one measured run.
type Scenario struct {
	Name        string
	Endpoints   int           // endpoints of the application, all at the sink
	Messages    int           // messages published
	Concurrency int           // publishers in parallel
	Rate        float64       // messages per second offered; 0: as fast as possible
	SinkDelay   time.Duration // how long the sink takes to answer
	// Deadline is how long to wait for deliveries after the last publish;
	// what has not arrived by then is missing.
	Deadline time.Duration
	// Settle is how long to keep counting arrivals once every delivery
	// arrived, so that a late duplicate is seen; 0: stop at once.
	Settle time.Duration
	// OrderingKeys, when set, gives message i the ordering key
	// "k<i mod OrderingKeys>".
	OrderingKeys int
	// Replay, once every delivery arrived, replays them all with one bulk
	// replay per endpoint and measures how fast they arrive again.
	Replay bool
	// Filter, when set, is every endpoint's payload filter (a CEL
	// expression); the published messages are expected to pass it.
	Filter string
}

// Result is what one scenario measured.
type Result struct {
	Scenario      string         `json:"scenario"`
	Endpoints     int            `json:"endpoints"`
	Messages      int            `json:"messages"`
	Concurrency   int            `json:"concurrency"`
	OrderingKeys  int            `json:"orderingKeys,omitempty"`
	Filter        string         `json:"filter,omitempty"`
	OfferedRate   float64        `json:"offeredRate,omitempty"`
	SinkDelayMs   int64          `json:"sinkDelayMs"`
	Accepted      int            `json:"accepted"`
	PublishPerSec float64        `json:"publishPerSec"`
	Publish       Latencies      `json:"publishLatency"`
	PublishErrors map[string]int `json:"publishErrors,omitempty"`
	Expected      int            `json:"expectedDeliveries"` // endpoints × accepted messages
	Delivered     int            `json:"delivered"`
	Duplicates    int            `json:"duplicates"`
	Missing       int            `json:"missing"`
	DeliverPerSec float64        `json:"deliveriesPerSec"`
	EndToEnd      Latencies      `json:"endToEnd"`
	Procs         []ProcUsage    `json:"processes"`
	Seconds       float64        `json:"seconds"`
	// Replayed counts the deliveries that arrived again after the bulk
	// replays (Scenario.Replay); ReplayPerSec is their rate at the sink,
	// from the replay calls to the last arrival, and ReplayTaskSeconds how
	// long the replay tasks took to queue them all.
	Replayed          int         `json:"replayed,omitempty"`
	ReplayPerSec      float64     `json:"replayPerSec,omitempty"`
	ReplayTaskSeconds float64     `json:"replayTaskSeconds,omitempty"`
	ReplayProcs       []ProcUsage `json:"replayProcesses,omitempty"`
}

// Runner runs scenarios against one hookd.
type Runner struct {
	URL    string // hookd's base URL
	Key    string // an API key
	Sink   *Sink
	Meter  *Meter
	client *http.Client
}

// NewRunner returns a Runner with a pooled HTTP client.
func NewRunner(url, key string, sink *Sink, meter *Meter) *Runner {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 512, 512
	return &Runner{URL: url, Key: key, Sink: sink, Meter: meter, client: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// call sends a JSON request and returns the status and body.
func (r *Runner) call(ctx context.Context, method, path string, body any) (int, []byte, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, r.URL+path, bytes.NewReader(raw))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+r.Key)
	req.Header.Set("Content-Type", "application/json")
	res, err := r.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return res.StatusCode, out, err
}

// setup creates an application with n endpoints at the sink, each with
// the payload filter filter when it is set, and returns the app's uid,
// which prefixes the endpoints' sink paths.
func (r *Runner) setup(ctx context.Context, n int, filter string) (string, error) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	uid := "bench-" + hex.EncodeToString(b[:])
	if code, body, err := r.call(ctx, http.MethodPost, "/api/v1/app", map[string]any{"name": uid, "uid": uid}); err != nil || code != http.StatusCreated {
		return "", fmt.Errorf("creating app: %d %s %v", code, body, err)
	}
	for i := 0; i < n; i++ {
		ep := map[string]any{"url": fmt.Sprintf("%s/%s/%d", r.Sink.URL, uid, i)}
		if filter != "" {
			ep["filter"] = filter
		}
		if code, body, err := r.call(ctx, http.MethodPost, "/api/v1/app/"+uid+"/endpoint", ep); err != nil || code != http.StatusCreated {
			return "", fmt.Errorf("creating endpoint: %d %s %v", code, body, err)
		}
	}
	return uid, nil
}

// Run runs one scenario: it creates an application with the scenario's
// endpoints at the sink, publishes, and waits until every accepted message
// reached every endpoint or the deadline passed. Lost and duplicated
// deliveries are reported in the Result, not as an error; the error is
// for a run that could not start (creating the application failed).
func (r *Runner) Run(ctx context.Context, sc Scenario) (Result, error) {
	uid, err := r.setup(ctx, sc.Endpoints, sc.Filter)
	if err != nil {
		return Result{}, err
	}
	r.Sink.Reset()
	r.Sink.SetDelay(sc.SinkDelay)
	res := Result{
		Scenario: sc.Name, Endpoints: sc.Endpoints, Messages: sc.Messages, Concurrency: sc.Concurrency,
		OrderingKeys: sc.OrderingKeys, OfferedRate: sc.Rate, SinkDelayMs: sc.SinkDelay.Milliseconds(), Filter: sc.Filter,
	}
	r.Meter.Start()
	start := time.Now()
	lat, errs, accepted, publishEnd := r.publish(ctx, uid, sc)
	res.Accepted = accepted
	res.Publish = Summarise(lat)
	res.PublishErrors = errs
	res.PublishPerSec = float64(accepted) / publishEnd.Sub(start).Seconds()

	res.Expected = sc.Endpoints * accepted
	prefix := "/" + uid + "/"
	st := r.await(ctx, prefix, res.Expected, time.Now().Add(sc.Deadline))
	res.Procs = r.Meter.Stop()
	res.Seconds = time.Since(start).Seconds()
	if span := st.Last.Sub(start).Seconds(); span > 0 {
		res.DeliverPerSec = float64(st.Distinct) / span
	}
	res.EndToEnd = Summarise(st.EndToEnd)
	if sc.Settle > 0 && st.Distinct >= res.Expected {
		sleep(ctx, sc.Settle)
		st = r.Sink.Stats(prefix)
	}
	res.Delivered, res.Duplicates = st.Distinct, st.Duplicates
	res.Missing = res.Expected - st.Distinct
	if sc.Replay && res.Missing == 0 && res.Duplicates == 0 {
		if err := r.replay(ctx, uid, start, &res, time.Now().Add(sc.Deadline)); err != nil {
			return res, err
		}
	}
	return res, nil
}

// replay replays every delivery of the scenario's application, one bulk
// replay per endpoint, and waits until each arrived once more (a second
// arrival of every pair at the sink) or deadline: what did not is Missing,
// a third arrival a Duplicate.
func (r *Runner) replay(ctx context.Context, uid string, since time.Time, res *Result, deadline time.Time) error {
	code, body, err := r.call(ctx, http.MethodGet, "/api/v1/app/"+uid+"/endpoint?limit=250", nil)
	var eps struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err != nil || code != http.StatusOK || json.Unmarshal(body, &eps) != nil {
		return fmt.Errorf("listing endpoints: %d %s %v", code, body, err)
	}
	r.Meter.Start()
	start := time.Now()
	var tasks []string
	for _, ep := range eps.Data {
		path := "/api/v1/app/" + uid + "/endpoint/" + ep.ID + "/bulk-replay"
		code, body, err := r.call(ctx, http.MethodPost, path, map[string]any{"since": since.Add(-time.Minute).Format(time.RFC3339Nano)})
		var task struct {
			ID string `json:"id"`
		}
		if err != nil || code != http.StatusAccepted || json.Unmarshal(body, &task) != nil {
			return fmt.Errorf("starting a bulk replay: %d %s %v", code, body, err)
		}
		tasks = append(tasks, task.ID)
	}
	prefix := "/" + uid + "/"
	var queued time.Time
	for {
		if queued.IsZero() && r.tasksFinished(ctx, tasks) {
			queued = time.Now()
		}
		st := r.Sink.Stats(prefix)
		done := st.Duplicates >= res.Expected && !queued.IsZero()
		if done || time.Now().After(deadline) || ctx.Err() != nil {
			res.ReplayProcs = r.Meter.Stop()
			res.Replayed = min(st.Duplicates, res.Expected)
			res.Missing += res.Expected - res.Replayed
			res.Duplicates = st.Duplicates - res.Replayed
			if span := st.Last.Sub(start).Seconds(); span > 0 {
				res.ReplayPerSec = float64(res.Replayed) / span
			}
			if !queued.IsZero() {
				res.ReplayTaskSeconds = queued.Sub(start).Seconds()
			}
			return nil
		}
		sleep(ctx, 20*time.Millisecond)
	}
}

// tasksFinished reports whether every background task of ids finished.
func (r *Runner) tasksFinished(ctx context.Context, ids []string) bool {
	for _, id := range ids {
		code, body, err := r.call(ctx, http.MethodGet, "/api/v1/background-task/"+id, nil)
		var task struct {
			Status string `json:"status"`
		}
		if err != nil || code != http.StatusOK || json.Unmarshal(body, &task) != nil || task.Status != "finished" {
			return false
		}
	}
	return true
}

// await polls the sink until expected distinct deliveries under prefix
// arrived, deadline passed or ctx ended, and returns what it saw last.
func (r *Runner) await(ctx context.Context, prefix string, expected int, deadline time.Time) SinkStats {
	for {
		st := r.Sink.Stats(prefix)
		if st.Distinct >= expected || time.Now().After(deadline) || ctx.Err() != nil {
			return st
		}
		sleep(ctx, 20*time.Millisecond)
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// publish sends the scenario's messages with its concurrency (and rate) and
// returns the latencies of accepted calls, errors by status, the count
// accepted and when the last call ended.
func (r *Runner) publish(ctx context.Context, uid string, sc Scenario) ([]time.Duration, map[string]int, int, time.Time) {
	var (
		mu       sync.Mutex
		lat      = make([]time.Duration, 0, sc.Messages)
		errs     = map[string]int{}
		accepted int
	)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < max(1, sc.Concurrency); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				t0 := time.Now()
				payload := map[string]any{"seq": i, "sentAt": t0.UnixNano(), "data": map[string]any{"user": "u_" + strconv.Itoa(i), "plan": "pro"}}
				msg := map[string]any{"eventType": "bench.event", "payload": payload}
				if sc.OrderingKeys > 0 {
					msg["orderingKey"] = "k" + strconv.Itoa(i%sc.OrderingKeys)
				}
				code, _, err := r.call(ctx, http.MethodPost, "/api/v1/app/"+uid+"/msg", msg)
				d := time.Since(t0)
				mu.Lock()
				switch {
				case err != nil:
					errs["error"]++
				case code != http.StatusAccepted:
					errs[strconv.Itoa(code)]++
				default:
					accepted++
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for i := 0; i < sc.Messages && ctx.Err() == nil; i++ {
		if sc.Rate > 0 {
			if wait := time.Until(start.Add(time.Duration(float64(i) / sc.Rate * float64(time.Second)))); wait > 0 {
				time.Sleep(wait)
			}
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return lat, errs, accepted, time.Now()
}
