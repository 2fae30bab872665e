package transform

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSandboxLimits runs code that would take the process's memory or a
// CPU for seconds to minutes if the builtins were not wrapped. Each must
// fail with the sandbox's error, not the timeout, which is long so that a
// slow machine or the race detector cannot make the test flaky. The array
// limit is lower than the default to keep the counting loops short.
func TestSandboxLimits(t *testing.T) {
	t.Parallel()
	e := New(Config{Timeout: slowdown * 30 * time.Second, MaxArrayLength: 10_000})
	tests := []struct {
		name string
		code string
		want string // a substring of the error, or several separated by |
	}{
		// Huge strings in one call.
		{"repeat", `"x".repeat(2 ** 30)`, "a string length exceeds the sandbox limit of 4194304"},
		{"repeat through a lying toString", `const liar = { n: 0, toString() { return this.n++ ? "x".repeat(1000) : "x" } };
			if (String.prototype.repeat.call(liar, 4000000).length === 4000000) throw new RangeError("toString was called once")`, "toString was called once"},
		{"padStart", `"x".padStart(2 ** 30, "ab")`, "a string length exceeds"},
		{"padEnd", `"x".padEnd(2 ** 29)`, "a string length exceeds"},
		{"concat", `const s = "x".repeat(2 ** 21); s.concat(s, s)`, "a string length exceeds"},
		{"replaceAll with empty pattern", `const s = "x".repeat(20000); s.replaceAll("", s)`, "a string length exceeds"},
		{"replace with $& patterns", `const s = "x".repeat(5000); s.replace(/x/g, "$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&$&")`, "a string length exceeds"},
		{"replace with a function", `const s = "x".repeat(5000), big = "y".repeat(1e4); s.replace(/x/g, () => big)`, "a string length exceeds"},
		{"join of a shared string", `const big = "x".repeat(1e5); new Array(1000).fill(big).join("")`, "a string length exceeds"},
		{"join with a long separator", `new Array(1000).join("x".repeat(1e5))`, "a string length exceeds"},
		{"JSON.stringify of a shared value", `const big = "x".repeat(1e5); JSON.stringify(new Array(1000).fill(big))`, "the JSON text exceeds the sandbox limit"},
		{"global replace on a long string", `"a".repeat(70000).replace(/a/g, "b")`, "the number of matches exceeds the sandbox limit of 10000"},
		{"global match on a long string", `"a".repeat(70000).match(/a/g)`, "the number of matches exceeds"},
		// Counting the matches uses the backtracking engine, whose two
		// seconds a very busy machine can run out: split's own limit then
		// refuses the pieces.
		{"regexp split of a long string", `"a".repeat(70000).split(/a/)`, "the number of matches exceeds|an array length exceeds"},
		{"Symbol.replace called directly", `RegExp.prototype[Symbol.replace].call(/a/g, "a".repeat(70000), "b")`, "the number of matches exceeds"},
		{"replaceAll on a long string", `"a".repeat(70000).replaceAll("a", "b")`, "the number of matches exceeds"},
		{"split of a long string", `"a".repeat(70000).split("a")`, "an array length exceeds"},
		{"split into characters", `"a".repeat(70000).split("")`, "an array length exceeds"},
		{"String.raw", `String.raw({ raw: { length: 2 ** 32 - 1 } })`, "an array length exceeds"},

		// Huge arrays: sparse arrays have any length for free; the builtins loop up to it.
		{"fill", `new Array(2 ** 26).fill(0)`, "an array length exceeds the sandbox limit of 10000"},
		{"join of a sparse array", `new Array(2 ** 27).join("x")`, "an array length exceeds"},
		{"Array.from an array-like", `Array.from({ length: 2 ** 26 })`, "an array length exceeds"},
		{"apply", `Math.max.apply(null, { length: 2 ** 30 })`, "an array length exceeds"},
		{"Reflect.apply", `Reflect.apply(Math.max, null, { length: 2 ** 30 })`, "an array length exceeds"},
		{"length set by index", `const a = []; a[2 ** 32 - 2] = 1; a.indexOf(2)`, "an array length exceeds"},
		{"Set from a sparse array", `const a = []; a.length = 2 ** 32 - 1; new Set(a)`, "an array length exceeds"},
		{"spread of a sparse array", `const a = []; a.length = 2 ** 32 - 1; [...a]`, "an array length exceeds"},
		{"for-of a sparse array", `const a = []; a.length = 2 ** 32 - 1; for (const x of a) {}`, "an array length exceeds"},
		{"concat of many", `const a = new Array(5000).fill(1); a.concat(a, a)`, "an array length exceeds"},
		{"flat of a shared array", `const a = new Array(5000).fill(1); [a, a, a].flat()`, "an array length exceeds|timeout"},
		{"flatMap of a shared array", `const a = new Array(5000).fill(1); [1, 2, 3].flatMap(() => a)`, "an array length exceeds"},
		{"concat of a spreadable array-like", `[].concat({ length: 2 ** 32 - 1, [Symbol.isConcatSpreadable]: true })`, "Symbol.isConcatSpreadable is not supported"},
		{"JSON.parse of deep nesting", `JSON.parse("[".repeat(1e5) + "]".repeat(1e5))`, "SyntaxError at line 2: JSON nested deeper than the sandbox limit of 1000|JSON nested deeper than the sandbox limit of 1000"},
		{"array-like with a length getter", `Array.prototype.join.call({ get length() { return 2 ** 32 - 1 } })`, "array-likes with a length getter are not supported"},

		// Loops that hit a limit.
		{"pushing objects", "const a = [];\nwhile (true) { a.push({ k: 'v' }); if (a.length % 1000 === 0) a.indexOf(1) }", "an array length exceeds"},
		{"deep recursion", `const f = (n) => f(n + 1) + 1; f(0)`, "maximum call stack size (256) exceeded"},

		// Builtins that are not there.
		{"ArrayBuffer", `new ArrayBuffer(2 ** 31)`, "ArrayBuffer is not defined"},
		{"typed array", `new Uint8Array(2 ** 31)`, "Uint8Array is not defined"},
		{"Proxy", `new Proxy({}, {})`, "Proxy is not defined"},
		{"Symbol.for", `for (let i = 0; ; i++) Symbol.for("k" + i)`, "TypeError"},
		{"SharedArrayBuffer", `new SharedArrayBuffer(8)`, "SharedArrayBuffer is not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code := tt.code + "\nfunction handler(w) { return w }"
			// The top level runs at compile time too: check both ways.
			p, err := e.Compile(context.Background(), "function handler(w) {\n"+tt.code+"\n}")
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = e.Run(context.Background(), p, testInput)
			if !matches(err, tt.want) {
				t.Errorf("Run error = %v, want %q", err, tt.want)
			}
			if d := time.Since(start); d > slowdown*5*time.Second {
				t.Errorf("Run took %s", d)
			}
			if _, err := e.Compile(context.Background(), code); !matches(err, tt.want) {
				t.Errorf("Compile error = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestSandboxLoops: loops that only the timeout ends. (A timeout in the
// promise job queue has no line.)
func TestSandboxLoops(t *testing.T) {
	t.Parallel()
	e := New(Config{Timeout: 100 * time.Millisecond})
	for _, code := range []string{
		"let s = 'x';\nwhile (true) s += s;",
		"const o = {};\nfor (let i = 0; ; i++) o['k' + i] = i;",
		"const loop = () => Promise.resolve().then(loop);\nloop();",
		"for (;;) { try { for (;;) {} } catch (e) {} finally { continue } }",
	} {
		p := compileOK(t, e, "function handler(w) {\n"+code+"\n}")
		start := time.Now()
		_, err := e.Run(context.Background(), p, testInput)
		if !matches(err, "transformation failed: timeout") {
			t.Errorf("%s: Run error = %v, want a timeout", code, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: Run took %s", code, d)
		}
	}
}

// matches reports whether err's message contains one of the |-separated
// substrings of want.
func matches(err error, want string) bool {
	if err == nil {
		return false
	}
	for _, w := range strings.Split(want, "|") {
		if strings.Contains(err.Error(), w) {
			return true
		}
	}
	return false
}

// TestSandboxRegexpBacktracking: a pattern that only the backtracking
// engine runs gives up instead of running for ever.
func TestSandboxRegexpBacktracking(t *testing.T) {
	t.Parallel()
	e := New(Config{Timeout: slowdown * 30 * time.Second})
	p := compileOK(t, e, `function handler(w) {
		w.payload = { matched: /^(a+)+(?!x)$/.test("a".repeat(40) + "b") };
		return w;
	}`)
	start := time.Now()
	out, err := e.Run(context.Background(), p, testInput)
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Payload) != `{"matched":false}` {
		t.Errorf("payload = %s", out.Payload)
	}
	if d := time.Since(start); d > slowdown*3*time.Second {
		t.Errorf("the match ran for %s", d)
	}
}

// TestSandboxOverrides: code assigns properties that frozen prototypes
// hold, as ordinary JavaScript does.
func TestSandboxOverrides(t *testing.T) {
	t.Parallel()
	e := New(testConfig)
	p := compileOK(t, e, `
		class ValidationError extends Error {
			constructor(m) { super(m); this.name = "ValidationError"; }
		}
		function handler(w) {
			const o = { a: 1 };
			o.toString = () => "custom";
			o.constructor = "c";
			const e = new Error();
			e.message = "set later";
			let caught;
			try { throw new ValidationError("bad") } catch (x) { caught = x.name + ": " + x.message }
			let refused;
			try { Object.prototype.toString = null } catch (x) { refused = x.constructor.name }
			w.payload = { s: String(o), c: o.constructor, m: e.message, caught, refused, proto: typeof ({}).toString };
			return w;
		}`)
	out, err := e.Run(context.Background(), p, testInput)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"s":"custom","c":"c","m":"set later","caught":"ValidationError: bad","refused":"TypeError","proto":"function"}`
	if string(out.Payload) != want {
		t.Errorf("payload\n got %s\nwant %s", out.Payload, want)
	}
}

// TestSandboxIsolation runs code that tries every way we know to leave
// state behind, then other code in the same VM that looks for it.
func TestSandboxIsolation(t *testing.T) {
	t.Parallel()
	// One VM for everything: the pool holds one, and runs are sequential.
	e := New(Config{Timeout: slowdown * 30 * time.Second, PoolSize: 1})
	ctx := context.Background()
	polluter := compileOK(t, e, `
		var topVar = "A's secret";
		let topLet = "A's secret";
		function topFunction() { return "A's secret" }
		let counter = 0;
		function handler(w) {
			counter++;
			leakedImplicit = w.payload;
			try { globalThis.leakedGlobal = w.payload } catch (e) {}
			try { this.leakedThis = w.payload } catch (e) {}
			try { Object.prototype.polluted = w.payload } catch (e) {}
			try { Array.prototype.polluted = w.payload } catch (e) {}
			try { Object.defineProperty(Object.prototype, "definedPolluted", { value: 1 }) } catch (e) {}
			try { JSON.parse = () => "A's parse" } catch (e) {}
			try { String.prototype.trim = () => "A's trim" } catch (e) {}
			try { Math.random = () => 4 } catch (e) {}
			try { console.log = () => "A's log" } catch (e) {}
			try { Function("leakedFunction = 1")() } catch (e) {}
			try { (0, eval)("var leakedEval = 1") } catch (e) {}
			try { Object.setPrototypeOf(Object.prototype, { polluted: 1 }) } catch (e) {}
			try { Symbol.prototype.polluted = 1 } catch (e) {}
			try { delete globalThis.JSON } catch (e) {}
			try { Promise.resolve().then(() => { globalThis.leakedLater = 1 }) } catch (e) {}
			w.payload = { counter };
			return w;
		}`)
	looker := compileOK(t, e, `
		function handler(w) {
			const seen = [];
			for (const name of ["topVar", "topLet", "topFunction", "counter", "leakedImplicit", "leakedGlobal",
				"leakedThis", "leakedFunction", "leakedEval", "leakedLater"]) {
				try { if (eval(name) !== undefined) seen.push(name) } catch (e) {}
			}
			if (({}).polluted !== undefined || [].polluted !== undefined || ({}).definedPolluted !== undefined) seen.push("prototype");
			if (JSON.parse("1") !== 1 || " a ".trim() !== "a" || Math.random() === 4) seen.push("builtins");
			if (console.log() !== undefined) seen.push("console");
			if (Object.getOwnPropertyNames(globalThis).some((n) => n.startsWith("leaked"))) seen.push("global names");
			if (typeof JSON !== "object") seen.push("deleted JSON");
			w.payload = { seen };
			return w;
		}`)
	for i := range 3 {
		out, err := e.Run(ctx, polluter, testInput)
		if err != nil {
			t.Fatal(err)
		}
		// The same code does not see its own earlier calls either.
		if string(out.Payload) != `{"counter":1}` {
			t.Errorf("polluter run %d: payload %s", i, out.Payload)
		}
		out, err = e.Run(ctx, looker, testInput)
		if err != nil {
			t.Fatal(err)
		}
		if string(out.Payload) != `{"seen":[]}` {
			t.Errorf("after polluter run %d the looker saw %s", i, out.Payload)
		}
	}
	if n := len(e.pool); n != 1 {
		t.Errorf("pool holds %d VMs, want the 1 that all runs used", n)
	}
}

// TestSandboxVMAfterTimeout: a run that timed out does not spoil the next.
func TestSandboxVMAfterTimeout(t *testing.T) {
	t.Parallel()
	e := New(Config{Timeout: slowdown * 500 * time.Millisecond, PoolSize: 1})
	ctx := context.Background()
	loop := compileOK(t, e, `function handler(w) { for (;;) {} }`)
	ok := compileOK(t, e, `function handler(w) { return w }`)
	for range 3 {
		if _, err := e.Run(ctx, loop, testInput); err == nil {
			t.Fatal("the loop returned")
		}
		if _, err := e.Run(ctx, ok, testInput); err != nil {
			t.Fatalf("run after a timeout: %v", err)
		}
	}
}

// TestRunConcurrent runs different endpoints' code at once; run with -race.
func TestRunConcurrent(t *testing.T) {
	t.Parallel()
	e := New(Config{Timeout: slowdown * 30 * time.Second, PoolSize: 2})
	ctx := context.Background()
	var progs []*Program
	for i := range 4 {
		progs = append(progs, compileOK(t, e, fmt.Sprintf(`var mine = %d; function handler(w) { w.payload = { mine, was: w.payload.mine }; return w }`, i)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		wg.Go(func() {
			for j := range 50 {
				i := (g + j) % len(progs)
				in := testInput
				in.Payload = []byte(fmt.Sprintf(`{"mine":%d}`, i))
				out, err := e.Run(ctx, progs[i], in)
				if err != nil {
					errs <- err
					return
				}
				var got struct{ Mine, Was int }
				if err := json.Unmarshal(out.Payload, &got); err != nil || got.Mine != i || got.Was != i {
					errs <- fmt.Errorf("program %d returned %s", i, out.Payload)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestJSONDepth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		json string
		want int
	}{
		// Scalars and flat containers.
		{`1`, 0},
		{`{}`, 1},
		{`[1, 2, {"a": [3]}]`, 3},
		// Brackets inside strings do not count, escaped quotes do not end them.
		{`{"a": "[[[{{{"}`, 1},
		{`["\"[[[", ["x"]]`, 2},
		{`["\\", [[1]]]`, 3},
		// Unbalanced input is measured as written.
		{strings.Repeat("[", 5000), 5000},
	}
	for _, tt := range tests {
		if got := jsonDepth(tt.json); got != tt.want {
			t.Errorf("jsonDepth(%.40q) = %d, want %d", tt.json, got, tt.want)
		}
	}
}

// TestWithVMPanic: a panic inside a run becomes an error and its VM is
// dropped.
func TestWithVMPanic(t *testing.T) {
	t.Parallel()
	e := New(Config{PoolSize: 1})
	err := e.withVM(context.Background(), func(*sandbox) error { panic("boom") })
	if err == nil || err.Error() != "transformation failed: internal error: boom" {
		t.Fatalf("withVM error = %v", err)
	}
	if n := len(e.pool); n != 0 {
		t.Errorf("pool holds %d VMs after a panic, want 0", n)
	}
}

// TestSandboxRetired: a VM is not reused after maxRunsPerVM runs.
func TestSandboxRetired(t *testing.T) {
	t.Parallel()
	e := New(Config{Timeout: slowdown * 30 * time.Second, PoolSize: 1})
	p := compileOK(t, e, `function handler(w) { return w }`)
	sb := <-e.pool
	sb.runs = maxRunsPerVM - 1
	e.pool <- sb
	if _, err := e.Run(context.Background(), p, testInput); err != nil {
		t.Fatal(err)
	}
	if len(e.pool) != 0 {
		t.Fatalf("pool holds %d VMs after the last run of its VM, want 0", len(e.pool))
	}
	if _, err := e.Run(context.Background(), p, testInput); err != nil {
		t.Fatalf("run on a new VM: %v", err)
	}
	if sb2 := <-e.pool; sb2 == sb || sb2.runs != 1 {
		t.Errorf("pool holds the retired VM or a VM with %d runs", sb2.runs)
	}
}
