// Command hookd is the self-hosted webhook delivery platform: one binary
// with the subcommands serve, api, worker, migrate, keys create, bench,
// receive, healthcheck and version.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Version is set at build time (-ldflags "-X main.Version=...").
var Version = "dev"

const usage = `hookd: self-hosted webhook delivery

Usage:
  hookd serve            API, web UI and worker in one process
  hookd api              API and web UI only
  hookd worker           delivery worker only
  hookd migrate          apply pending database migrations and exit
  hookd keys create --org NAME
                         create an API key (printed once, last line of output)
  hookd bench [flags]    measure publish and delivery (hookd bench -h)
  hookd receive [flags]  print (and verify) webhooks sent to a local address
  hookd healthcheck      exit 0 if the local hookd API is healthy (for containers)
  hookd version          print the version

serve, api and worker apply pending migrations at start unless --no-migrate
is given. hookd SUBCOMMAND -h describes a subcommand. Configuration comes from HOOKD_* environment variables; see
docs/configuration.md.
`

// What each subcommand does, for its -h.
var (
	serverAbout = map[string]string{
		"serve":  "Runs the API, the web UI and the delivery worker in one process.",
		"api":    "Runs the API and the web UI only (scale them apart from the workers).",
		"worker": "Runs the delivery worker only: deliveries, retries, the reconciler and background tasks.",
	}
	migrateAbout = "Applies pending database migrations to HOOKD_DB_DSN (creating the database if needed) and exits."
	keysAbout    = "Creates an API key of an organisation (created if needed) and prints it, once, alone on the\nlast line; only its hash is stored."
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], environ(), os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "hookd:", err)
		os.Exit(1)
	}
}

func environ() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// run dispatches a subcommand; ctx ends on SIGINT or SIGTERM. Asking a
// subcommand for help (-h) prints its usage to stdout and succeeds.
func run(ctx context.Context, args []string, environ map[string]string, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, environ, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func dispatch(ctx context.Context, args []string, environ map[string]string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no subcommand given")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "serve", "api", "worker":
		return runServer(ctx, cmd, args, environ, stdout, stderr)
	case "migrate":
		if err := parseFlags(newFlagSet("migrate", "hookd migrate", migrateAbout, stderr), args, stdout); err != nil {
			return err
		}
		return runMigrate(ctx, environ, stderr)
	case "keys":
		return runKeys(ctx, args, environ, stdout, stderr)
	case "receive":
		return runReceive(ctx, args, stdout, stderr)
	case "bench":
		return runBench(ctx, args, environ, stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, args, environ, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "hookd", Version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown subcommand %q", cmd)
}

func runServer(ctx context.Context, role string, args []string, environ map[string]string, stdout, stderr io.Writer) error {
	fs := newFlagSet(role, "hookd "+role+" [--no-migrate]", serverAbout[role], stderr)
	noMigrate := fs.Bool("no-migrate", false, "do not apply pending migrations at start")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	cfg, err := LoadConfig(environ)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if *noMigrate {
		cfg.MigrateOnStart = false
	}
	m := NewMain(cfg, Roles{API: role != "worker", Worker: role != "api"}, stderr)
	if err := m.Open(ctx); err != nil {
		_ = m.Close()
		return err
	}
	defer m.Close()
	if m.Roles.API {
		fmt.Fprintf(stdout, "hookd %s listening on %s\n", Version, m.URL())
		if cfg.AdminAPIKey != "" {
			fmt.Fprintln(stdout, "API key: the value of HOOKD_ADMIN_API_KEY")
		} else {
			fmt.Fprintln(stdout, "Get an API key:  hookd keys create --org default")
		}
	}
	return m.Run(ctx)
}

func runMigrate(ctx context.Context, environ map[string]string, stderr io.Writer) error {
	cfg, err := LoadConfig(environ)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	m := NewMain(cfg, Roles{}, stderr)
	defer m.Close()
	return m.Open(ctx)
}

func runKeys(ctx context.Context, args []string, environ map[string]string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys create", "hookd keys create [--org NAME]", keysAbout, stderr)
	org := fs.String("org", "default", "organisation the key belongs to (created if needed)")
	if len(args) == 0 || args[0] != "create" {
		if wantsHelp(args) {
			return parseFlags(fs, args, stdout)
		}
		fs.Usage()
		return errors.New("usage: hookd keys create --org NAME")
	}
	if err := parseFlags(fs, args[1:], stdout); err != nil {
		return err
	}
	if *org == "" {
		return errors.New("--org must not be empty")
	}
	cfg, err := LoadConfig(environ)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	m := NewMain(cfg, Roles{}, stderr)
	defer m.Close()
	if err := m.Open(ctx); err != nil {
		return err
	}
	token, err := m.CreateKey(ctx, *org)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Created an API key for organisation %q. It is shown only once:\n", *org)
	fmt.Fprintln(stdout, token)
	return nil
}
