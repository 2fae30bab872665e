package bench

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Sink is a webhook receiver on 127.0.0.1 that records each arrival: which
// message reached which endpoint path, when, and how long after it was sent.
type Sink struct {
	URL    string
	server *http.Server

	mu       sync.Mutex
	delay    time.Duration  // how long each request takes to answer
	seen     map[string]int // "path webhook-id" -> arrivals
	e2e      []time.Duration
	first    time.Time
	last     time.Time
	arrivals int
}

// NewSink starts a sink answering 204 after delay.
func NewSink(delay time.Duration) (*Sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Sink{URL: "http://" + ln.Addr().String(), delay: delay, seen: map[string]int{}}
	s.server = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.server.Serve(ln) }()
	return s, nil
}

// Close stops the sink.
func (s *Sink) Close() error { return s.server.Close() }

// SetDelay changes how long each request takes to answer from now on. It
// is safe while requests arrive, late ones of a previous run included.
func (s *Sink) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// ServeHTTP records one delivery. The payload's "sentAt" (Unix nanoseconds,
// set by the publisher just before its API call) gives the end-to-end latency.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	body, _ := io.ReadAll(r.Body)
	var p struct {
		SentAt int64 `json:"sentAt"`
	}
	_ = json.Unmarshal(body, &p)
	id := r.Header.Get("webhook-id")
	if id == "" {
		id = r.Header.Get("svix-id")
	}
	s.mu.Lock()
	key := r.URL.Path + " " + id
	s.seen[key]++
	if s.seen[key] == 1 && p.SentAt > 0 {
		s.e2e = append(s.e2e, now.Sub(time.Unix(0, p.SentAt)))
	}
	if s.arrivals == 0 {
		s.first = now
	}
	s.last = now
	s.arrivals++
	delay := s.delay
	s.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	w.WriteHeader(http.StatusNoContent)
}

// SinkStats is what the sink saw since its last Reset. Distinct and
// Duplicates count the paths under the prefix given to Stats; the other
// fields count every request.
type SinkStats struct {
	Arrivals   int // every request
	Distinct   int // distinct (endpoint path, webhook-id) pairs
	Duplicates int // arrivals of a pair beyond its first
	First      time.Time
	Last       time.Time
	// EndToEnd holds, per distinct pair whose payload had "sentAt", the
	// time from sentAt to the first arrival.
	EndToEnd []time.Duration
}

// Stats returns a copy of what the sink saw for paths starting with prefix.
func (s *Sink) Stats(prefix string) SinkStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := SinkStats{First: s.first, Last: s.last, Arrivals: s.arrivals, EndToEnd: append([]time.Duration(nil), s.e2e...)}
	for key, n := range s.seen {
		if !strings.HasPrefix(key, prefix) {
			continue
		}
		st.Distinct++
		st.Duplicates += n - 1
	}
	return st
}

// Reset forgets everything seen.
func (s *Sink) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = map[string]int{}
	s.e2e = nil
	s.arrivals = 0
	s.first, s.last = time.Time{}, time.Time{}
}
