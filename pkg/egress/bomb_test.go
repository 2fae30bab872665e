package egress

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"testing"
	"time"
)

// A gzip bomb (16 GiB of zeros in 16 MiB on the wire) costs hookd at most
// MaxResponseBytes of memory and a moment of reading: the body is capped
// after decompression and the rest is never inflated.
func TestDoBoundsGzipBomb(t *testing.T) {
	t.Parallel()
	// One gzip member of 16 MiB of zeros, sent 1024 times: concatenated
	// members are one valid gzip stream, and sending them costs no CPU.
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	_, _ = zw.Write(make([]byte, 16<<20))
	_ = zw.Close()
	s := startServer(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		for range 1024 {
			if _, err := w.Write(member.Bytes()); err != nil {
				return // hookd hung up
			}
		}
	}))
	const limit = 20 << 10
	c := New(Config{AllowedSubnets: loopbackOnly, MaxResponseBytes: limit})
	start := time.Now()
	resp, err := post(t, c, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("reading the bomb took %v", took)
	}
	if len(resp.Body) != limit || !resp.Truncated || !bytes.Equal(resp.Body, make([]byte, limit)) {
		t.Errorf("body of %d bytes (truncated %v), want %d zeros, truncated", len(resp.Body), resp.Truncated, limit)
	}
}
