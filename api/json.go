package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/hookd/hookd/pkg/webhook"
)

// Opt is a JSON field that distinguishes absent (Set false), null (Null true)
// and a value, as PATCH semantics need.
type Opt[T any] struct {
	Set  bool
	Null bool
	V    T
}

// UnmarshalJSON implements json.Unmarshaler; it is only called when the field is present.
func (o *Opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.V)
}

// Ptr returns the value as a pointer: nil when absent or null.
func (o Opt[T]) Ptr() *T {
	if !o.Set || o.Null {
		return nil
	}
	v := o.V
	return &v
}

// bind decodes the request body, a JSON object, into dst. Syntax errors are
// 400, wrong types 422 naming the field, a body over the limit 413.
// The body must be UTF-8 (400 otherwise, see readBody).
func bind(c *gin.Context, dst any) error {
	raw, err := readBody(c)
	if err != nil {
		return err
	}
	if len(raw) == 0 {
		return webhook.Invalid("request body is required", "body")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return webhook.Errorf(webhook.EBADREQUEST, "request body must hold a single JSON value")
	}
	return nil
}

func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case isTooLarge(err):
		return tooLarge()
	case errors.As(err, &typeErr):
		loc := []string{"body"}
		if typeErr.Field != "" {
			loc = append(loc, strings.Split(typeErr.Field, ".")...)
		}
		return &webhook.ValidationError{Fields: []webhook.FieldError{{
			Loc:  loc,
			Msg:  fmt.Sprintf("expected %s, got %s", jsonTypeName(typeErr.Type.Kind().String()), typeErr.Value),
			Type: "type_error",
		}}}
	case errors.As(err, &syntaxErr):
		return webhook.Errorf(webhook.EBADREQUEST, "invalid JSON at offset %d: %v", syntaxErr.Offset, syntaxErr)
	case errors.Is(err, io.EOF):
		return webhook.Invalid("request body is required", "body")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return webhook.Errorf(webhook.EBADREQUEST, "invalid JSON: unexpected end of input")
	}
	return webhook.Errorf(webhook.EBADREQUEST, "invalid JSON: %v", err)
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return kind
}

func isTooLarge(err error) bool {
	var maxErr *http.MaxBytesError
	return errors.As(err, &maxErr)
}

func tooLarge() error {
	return webhook.Errorf(webhook.ETOOLARGE, "request body is too large")
}

// limitBody refuses bodies over max bytes: at once when Content-Length says
// so, otherwise when reading passes the limit (nothing beyond it is read).
func limitBody(max int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > max {
			fail(c, tooLarge())
			return
		}
		if c.Request.Body != nil {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
		}
		c.Next()
	}
}

// required reports a missing required field.
func required(v *webhook.ValidationError, present bool, loc ...string) {
	if !present {
		v.Fields = append(v.Fields, webhook.FieldError{Loc: loc, Msg: "field required", Type: "value_error.missing"})
	}
}

// missing returns the validation error of one missing required field.
func missing(loc ...string) error {
	v := &webhook.ValidationError{}
	required(v, false, loc...)
	return v
}
