package main

import (
	"bytes"
	"context"
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
		{"receive", "-h"}, {"bench", "-h"},
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
