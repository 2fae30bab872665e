package filter

import (
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"
)

// CompileError is the rejection of an expression at compile time: a syntax
// error, a type error, a non-bool result or a cost over the limit. The API
// layer turns it into a 422 whose message is Error().
type CompileError struct {
	// Issues has at least one entry, in the order cel-go reported them.
	Issues []Issue
}

// Issue is one problem in an expression.
type Issue struct {
	// Line and Column are 1-based, counted in characters; both are 0 when
	// the problem has no position (an expression over the length limit).
	Line, Column int
	Message      string
}

// String returns "line L, column C: message", or the message alone when
// the issue has no position.
func (i Issue) String() string {
	if i.Line == 0 {
		return i.Message
	}
	return fmt.Sprintf("line %d, column %d: %s", i.Line, i.Column, i.Message)
}

// Error joins the issues with "; ".
func (e *CompileError) Error() string {
	s := make([]string, len(e.Issues))
	for i, iss := range e.Issues {
		s[i] = iss.String()
	}
	return "invalid filter: " + strings.Join(s, "; ")
}

func compileErrorFromIssues(iss *cel.Issues) *CompileError {
	ce := &CompileError{}
	for _, e := range iss.Errors() {
		i := Issue{Message: e.Message}
		if l := e.Location; l != nil && l.Line() > 0 {
			// cel-go counts columns from 0.
			i.Line, i.Column = l.Line(), l.Column()+1
		}
		ce.Issues = append(ce.Issues, i)
	}
	if len(ce.Issues) == 0 {
		ce.Issues = []Issue{{Message: iss.String()}}
	}
	return ce
}
