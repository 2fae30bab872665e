package transform

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"errors"
	"fmt"
	"time"

	"github.com/dlclark/regexp2"
	"github.com/dop251/goja"

	"github.com/hookd/hookd/pkg/ttlcache"
)

// Config sets an Engine's limits. The zero value is usable: every zero
// field takes the default named in its comment.
type Config struct {
	// Timeout bounds one run of a transformation (and the top-level code
	// at compile time); 0 means 100 ms. The caller reads it from
	// HOOKD_TRANSFORMATION_TIMEOUT.
	Timeout time.Duration
	// MaxCodeBytes caps the code's size; 0 means 51,200, the maximum of
	// Svix's EndpointTransformationPatch.code.
	MaxCodeBytes int
	// MaxPayloadBytes caps the input payload; 0 means 1 MiB, the API's
	// request body limit.
	MaxPayloadBytes int
	// MaxOutputBytes caps the transformed payload's JSON; 0 means 2 MiB.
	MaxOutputBytes int
	// MaxStringLength caps the strings that the wrapped builtins (repeat,
	// padStart, padEnd, concat, replace, replaceAll, join, JSON.stringify)
	// may build, in UTF-16 code units; 0 means 4 Mi.
	MaxStringLength int
	// MaxArrayLength caps the length of the arrays that array methods,
	// Array.from and apply accept or build; 0 means 100,000.
	MaxArrayLength int
	// MaxCallDepth caps nested function calls; 0 means 256.
	MaxCallDepth int
	// PoolSize caps the number of idle VMs kept for reuse; 0 means 32.
	// A VM costs about 6 ms of CPU to prepare and 450 KiB to keep; runs
	// beyond PoolSize at once prepare VMs that are dropped afterwards, so
	// set it to the number of concurrent runs (the worker concurrency).
	PoolSize int
	// CacheSize caps the number of compiled programs Load keeps, for
	// CacheTTL; 0 means 10,000 and one hour.
	CacheSize int
	CacheTTL  time.Duration
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Timeout == 0 {
		c.Timeout = 100 * time.Millisecond
	}
	def(&c.MaxCodeBytes, 51_200)
	def(&c.MaxPayloadBytes, 1<<20)
	def(&c.MaxOutputBytes, 2<<20)
	def(&c.MaxStringLength, 4<<20)
	def(&c.MaxArrayLength, 100_000)
	def(&c.MaxCallDepth, 256)
	def(&c.PoolSize, 32)
	def(&c.CacheSize, 10_000)
	if c.CacheTTL == 0 {
		c.CacheTTL = time.Hour
	}
	return c
}

// Engine compiles and runs transformations. It is safe for concurrent use.
type Engine struct {
	cfg   Config
	pool  chan *sandbox
	cache *ttlcache.Cache[[sha256.Size]byte, *Program]
}

//go:embed sandbox.js
var sandboxSource string

// sandboxProgram is the compiled prelude, shared by all VMs.
var sandboxProgram = goja.MustCompile("sandbox.js", sandboxSource, true)

func init() {
	// goja runs regular expressions that Go's regexp cannot (and every
	// match that starts past the beginning of a string, as in a global
	// replace) with regexp2, a backtracking engine that neither the
	// timeout nor anything else could stop: /^(a+)+(?!x)$/ on a long
	// string of a's runs for ever. With a match timeout such a match gives
	// up, and goja reports no match. The timeout is wall-clock time, so it
	// must be long enough that a busy machine does not cut an ordinary
	// match short, which would silently give wrong results (at 100 ms,
	// make test saw it happen; a stall of seconds still could). Only goja
	// uses regexp2 in hookd.
	regexp2.DefaultMatchTimeout = 2 * time.Second
}

// New returns an Engine for cfg.
func New(cfg Config) *Engine {
	cfg = cfg.withDefaults()
	return &Engine{
		cfg:   cfg,
		pool:  make(chan *sandbox, cfg.PoolSize),
		cache: ttlcache.New[[sha256.Size]byte, *Program](cfg.CacheTTL, cfg.CacheSize),
	}
}

// get returns an idle VM or a new one.
func (e *Engine) get() (*sandbox, error) {
	select {
	case sb := <-e.pool:
		return sb, nil
	default:
		return newSandbox(e.cfg)
	}
}

// maxRunsPerVM retires a VM after that many runs, in case some state in
// goja outlives a call unnoticed; preparing a new one costs about 6 ms.
const maxRunsPerVM = 10_000

// put keeps sb for reuse unless it has run maxRunsPerVM times or the pool
// is full.
func (e *Engine) put(sb *sandbox) {
	if sb.runs++; sb.runs >= maxRunsPerVM {
		return
	}
	select {
	case e.pool <- sb:
	default:
	}
}

var errTimeout = errors.New("timeout")

// withVM runs f on a VM under the Engine's timeout and ctx. A VM whose
// run was interrupted, or might still be, or that panicked, is dropped
// rather than reused.
func (e *Engine) withVM(ctx context.Context, f func(*sandbox) error) (err error) {
	sb, err := e.get()
	if err != nil {
		return err
	}
	timer := time.AfterFunc(e.cfg.Timeout, func() { sb.vm.Interrupt(errTimeout) })
	stopCtx := context.AfterFunc(ctx, func() { sb.vm.Interrupt(context.Cause(ctx)) })
	panicked := true
	defer func() {
		idle := timer.Stop()
		idle = stopCtx() && idle
		if r := recover(); r != nil {
			// goja turns JavaScript exceptions into errors; a panic is a
			// bug in goja or here, which must not take the worker down.
			err = &Error{Kind: "internal error", Message: fmt.Sprint(r)}
			return
		}
		if idle && !panicked {
			sb.vm.ClearInterrupt()
			e.put(sb)
		}
	}()
	err = f(sb)
	panicked = false
	return err
}

// Compile checks code at write time and returns its program: the code must
// parse, be at most Config.MaxCodeBytes, and its top level must run
// without an exception within the timeout and define a function named
// handler. Every rejection is a *CompileError.
func (e *Engine) Compile(ctx context.Context, code string) (*Program, error) {
	if len(code) > e.cfg.MaxCodeBytes {
		return nil, &CompileError{Message: fmt.Sprintf("code is %d bytes, more than the limit of %d", len(code), e.cfg.MaxCodeBytes)}
	}
	p, err := compile(code)
	if err != nil {
		return nil, err
	}
	err = e.withVM(ctx, func(sb *sandbox) error {
		_, err := sb.handler(p)
		return err
	})
	var re *Error
	if errors.As(err, &re) {
		return nil, &CompileError{Line: re.Line, Message: re.Kind + ": " + re.Message}
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Load returns the program for code from the cache, keyed by the code's
// SHA-256, compiling it on a miss. Its errors are Compile's; failures are
// not cached.
func (e *Engine) Load(ctx context.Context, code string) (*Program, error) {
	return e.cache.Load(sha256.Sum256([]byte(code)), func() (*Program, error) { return e.Compile(ctx, code) })
}

// Run calls p's handler with in and returns the validated result. Every
// failure is an *Error: an exception in the code, the timeout, ctx's end,
// a sandbox limit (a RangeError), an input over Config.MaxPayloadBytes or
// an invalid result. Run never lets one call see another's state: each
// call runs the code's top level afresh in a VM whose global object and
// builtins are frozen.
func (e *Engine) Run(ctx context.Context, p *Program, in Input) (Output, error) {
	if len(in.Payload) > e.cfg.MaxPayloadBytes {
		return Output{}, &Error{Kind: "invalid input", Message: fmt.Sprintf("payload is %d bytes, more than the limit of %d", len(in.Payload), e.cfg.MaxPayloadBytes)}
	}
	var out Output
	err := e.withVM(ctx, func(sb *sandbox) error {
		var err error
		out, err = sb.run(p, in, e.cfg)
		return err
	})
	return out, err
}
