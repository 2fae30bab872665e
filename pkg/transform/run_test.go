package transform

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var testInput = Input{
	URL:       "https://example.com/hook",
	Payload:   []byte(`{"customer_id":"cus_1","amount":42.5,"items":[{"sku":"A"},{"sku":"B"}],"nested":{"a":{"b":1}}}`),
	Headers:   map[string]string{"X-Custom": "1"},
	EventType: "invoice.paid",
	MsgID:     "msg_2",
	Variables: map[string]string{"region": "eu", "token": "s3cr3t"},
}

func TestRun(t *testing.T) {
	t.Parallel()
	e := New(testConfig)
	tests := []struct {
		name string
		code string
		want Output
	}{
		// The identity keeps everything, payload bytes included.
		{"identity", `function handler(w) { return w }`, Output{
			Method: "POST", URL: "https://example.com/hook", Headers: map[string]string{"X-Custom": "1"},
			Payload: []byte(`{"customer_id":"cus_1","amount":42.5,"items":[{"sku":"A"},{"sku":"B"}],"nested":{"a":{"b":1}}}`),
		}},
		// Reshaping the payload.
		{"rename and add", `function handler(w) {
			const p = w.payload;
			p.customerId = p.customer_id;
			delete p.customer_id;
			p.source = "hookd";
			return w;
		}`, Output{
			Method: "POST", URL: "https://example.com/hook", Headers: map[string]string{"X-Custom": "1"},
			Payload: []byte(`{"amount":42.5,"items":[{"sku":"A"},{"sku":"B"}],"nested":{"a":{"b":1}},"customerId":"cus_1","source":"hookd"}`),
		}},
		{"new payload from the message", `const handler = (w) => {
			w.payload = { text: w.eventType + " " + w.msgId, skus: w.payload.items.map((i) => i.sku).join(",") };
			return w;
		}`, Output{
			Method: "POST", URL: "https://example.com/hook", Headers: map[string]string{"X-Custom": "1"},
			Payload: []byte(`{"text":"invoice.paid msg_2","skus":"A,B"}`),
		}},
		{"payload that is not an object", `function handler(w) { w.payload = "plain"; return w }`, Output{
			Method: "POST", URL: "https://example.com/hook", Headers: map[string]string{"X-Custom": "1"}, Payload: []byte(`"plain"`),
		}},
		// Method, URL, headers, variables.
		{"put to another url", `function handler(w) {
			w.method = "PUT";
			w.url = "https://" + w.variables.region + ".example.com/in?id=" + encodeURIComponent(w.msgId);
			return w;
		}`, Output{
			Method: "PUT", URL: "https://eu.example.com/in?id=msg_2", Headers: map[string]string{"X-Custom": "1"},
			Payload: []byte(`{"customer_id":"cus_1","amount":42.5,"items":[{"sku":"A"},{"sku":"B"}],"nested":{"a":{"b":1}}}`),
		}},
		{"headers replaced", `function handler(w) {
			w.headers = { Authorization: "Bearer " + w.variables.token };
			w.payload = {};
			return w;
		}`, Output{
			Method: "POST", URL: "https://example.com/hook", Headers: map[string]string{"Authorization": "Bearer s3cr3t"}, Payload: []byte(`{}`),
		}},
		{"headers removed", `function handler(w) { delete w.headers; w.payload = []; return w }`, Output{
			Method: "POST", URL: "https://example.com/hook", Payload: []byte(`[]`),
		}},
		// A new object of the same shape is as good as the argument.
		{"new object", `function handler(w) { return { method: "POST", url: w.url, payload: { ok: true } } }`, Output{
			Method: "POST", URL: "https://example.com/hook", Payload: []byte(`{"ok":true}`),
		}},
		// Cancelling.
		{"cancel", `function handler(w) { if (w.payload.amount < 100) w.cancel = true; return w }`, Output{
			Method: "POST", URL: "https://example.com/hook", Headers: map[string]string{"X-Custom": "1"}, Cancel: true,
			Payload: []byte(`{"customer_id":"cus_1","amount":42.5,"items":[{"sku":"A"},{"sku":"B"}],"nested":{"a":{"b":1}}}`),
		}},
		// Builtins that are wrapped still work on ordinary sizes.
		{"builtins", `function handler(w) {
			const s = "ab".repeat(3).padStart(8, "-").padEnd(10, "+").concat("!", 1);
			const r = "a-b-c".replace("-", "+").replaceAll("-", () => "*");
			const a = [3, 1, 2].concat([4], 5).sort().map(String).join("|");
			const f = [[1, [2]], [3]].flat(Infinity).flatMap((x) => [x, x]).length;
			const m = Math.max.apply(null, [1, 9, 3]) + Reflect.apply(Math.min, null, [4, 2]);
			const set = [...new Set(Array.from("hello"))].join("");
			const long = "ab,".repeat(30000);
			const parts = long.split(",").length + long.split(/,/, 3).length + long.replace(/a/g, "").length +
				long.replaceAll("b", "").length + long.match(/b/g).length + [...long.matchAll(/b,/g)].length;
			const j = JSON.stringify({ a: [1, { b: 2 }], c: "x" }, ["a", "b"]);
			console.log("logging is a no-op", s);
			w.payload = { s, r, a, f, m, set, parts, j, re: /(\d+)-(\d+)/.exec("10-20").slice(1), date: typeof new Date().getTime() };
			return w;
		}`, Output{
			Method: "POST", URL: "https://example.com/hook", Headers: map[string]string{"X-Custom": "1"},
			Payload: []byte(`{"s":"--ababab++!1","r":"a+b*c","a":"1|2|3|4|5","f":6,"m":11,"set":"helo","parts":210004,"j":"{\"a\":[1,{\"b\":2}]}","re":["10","20"],"date":"number"}`),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := e.Run(context.Background(), compileOK(t, e, tt.code), testInput)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tt.want)
			if string(g) != string(w) {
				t.Errorf("Run()\n got %s\nwant %s\npayload %s", g, w, got.Payload)
			}
		})
	}
}

func TestRunFailures(t *testing.T) {
	t.Parallel()
	// The timeout must not strike the runs that end by themselves on a
	// busy machine: the loops pay for that.
	timeout := slowdown * time.Second
	e := New(Config{Timeout: timeout, MaxOutputBytes: 1000})
	tests := []struct {
		name string
		code string
		want string // the whole error message
	}{
		// Exceptions name their type and line.
		{"type error", "function handler(w) {\n  const x = w.payload.missing;\n  return x.y;\n}",
			"transformation failed: TypeError at line 3: Cannot read property 'y' of undefined"},
		{"thrown error", "function handler(w) {\n  throw new Error('no customer');\n}",
			"transformation failed: Error at line 2: no customer"},
		{"thrown subclass", "class MyError extends Error { constructor(m) { super(m); this.name = 'MyError' } }\nfunction handler(w) { throw new MyError('bad') }",
			"transformation failed: MyError at line 1: bad"},
		{"thrown string", "function handler(w) {\n\n  throw 'oops';\n}",
			"transformation failed: Error at line 3: uncaught string oops"},
		{"error from a helper", "function check(p) {\n  if (!p.x) throw new RangeError('x missing');\n}\nfunction handler(w) {\n  check(w.payload);\n}",
			"transformation failed: RangeError at line 2: x missing"},
		{"thrown object with a throwing getter", `function handler(w) { throw { get message() { throw 1 }, toString() { throw 2 } } }`,
			"transformation failed: Error at line 1: uncaught exception"},

		// Loops end at the timeout.
		{"infinite loop", "function handler(w) {\n  let n = 0;\n  while (true) { n++ }\n}",
			"transformation failed: timeout at line 3: ran for more than {timeout}"},
		{"infinite loop in a getter of the result", "function handler(w) {\n  return { get method() { for (;;) {} } };\n}",
			"transformation failed: timeout at line 2: ran for more than {timeout}"},
		{"recursion", "function f(n) { return f(n + 1) }\nfunction handler(w) { return f(0) }",
			"transformation failed: RangeError at line 1: maximum call stack size (256) exceeded"},

		// What the sandbox does not have.
		{"require", `function handler(w) { const http = require("http"); return w }`,
			"transformation failed: ReferenceError at line 1: require is not defined"},
		{"setTimeout", `function handler(w) { setTimeout(() => {}, 10); return w }`,
			"transformation failed: ReferenceError at line 1: setTimeout is not defined"},
		{"fetch", `function handler(w) { fetch("http://127.0.0.1/"); return w }`,
			"transformation failed: ReferenceError at line 1: fetch is not defined"},
		{"process", `function handler(w) { process.exit(1) }`,
			"transformation failed: ReferenceError at line 1: process is not defined"},
		{"XMLHttpRequest", `function handler(w) { new XMLHttpRequest() }`,
			"transformation failed: ReferenceError at line 1: XMLHttpRequest is not defined"},

		// Garbage results.
		{"returns nothing", `function handler(w) { w.payload = {} }`,
			"transformation failed: invalid result: the handler must return the webhook object, not undefined"},
		{"returns a number", `function handler(w) { return 42 }`,
			"transformation failed: invalid result: the handler must return the webhook object, not number"},
		{"returns an array", `function handler(w) { return [w] }`,
			"transformation failed: invalid result: the handler must return the webhook object, not array"},
		{"returns a promise", `async function handler(w) { return w }`,
			"transformation failed: invalid result: method must be a string, not undefined"},
		{"method GET", `function handler(w) { w.method = "GET"; return w }`,
			`transformation failed: invalid result: method must be "POST" or "PUT", not "GET"`},
		{"method lower case", `function handler(w) { w.method = "put"; return w }`,
			`transformation failed: invalid result: method must be "POST" or "PUT", not "put"`},
		{"url not a string", `function handler(w) { w.url = new URL("https://x"); return w }`,
			"transformation failed: ReferenceError at line 1: URL is not defined"},
		{"url a number", `function handler(w) { w.url = 8080; return w }`,
			"transformation failed: invalid result: url must be a string, not number"},
		{"url empty", `function handler(w) { w.url = ""; return w }`,
			"transformation failed: invalid result: url is empty"},
		{"cancel not a boolean", `function handler(w) { w.cancel = "yes"; return w }`,
			"transformation failed: invalid result: cancel must be a boolean, not string"},
		{"payload undefined", `function handler(w) { delete w.payload; return w }`,
			"transformation failed: invalid result: payload is undefined"},
		{"payload a function", `function handler(w) { w.payload = () => 1; return w }`,
			"transformation failed: invalid result: payload cannot be serialised to JSON: it is a function"},
		{"payload cyclic", `function handler(w) { w.payload.self = w.payload; return w }`,
			"transformation failed: invalid result: payload cannot be serialised to JSON: Converting circular structure to JSON"},
		{"payload bigint", `function handler(w) { w.payload = { n: 10n }; return w }`,
			"transformation failed: invalid result: payload cannot be serialised to JSON: Do not know how to serialize a BigInt"},
		{"payload over the output limit", `function handler(w) { w.payload = { s: "x".repeat(2000) }; return w }`,
			"transformation failed: invalid result: payload cannot be serialised to JSON: the JSON text exceeds the sandbox limit of 1000"},
		{"headers an array", `function handler(w) { w.headers = ["a"]; return w }`,
			"transformation failed: invalid result: headers must be an object, not array"},
		{"header value a number", `function handler(w) { w.headers["X-N"] = 1; return w }`,
			"transformation failed: invalid result: header X-N must be a string, not number"},
		{"header name with a space", `function handler(w) { w.headers["X Bad"] = "1"; return w }`,
			`transformation failed: invalid result: header name "X Bad" is not a valid HTTP field name`},
		{"header value with a newline", `function handler(w) { w.headers["X-Bad"] = "a\r\nInjected: 1"; return w }`,
			"transformation failed: invalid result: header X-Bad has a value that is not a valid HTTP field value"},
		{"too many headers", `function handler(w) { for (let i = 0; i < 65; i++) w.headers["X-" + i] = "v"; return w }`,
			"transformation failed: invalid result: 66 headers, more than the limit of 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.Run(context.Background(), compileOK(t, e, tt.code), testInput)
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("Run error = %v, want an *Error", err)
			}
			if want := strings.ReplaceAll(tt.want, "{timeout}", timeout.String()); err.Error() != want {
				t.Errorf("Run error\n got %s\nwant %s", err, want)
			}
		})
	}
}

func TestRunInvalidInput(t *testing.T) {
	t.Parallel()
	e := New(Config{Timeout: slowdown * 30 * time.Second, MaxPayloadBytes: 3000})
	p := compileOK(t, e, `function handler(w) { return w }`)
	for _, in := range []Input{
		{URL: "https://x", Payload: []byte(`{"a":` + strings.Repeat("1", 3000) + `}`)},
		{URL: "https://x", Payload: []byte(`{"a":`)},
		{URL: "https://x", Payload: []byte(strings.Repeat("[", 1001) + strings.Repeat("]", 1001))},
	} {
		_, err := e.Run(context.Background(), p, in)
		var re *Error
		if !errors.As(err, &re) || re.Kind != "invalid input" {
			t.Errorf("Run(%s) error = %v, want invalid input", in.Payload, err)
		}
	}
}

func TestRunContext(t *testing.T) {
	t.Parallel()
	e := New(Config{Timeout: time.Minute})
	p := compileOK(t, e, "function handler(w) {\n  for (let i = 0; ; i++) { i-- }\n}")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.Run(ctx, p, testInput)
	if err == nil || !strings.HasPrefix(err.Error(), "transformation failed: cancelled at line 2: context deadline exceeded") {
		t.Fatalf("Run error = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run took %s after its context ended", d)
	}
}
