package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hookd/hookd/pkg/signature"
	"github.com/hookd/hookd/pkg/webhook"
)

// runReceive is a webhook receiver for trying hookd out: it prints every
// request it gets and, given the endpoint's secret or public key, whether
// its signature verifies. It answers 204, or the status given with
// -status, and answers the challenge of endpoint verification
// (webhook.verification) with the challenge, so that it can be verified.
func runReceive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("receive", "hookd receive [-addr HOST:PORT] [-secret whsec_...|whsk_...|whpk_...] [-status CODE]",
		"Prints every webhook sent to a local address and, given the endpoint's secret or public key,\nwhether its signature is valid; answers endpoint verification's challenge. For trying hookd out.", stderr)
	addr := fs.String("addr", "127.0.0.1:9000", "address to listen on")
	secret := fs.String("secret", "", "the endpoint's signing secret (whsec_... or whsk_...) or public key (whpk_...), to verify signatures")
	status := fs.Int("status", http.StatusNoContent, "HTTP status to answer with")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	verify, err := verifierFor(*secret)
	if err != nil {
		return fmt.Errorf("-secret: %w", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "receiving webhooks on http://%s/ (answering %d)\n", ln.Addr(), *status)
	if verify == nil {
		fmt.Fprintln(stderr, "warning: no -secret given: signatures are not checked. Pass the endpoint's secret "+
			"(GET .../endpoint/{id}/secret) as -secret whsec_... (or its public key, whpk_...) to verify them.")
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: receiver(stdout, verify, *status)}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// receiver prints each request and answers it with status, or with the
// challenge of a webhook.verification event whose signature verifies.
func receiver(out io.Writer, verify func(http.Header, []byte) error, status int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		verdict, valid := "not checked (no -secret)", verify == nil
		if verify != nil {
			verdict, valid = "valid", true
			if err := verify(r.Header, body); err != nil {
				verdict, valid = "INVALID: "+err.Error(), false
			}
		}
		id := r.Header.Get("webhook-id") + r.Header.Get("svix-id")
		fmt.Fprintf(out, "%s %s %s  id=%s  signature %s\n  %s\n",
			time.Now().Format("15:04:05.000"), r.Method, r.URL.Path, id, verdict, body)
		if challenge := webhook.ChallengeOf(body); challenge != "" && valid {
			fmt.Fprintf(out, "  answering the verification challenge\n")
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"challenge": challenge})
			return
		}
		w.WriteHeader(status)
	})
}

// verifierFor returns how to check signatures with key: an HMAC secret
// (whsec_), an Ed25519 private key (whsk_, its public half verifies) or
// public key (whpk_); nil for no key.
func verifierFor(key string) (func(http.Header, []byte) error, error) {
	switch {
	case key == "":
		return nil, nil
	case strings.HasPrefix(key, signature.PublicKeyPrefix):
		pub, err := signature.ParsePublicKey(key)
		if err != nil {
			return nil, err
		}
		return ed25519Verifier(pub), nil
	}
	k, err := signature.ParseKey(key)
	if err != nil {
		return nil, err
	}
	switch k := k.(type) {
	case signature.PrivateKey:
		return ed25519Verifier(k.Public()), nil
	case signature.Secret:
		return func(h http.Header, body []byte) error {
			return signature.Verify(k, h, body, signature.DefaultTolerance, time.Now())
		}, nil
	}
	return nil, fmt.Errorf("unsupported key type %s", k.Type())
}

func ed25519Verifier(pub signature.PublicKey) func(http.Header, []byte) error {
	return func(h http.Header, body []byte) error {
		return signature.VerifyEd25519(pub, h, body, signature.DefaultTolerance, time.Now())
	}
}
