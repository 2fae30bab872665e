package transform

import (
	"fmt"
	"strings"
)

// CompileError rejects transformation code at write time: a syntax error,
// no handler function, an exception or a timeout in the code's top level,
// or code over the size limit. The API layer turns it into a 422.
type CompileError struct {
	// Line and Column are 1-based; both are 0 when the problem has no
	// position (no handler, code too long).
	Line, Column int
	Message      string
}

func (e *CompileError) Error() string {
	if e.Line == 0 {
		return "invalid transformation: " + e.Message
	}
	return fmt.Sprintf("invalid transformation: line %d, column %d: %s", e.Line, e.Column, e.Message)
}

// Error is a failed run: an exception, a timeout, a sandbox limit or an
// invalid result. The attempt that ran it fails with Error() as its
// message, for example
//
//	transformation failed: TypeError at line 3: Cannot read property 'x' of undefined
type Error struct {
	// Kind is the JavaScript error's name ("TypeError", "RangeError"),
	// "Error" for other thrown values, or one of "timeout", "cancelled",
	// "invalid result" and "invalid input".
	Kind string
	// Line is the 1-based line of the transformation's code where the
	// exception was thrown or the timeout struck; 0 when unknown.
	Line    int
	Message string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("transformation failed: ")
	b.WriteString(e.Kind)
	if e.Line > 0 {
		fmt.Fprintf(&b, " at line %d", e.Line)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}
