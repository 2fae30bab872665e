package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

// Every subcommand prints its usage for -h, to standard output, and succeeds.
func TestCLIHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-h"}, {"--help"}, {"help"},
		{"serve", "-h"}, {"api", "--help"}, {"worker", "-h"}, {"migrate", "-h"},
		{"keys", "-h"}, {"keys", "create", "-h"},
		{"receive", "-h"}, {"bench", "-h"}, {"healthcheck", "-h"},
	} {
		stdout, stderr, err := runCLI(t, map[string]string{}, args...)
		if err != nil || !strings.Contains(stdout, "Usage") || stderr != "" {
			t.Errorf("hookd %s: err %v, stdout %q, stderr %q; want the usage on stdout and success",
				strings.Join(args, " "), err, stdout, stderr)
		}
	}
	// A bad flag is still an error, with the usage on stderr.
	if _, stderr, err := runCLI(t, map[string]string{}, "receive", "-bogus"); err == nil || !strings.Contains(stderr, "Usage") {
		t.Errorf("hookd receive -bogus: err %v, stderr %q", err, stderr)
	}
}

// hookd receive without -secret says at start that it checks no signature.
func TestReceiveWithoutSecretWarns(t *testing.T) {
	t.Parallel()
	// Already cancelled: the warning comes before serving, which then stops at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"receive", "-addr", "127.0.0.1:0"}, nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "warning: no -secret given") {
		t.Fatalf("stderr %q, want a warning about the missing -secret", errOut.String())
	}
}

// hookd healthcheck succeeds against a healthy hookd and fails where none answers.
func TestHealthcheck(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if out, _, err := runCLI(t, map[string]string{}, "healthcheck", "-url", b.url); err != nil || !strings.Contains(out, "healthy") {
		t.Fatalf("healthcheck of a running hookd: %v (%q)", err, out)
	}
	addr := strings.TrimPrefix(b.url, "http://")
	if _, _, err := runCLI(t, map[string]string{"HOOKD_LISTEN_ADDRESS": addr}, "healthcheck"); err != nil {
		t.Fatalf("healthcheck of HOOKD_LISTEN_ADDRESS %s: %v", addr, err)
	}
	if _, _, err := runCLI(t, map[string]string{}, "healthcheck", "-url", "http://"+freeAddr(t)); err == nil {
		t.Fatal("healthcheck succeeded where nothing listens")
	}
	for listen, want := range map[string]string{"": "127.0.0.1:8071", "0.0.0.0:8071": "127.0.0.1:8071", ":9": "127.0.0.1:9", "[::]:80": "127.0.0.1:80", "10.0.0.1:8071": "10.0.0.1:8071"} {
		if got := localAddress(listen); got != want {
			t.Errorf("localAddress(%q) = %q, want %q", listen, got, want)
		}
	}
}

// The README lists every subcommand of the usage and every make target.
func TestREADMEListsSubcommandsAndTargets(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	subcommand := regexp.MustCompile(`(?m)^  hookd ([a-z]+)`)
	target := regexp.MustCompile(`(?m)^([a-zA-Z0-9_/-]+):.*## `)
	var want []string
	for _, m := range subcommand.FindAllStringSubmatch(usage, -1) {
		want = append(want, "| `"+m[1])
	}
	for _, m := range target.FindAllStringSubmatch(string(makefile), -1) {
		if m[1] != "help" {
			want = append(want, "`make "+m[1]+"`")
		}
	}
	if len(want) < 15 {
		t.Fatalf("found only %v in the usage and the Makefile", want)
	}
	for _, w := range want {
		if !strings.Contains(string(readme), w) {
			t.Errorf("README.md does not list %s", w)
		}
	}
}
