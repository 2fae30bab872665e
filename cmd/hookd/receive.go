package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/hookd/hookd/pkg/signature"
)

// runReceive is a webhook receiver for trying hookd out: it prints every
// request it gets and, given the endpoint's secret, whether its signature
// verifies. It answers 204, or the status given with -status.
func runReceive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("receive", "hookd receive [-addr HOST:PORT] [-secret whsec_...] [-status CODE]",
		"Prints every webhook sent to a local address and, given the endpoint's secret, whether its\nsignature is valid. For trying hookd out.", stderr)
	addr := fs.String("addr", "127.0.0.1:9000", "address to listen on")
	secret := fs.String("secret", "", "the endpoint's signing secret (whsec_...), to verify signatures")
	status := fs.Int("status", http.StatusNoContent, "HTTP status to answer with")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	var key signature.Secret
	if *secret != "" {
		var err error
		if key, err = signature.ParseSecret(*secret); err != nil {
			return fmt.Errorf("-secret: %w", err)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "receiving webhooks on http://%s/ (answering %d)\n", ln.Addr(), *status)
	if key == nil {
		fmt.Fprintln(stderr, "warning: no -secret given: signatures are not checked. Pass the endpoint's secret "+
			"(GET .../endpoint/{id}/secret) as -secret whsec_... to verify them.")
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		verdict := "not checked (no -secret)"
		if key != nil {
			verdict = "valid"
			if err := signature.Verify(key, r.Header, body, signature.DefaultTolerance, time.Now()); err != nil {
				verdict = "INVALID: " + err.Error()
			}
		}
		id := r.Header.Get("webhook-id") + r.Header.Get("svix-id")
		fmt.Fprintf(stdout, "%s %s %s  id=%s  signature %s\n  %s\n",
			time.Now().Format("15:04:05.000"), r.Method, r.URL.Path, id, verdict, body)
		w.WriteHeader(*status)
	})}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
