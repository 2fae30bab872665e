package filter

import (
	"testing"
)

// FuzzCompile checks that no expression makes Compile, Match or Explain
// panic, and that Match and Explain agree.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		exampleExpr,
		`payload.a.exists(x, payload.b.exists(y, x == y))`,
		`has(payload.x) ? payload.x.y[0] : "z" in tags`,
		`payload["a"].b.size() > 2u`,
		`1 +`,
		`"\u00e9" == b"\xff"`,
		`payload.matches("(")`,
		`dyn(payload).map(k, k)`,
	} {
		f.Add(s)
	}
	env, err := NewEnv(Config{MaxRuntimeCost: 10_000})
	if err != nil {
		f.Fatal(err)
	}
	in, err := NewInput(Message{EventType: "a.b", Channels: []string{"c"}, Tags: []string{"t"},
		Payload: []byte(`{"a":[1,2,{"b":"c"}],"x":{"y":["z"]},"n":null,"s":"str"}`)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		p, err := env.Compile(expr)
		if err != nil {
			ce, ok := err.(*CompileError)
			if !ok || len(ce.Issues) == 0 {
				t.Fatalf("Compile(%q) error %T %v, want a *CompileError with issues", expr, err, err)
			}
			return
		}
		ok, err := p.Match(in)
		x := p.Explain(in)
		if ok != x.Matched || (err != nil) != (x.Error != "") {
			t.Fatalf("%q: Match() = %v, %v; Explain() = %+v", expr, ok, err, x)
		}
	})
}
