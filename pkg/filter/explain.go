package filter

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
	"cel.dev/cel-go/parser"
)

// Explanation says why a filter matched a message or not.
type Explanation struct {
	// Matched is the filter's result; false when Error is set.
	Matched bool `json:"matched"`
	// Error is the evaluation error, as Match reports it.
	Error string `json:"error,omitempty"`
	// Terms are the operands of the expression's top-level && or || (the
	// whole expression when it has neither), each with its own value, so
	// that "eventType == ... && payload.amount > 1000" shows which side
	// failed.
	Terms []Term `json:"terms"`
}

// Term is a sub-expression and what it evaluated to.
type Term struct {
	// Expr is the sub-expression in CEL syntax (re-printed, so spacing may
	// differ from the source).
	Expr string `json:"expr"`
	// Value is the term's value in CEL syntax; empty when Error is set.
	Value string `json:"value,omitempty"`
	// Error is the term's evaluation error, if any.
	Error string `json:"error,omitempty"`
	// Operands are the non-literal sides of a comparison or "in" (for
	// payload.amount > 1000, the value of payload.amount).
	Operands []Term `json:"operands,omitempty"`
}

// maxValueLength caps the length of a rendered value in an Explanation.
const maxValueLength = 200

// Explain evaluates the filter against in without short-circuiting, so
// that every term has a value, and reports the values. Its Matched and
// Error agree with Match. It is slower than Match: it is meant for the
// filter/test route, not for publishing.
func (p *Program) Explain(in *Input) Explanation {
	p.explainOnce.Do(func() {
		p.explainPrg, p.explainErr = p.env.env.Program(p.ast,
			cel.CostLimit(p.env.cfg.MaxRuntimeCost),
			cel.EvalOptions(cel.OptExhaustiveEval, cel.OptTrackState),
		)
	})
	if p.explainErr != nil {
		return Explanation{Error: p.explainErr.Error()}
	}
	out, det, err := p.explainPrg.Eval(&in.act)
	var x Explanation
	x.Matched, err = result(out, err)
	if err != nil {
		x.Error = err.Error()
	}
	var state interpreter.EvalState
	if det != nil {
		state = det.State()
	}
	native := p.ast.NativeRep()
	info := native.SourceInfo()
	for _, e := range topLevelTerms(native.Expr()) {
		t := term(e, info, state)
		if e.Kind() == ast.CallKind && isComparison(e.AsCall().FunctionName()) {
			for _, arg := range e.AsCall().Args() {
				if !isConstant(arg) {
					t.Operands = append(t.Operands, term(arg, info, state))
				}
			}
		}
		x.Terms = append(x.Terms, t)
	}
	return x
}

// topLevelTerms flattens a chain of the same logical operator at the root.
func topLevelTerms(root ast.Expr) []ast.Expr {
	if root.Kind() != ast.CallKind {
		return []ast.Expr{root}
	}
	op := root.AsCall().FunctionName()
	if op != operators.LogicalAnd && op != operators.LogicalOr {
		return []ast.Expr{root}
	}
	var terms []ast.Expr
	var walk func(e ast.Expr)
	walk = func(e ast.Expr) {
		if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == op {
			for _, a := range e.AsCall().Args() {
				walk(a)
			}
			return
		}
		terms = append(terms, e)
	}
	walk(root)
	return terms
}

func isComparison(fn string) bool {
	switch fn {
	case operators.Equals, operators.NotEquals, operators.Less, operators.LessEquals,
		operators.Greater, operators.GreaterEquals, operators.In:
		return true
	}
	return false
}

// isConstant reports literals and lists of literals, whose values the
// explanation need not repeat.
func isConstant(e ast.Expr) bool {
	switch e.Kind() {
	case ast.LiteralKind:
		return true
	case ast.ListKind:
		for _, el := range e.AsList().Elements() {
			if el.Kind() != ast.LiteralKind {
				return false
			}
		}
		return true
	}
	return false
}

func term(e ast.Expr, info *ast.SourceInfo, state interpreter.EvalState) Term {
	text, err := parser.Unparse(e, info)
	if err != nil {
		text = fmt.Sprintf("<expression %d>", e.ID())
	}
	t := Term{Expr: text}
	var v ref.Val
	var ok bool
	if state != nil {
		v, ok = state.Value(e.ID())
	}
	switch {
	case !ok || v == nil:
		t.Error = "not evaluated"
	case types.IsError(v):
		t.Error = fmt.Sprint(v)
	default:
		t.Value = render(v)
	}
	return t
}

// render prints a value the way it would be written in CEL, cut at
// maxValueLength characters.
func render(v ref.Val) string {
	var b strings.Builder
	write(&b, v)
	s := b.String()
	if r := []rune(s); len(r) > maxValueLength {
		s = string(r[:maxValueLength]) + "…"
	}
	return s
}

func write(b *strings.Builder, v ref.Val) {
	if b.Len() > 4*maxValueLength {
		return // render cuts it anyway
	}
	switch x := v.(type) {
	case types.String:
		b.WriteString(strconv.Quote(string(x)))
	case types.Double:
		b.WriteString(strconv.FormatFloat(float64(x), 'g', -1, 64))
	case types.Null:
		b.WriteString("null")
	case traits.Lister:
		b.WriteByte('[')
		for it, i := x.Iterator(), 0; it.HasNext() == types.True; i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			write(b, it.Next())
		}
		b.WriteByte(']')
	case traits.Mapper:
		// Keys in order, so that the same value always prints the same.
		var keys []ref.Val
		for it := x.Iterator(); it.HasNext() == types.True; {
			keys = append(keys, it.Next())
		}
		slices.SortFunc(keys, func(a, b ref.Val) int { return cmp.Compare(render(a), render(b)) })
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			write(b, k)
			b.WriteString(": ")
			write(b, x.Get(k))
		}
		b.WriteByte('}')
	default:
		fmt.Fprint(b, v.Value())
	}
}
