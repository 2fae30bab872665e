package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/hookd/hookd/worker"
)

// With HOOKD_QUEUE_SHARDS, deliveries (first attempts and retries) go
// through every shard's queues, and the queue metrics cover every shard.
func TestQueueShards(t *testing.T) {
	t.Parallel()
	b := setupWithEnv(t, map[string]string{"HOOKD_QUEUE_SHARDS": "3", "HOOKD_RETRY_SCHEDULE": "100ms", "HOOKD_WHITELIST_SUBNETS": "127.0.0.0/8",
		// A grace under twice the request timeout (15 s) keeps serve from
		// running first attempts in process (delivery.Direct): here they
		// must go through the shards.
		"HOOKD_RECONCILER_GRACE": "20s"})
	queues := worker.NewQueues(b.queue, 3)
	t.Cleanup(func() {
		opt, _ := worker.ParseRedisDSN(b.redisDSN)
		insp := asynq.NewInspector(opt)
		defer insp.Close()
		for _, q := range queues.All() {
			_ = insp.DeleteQueue(q, true)
		}
	})
	// Each endpoint's first request fails, its retry succeeds.
	var mu sync.Mutex
	seen := map[string]int{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path]++
		first := seen[r.URL.Path] == 1
		mu.Unlock()
		if first {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(rcv.Close)
	const endpoints = 12
	mustCall(t, http.MethodPost, b.url+"/api/v1/app", b.key, map[string]any{"name": "s", "uid": "s"}, http.StatusCreated)
	for i := range endpoints {
		mustCall(t, http.MethodPost, b.url+"/api/v1/app/s/endpoint", b.key,
			map[string]any{"url": fmt.Sprintf("%s/e%d", rcv.URL, i)}, http.StatusCreated)
	}
	mustCall(t, http.MethodPost, b.url+"/api/v1/app/s/msg", b.key, map[string]any{"eventType": "a", "payload": map[string]any{}}, http.StatusAccepted)
	waitUntil(t, 30*time.Second, "every endpoint's retry", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, c := range seen {
			if c >= 2 {
				n++
			}
		}
		return n == endpoints
	})

	// Every queue of every shard is in the metrics; together they processed
	// one first attempt and one retry per endpoint.
	samples := scrapeMetrics(t, b.url+"/metrics", "")
	opt, _ := worker.ParseRedisDSN(b.redisDSN)
	insp := asynq.NewInspector(opt)
	defer insp.Close()
	for i := range queues.Len() {
		f, r := queues.Shard(i)
		for _, q := range []string{f, r} {
			if _, ok := samples[fmt.Sprintf(`hookd_queue_depth{queue=%q,state="pending"}`, q)]; !ok {
				t.Errorf("no hookd_queue_depth for queue %s", q)
			}
		}
	}
	// asynq counts a task once its handler returned, after the receiver
	// saw the request: wait for the counts to settle.
	var fresh, retries, shardsUsed int
	count := func() {
		fresh, retries, shardsUsed = 0, 0, 0
		for i := range queues.Len() {
			f, r := queues.Shard(i)
			nf, nr := processedTotal(insp, f), processedTotal(insp, r)
			fresh, retries = fresh+nf, retries+nr
			if nf > 0 {
				shardsUsed++
			}
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if count(); (fresh >= endpoints && retries >= endpoints) || time.Now().After(deadline) {
			break
		}
	}
	if fresh != endpoints || retries != endpoints || shardsUsed < 2 {
		t.Fatalf("processed %d first attempts and %d retries over %d shards; want %d each, over at least 2 shards",
			fresh, retries, shardsUsed, endpoints)
	}
}

// processedTotal returns how many tasks queue processed (0 for a queue
// never used).
func processedTotal(insp *asynq.Inspector, queue string) int {
	info, err := insp.GetQueueInfo(queue)
	if err != nil {
		return 0
	}
	return info.ProcessedTotal
}
