package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// call sends a JSON request (body nil: none) with token and extra headers
// and returns the status and body.
func call(t *testing.T, method, url, token string, body any, header http.Header) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, raw
}

// mustCall is call failing t unless the status is want.
func mustCall(t *testing.T, method, url, token string, body any, want int) []byte {
	t.Helper()
	status, raw := call(t, method, url, token, body, nil)
	if status != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, url, status, want, raw)
	}
	return raw
}

// newSecret returns an endpoint secret: whsec_ and base64 of 32 random bytes.
func newSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// flakyReceiver answers 500 to the first request of every message and
// 200 to the next, and keeps the Authorization headers it got.
type flakyReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	seen  map[string]int
	auths map[string]bool
}

func newFlakyReceiver(t *testing.T) *flakyReceiver {
	t.Helper()
	r := &flakyReceiver{seen: map[string]int{}, auths: map[string]bool{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		id := req.Header.Get("webhook-id")
		r.seen[id]++
		first := r.seen[id] == 1
		r.auths[req.Header.Get("Authorization")] = true
		r.mu.Unlock()
		if first {
			http.Error(w, "try again", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

// delivered returns how many messages got their second (successful) request.
func (r *flakyReceiver) delivered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.seen {
		if c >= 2 {
			n++
		}
	}
	return n
}

// TestLogsHoldNoSecrets runs hookd with every log line captured at debug
// level, goes through everything that handles a secret (keys, endpoint
// secrets and their rotation, custom headers, portal tokens, deliveries
// and retries), and checks that no secret appears in the logs while the
// lines that should be there are.
//
// It does not run in parallel: hookd's Open makes its logger slog's
// default, which other servers starting meanwhile would take over; alone,
// every line of this server lands in the capture.
func TestLogsHoldNoSecrets(t *testing.T) {
	var logs syncBuffer
	mainSecret := "main_" + randomHex(t, 24)
	metricsToken := "scrape_" + randomHex(t, 24)
	b := setupWith(t, setupOptions{logs: &logs, env: map[string]string{
		"HOOKD_LOG_LEVEL":         "debug",
		"HOOKD_LOG_FORMAT":        "json",
		"HOOKD_WHITELIST_SUBNETS": "127.0.0.0/8",
		"HOOKD_RETRY_SCHEDULE":    "100ms,100ms",
		"HOOKD_MAIN_SECRET":       mainSecret,
		"HOOKD_METRICS_TOKEN":     metricsToken,
	}})
	rcv := newFlakyReceiver(t)
	secrets := map[string]string{"admin key": b.key, "HOOKD_MAIN_SECRET": mainSecret, "HOOKD_METRICS_TOKEN": metricsToken}

	// An API key of another organisation, as `hookd keys create` makes it.
	key, err := b.main.CreateKey(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	secrets["API key"] = key
	api := b.url + "/api/v1"

	// An endpoint with its own secret and secret headers.
	first, second := newSecret(t), newSecret(t)
	authValue := "Bearer partner_" + randomHex(t, 20)
	partnerToken := "pt_" + randomHex(t, 20)
	secrets["endpoint secret"], secrets["rotated-in secret"] = first, second
	secrets["Authorization header value"], secrets["X-Partner-Token value"] = authValue, partnerToken
	mustCall(t, "POST", api+"/app", key, map[string]any{"name": "Logs", "uid": "logs"}, http.StatusCreated)
	mustCall(t, "POST", api+"/event-type", key, map[string]any{"name": "order.paid", "description": "paid"}, http.StatusCreated)
	mustCall(t, "POST", api+"/app/logs/endpoint", key, map[string]any{
		"url": rcv.URL + "/hook", "uid": "main", "secret": first,
		"headers": map[string]string{"Authorization": authValue},
	}, http.StatusCreated)
	mustCall(t, "PATCH", api+"/app/logs/endpoint/main/headers", key,
		map[string]any{"headers": map[string]string{"X-Partner-Token": partnerToken}}, http.StatusNoContent)

	// Rotation, to a given secret and then to a generated one.
	mustCall(t, "POST", api+"/app/logs/endpoint/main/secret/rotate", key, map[string]any{"key": second}, http.StatusNoContent)
	mustCall(t, "POST", api+"/app/logs/endpoint/main/secret/rotate", key, nil, http.StatusNoContent)
	var current struct{ Key string }
	mustJSON(t, mustCall(t, "GET", api+"/app/logs/endpoint/main/secret", key, nil, http.StatusOK), &current)
	secrets["generated secret"] = current.Key

	// A portal token, used, then logged out.
	var portal struct{ Token string }
	mustJSON(t, mustCall(t, "POST", api+"/auth/app-portal-access/logs", key, map[string]any{}, http.StatusOK), &portal)
	secrets["portal token"] = portal.Token
	mustCall(t, "GET", api+"/app/logs/endpoint", portal.Token, nil, http.StatusOK)
	mustCall(t, "POST", api+"/auth/logout", portal.Token, nil, http.StatusNoContent)
	mustCall(t, "GET", api+"/app/logs/endpoint", portal.Token, nil, http.StatusUnauthorized)

	// Keys where they do not belong: a wrong one, one in the query string.
	wrong := "wrong_" + randomHex(t, 20)
	secrets["refused key"] = wrong
	mustCall(t, "GET", api+"/app", wrong, nil, http.StatusUnauthorized)
	mustCall(t, "GET", api+"/app?token="+key, key, nil, http.StatusOK)
	mustCall(t, "GET", b.url+"/metrics", metricsToken, nil, http.StatusOK)

	// Publishing and delivery, each message failing once, then succeeding.
	const messages = 3
	var msgIDs []string
	for i := 0; i < messages; i++ {
		status, raw := call(t, "POST", api+"/app/logs/msg", key,
			map[string]any{"eventType": "order.paid", "payload": map[string]any{"n": i}},
			http.Header{"Svix-Req-Id": {"logs-test-" + string(rune('a'+i))}})
		if status != http.StatusAccepted {
			t.Fatalf("publishing: %d %s", status, raw)
		}
		var msg struct{ ID string }
		mustJSON(t, raw, &msg)
		msgIDs = append(msgIDs, msg.ID)
	}
	waitUntil(t, 30*time.Second, "every message delivered on its second attempt", func() bool {
		return rcv.delivered() == messages
	})
	waitUntil(t, 10*time.Second, "the worker's attempt lines", func() bool {
		return strings.Count(logs.String(), `"msg":"attempt"`) >= 2*messages
	})
	rcv.mu.Lock()
	gotAuth := rcv.auths[authValue]
	rcv.mu.Unlock()
	if !gotAuth {
		t.Errorf("the receiver never got the endpoint's Authorization header")
	}

	captured := logs.String()
	t.Logf("captured %d bytes, %d lines of logs", len(captured), strings.Count(captured, "\n"))

	// No secret, in any form it is sent or stored in.
	for what, v := range secrets {
		forms := []string{v}
		if raw, ok := strings.CutPrefix(v, "whsec_"); ok {
			forms = append(forms, raw)
			if hmacKey, err := base64.StdEncoding.DecodeString(raw); err == nil {
				forms = append(forms, base64.RawURLEncoding.EncodeToString(hmacKey), base64.RawStdEncoding.EncodeToString(hmacKey))
			}
		}
		if rest, ok := strings.CutPrefix(v, "Bearer "); ok {
			forms = append(forms, rest)
		}
		for _, f := range forms {
			if strings.Contains(captured, f) {
				t.Errorf("the logs contain the %s (%q)", what, f)
			}
		}
	}

	// The lines that should be there are, with their ids.
	lines := parseLogLines(t, captured)
	var request, attempt map[string]any
	for _, l := range lines {
		switch {
		case l["msg"] == "request" && l["request_id"] == "logs-test-a":
			request = l
		case l["msg"] == "attempt" && l["msg_id"] == msgIDs[0] && l["status_code"] == float64(200):
			attempt = l
		}
	}
	if request == nil {
		t.Errorf("no request line with the request id sent as svix-req-id")
	} else {
		for k, want := range map[string]any{"method": "POST", "route": "/api/v1/app/:app_id/msg", "status": float64(202)} {
			if request[k] != want {
				t.Errorf("request line: %s = %v, want %v (%v)", k, request[k], want, request)
			}
		}
		if _, ok := request["duration"]; !ok {
			t.Errorf("request line without duration: %v", request)
		}
	}
	if attempt == nil {
		t.Errorf("no attempt line for message %s", msgIDs[0])
	} else {
		for _, k := range []string{"endpoint_id", "delivery_id"} {
			if s, _ := attempt[k].(string); s == "" {
				t.Errorf("attempt line without %s: %v", k, attempt)
			}
		}
	}
	// Every request line has a request id, generated when none was sent.
	for _, l := range lines {
		if l["msg"] == "request" {
			if s, _ := l["request_id"].(string); s == "" {
				t.Errorf("request line without request_id: %v", l)
			}
		}
	}
}

// parseLogLines decodes JSON log lines.
func parseLogLines(t *testing.T, captured string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(captured), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("log line is not JSON: %q", l)
			continue
		}
		lines = append(lines, m)
	}
	return lines
}
