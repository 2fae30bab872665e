// Package transform runs endpoint transformations: JavaScript code, in
// Svix's shape, that reshapes a webhook before it is sent.
//
// The code defines a function named handler. It receives a webhook object
//
//	method     "POST"
//	url        the endpoint's URL
//	payload    the message payload, parsed from its JSON
//	headers    the endpoint's custom headers, an object of strings
//	eventType  the message's event type
//	msgId      the message's id
//	variables  the transformation's variables, an object of strings
//	cancel     false
//
// and returns it (or another object of the same shape) after changing
// method ("POST" or "PUT"), url, payload, headers, or setting cancel to
// true, which means that no request is to be sent:
//
//	function handler(webhook) {
//	  webhook.payload.customerId = webhook.payload.customer_id;
//	  delete webhook.payload.customer_id;
//	  return webhook;
//	}
//
// # Contract
//
// Engine.Compile is the write-time check; it returns a *CompileError (with
// a 1-based line and column for syntax errors) for code that does not
// parse, exceeds Config.MaxCodeBytes, throws or times out at its top level,
// or defines no handler function. Engine.Load does the same behind a cache
// keyed by the code's SHA-256.
//
// Engine.Run calls the handler and returns the validated Output, or an
// *Error whose message is what the attempt shows, for example
// "transformation failed: TypeError at line 3: ...". The caller checks
// Output.URL like any endpoint URL (webhook.CheckEndpointURL and the
// egress guard), decides which headers a transformation may not override,
// and signs Output.Payload.
//
// JSON goes through JavaScript: numbers are doubles (integers beyond 2^53
// lose precision) and integer-like keys come first, as in any JavaScript
// engine.
//
// # Sandbox
//
// The code runs in process in goja (a JavaScript interpreter in pure Go),
// which has no network, file system, timers, require or process: only
// ECMAScript's builtins and a console whose methods do nothing.
//
// Isolation. VMs are pooled, not created per call (preparing one costs
// about 6 ms). Each call runs the code's top level afresh inside a
// function, so its declarations live in a new scope; the VM's global
// object and every object reachable from it (the builtins, their
// prototypes) are frozen before any user code runs. No call can leave
// state that a later call, of the same endpoint or another, could see.
// Symbol.for and Symbol.keyFor are removed (the symbol registry would
// outlive calls), and a VM is retired after 10,000 runs in case some state
// inside goja does.
// The price is JavaScript's "override mistake": assigning a property that
// a frozen prototype has (obj.toString = ...) fails silently, or throws in
// strict mode; defining it with Object.defineProperty works.
//
// Time. A run is interrupted after Config.Timeout (wall-clock time, so a
// busy machine eats into it) or when its context ends. goja checks for the
// interrupt between JavaScript instructions only, so builtins written in
// Go, which run to completion, are the way around both time and memory
// limits; the sandbox closes them:
//
//   - ArrayBuffer, SharedArrayBuffer, DataView, the typed arrays, Atomics,
//     Proxy, WeakRef and FinalizationRegistry are removed: they allocate
//     whole buffers in one call, or (Proxy) let Go loops run without
//     calling back into JavaScript.
//   - Array methods, Array.from, Function.prototype.apply, Reflect.apply
//     and Reflect.construct refuse array-likes longer than
//     Config.MaxArrayLength (a sparse array's length can be 2^32-1 without
//     allocating, and the builtins loop up to it).
//   - repeat, padStart, padEnd, concat, replace, replaceAll, join and
//     JSON.stringify refuse to build strings longer than
//     Config.MaxStringLength; JSON.stringify counts as it goes, since a
//     shared value can be printed many times.
//   - split refuses to return more than Config.MaxArrayLength pieces; on
//     strings longer than 64 Ki characters, global match, replace,
//     replaceAll and split first count the matches, one JavaScript call
//     each, and refuse more than Config.MaxArrayLength (goja collects
//     every match in Go first, about 150 bytes per character matched).
//   - JSON.parse refuses text nested deeper than MaxJSONDepth.
//   - Array, string and matchAll iterators step through JavaScript, so the
//     Go loops that consume them (new Set, Object.fromEntries, spread) can
//     be interrupted.
//   - A match by goja's backtracking regular expression engine (regexp2,
//     used for patterns Go's regexp cannot run and for matches that start
//     past the beginning of a string) gives up after two seconds and
//     reports no match. The limit is wall-clock time: a shorter one made
//     ordinary matches fail on a busy machine, and a machine that stalls
//     a process for seconds can still cut one short.
//   - Calls nest at most Config.MaxCallDepth deep.
//
// Every refusal is a RangeError (or TypeError) that the code may catch.
//
// Memory. goja has no memory limit, and Go has no per-goroutine one, so the
// bound is indirect: the input payload is at most Config.MaxPayloadBytes
// and the output at most Config.MaxOutputBytes; no single builtin call can
// build more than the limits above; and everything else is built one
// JavaScript instruction at a time, so the timeout bounds it: a string
// doubled in a loop reaches about 64 MiB in 100 ms, an array pushed in a
// loop about 50 MiB. What remains possible is code that combines many
// calls each just under a limit within the timeout; a deployment that runs
// untrusted code from many tenants should also cap the process's memory
// (GOMEMLIMIT, a cgroup).
package transform
