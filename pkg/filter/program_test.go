package filter

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

const invoice = `{
	"amount": 4250, "currency": "EUR", "paid": true, "note": null, "big": 9007199254740993,
	"customer": {"address": {"country": "DE", "city": "Berlin"}, "vip": false},
	"lines": [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 7}],
	"labels": ["urgent", "b2b"]
}`

func newInput(t testing.TB, m Message) *Input {
	t.Helper()
	in, err := NewInput(m)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestMatch(t *testing.T) {
	t.Parallel()
	env := newEnv(t, Config{})
	in := newInput(t, Message{
		EventType: "invoice.paid",
		Channels:  []string{"project_1337", "eu"},
		Tags:      []string{"billing"},
		Payload:   []byte(invoice),
	})
	tests := []struct {
		expr    string
		want    bool
		wantErr string // a substring of the evaluation error, "" for none
	}{
		// The example and its variations.
		{exampleExpr, true, ""},
		{`eventType == "invoice.paid" && payload.amount > 5000`, false, ""},
		{`eventType == "invoice.created" && payload.amount > 1000`, false, ""},

		// Numbers: JSON numbers are doubles and compare with int literals.
		{`payload.amount == 4250`, true, ""},
		{`payload.amount >= 4250.0 && payload.amount < 4251`, true, ""},
		{`payload.amount / 2.0 == 2125.0`, true, ""},

		// Nested fields.
		{`payload.customer.address.country == "DE"`, true, ""},
		{`payload.customer.vip`, false, ""},
		{`!payload.customer.vip && payload.paid`, true, ""},

		// Lists and "in".
		{`"urgent" in payload.labels`, true, ""},
		{`"retail" in payload.labels`, false, ""},
		{`payload.labels.size() == 2`, true, ""},
		{`payload.lines.exists(l, l.quantity > 5)`, true, ""},
		{`payload.lines.all(l, l.quantity > 5)`, false, ""},
		{`payload.lines.filter(l, l.sku == "B").size() == 1`, true, ""},
		{`payload.lines[1].sku == "B"`, true, ""},
		{`payload.currency in ["EUR", "USD"]`, true, ""},

		// Channels and tags.
		{`"eu" in channels`, true, ""},
		{`channels.exists(c, c.startsWith("project_"))`, true, ""},
		{`"billing" in tags && !("ops" in tags)`, true, ""},

		// Null and strings.
		{`payload.note == null`, true, ""},
		{`payload.customer.address.city.matches("^B.*n$")`, true, ""},
		{`payload.currency.startsWith("E") && payload.currency.size() == 3`, true, ""},

		// Missing keys are errors, which has() avoids.
		{`payload.discount > 10`, false, "no such key: discount"},
		{`payload.customer.address.zip == "10117"`, false, "no such key: zip"},
		{`has(payload.discount) && payload.discount > 10`, false, ""},
		{`!has(payload.discount) || payload.discount > 10`, true, ""},
		{`payload.lines[5].sku == "A"`, false, "index out of bounds: 5"},

		// Type errors that only the data reveals.
		{`payload.currency > 1`, false, "no such overload"},
		{`payload.customer.address.country.size() > payload.amount.size()`, false, "no such overload"},
		{`payload.amount`, false, "expression evaluated to double, not bool"},

		// A logical operator absorbs an error when the other side decides.
		{`payload.paid || payload.discount > 10`, true, ""},
		{`payload.discount > 10 && false`, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			p, err := env.Compile(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Match(in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Match() error = %v, want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("Match() error = %v", err)
			}
			if got != tt.want {
				t.Errorf("Match() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMatchEmptyAndOddInputs(t *testing.T) {
	t.Parallel()
	env := newEnv(t, Config{})
	tests := []struct {
		name    string
		msg     Message
		expr    string
		want    bool
		wantErr string
	}{
		// No channels or tags: empty lists, not errors.
		{"no channels", Message{Payload: []byte(`{}`)}, `channels.size() == 0 && !("a" in tags)`, true, ""},
		// A payload that is not an object is still a value.
		{"array payload", Message{Payload: []byte(`[1,2,3]`)}, `payload.size() == 3`, true, ""},
		{"field of an array", Message{Payload: []byte(`[1]`)}, `payload.x == 1`, false, "unsupported index type"},
		// Integers beyond 2^53 are doubles: precision is lost.
		{"big integer", Message{Payload: []byte(`{"n": 9007199254740993}`)}, `payload.n == 9007199254740992.0`, true, ""},
		// Unicode keys and values.
		{"unicode", Message{Payload: []byte(`{"名前": "José"}`)}, `payload["名前"] == "José"`, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := env.Compile(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Match(newInput(t, tt.msg))
			if (err != nil || tt.wantErr != "") && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Match() error = %v, want %q", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Match() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewInputRejectsInvalidJSON(t *testing.T) {
	t.Parallel()
	for _, payload := range []string{``, `{`, `{"a":}`, `nope`} {
		if _, err := NewInput(Message{Payload: []byte(payload)}); err == nil {
			t.Errorf("NewInput(%q) succeeded", payload)
		}
	}
}

func TestMatchRuntimeCostLimit(t *testing.T) {
	t.Parallel()
	env := newEnv(t, Config{MaxRuntimeCost: 1000})
	var items []string
	for i := range 5000 {
		items = append(items, fmt.Sprint(i))
	}
	in := newInput(t, Message{Payload: []byte(`{"items":[` + strings.Join(items, ",") + `]}`)})
	p, err := env.Compile(`payload.items.exists(i, i > 10000)`)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := p.Match(in)
	if ok || err == nil || !strings.Contains(err.Error(), "cost limit exceeded") {
		t.Fatalf("Match() = %v, %v; want false and a cost limit error", ok, err)
	}
	// The same filter on a short list is within the limit.
	ok, err = p.Match(newInput(t, Message{Payload: []byte(`{"items":[1, 20000]}`)}))
	if !ok || err != nil {
		t.Fatalf("Match() on a short list = %v, %v", ok, err)
	}
}

// TestMatchRuntimeCostLimitBeyondTheEstimate: a filter whose estimate is
// within the runtime limit runs untracked, but not on a payload larger than
// the estimate assumed.
func TestMatchRuntimeCostLimitBeyondTheEstimate(t *testing.T) {
	t.Parallel()
	env := newEnv(t, Config{MaxRuntimeCost: 1000, MaxPayloadBytes: 50})
	p, err := env.Compile(`payload.items.exists(i, i > 10000)`)
	if err != nil {
		t.Fatal(err)
	}
	if p.untracked == nil {
		t.Fatalf("estimate %d over the runtime limit: the test needs a smaller one", p.EstimatedCost())
	}
	if ok, err := p.Match(newInput(t, Message{Payload: []byte(`{"items":[1,20000]}`)})); !ok || err != nil {
		t.Fatalf("Match() on a small payload = %v, %v", ok, err)
	}
	items := strings.Repeat("1,", 5000) + "1"
	ok, err := p.Match(newInput(t, Message{Payload: []byte(`{"items":[` + items + `]}`)}))
	if ok || err == nil || !strings.Contains(err.Error(), "cost limit exceeded") {
		t.Fatalf("Match() on a large payload = %v, %v; want a cost limit error", ok, err)
	}
}

// TestMatchConcurrent shares one program and one input between goroutines,
// as publish does; run it with -race.
func TestMatchConcurrent(t *testing.T) {
	t.Parallel()
	env := newEnv(t, Config{})
	in := newInput(t, Message{EventType: "invoice.paid", Payload: []byte(invoice)})
	p, err := env.Load(exampleExpr)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if ok, err := p.Match(in); !ok || err != nil {
					errs <- fmt.Errorf("Match() = %v, %v", ok, err)
					return
				}
				_ = p.Explain(in)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
