package transform

import (
	"context"
	"errors"
	"testing"
	"time"
)

// FuzzCompile checks that no code makes Compile or Run panic, and that
// their errors are always the package's types.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		renameCode,
		`function handler(w) { w.cancel = true; return w }`,
		`const handler = (w) => ({ ...w, url: w.url + "?x=1" })`,
		"function handler(w) {\n  return w +* 1;\n}",
		`function handler(w) { return w }}); (function(){`,
		`class A extends Error {}; function handler(w) { throw new A("x") }`,
		`function handler(w) { w.payload = [..."abc"].map((c, i) => c.repeat(i)); return w }`,
		"`${handler}`",
		`/(a+)+$/`,
	} {
		f.Add(s)
	}
	e := New(Config{Timeout: 20 * time.Millisecond, MaxCallDepth: 64})
	f.Fuzz(func(t *testing.T, code string) {
		ctx := context.Background()
		p, err := e.Compile(ctx, code)
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Compile(%q) error %T %v, want a *CompileError", code, err, err)
			}
			return
		}
		out, err := e.Run(ctx, p, testInput)
		if err != nil {
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("Run(%q) error %T %v, want an *Error", code, err, err)
			}
			return
		}
		if out.Method != "POST" && out.Method != "PUT" {
			t.Fatalf("Run(%q) returned method %q", code, out.Method)
		}
	})
}
