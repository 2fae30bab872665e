package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// runHealthcheck asks a running hookd whether it is healthy: GET
// /api/v1/health on its listen address (HOOKD_LISTEN_ADDRESS, an
// unspecified host meaning this machine), for container health checks in
// images without a shell or curl. It succeeds on 204 and fails otherwise.
func runHealthcheck(ctx context.Context, args []string, environ map[string]string, stdout, stderr io.Writer) error {
	fs := newFlagSet("healthcheck", "hookd healthcheck [-url URL]",
		"Exits 0 when the hookd API at -url answers GET /api/v1/health with 204 (PostgreSQL and Redis\nreachable), 1 otherwise. For container health checks (docker-compose.yml).", stderr)
	base := fs.String("url", "", "base URL of the API (default: http:// and HOOKD_LISTEN_ADDRESS, 127.0.0.1:8071)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *base == "" {
		*base = "http://" + localAddress(environ["HOOKD_LISTEN_ADDRESS"])
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *base+"/api/v1/health", nil)
	if err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("unhealthy: %s %s", resp.Status, body)
	}
	fmt.Fprintln(stdout, "healthy")
	return nil
}

// localAddress turns a listen address into one to connect to on this
// machine: "" is the default, an unspecified host is 127.0.0.1.
func localAddress(listen string) string {
	if listen == "" {
		return "127.0.0.1:8071"
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
