package filter

import (
	"fmt"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"

	"github.com/hookd/hookd/pkg/ttlcache"
)

// Config sets the limits of an Env. The zero value is usable: every zero
// field takes the default named in its comment.
type Config struct {
	// MaxLength caps an expression's length in characters; 0 means 4096.
	MaxLength int
	// MaxPayloadBytes is the payload size the compile-time cost estimate
	// assumes for payload and every value in it; 0 means 1 MiB, the API's
	// request body limit.
	MaxPayloadBytes uint64
	// MaxEstimatedCost rejects, at compile time, an expression whose
	// worst-case cost on a payload of MaxPayloadBytes exceeds it; 0 means
	// 100,000,000. The default admits a dozen macros (exists, all, map,
	// filter) over payload lists side by side and rejects a macro nested in
	// another over payload lists, whose cost grows with the square of the
	// payload's size.
	MaxEstimatedCost uint64
	// MaxRuntimeCost stops an evaluation whose actual cost exceeds it (an
	// evaluation error); 0 means 1,000,000, about a millisecond of work.
	MaxRuntimeCost uint64
	// CacheSize caps the number of compiled programs Load keeps; 0 means
	// 10,000.
	CacheSize int
	// CacheTTL is how long Load keeps a compiled program; 0 means one hour.
	CacheTTL time.Duration
}

func (c Config) withDefaults() Config {
	if c.MaxLength == 0 {
		c.MaxLength = 4096
	}
	if c.MaxPayloadBytes == 0 {
		c.MaxPayloadBytes = 1 << 20
	}
	if c.MaxEstimatedCost == 0 {
		c.MaxEstimatedCost = 100_000_000
	}
	if c.MaxRuntimeCost == 0 {
		c.MaxRuntimeCost = 1_000_000
	}
	if c.CacheSize == 0 {
		c.CacheSize = 10_000
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = time.Hour
	}
	return c
}

// Env compiles filters under one Config and caches the compiled programs.
// It is safe for concurrent use.
type Env struct {
	cfg   Config
	env   *cel.Env
	cache *ttlcache.Cache[string, *Program]

	// checkMu serialises type-checking: cel-go v0.33.3's checker reads and
	// writes its shared symbol catalog without synchronisation when two
	// checks report errors at once (found with -race). Compiling is rare
	// (endpoint writes, cache misses), so the lock costs nothing that
	// matters; evaluation does not take it.
	checkMu sync.Mutex
}

// Variables and their limits from Svix's MessageIn: at most 10 channels and
// 5 tags of at most 128 characters, event type names of at most 256.
const (
	maxChannels     = 10
	maxTags         = 5
	maxLabelLength  = 128
	maxEventTypeLen = 256
)

// NewEnv returns an Env for cfg. It fails only when cel-go rejects the
// declarations, which is a programming error.
func NewEnv(cfg Config) (*Env, error) {
	cfg = cfg.withDefaults()
	env, err := cel.NewEnv(
		cel.Variable("payload", cel.DynType),
		cel.Variable("eventType", cel.StringType),
		cel.Variable("channels", cel.ListType(cel.StringType)),
		cel.Variable("tags", cel.ListType(cel.StringType)),
		// payload.amount > 1000 compares a JSON number (a double) with an
		// int literal: users expect that to work.
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(cfg.MaxLength),
		// Keeps macros (exists, all, ...) printable in explanations.
		cel.EnableMacroCallTracking(),
	)
	if err != nil {
		return nil, fmt.Errorf("declaring filter variables: %w", err)
	}
	return &Env{
		cfg:   cfg,
		env:   env,
		cache: ttlcache.New[string, *Program](cfg.CacheTTL, cfg.CacheSize),
	}, nil
}

// Compile parses, type-checks and cost-checks expr and returns its program.
// Every rejection is a *CompileError. Compile does not use the cache: it is
// meant for the write path, where the text is new.
func (e *Env) Compile(expr string) (*Program, error) {
	if expr == "" {
		return nil, &CompileError{Issues: []Issue{{Line: 1, Column: 1, Message: "expression is empty"}}}
	}
	e.checkMu.Lock()
	ast, iss := e.env.Compile(expr)
	e.checkMu.Unlock()
	if iss.Err() != nil {
		return nil, compileErrorFromIssues(iss)
	}
	if t := ast.OutputType(); !t.IsExactType(types.BoolType) && !t.IsExactType(types.DynType) {
		return nil, &CompileError{Issues: []Issue{{Line: 1, Column: 1,
			Message: fmt.Sprintf("expression must evaluate to bool, not %s", t)}}}
	}
	est, err := e.env.EstimateCost(ast, sizeEstimator{payload: e.cfg.MaxPayloadBytes})
	if err != nil {
		return nil, &CompileError{Issues: []Issue{{Line: 1, Column: 1, Message: "estimating cost: " + err.Error()}}}
	}
	if est.Max > e.cfg.MaxEstimatedCost {
		return nil, &CompileError{Issues: []Issue{{Line: 1, Column: 1, Message: fmt.Sprintf(
			"expression is too expensive: estimated worst-case cost %s exceeds the limit of %d "+
				"(avoid nesting exists/all/map/filter over payload lists)", costString(est.Max), e.cfg.MaxEstimatedCost)}}}
	}
	p := &Program{expr: expr, env: e, ast: ast, estimatedCost: est.Max}
	p.tracked, err = e.env.Program(ast, cel.CostLimit(e.cfg.MaxRuntimeCost), cel.EvalOptions(cel.OptOptimize))
	if err == nil && est.Max <= e.cfg.MaxRuntimeCost {
		// The estimate bounds the actual cost for payloads up to
		// MaxPayloadBytes: tracking it (which more than doubles the time of
		// a simple filter) cannot stop such an evaluation.
		p.untracked, err = e.env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	}
	if err != nil {
		return nil, &CompileError{Issues: []Issue{{Line: 1, Column: 1, Message: err.Error()}}}
	}
	return p, nil
}

// Load returns the program for expr from the cache, compiling it on a miss.
// Its errors are Compile's; failures are not cached.
func (e *Env) Load(expr string) (*Program, error) {
	return e.cache.Load(expr, func() (*Program, error) { return e.Compile(expr) })
}

func costString(c uint64) string {
	if c == ^uint64(0) {
		return "unbounded"
	}
	return fmt.Sprint(c)
}
