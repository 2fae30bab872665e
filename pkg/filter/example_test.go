package filter_test

import (
	"fmt"

	"github.com/hookd/hookd/pkg/filter"
)

func Example() {
	env, err := filter.NewEnv(filter.Config{})
	if err != nil {
		panic(err)
	}

	// At write time: a *CompileError is a 422 naming line and column.
	if _, err := env.Compile(`payload.amount >`); err != nil {
		fmt.Println(err)
	}

	// At publish: decode the payload once, evaluate every endpoint's filter.
	in, err := filter.NewInput(filter.Message{
		EventType: "invoice.paid",
		Payload:   []byte(`{"amount": 4250, "currency": "EUR"}`),
	})
	if err != nil {
		panic(err)
	}
	for _, expr := range []string{
		`eventType == "invoice.paid" && payload.amount > 1000 && payload.currency in ["EUR", "USD"]`,
		`payload.customer.country == "DE"`,
	} {
		p, err := env.Load(expr) // cached by text
		if err != nil {
			panic(err)
		}
		ok, err := p.Match(in)
		if err != nil {
			fmt.Println("filtered out:", err)
			continue
		}
		fmt.Println("match:", ok)
	}
	// Output:
	// invalid filter: line 1, column 17: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}
	// match: true
	// filtered out: no such key: customer
}
