package delivery_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/retry"
	"github.com/hookd/hookd/pkg/webhook"
)

// answer is one way a receiver may answer.
type answer struct {
	name    string
	status  int
	header  map[string]string
	body    []byte
	succeed bool // a 2xx: one attempt is enough
}

// hostileAnswers returns the fixed set of answers a hostile or broken
// receiver gives, and n random ones drawn from rnd.
func hostileAnswers(rnd *rand.Rand, n int) []answer {
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	_, _ = zw.Write(make([]byte, 10<<20)) // 10 MiB of NUL bytes, about 10 KiB compressed
	_ = zw.Close()
	out := []answer{
		{name: "NUL after ok, 200", status: 200, body: []byte("ok\x00"), succeed: true},
		{name: "NUL after ok, 500", status: 500, body: []byte("ok\x00")},
		{name: "invalid UTF-8, 200", status: 200, body: []byte{0xff, 0xfe, 'a', 0xc3}, succeed: true},
		{name: "invalid UTF-8, 502", status: 502, body: []byte{0xed, 0xa0, 0x80, 0x00}},
		{name: "gzip bomb, 200", status: 200, header: map[string]string{"Content-Encoding": "gzip"}, body: bomb.Bytes(), succeed: true},
		{name: "gzip bomb, 503", status: 503, header: map[string]string{"Content-Encoding": "gzip", "Retry-After": "0"}, body: bomb.Bytes()},
		{name: "5 MiB of random bytes, 400", status: 400, body: randomBytes(rnd, 5<<20)},
		{name: "lying gzip, 200", status: 200, header: map[string]string{"Content-Encoding": "gzip"}, body: []byte("not gzip\x00"), succeed: false},
		{name: "redirect", status: 302, header: map[string]string{"Location": "http://127.0.0.1:1/"}, body: []byte("\x00\x01")},
		{name: "no content", status: 204, succeed: true},
	}
	for i := range n {
		status := 200 + rnd.IntN(400)
		if status == http.StatusGone {
			status = 404 // 410 disables the endpoint: tested on its own
		}
		if status == http.StatusNotModified || (status >= 100 && status < 200) {
			status = 500
		}
		a := answer{name: fmt.Sprintf("random %d: %d", i, status), status: status, body: randomBytes(rnd, rnd.IntN(64<<10)),
			succeed: status >= 200 && status < 300}
		if status == 204 || status == 205 {
			a.body = nil
		}
		out = append(out, a)
	}
	return out
}

func randomBytes(rnd *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rnd.UintN(256))
	}
	return b
}

// Whatever a receiver answers, each message is sent exactly as often as
// the schedule allows (once when it succeeds, once per attempt when it
// fails), every request is recorded as an attempt, and the delivery ends:
// no answer makes hookd send again in a loop.
func TestReceiverAnswersNeverCauseResends(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("HOOKD_TEST_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (HOOKD_TEST_SEED to repeat)", seed)
	rnd := rand.New(rand.NewPCG(seed, seed))
	answers := hostileAnswers(rnd, 20)

	b := setup(t, bundleOptions{schedule: retry.Schedule{10 * time.Millisecond, 10 * time.Millisecond}})
	var mu sync.Mutex
	requests := map[string]int{} // by webhook-id
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(r.URL.Query().Get("answer"))
		mu.Lock()
		requests[r.Header.Get("webhook-id")]++
		mu.Unlock()
		a := answers[i]
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.status)
		_, _ = w.Write(a.body)
	}))
	t.Cleanup(rcv.Close)

	type sent struct {
		msg *webhook.Message
		ep  *webhook.Endpoint
		a   answer
	}
	var all []sent
	for i, a := range answers {
		channel := []string{"c" + strconv.Itoa(i)} // each message to its own endpoint
		ep := b.endpoint(fmt.Sprintf("%s/?answer=%d", rcv.URL, i), func(e *webhook.Endpoint) { e.Channels = channel })
		msg, _ := b.publish("user.signup", `{"i":`+strconv.Itoa(i)+`}`, func(m *webhook.Message) { m.Channels = channel })
		all = append(all, sent{msg, ep, a})
	}
	for _, s := range all {
		want := webhook.StatusFail
		if s.a.succeed {
			want = webhook.StatusSuccess
		}
		d := b.waitStatus(s.msg, s.ep, want)
		attempts := b.attempts(s.msg)
		mu.Lock()
		n := requests[s.msg.ID]
		mu.Unlock()
		wantN := 3 // the schedule's attempts
		if s.a.succeed {
			wantN = 1
		}
		if n != wantN || len(attempts) != wantN || d.NextAttemptAt != nil {
			t.Errorf("%s: %d requests, %d attempts recorded, next %v; want %d, %d, none",
				s.a.name, n, len(attempts), d.NextAttemptAt, wantN, wantN)
		}
		for _, at := range attempts {
			if at.StatusCode != s.a.status {
				t.Errorf("%s: attempt recorded status %d, want %d", s.a.name, at.StatusCode, s.a.status)
			}
			if bytes.IndexByte([]byte(at.Response), 0) >= 0 || len(at.Response) > 64<<10 {
				t.Errorf("%s: stored response has a NUL or is %d bytes", s.a.name, len(at.Response))
			}
		}
	}
}
