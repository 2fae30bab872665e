package jsonschema

import (
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	js "github.com/santhosh-tekuri/jsonschema/v6"
)

// The fast path. The library validates every number by formatting it and
// parsing it into a big.Rat, and every value through a validator of its
// own with maps of evaluated keys: about 100 µs for a 2 KiB payload whose
// schema describes each field, twice the budget of a publish. Most
// payloads are valid, and most schemas use a few keywords (type,
// properties, required, items, enum, bounds, lengths, patterns, formats).
// For such schemas a plan, built once per compiled schema, checks a
// document directly.
//
// A plan only ever answers "valid, certainly" or "ask the library": any
// doubt (a keyword it does not know, a number it cannot compare exactly, a
// value that breaks a rule) goes to the library, which stays the one
// judge of invalid documents and the author of their errors. The keywords
// a plan checks are checked with the library's own semantics (its Format
// functions and Regexp values included); a test compares both on random
// schemas and documents.

// plan is a compiled schema the fast path can check, with its bounds
// prepared for exact comparison.
type plan struct {
	s *js.Schema

	types                      []string // nil: any type
	ref                        *plan
	props                      map[string]*plan
	additional                 *plan // for properties not in props; nil: any
	noAdditional               bool  // additionalProperties: false
	items                      *plan // every item; nil: any
	min, max, exclMin, exclMax *bound
	enum                       []any // scalars
	hasEnum                    bool
	constant                   []any // the const, alone; nil: none
}

// bound is a numeric bound of a schema, ready for fast comparison.
type bound struct {
	isInt bool // an integer that fits int64, i
	i     int64
	f     float64 // the nearest float64
}

func newBound(r *big.Rat) *bound {
	if r == nil {
		return nil
	}
	b := &bound{}
	if r.IsInt() && r.Num().IsInt64() {
		b.isInt, b.i = true, r.Num().Int64()
	}
	b.f, _ = r.Float64()
	return b
}

// maxPlanDepth bounds the recursion of a check ($ref cycles, deep documents).
const maxPlanDepth = 64

// newPlan returns the plan of s, or nil when s uses a keyword the fast
// path does not check.
func newPlan(s *js.Schema) *plan {
	p, ok := buildPlan(s, map[*js.Schema]*plan{})
	if !ok {
		return nil
	}
	return p
}

func buildPlan(s *js.Schema, memo map[*js.Schema]*plan) (*plan, bool) {
	if s == nil {
		return nil, true
	}
	if p, ok := memo[s]; ok {
		return p, true
	}
	if !planned(s) {
		return nil, false
	}
	p := &plan{s: s}
	memo[s] = p
	if s.Types != nil && !s.Types.IsEmpty() {
		p.types = s.Types.ToStrings()
	}
	if s.Enum != nil {
		p.enum, p.hasEnum = s.Enum.Values, true
	}
	if s.Const != nil {
		p.constant = []any{*s.Const}
	}
	var ok bool
	if p.ref, ok = buildPlan(s.Ref, memo); !ok {
		return nil, false
	}
	if len(s.Properties) > 0 {
		p.props = make(map[string]*plan, len(s.Properties))
		for name, sub := range s.Properties {
			if p.props[name], ok = buildPlan(sub, memo); !ok {
				return nil, false
			}
		}
	}
	switch ap := s.AdditionalProperties.(type) {
	case nil:
	case bool:
		p.noAdditional = !ap
	case *js.Schema:
		if p.additional, ok = buildPlan(ap, memo); !ok {
			return nil, false
		}
	default:
		return nil, false
	}
	items := s.Items2020
	switch it := s.Items.(type) {
	case nil:
	case *js.Schema:
		items = it
	default:
		return nil, false // a tuple
	}
	if p.items, ok = buildPlan(items, memo); !ok {
		return nil, false
	}
	p.min, p.max = newBound(s.Minimum), newBound(s.Maximum)
	p.exclMin, p.exclMax = newBound(s.ExclusiveMinimum), newBound(s.ExclusiveMaximum)
	return p, true
}

// planned reports whether s uses only keywords the fast path checks.
func planned(s *js.Schema) bool {
	switch {
	case s.RecursiveRef != nil, s.DynamicRef != nil, s.Not != nil, len(s.AllOf) > 0, len(s.AnyOf) > 0,
		len(s.OneOf) > 0, s.If != nil, s.Then != nil, s.Else != nil, s.PropertyNames != nil,
		len(s.PatternProperties) > 0, len(s.Dependencies) > 0, len(s.DependentRequired) > 0,
		len(s.DependentSchemas) > 0, s.UnevaluatedProperties != nil, s.UnevaluatedItems != nil,
		s.UniqueItems, s.Contains != nil, s.MinContains != nil, s.MaxContains != nil,
		len(s.PrefixItems) > 0, s.AdditionalItems != nil, s.ContentEncoding != nil,
		s.ContentMediaType != nil, s.ContentSchema != nil, s.MultipleOf != nil, len(s.Extensions) > 0,
		s.Format != nil && (s.Format.Name == "regex" || s.Format.Validate == nil):
		return false
	}
	if s.Enum != nil {
		for _, v := range s.Enum.Values {
			if !isScalar(v) {
				return false
			}
		}
	}
	return s.Const == nil || isScalar(*s.Const)
}

func isScalar(v any) bool {
	switch v.(type) {
	case nil, bool, string, json.Number:
		return true
	}
	return false
}

// valid reports whether v, as js.UnmarshalJSON decodes it, is certainly
// valid against p; false means invalid or not sure.
func (p *plan) valid(v any, depth int) bool {
	if p == nil {
		return true
	}
	if depth > maxPlanDepth {
		return false
	}
	s := p.s
	if s.Bool != nil {
		return *s.Bool
	}
	if p.ref != nil && !p.ref.valid(v, depth+1) {
		return false
	}
	if p.types != nil && !p.typeMatches(v) {
		return false
	}
	if p.hasEnum && !oneOf(p.enum, v) || p.constant != nil && !oneOf(p.constant, v) {
		return false
	}
	if s.Format != nil && s.Format.Validate(v) != nil {
		return false
	}
	switch v := v.(type) {
	case map[string]any:
		return p.validObject(v, depth)
	case []any:
		return p.validArray(v, depth)
	case string:
		return p.validString(v)
	case json.Number:
		return p.validNumber(v)
	case nil, bool:
		return true
	}
	return false // not a value js.UnmarshalJSON makes
}

func (p *plan) typeMatches(v any) bool {
	for _, t := range p.types {
		switch v := v.(type) {
		case nil:
			if t == "null" {
				return true
			}
		case bool:
			if t == "boolean" {
				return true
			}
		case string:
			if t == "string" {
				return true
			}
		case []any:
			if t == "array" {
				return true
			}
		case map[string]any:
			if t == "object" {
				return true
			}
		case json.Number:
			if t == "number" || t == "integer" && isIntegerLiteral(string(v)) {
				return true
			}
		}
	}
	return false // or "1.0", an integer the library may count: it decides
}

// isIntegerLiteral reports a JSON number written without fraction or exponent.
func isIntegerLiteral(n string) bool {
	return n != "" && !strings.ContainsAny(n, ".eE")
}

// oneOf reports whether v is one of values: scalars compared as the
// library does, numbers only when written alike (else not sure).
func oneOf(values []any, v any) bool {
	for _, want := range values {
		switch w := want.(type) {
		case nil:
			if v == nil {
				return true
			}
		case bool:
			if b, ok := v.(bool); ok && b == w {
				return true
			}
		case string:
			if s, ok := v.(string); ok && s == w {
				return true
			}
		case json.Number:
			if n, ok := v.(json.Number); ok && n == w {
				return true
			}
		}
	}
	return false
}

func (p *plan) validObject(obj map[string]any, depth int) bool {
	s := p.s
	if s.MinProperties != nil && len(obj) < *s.MinProperties || s.MaxProperties != nil && len(obj) > *s.MaxProperties {
		return false
	}
	for _, name := range s.Required {
		if _, ok := obj[name]; !ok {
			return false
		}
	}
	for name, value := range obj {
		sub, known := p.props[name]
		switch {
		case known:
			if !sub.valid(value, depth+1) {
				return false
			}
		case p.noAdditional:
			return false
		case p.additional != nil:
			if !p.additional.valid(value, depth+1) {
				return false
			}
		}
	}
	return true
}

func (p *plan) validArray(arr []any, depth int) bool {
	s := p.s
	if s.MinItems != nil && len(arr) < *s.MinItems || s.MaxItems != nil && len(arr) > *s.MaxItems {
		return false
	}
	if p.items != nil {
		for _, item := range arr {
			if !p.items.valid(item, depth+1) {
				return false
			}
		}
	}
	return true
}

func (p *plan) validString(str string) bool {
	s := p.s
	if s.MinLength != nil || s.MaxLength != nil {
		n := utf8.RuneCountInString(str)
		if s.MinLength != nil && n < *s.MinLength || s.MaxLength != nil && n > *s.MaxLength {
			return false
		}
	}
	return s.Pattern == nil || s.Pattern.MatchString(str)
}

func (p *plan) validNumber(n json.Number) bool {
	within := func(b *bound, ok func(int) bool) bool {
		if b == nil {
			return true
		}
		c := compare(n, b)
		return c != notSure && ok(c)
	}
	return within(p.min, func(c int) bool { return c >= 0 }) &&
		within(p.max, func(c int) bool { return c <= 0 }) &&
		within(p.exclMin, func(c int) bool { return c > 0 }) &&
		within(p.exclMax, func(c int) bool { return c < 0 })
}

// notSure is compare's answer when it cannot tell.
const notSure = 2

// compare returns -1, 0 or 1 as n is below, at or above b, exactly; or
// notSure. Integers that fit int64 compare as integers; other numbers as
// floats when they are further apart than any rounding could make them.
func compare(n json.Number, b *bound) int {
	if b.isInt && isIntegerLiteral(string(n)) {
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			switch {
			case i < b.i:
				return -1
			case i > b.i:
				return 1
			}
			return 0
		}
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) {
		return notSure
	}
	margin := 1e-9 * math.Max(1, math.Abs(b.f))
	switch {
	case f < b.f-margin:
		return -1
	case f > b.f+margin:
		return 1
	}
	return notSure
}
