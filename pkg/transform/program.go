package transform

import (
	"errors"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
)

// sourceName names the code in goja's positions and stack traces.
const sourceName = "transformation.js"

// Program is compiled transformation code. It is immutable and shared by
// all VMs.
type Program struct {
	code string
	prog *goja.Program
}

// Code returns the program's source.
func (p *Program) Code() string { return p.code }

// wrapperPrefix opens the function whose body is the user's code, on the
// code's first line so that line numbers stay as the user wrote them.
const wrapperPrefix = "(function(){"

// compile turns code into a program that evaluates to a function; each call
// of that function runs the code's top level in a new scope and returns its
// handler (or undefined). The top-level declarations thus live in that
// scope, never in the VM's global scope, and calls share nothing.
//
// The code is first compiled on its own, as a script: a valid script is
// also a valid function body with the same statements, so the code cannot
// close the wrapper and add declarations outside of it.
func compile(code string) (*Program, error) {
	// goja.Compile drops the parser's positions: parse first.
	ast, err := parser.ParseFile(nil, sourceName, code, 0)
	if err != nil {
		return nil, syntaxError(err)
	}
	if _, err := goja.CompileAST(ast, false); err != nil {
		return nil, syntaxError(err)
	}
	wrapped := wrapperPrefix + code + "\n;return typeof handler === 'function' ? handler : undefined;})"
	prog, err := goja.Compile(sourceName, wrapped, false)
	if err != nil {
		return nil, syntaxError(err)
	}
	return &Program{code: code, prog: prog}, nil
}

func syntaxError(err error) error {
	var el parser.ErrorList
	if errors.As(err, &el) && len(el) > 0 {
		return &CompileError{Line: el[0].Position.Line, Column: el[0].Position.Column, Message: "SyntaxError: " + el[0].Message}
	}
	var pe *parser.Error
	if errors.As(err, &pe) {
		return &CompileError{Line: pe.Position.Line, Column: pe.Position.Column, Message: "SyntaxError: " + pe.Message}
	}
	var se *goja.CompilerSyntaxError
	if errors.As(err, &se) {
		ce := &CompileError{Message: "SyntaxError: " + se.Message}
		if se.File != nil {
			pos := se.File.Position(se.Offset)
			ce.Line, ce.Column = pos.Line, pos.Column
		}
		return ce
	}
	var re *goja.CompilerReferenceError
	if errors.As(err, &re) {
		ce := &CompileError{Message: "ReferenceError: " + re.Message}
		if re.File != nil {
			pos := re.File.Position(re.Offset)
			ce.Line, ce.Column = pos.Line, pos.Column
		}
		return ce
	}
	return &CompileError{Message: err.Error()}
}
