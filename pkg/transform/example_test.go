package transform_test

import (
	"context"
	"fmt"

	"github.com/hookd/hookd/pkg/transform"
)

func Example() {
	engine := transform.New(transform.Config{})
	ctx := context.Background()

	// At write time (PATCH .../transformation): a *CompileError is a 422.
	code := `function handler(webhook) {
  webhook.payload = { text: "Invoice " + webhook.payload.id + " was paid" };
  webhook.url = webhook.url + "?source=" + webhook.variables.source;
  return webhook;
}`
	if _, err := engine.Compile(ctx, code); err != nil {
		fmt.Println(err)
		return
	}

	// When an attempt is prepared: Load hits the cache.
	p, err := engine.Load(ctx, code)
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := engine.Run(ctx, p, transform.Input{
		URL:       "https://example.com/hook",
		Payload:   []byte(`{"id":"in_1","amount":4250}`),
		EventType: "invoice.paid",
		Variables: map[string]string{"source": "hookd"},
	})
	if err != nil {
		fmt.Println(err) // the attempt fails with this message
		return
	}
	fmt.Println(out.Method, out.URL, string(out.Payload), out.Cancel)

	// A failing transformation.
	bad, _ := engine.Compile(ctx, "function handler(webhook) {\n  return webhook.payload.customer.name;\n}")
	_, err = engine.Run(ctx, bad, transform.Input{URL: "https://example.com/hook", Payload: []byte(`{}`)})
	fmt.Println(err)
	// Output:
	// POST https://example.com/hook?source=hookd {"text":"Invoice in_1 was paid"} false
	// transformation failed: TypeError at line 2: Cannot read property 'name' of undefined
}
