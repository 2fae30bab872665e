package webhook

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes. Adapters map them to transport status codes in one place
// (api.statusFor); the codes themselves are part of the API's error bodies.
const (
	ECONFLICT     = "conflict"
	EINTERNAL     = "internal"
	EINVALID      = "validation"
	ENOTFOUND     = "not_found"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	ETOOLARGE     = "payload_too_large"
	EBADREQUEST   = "bad_request"
	EUNAVAILABLE  = "unavailable"
	// ELIMITREACHED: a bounded resource is full (e.g. an endpoint's
	// rotated-out secrets); Svix answers it with 400 "limit_reached".
	ELIMITREACHED = "limit_reached"
	// ELEASELOST: a worker's lease on a background task passed to another
	// worker (BackgroundTaskStore.SaveBackgroundTask); never shown to clients.
	ELEASELOST = "lease_lost"
)

// Error is an application error: a code from the list above and a message
// that is safe to show to the caller.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("hookd error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error or *ValidationError in err's
// chain, EINTERNAL for any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	var v *ValidationError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &v):
		return EINVALID
	case errors.As(err, &e):
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the safe message of an application error, or a
// generic text for internal errors (whose details must not leak).
func ErrorMessage(err error) string {
	var e *Error
	var v *ValidationError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &v):
		return v.Error()
	case errors.As(err, &e):
		return e.Message
	}
	return "internal error"
}

// FieldError is one invalid input: where it is (e.g. ["body", "url"]), what is
// wrong in words, and a machine-readable type such as "value_error".
type FieldError struct {
	Loc  []string
	Msg  string
	Type string
}

// ValidationError lists every invalid field of one input. The API renders it
// as a 422 with the contract's {"detail": [{"loc","msg","type"}]} body.
type ValidationError struct {
	Fields []FieldError
}

func (v *ValidationError) Error() string {
	parts := make([]string, 0, len(v.Fields))
	for _, f := range v.Fields {
		parts = append(parts, strings.Join(f.Loc, ".")+": "+f.Msg)
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Add records a value error at loc.
func (v *ValidationError) Add(msg string, loc ...string) {
	v.Fields = append(v.Fields, FieldError{Loc: loc, Msg: msg, Type: "value_error"})
}

// Err returns v as an error when it holds at least one field, nil otherwise.
func (v *ValidationError) Err() error {
	if v == nil || len(v.Fields) == 0 {
		return nil
	}
	return v
}

// Invalid returns a ValidationError with a single value error at loc.
func Invalid(msg string, loc ...string) error {
	v := &ValidationError{}
	v.Add(msg, loc...)
	return v
}
