package main

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// answeringReceiver answers every request with one status and body (gzip
// compressed when gzipped) and counts the requests by webhook-id.
type answeringReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string]int
}

func newAnsweringReceiver(t *testing.T, status int, body []byte, gzipped bool) *answeringReceiver {
	t.Helper()
	r := &answeringReceiver{seen: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		r.seen[req.Header.Get("webhook-id")]++
		r.mu.Unlock()
		if !gzipped {
			w.WriteHeader(status)
			_, _ = w.Write(body)
			return
		}
		// A gzip bomb: 1 GiB of zeros, compressed on the fly; hookd stops
		// reading long before the end, which ends this handler.
		w.Header().Set("Content-Encoding", "gzip")
		w.WriteHeader(status)
		zw := gzip.NewWriter(w)
		zeros := make([]byte, 64<<10)
		for i := 0; i < (1<<30)/len(zeros); i++ {
			if _, err := zw.Write(zeros); err != nil {
				return
			}
		}
		_ = zw.Close()
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *answeringReceiver) requests(msgID string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[msgID]
}

// The repro: a receiver answering a body PostgreSQL cannot store
// as text (a NUL byte, a gzip bomb of zeros, invalid UTF-8) made recording
// the attempt fail, and the worker sent the message again and again. Each
// message must be sent exactly as often as the schedule allows, with every
// attempt recorded.
func TestReceiverAnswerNeverCausesResends(t *testing.T) {
	t.Parallel()
	b := setupWithEnv(t, map[string]string{
		"HOOKD_WHITELIST_SUBNETS": "127.0.0.0/8",
		"HOOKD_RETRY_SCHEDULE":    "50ms,50ms", // three attempts
	})
	api := b.url + "/api/v1"
	mustCall(t, http.MethodPost, api+"/app", b.key, map[string]any{"name": "shop", "uid": "shop"}, http.StatusCreated)

	cases := []struct {
		name     string
		status   int
		body     string
		gzipped  bool
		requests int // as the schedule allows
	}{
		{"200 ok NUL", 200, "ok\x00", false, 1},
		{"500 ok NUL", 500, "ok\x00", false, 3},
		{"200 gzip bomb", 200, "", true, 1},
		{"503 gzip bomb", 503, "", true, 3},
		{"500 invalid UTF-8", 500, "caf\xe9\xff", false, 3},
	}
	type sent struct {
		rcv   *answeringReceiver
		msgID string
	}
	var all []sent
	for i, tc := range cases {
		rcv := newAnsweringReceiver(t, tc.status, []byte(tc.body), tc.gzipped)
		ep := fmt.Sprintf("ep%d", i)
		mustCall(t, http.MethodPost, api+"/app/shop/endpoint", b.key,
			map[string]any{"url": rcv.URL, "uid": ep, "filterTypes": nil, "channels": []string{ep}}, http.StatusCreated)
		raw := mustCall(t, http.MethodPost, api+"/app/shop/msg", b.key,
			map[string]any{"eventType": "t", "payload": map[string]any{"i": i}, "channels": []string{ep}}, http.StatusAccepted)
		var msg struct{ ID string }
		if err := json.Unmarshal(raw, &msg); err != nil {
			t.Fatal(err)
		}
		all = append(all, sent{rcv, msg.ID})
	}

	type attempt struct {
		ResponseStatusCode int    `json:"responseStatusCode"`
		Response           string `json:"response"`
	}
	attemptsOf := func(msgID string) []attempt {
		var l struct{ Data []attempt }
		raw := mustCall(t, http.MethodGet, api+"/app/shop/attempt/msg/"+msgID, b.key, nil, http.StatusOK)
		if err := json.Unmarshal(raw, &l); err != nil {
			t.Fatal(err)
		}
		return l.Data
	}
	for i, tc := range cases {
		s := all[i]
		waitUntil(t, 30*time.Second, tc.name+": every attempt recorded", func() bool {
			return len(attemptsOf(s.msgID)) >= tc.requests
		})
	}
	// Every delivery is finished now. A resend loop would have sent more
	// than the schedule allows by the time every attempt was recorded (its
	// retries start after a second); give it that second.
	time.Sleep(1500 * time.Millisecond)
	for i, tc := range cases {
		s := all[i]
		if got := s.rcv.requests(s.msgID); got != tc.requests {
			t.Errorf("%s: receiver got %d requests, want %d", tc.name, got, tc.requests)
		}
		as := attemptsOf(s.msgID)
		if len(as) != tc.requests {
			t.Errorf("%s: %d attempts recorded, want %d", tc.name, len(as), tc.requests)
		}
		for _, a := range as {
			if a.ResponseStatusCode != tc.status || !utf8.ValidString(a.Response) || strings.Contains(a.Response, "\x00") {
				t.Errorf("%s: attempt %d %.60q, want status %d and valid text", tc.name, a.ResponseStatusCode, a.Response, tc.status)
			}
			if !strings.Contains(a.Response, "[hookd: ") {
				t.Errorf("%s: response %.60q does not say it was altered", tc.name, a.Response)
			}
		}
	}
}

// The issue's repro: a failed attempt recorded Go's error, e.g. "dial tcp:
// lookup example.com on 10.x.y.z:53: no such host", revealing the
// operator's resolver to customers. It records a stable reason instead.
func TestFailedAttemptShowsStableReason(t *testing.T) {
	t.Parallel()
	b := setupWithEnv(t, map[string]string{"HOOKD_RETRY_SCHEDULE": "", "HOOKD_WHITELIST_SUBNETS": "127.0.0.0/8"})
	api := b.url + "/api/v1"
	mustCall(t, http.MethodPost, api+"/app", b.key, map[string]any{"name": "shop", "uid": "shop"}, http.StatusCreated)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // nothing listens there any more
	cases := []struct{ url, want string }{
		{"http://does-not-exist.invalid/hook", "DNS lookup failed for does-not-exist.invalid"},
		{closed.URL + "/hook", "connection refused"},
		{"http://10.1.2.3/hook", "blocked: address 10.1.2.3 is not allowed: private address (RFC 1918)"},
	}
	for i, tc := range cases {
		ch := fmt.Sprintf("c%d", i)
		mustCall(t, http.MethodPost, api+"/app/shop/endpoint", b.key,
			map[string]any{"url": tc.url, "channels": []string{ch}}, http.StatusCreated)
		raw := mustCall(t, http.MethodPost, api+"/app/shop/msg", b.key,
			map[string]any{"eventType": "t", "payload": map[string]any{}, "channels": []string{ch}}, http.StatusAccepted)
		var msg struct{ ID string }
		if err := json.Unmarshal(raw, &msg); err != nil {
			t.Fatal(err)
		}
		var l struct {
			Data []struct {
				Response string `json:"response"`
			}
		}
		waitUntil(t, 20*time.Second, tc.url+" attempted", func() bool {
			raw := mustCall(t, http.MethodGet, api+"/app/shop/attempt/msg/"+msg.ID, b.key, nil, http.StatusOK)
			return json.Unmarshal(raw, &l) == nil && len(l.Data) > 0
		})
		if got := l.Data[0].Response; !strings.HasPrefix(got, tc.want) || strings.Contains(got, ":53") || strings.Contains(got, "dial tcp") {
			t.Errorf("%s: attempt response %q, want %q", tc.url, got, tc.want)
		}
	}
}
