package transform

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// testConfig has a timeout long enough that a busy test machine does not
// fail code that finishes; tests of the timeout set their own.
var testConfig = Config{Timeout: slowdown * 30 * time.Second}

func compileOK(t testing.TB, e *Engine, code string) *Program {
	t.Helper()
	p, err := e.Compile(context.Background(), code)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return p
}

func TestCompile(t *testing.T) {
	t.Parallel()
	e := New(Config{Timeout: slowdown * time.Second, MaxCodeBytes: 1000})
	tests := []struct {
		name string
		code string
		// want is "" for valid code, else a substring of the error; line
		// and column are the expected position (0 for none).
		want         string
		line, column int
	}{
		// Ways to define a handler.
		{"function declaration", `function handler(webhook) { return webhook }`, "", 0, 0},
		{"arrow function", `const handler = (w) => w;`, "", 0, 0},
		{"strict mode and helpers", "'use strict';\nfunction rename(p) { return p }\nfunction handler(w) { w.payload = rename(w.payload); return w }", "", 0, 0},
		{"trailing line comment", "function handler(w) { return w } // done", "", 0, 0},

		// Syntax errors carry their position.
		{"unclosed brace", "function handler(w) {\n  return w;\n", "SyntaxError: Unexpected end of input", 3, 1},
		{"bad token", "function handler(w) {\n  return w +* 1;\n}", "SyntaxError: Unexpected token *", 2, 13},
		{"top-level return", "return 1", "SyntaxError", 1, 1},
		{"duplicate let", "let a = 1; let a = 2; function handler(w) { return w }", "SyntaxError", 1, 16},

		// The code cannot close the wrapper it runs in.
		{"wrapper escape", "function handler(w) { return w }}); let leaked = 1; (function(){", "SyntaxError", 1, 33},

		// The handler must exist and be a function.
		{"no handler", `function handle(w) { return w }`, "the code must define a function named handler", 0, 0},
		{"handler is not a function", `var handler = 42;`, "the code must define a function named handler", 0, 0},
		{"empty", ``, "the code must define a function named handler", 0, 0},

		// The top level runs, under the timeout.
		{"top level throws", "const x = null;\nx.y;\nfunction handler(w) { return w }", "TypeError", 2, 0},
		{"top level loops", "for (;;) {}\nfunction handler(w) { return w }", "timeout", 1, 0},
		{"top level uses require", "const fs = require('fs');\nfunction handler(w) { return w }", "ReferenceError: require is not defined", 1, 0},

		// Size.
		{"too long", "function handler(w) { return w }" + strings.Repeat(" ", 1000), "more than the limit of 1000", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := e.Compile(context.Background(), tt.code)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Compile: %v", err)
				}
				if p.Code() != tt.code {
					t.Error("Code() differs from the source")
				}
				return
			}
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Compile error = %v, want a *CompileError", err)
			}
			if !strings.Contains(ce.Message, tt.want) || ce.Line != tt.line || (tt.column != 0 && ce.Column != tt.column) {
				t.Errorf("Compile error = %+v, want %q at %d:%d", ce, tt.want, tt.line, tt.column)
			}
			if !strings.HasPrefix(err.Error(), "invalid transformation: ") {
				t.Errorf("Error() = %q", err)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	e := New(testConfig)
	ctx := context.Background()
	const code = `function handler(w) { return w }`
	p1, err := e.Load(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := e.Load(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	if p1 != p2 {
		t.Error("Load compiled the same code twice")
	}
	if p3, _ := e.Load(ctx, code+"\n"); p3 == p1 {
		t.Error("Load returned the program of other code")
	}
	for range 2 {
		if _, err := e.Load(ctx, `function handler(`); err == nil {
			t.Error("Load accepted a syntax error")
		}
	}
}
