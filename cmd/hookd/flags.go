package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
)

// newFlagSet returns the flag set of a subcommand. Its usage, printed for
// -h (to stdout, and hookd exits 0) or after a bad flag (to stderr), is
// synopsis, what the subcommand does, then the flags.
func newFlagSet(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\n%s\n", synopsis, about)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(fs.Output(), "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// helpFlags ask for a subcommand's usage.
var helpFlags = []string{"-h", "-help", "--help", "--h", "help"}

// wantsHelp reports whether args (before any "--") ask for help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if slices.Contains(helpFlags, a) {
			return true
		}
	}
	return false
}

// parseFlags parses args into fs. When they ask for help it prints the
// usage to stdout and returns flag.ErrHelp, which run turns into success.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	if wantsHelp(args) {
		fs.SetOutput(stdout)
		fs.Usage()
		return flag.ErrHelp
	}
	return fs.Parse(args)
}
