package transform

import (
	"errors"
	"fmt"

	"github.com/dop251/goja"
)

// sandbox is a VM prepared by sandbox.js, with the functions the prelude
// returned.
type sandbox struct {
	vm                       *goja.Runtime
	cfg                      Config
	parse, extract, describe goja.Callable
	runs                     int // completed, for maxRunsPerVM
}

func newSandbox(cfg Config) (*sandbox, error) {
	vm := goja.New()
	vm.SetMaxCallStackSize(cfg.MaxCallDepth)
	v, err := vm.RunProgram(sandboxProgram)
	if err != nil {
		return nil, fmt.Errorf("preparing sandbox: %w", err)
	}
	prelude, _ := goja.AssertFunction(v)
	limits := vm.NewObject()
	_ = limits.Set("maxArrayLength", cfg.MaxArrayLength)
	_ = limits.Set("maxStringLength", cfg.MaxStringLength)
	_ = limits.Set("maxJSONDepth", MaxJSONDepth)
	_ = limits.Set("jsonDepth", func(call goja.FunctionCall) goja.Value {
		return vm.ToValue(jsonDepth(call.Argument(0).String()))
	})
	res, err := prelude(goja.Undefined(), limits)
	if err != nil {
		return nil, fmt.Errorf("preparing sandbox: %w", err)
	}
	internals := res.ToObject(vm)
	sb := &sandbox{vm: vm, cfg: cfg}
	for name, f := range map[string]*goja.Callable{"parse": &sb.parse, "extract": &sb.extract, "describe": &sb.describe} {
		if *f, _ = goja.AssertFunction(internals.Get(name)); *f == nil {
			return nil, fmt.Errorf("preparing sandbox: no %s function", name)
		}
	}
	return sb, nil
}

// handler runs p's top level in a new scope and returns its handler.
func (sb *sandbox) handler(p *Program) (goja.Callable, error) {
	w, err := sb.vm.RunProgram(p.prog)
	if err != nil {
		return nil, sb.runError(err)
	}
	wrapper, _ := goja.AssertFunction(w)
	h, err := wrapper(goja.Undefined())
	if err != nil {
		return nil, sb.runError(err)
	}
	fn, ok := goja.AssertFunction(h)
	if !ok {
		return nil, &Error{Kind: kindInvalidCode, Message: "the code must define a function named handler"}
	}
	return fn, nil
}

const (
	kindInvalidCode   = "invalid code"
	kindInvalidResult = "invalid result"
)

// run calls p's handler with the webhook object built from in.
func (sb *sandbox) run(p *Program, in Input, cfg Config) (Output, error) {
	handler, err := sb.handler(p)
	if err != nil {
		return Output{}, err
	}
	webhook, err := sb.webhook(in)
	if err != nil {
		return Output{}, err
	}
	res, err := handler(goja.Undefined(), webhook)
	if err != nil {
		return Output{}, sb.runError(err)
	}
	x, err := sb.extract(goja.Undefined(), res, sb.vm.ToValue(cfg.MaxOutputBytes))
	if err != nil {
		return Output{}, sb.runError(err)
	}
	return sb.output(x.ToObject(sb.vm), cfg)
}

// webhook builds the handler's argument. Only fresh objects are touched
// here, so no user code runs.
func (sb *sandbox) webhook(in Input) (*goja.Object, error) {
	vm := sb.vm
	if d := jsonDepth(string(in.Payload)); d > MaxJSONDepth {
		return nil, &Error{Kind: "invalid input", Message: fmt.Sprintf("payload is nested %d deep, more than the limit of %d", d, MaxJSONDepth)}
	}
	payload, err := sb.parse(goja.Undefined(), vm.ToValue(string(in.Payload)))
	if err != nil {
		return nil, &Error{Kind: "invalid input", Message: "payload is not JSON"}
	}
	method := in.Method
	if method == "" {
		method = "POST"
	}
	w := vm.NewObject()
	set := func(o *goja.Object, k string, v any) { _ = o.Set(k, v) }
	set(w, "method", method)
	set(w, "url", in.URL)
	set(w, "payload", payload)
	set(w, "eventType", in.EventType)
	set(w, "msgId", in.MsgID)
	set(w, "cancel", false)
	headers := vm.NewObject()
	for k, v := range in.Headers {
		set(headers, k, v)
	}
	set(w, "headers", headers)
	vars := vm.NewObject()
	for k, v := range in.Variables {
		set(vars, k, v)
	}
	set(w, "variables", vars)
	return w, nil
}

// runError turns what goja returned into an *Error.
func (sb *sandbox) runError(err error) error {
	var ie *goja.InterruptedError
	if errors.As(err, &ie) {
		line := userLine(ie.Stack())
		if ie.Value() == errTimeout {
			return &Error{Kind: "timeout", Line: line, Message: fmt.Sprintf("ran for more than %s", sb.cfg.Timeout)}
		}
		return &Error{Kind: "cancelled", Line: line, Message: fmt.Sprint(ie.Value())}
	}
	var so *goja.StackOverflowError
	if errors.As(err, &so) {
		return &Error{Kind: "RangeError", Line: userLine(so.Stack()), Message: fmt.Sprintf("maximum call stack size (%d) exceeded", sb.cfg.MaxCallDepth)}
	}
	var ex *goja.Exception
	if errors.As(err, &ex) {
		e := &Error{Kind: "Error", Line: userLine(ex.Stack()), Message: "uncaught exception"}
		if d, derr := sb.describe(goja.Undefined(), ex.Value()); derr == nil {
			if parts, ok := d.Export().([]any); ok && len(parts) == 2 {
				e.Kind, e.Message = fmt.Sprint(parts[0]), fmt.Sprint(parts[1])
			}
		}
		return e
	}
	return &Error{Kind: "Error", Message: err.Error()}
}

// userLine returns the line of the innermost frame in the user's code.
func userLine(stack []goja.StackFrame) int {
	for _, f := range stack {
		if f.SrcName() == sourceName {
			return f.Position().Line
		}
	}
	return 0
}

// MaxJSONDepth caps the nesting of the input payload and of the text that
// JSON.parse accepts in the sandbox: goja parses recursively, in time that
// grows faster than the depth (a second for 40,000 levels), and no
// interrupt stops it. Real payloads are never nested this deep.
const MaxJSONDepth = 1000

// jsonDepth returns the deepest nesting of arrays and objects in the JSON
// text s, skipping strings; it does not validate s.
func jsonDepth(s string) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}
