package filter

import (
	"errors"
	"strings"
	"testing"
)

func newEnv(t testing.TB, cfg Config) *Env {
	t.Helper()
	env, err := NewEnv(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestCompile(t *testing.T) {
	t.Parallel()
	env := newEnv(t, Config{})
	tests := []struct {
		name string
		expr string
		// want is "" for a valid expression, otherwise the first issue as
		// Issue.String prints it (or a prefix of it).
		want string
	}{
		// Valid filters over each variable.
		{"issue example", exampleExpr, ""},
		{"nested field", `payload.customer.address.country == "DE"`, ""},
		{"has", `has(payload.amount) && payload.amount > 10`, ""},
		{"channels", `"project_1337" in channels`, ""},
		{"tags", `tags.exists(t, t.startsWith("eu"))`, ""},
		{"one macro over a payload list", `payload.lines.exists(l, l.quantity > 5)`, ""},
		{"macros side by side", `payload.a.all(x, x > 0) && payload.b.exists(y, y == "z")`, ""},
		{"dyn result is checked at run time", `payload.paid`, ""},
		{"multi-line", "eventType == \"a\"\n&& payload.x > 1", ""},

		// Syntax errors carry the position of the offending token.
		{"dangling operator", `payload.amount >`, "line 1, column 17: Syntax error"},
		{"unclosed string", `eventType == "invoice.paid`, "line 1, column 14: Syntax error"},
		{"error on the second line", "eventType == \"a\" &&\n  payload.x >>> 2", "line 2, column 14: Syntax error"},
		{"unknown variable", `amount > 1000`, "line 1, column 1: undeclared reference to 'amount'"},

		// Type errors.
		{"string compared with int", `eventType > 1`, "line 1, column 11: found no matching overload for '_>_' applied to '(string, int)'"},
		{"non-bool result", `eventType`, "line 1, column 1: expression must evaluate to bool, not string"},
		{"list result", `channels`, "line 1, column 1: expression must evaluate to bool, not list(string)"},
		{"unknown function", `payload.x.frobnicate()`, "line 1, column 21: undeclared reference to 'frobnicate'"},

		// The cost limit rejects work that grows with the square of the payload.
		{"nested macros over payload lists", `payload.a.exists(x, payload.b.exists(y, x == y))`, "line 1, column 1: expression is too expensive: estimated worst-case cost"},
		{"triple map", `payload.a.map(x, payload.a.map(y, payload.a.map(z, x + y + z))).size() > 0`, "line 1, column 1: expression is too expensive: estimated worst-case cost unbounded"},

		// Degenerate input.
		{"empty", ``, "line 1, column 1: expression is empty"},
		{"too long", strings.Repeat("true && ", 600) + "true", "expression code point size exceeds limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := env.Compile(tt.expr)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Compile(%q) = %v", tt.expr, err)
				}
				if p.Expr() != tt.expr {
					t.Errorf("Expr() = %q", p.Expr())
				}
				return
			}
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Compile(%q) error = %v, want a *CompileError", tt.expr, err)
			}
			if got := ce.Issues[0].String(); !strings.Contains(got, tt.want) {
				t.Errorf("Compile(%q) first issue = %q, want it to contain %q", tt.expr, got, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "invalid filter: ") {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

func TestCompileLimitsAreConfigurable(t *testing.T) {
	t.Parallel()
	// A smaller payload bound admits a nested macro that the default refuses.
	expr := `payload.a.exists(x, payload.b.exists(y, x == y))`
	if _, err := newEnv(t, Config{MaxPayloadBytes: 100}).Compile(expr); err != nil {
		t.Errorf("with MaxPayloadBytes 100: %v", err)
	}
	// A lower estimated cost limit refuses a single macro.
	if _, err := newEnv(t, Config{MaxEstimatedCost: 1000}).Compile(`payload.a.exists(x, x > 1)`); err == nil {
		t.Error("with MaxEstimatedCost 1000: accepted a macro over a 1 MiB list")
	}
	// MaxLength counts characters.
	if _, err := newEnv(t, Config{MaxLength: 10}).Compile(`eventType == "x"`); err == nil {
		t.Error("with MaxLength 10: accepted 16 characters")
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	env := newEnv(t, Config{})
	p1, err := env.Load(exampleExpr)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := env.Load(exampleExpr)
	if err != nil {
		t.Fatal(err)
	}
	if p1 != p2 {
		t.Error("Load compiled the same text twice")
	}
	p3, err := env.Load(exampleExpr + " && true")
	if err != nil {
		t.Fatal(err)
	}
	if p3 == p1 {
		t.Error("Load returned the old program for a new text")
	}
	if _, err := env.Load(`1 +`); err == nil {
		t.Error("Load accepted a syntax error")
	}
	if _, err := env.Load(`1 +`); err == nil {
		t.Error("Load cached a failure as a success")
	}
}
