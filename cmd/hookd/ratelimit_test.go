package main

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestAPIRateLimit: with HOOKD_API_RATE_LIMIT, a key over its rate gets
// 429 with Retry-After while another key is served.
func TestAPIRateLimit(t *testing.T) {
	t.Parallel()
	b := setupWithEnv(t, map[string]string{"HOOKD_API_RATE_LIMIT": "0.2", "HOOKD_API_RATE_LIMIT_BURST": "3"})
	other, err := b.main.CreateKey(context.Background(), "other")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if got := b.get(t, "/api/v1/app", b.key); got != http.StatusOK {
			t.Fatalf("request %d of the burst = %d, want 200", i+1, got)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, b.url+"/api/v1/app", nil)
	req.Header.Set("Authorization", "Bearer "+b.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("over the limit = %d, want 429", res.StatusCode)
	}
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || s < 1 || s > 5 {
		t.Errorf("Retry-After = %q, want 1 to 5 seconds", res.Header.Get("Retry-After"))
	}
	if got := b.get(t, "/api/v1/app", other); got != http.StatusOK {
		t.Errorf("another key = %d while the first is limited, want 200", got)
	}
}

func TestLoadConfigRateLimit(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.APIRateLimit != 1000 || cfg.APIRateBurst != 0 || cfg.MetricsToken != "" {
		t.Errorf("defaults: rate %v, burst %d, metrics token %q", cfg.APIRateLimit, cfg.APIRateBurst, cfg.MetricsToken)
	}
	if cfg, err := LoadConfig(map[string]string{"HOOKD_API_RATE_LIMIT": "0"}); err != nil || cfg.APIRateLimit != 0 {
		t.Errorf("HOOKD_API_RATE_LIMIT=0 (no limit): %v, %v", cfg.APIRateLimit, err)
	}
	for _, tt := range []struct{ name, value string }{
		{"HOOKD_API_RATE_LIMIT", "-1"},
		{"HOOKD_API_RATE_LIMIT", "NaN"},
		{"HOOKD_API_RATE_LIMIT", "fast"},
		{"HOOKD_API_RATE_LIMIT_BURST", "-5"},
		{"HOOKD_API_RATE_LIMIT_BURST", "1.5"},
	} {
		_, err := LoadConfig(map[string]string{tt.name: tt.value})
		if err == nil || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("%s=%s: error %v, want one naming the variable", tt.name, tt.value, err)
		}
	}
}
