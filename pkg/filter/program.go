package filter

import (
	"errors"
	"fmt"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// Program is a compiled filter. It is immutable and safe for concurrent use.
type Program struct {
	expr          string
	env           *Env
	ast           *cel.Ast
	estimatedCost uint64

	// tracked stops at the runtime cost limit; untracked, set when the
	// estimate is within that limit, does not track cost.
	tracked, untracked cel.Program

	explainOnce sync.Once
	explainPrg  cel.Program
	explainErr  error
}

// Expr returns the expression's text.
func (p *Program) Expr() string { return p.expr }

// EstimatedCost returns the worst-case cost Compile estimated.
func (p *Program) EstimatedCost() uint64 { return p.estimatedCost }

// Match evaluates the filter against in. It returns the result, or an
// evaluation error whose message is meant for people ("no such key:
// amount", "operation cancelled: actual cost limit exceeded", "expression
// evaluated to int, not bool"); the caller counts an error as no match.
func (p *Program) Match(in *Input) (bool, error) {
	prg := p.untracked
	if prg == nil || in.size > p.env.cfg.MaxPayloadBytes {
		prg = p.tracked
	}
	out, _, err := prg.Eval(&in.act)
	return result(out, err)
}

func result(out ref.Val, err error) (bool, error) {
	if err != nil {
		return false, evalError(err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("expression evaluated to %s, not bool", out.Type().TypeName())
	}
	return bool(b), nil
}

// evalError strips cel-go's error types, whose text is all callers need,
// so that no caller comes to depend on them.
func evalError(err error) error {
	return errors.New(err.Error())
}
