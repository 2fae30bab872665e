package filter

import (
	"encoding/json"
	"testing"
)

func TestExplain(t *testing.T) {
	t.Parallel()
	env := newEnv(t, Config{})
	in := newInput(t, Message{EventType: "invoice.paid", Channels: []string{"eu"}, Payload: []byte(invoice)})
	tests := []struct {
		name string
		expr string
		want Explanation
	}{
		// Each operand of a top-level && gets its value, comparisons their
		// non-literal sides.
		{"which side of && failed", `eventType == "invoice.paid" && payload.amount > 5000`, Explanation{
			Matched: false,
			Terms: []Term{
				{Expr: `eventType == "invoice.paid"`, Value: "true", Operands: []Term{{Expr: "eventType", Value: `"invoice.paid"`}}},
				{Expr: `payload.amount > 5000`, Value: "false", Operands: []Term{{Expr: "payload.amount", Value: "4250"}}},
			},
		}},
		// Evaluation does not short-circuit: the missing key is reported
		// although the first operand already decided.
		{"error after a false operand", `eventType == "x" && payload.discount > 1`, Explanation{
			Matched: false,
			Terms: []Term{
				{Expr: `eventType == "x"`, Value: "false", Operands: []Term{{Expr: "eventType", Value: `"invoice.paid"`}}},
				{Expr: `payload.discount > 1`, Error: "no such key: discount", Operands: []Term{{Expr: "payload.discount", Error: "no such key: discount"}}},
			},
		}},
		// An error that decides the result is the explanation's error.
		{"missing key", `payload.discount > 1`, Explanation{
			Matched: false,
			Error:   "no such key: discount",
			Terms: []Term{
				{Expr: `payload.discount > 1`, Error: "no such key: discount", Operands: []Term{{Expr: "payload.discount", Error: "no such key: discount"}}},
			},
		}},
		// || chains flatten; macros and lists print in CEL syntax.
		{"or chain with a macro and a list", `"ops" in channels || payload.lines.exists(l, l.quantity > 5) || payload.labels == ["x"]`, Explanation{
			Matched: true,
			Terms: []Term{
				{Expr: `"ops" in channels`, Value: "false", Operands: []Term{{Expr: "channels", Value: `["eu"]`}}},
				{Expr: `payload.lines.exists(l, l.quantity > 5)`, Value: "true"},
				{Expr: `payload.labels == ["x"]`, Value: "false", Operands: []Term{{Expr: "payload.labels", Value: `["urgent", "b2b"]`}}},
			},
		}},
		// Maps print as maps, keys in order.
		{"map value", `payload.customer.address == {"country": "FR"}`, Explanation{
			Matched: false,
			Terms: []Term{
				{Expr: `payload.customer.address == {"country": "FR"}`, Value: "false", Operands: []Term{
					{Expr: "payload.customer.address", Value: `{"city": "Berlin", "country": "DE"}`},
					{Expr: `{"country": "FR"}`, Value: `{"country": "FR"}`},
				}},
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := env.Compile(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			got := p.Explain(in)
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tt.want)
			if string(g) != string(w) {
				t.Errorf("Explain()\n got %s\nwant %s", g, w)
			}
			ok, err := p.Match(in)
			if ok != got.Matched || (err != nil) != (got.Error != "") {
				t.Errorf("Match() = %v, %v; Explain disagrees: %+v", ok, err, got)
			}
		})
	}
}

func TestExplainCutsLongValues(t *testing.T) {
	t.Parallel()
	env := newEnv(t, Config{})
	long := make([]byte, 0, 2000)
	long = append(long, `{"s":"`...)
	for range 1000 {
		long = append(long, 'x')
	}
	long = append(long, `"}`...)
	p, err := env.Compile(`payload.s == "y"`)
	if err != nil {
		t.Fatal(err)
	}
	x := p.Explain(newInput(t, Message{Payload: long}))
	if v := x.Terms[0].Operands[0].Value; len([]rune(v)) != maxValueLength+1 {
		t.Errorf("value has %d characters, want %d", len([]rune(v)), maxValueLength+1)
	}
}
