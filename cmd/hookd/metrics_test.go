package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrapeMetrics GETs url (a /metrics) with token (if any) and returns its
// samples by series, e.g. `hookd_deliveries_total{outcome="success"}`.
func scrapeMetrics(t *testing.T, url, token string) map[string]float64 {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(res.Body)
		t.Fatalf("scraping %s: %d %s", url, res.StatusCode, raw)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return samples
}

// TestMetricsScrape publishes messages to a local receiver and watches the
// counters of /metrics move.
func TestMetricsScrape(t *testing.T) {
	t.Parallel()
	b := setupWithEnv(t, map[string]string{"HOOKD_WHITELIST_SUBNETS": "127.0.0.0/8"})
	rcv := newCountingReceiver(t, 0)
	metricsURL := b.url + "/metrics"

	before := scrapeMetrics(t, metricsURL, "")
	for _, series := range []string{
		"hookd_messages_published_total",
		`hookd_deliveries_total{outcome="success"}`,
		`hookd_endpoints_disabled_total{reason="gone"}`,
		"hookd_reconciler_reenqueued_total",
		"hookd_throttled_total",
		"hookd_attempt_duration_seconds_count",
	} {
		if v, ok := before[series]; !ok || v != 0 {
			t.Errorf("before any message: %s = %v (present %v), want 0", series, v, ok)
		}
	}
	if _, ok := before["go_goroutines"]; !ok {
		t.Errorf("no Go runtime metrics")
	}

	const messages = 5
	prepareApp(t, b.url, b.key, rcv.URL)
	publishMany(t, b.url, b.key, messages)
	waitUntil(t, 20*time.Second, "the deliveries", func() bool {
		distinct, _ := rcv.counts()
		return distinct == messages
	})
	// Attempts are counted once recorded, just after the receiver answered.
	var after map[string]float64
	waitUntil(t, 10*time.Second, "the success counter", func() bool {
		after = scrapeMetrics(t, metricsURL, "")
		return after[`hookd_deliveries_total{outcome="success"}`] == messages
	})

	for series, want := range map[string]float64{
		"hookd_messages_published_total": messages,
		`hookd_api_requests_total{method="POST",route="/api/v1/app/:app_id/msg",status="202"}`:      messages,
		`hookd_api_requests_total{method="POST",route="/api/v1/app/:app_id/endpoint",status="201"}`: 1,
		`hookd_api_request_duration_seconds_count{route="/api/v1/app/:app_id/msg"}`:                 messages,
		`hookd_attempt_responses_total{class="2xx"}`:                                                messages,
		`hookd_deliveries_total{outcome="retry"}`:                                                   0,
		"hookd_attempt_duration_seconds_count":                                                      messages,
	} {
		if got, ok := after[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	// Queue depth is read from Redis at scrape time, for both queues.
	for _, state := range []string{"pending", "scheduled", "retry", "active", "archived"} {
		series := fmt.Sprintf(`hookd_queue_depth{queue=%q,state=%q}`, b.queue, state)
		if _, ok := after[series]; !ok {
			t.Errorf("no %s", series)
		}
	}
	if _, ok := after[fmt.Sprintf(`hookd_queue_latency_seconds{queue=%q}`, b.queue)]; !ok {
		t.Errorf("no queue latency of %s", b.queue)
	}
	// With -v, show what moved.
	var moved []string
	for series, v := range after {
		if strings.HasPrefix(series, "hookd_") && !strings.Contains(series, "_bucket") && v != before[series] {
			moved = append(moved, fmt.Sprintf("%s %v -> %v", series, before[series], v))
		}
	}
	slices.Sort(moved)
	t.Logf("counters that moved:\n%s", strings.Join(moved, "\n"))
	for series, v := range after {
		// No raw path ever makes a series (an app id or uid in a label).
		if strings.HasPrefix(series, "hookd_api_") && strings.Contains(series, "/crash") {
			t.Errorf("a raw path in a label: %s %v", series, v)
		}
	}
	// The scrapes themselves are API requests too.
	if after[`hookd_api_requests_total{method="GET",route="/metrics",status="200"}`] < 1 {
		t.Errorf("scrapes of /metrics are not counted")
	}
}

// TestMetricsToken: with HOOKD_METRICS_TOKEN, /metrics wants it; the debug
// address serves the same metrics without it (a worker process has no API
// listener).
func TestMetricsToken(t *testing.T) {
	t.Parallel()
	debug := freeAddr(t)
	b := setupWithEnv(t, map[string]string{
		"HOOKD_METRICS_TOKEN": "scrape_" + randomHex(t, 16),
		"HOOKD_DEBUG_ADDRESS": debug,
	})
	if got := b.get(t, "/metrics", ""); got != http.StatusUnauthorized {
		t.Errorf("GET /metrics without the token = %d, want 401", got)
	}
	if got := b.get(t, "/metrics", b.key); got != http.StatusUnauthorized {
		t.Errorf("GET /metrics with an API key = %d, want 401", got)
	}
	scrapeMetrics(t, b.url+"/metrics", b.main.Config.MetricsToken)
	var samples map[string]float64
	waitUntil(t, 10*time.Second, "the debug server", func() bool {
		res, err := http.Get("http://" + debug + "/metrics")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	samples = scrapeMetrics(t, "http://"+debug+"/metrics", "")
	if _, ok := samples["hookd_messages_published_total"]; !ok {
		t.Errorf("the debug address serves no hookd metrics")
	}
	// The mutex profile is sampled (the runtime's default is off).
	res, err := http.Get("http://" + debug + "/debug/pprof/mutex?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if want := fmt.Sprintf("sampling period=%d", debugMutexFraction); !strings.Contains(string(body), want) {
		t.Errorf("/debug/pprof/mutex says %.200q, want %q", body, want)
	}
}
