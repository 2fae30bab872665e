package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestNodeReceiver runs the receiver of docs/delivery.md's JavaScript
// (testdata/receivers/receiver.mjs, Node.js without dependencies) against
// hookd with endpoint verification required and keys published: it gets
// its credentials from the URL, answers its challenge, and verifies every
// delivery's Ed25519 signature with the published key set. Skipped when
// node is not on PATH.
func TestNodeReceiver(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "receiver.mjs")
	cmd.Dir = "testdata/receivers"
	cmd.Env = append(cmd.Environ(), "RECEIVER_CREDENTIALS=hook:p@ss:word")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if stderr.Len() > 0 {
			t.Logf("node stderr:\n%s", stderr.String())
		}
	})
	var (
		mu    sync.Mutex
		lines []string
		port  = make(chan string, 1)
	)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if p, ok := strings.CutPrefix(line, "listening "); ok {
				port <- p
				continue
			}
			mu.Lock()
			lines = append(lines, line)
			mu.Unlock()
		}
	}()
	var receiverPort string
	select {
	case receiverPort = <-port:
	case <-ctx.Done():
		t.Fatalf("the node receiver did not start: %s", stderr.String())
	}
	got := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), lines...)
	}

	b := setupWithEnv(t, map[string]string{
		"HOOKD_WHITELIST_SUBNETS":     "127.0.0.0/8",
		"HOOKD_ENDPOINT_VERIFICATION": "required",
		"HOOKD_PUBLISH_PUBLIC_KEYS":   "true",
	})
	var app, ep struct{ ID string }
	mustJSON(t, apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/app", map[string]any{"name": "node"}, http.StatusCreated), &app)
	mustJSON(t, apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/app/"+app.ID+"/endpoint", map[string]any{
		"url":           "http://hook:p%40ss:word@127.0.0.1:" + receiverPort + "/hook",
		"signatureType": "ed25519",
	}, http.StatusCreated), &ep)
	if _, err := io.WriteString(stdin, b.url+"/.well-known/webhook-keys/"+app.ID+"/"+ep.ID+"\n"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the endpoint to be verified", func() bool { return b.verificationState(t, app.ID, ep.ID) == "verified" })
	apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/app/"+app.ID+"/msg", map[string]any{
		"eventType": "user.created", "payload": map[string]any{"type": "user.created"},
	}, http.StatusAccepted)
	waitUntil(t, 30*time.Second, "the message", func() bool { return len(got()) >= 2 })
	if l := got(); strings.Join(l, ",") != "verified webhook.verification,verified user.created" {
		t.Errorf("the node receiver printed %q", l)
	}
}
