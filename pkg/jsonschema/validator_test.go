package jsonschema

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/webhook"
)

func TestCheckSchema(t *testing.T) {
	t.Parallel()
	v := New()
	for _, tc := range []struct {
		name   string
		schema string
		want   string // substring of the error; "" means valid
	}{
		// Valid schemas of each draft; 2020-12 without $schema.
		{"draft 4", `{"$schema":"http://json-schema.org/draft-04/schema#","minimum":1,"exclusiveMinimum":true}`, ""},
		{"draft 6", `{"$schema":"http://json-schema.org/draft-06/schema#","exclusiveMinimum":1}`, ""},
		{"draft 7", `{"$schema":"http://json-schema.org/draft-07/schema#","if":{"type":"object"},"then":{"required":["a"]}}`, ""},
		{"draft 2019-09", `{"$schema":"https://json-schema.org/draft/2019-09/schema","$defs":{"a":{"type":"string"}},"$ref":"#/$defs/a"}`, ""},
		{"draft 2020-12 by default", `{"type":"object","prefixItems":[{"type":"string"}]}`, ""},
		{"unknown keywords are allowed", `{"x-internal":true,"title":"t"}`, ""},
		// Invalid against the draft's metaschema: where and what.
		{"readOnly a number", `{"readOnly":15}`, "at /readOnly: got number, want boolean"},
		{"unknown type", `{"type":"strin"}`, "at /type"},
		{"negative minLength", `{"properties":{"a":{"minLength":-1}}}`, "at /properties/a/minLength"},
		{"draft 4 exclusiveMinimum without minimum", `{"$schema":"http://json-schema.org/draft-04/schema#","exclusiveMinimum":true}`, "minimum"},
		{"draft 6 exclusiveMinimum a boolean", `{"$schema":"http://json-schema.org/draft-06/schema#","exclusiveMinimum":true}`, "at /exclusiveMinimum"},
		{"bad regex", `{"pattern":"("}`, "not valid regex"},
		{"not JSON", `{"type":`, "not valid JSON"},
		// Nothing is loaded from outside the schema.
		{"ref to a file", `{"$ref":"file:///etc/passwd"}`, "only references within the schema"},
		{"ref to a URL", `{"$ref":"https://example.com/s.json"}`, "only references within the schema"},
		{"ref to a missing definition", `{"$ref":"#/$defs/nope"}`, "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := v.CheckSchema(json.RawMessage(tc.schema))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("CheckSchema(%s) = %v, want valid", tc.schema, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("CheckSchema(%s) = %v, want an error containing %q", tc.schema, err, tc.want)
			case err != nil && strings.Contains(err.Error(), schemaURL):
				t.Fatalf("error %q shows the internal schema URL", err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	v := New()
	schema := json.RawMessage(`{"type":"object","required":["id"],"properties":{"id":{"type":"string"},"n":{"type":"integer"}}}`)
	if err := v.Validate(schema, json.RawMessage(`{"id":"a","n":1}`)); err != nil {
		t.Fatalf("a valid document: %v", err)
	}
	err := v.Validate(schema, json.RawMessage(`{"n":"x"}`))
	if err == nil || !strings.Contains(err.Error(), "missing property 'id'") || !strings.Contains(err.Error(), "at /n: got string, want integer") {
		t.Fatalf("an invalid document: %v, want both problems with their place", err)
	}
	var se *webhook.SchemaError
	if !errors.As(err, &se) {
		t.Fatalf("an invalid document: %T, want a *webhook.SchemaError", err)
	}
	want := []webhook.SchemaProblem{
		{Pointer: "", Keyword: "required", Message: "missing property 'id'"},
		{Pointer: "/n", Keyword: "type", Message: "got string, want integer"},
	}
	if !slices.Equal(se.Problems, want) {
		t.Fatalf("problems %+v, want %+v", se.Problems, want)
	}
	if err := v.Validate(json.RawMessage(`{"readOnly":1}`), json.RawMessage(`{}`)); err == nil || errors.As(err, &se) {
		t.Fatalf("an invalid schema validated a document, or its error reads as the document's: %v", err)
	}
}

// Problems point at nested values with escaped JSON pointers, name the
// keyword broken, come in document order and stop at maxProblems.
func TestValidateProblems(t *testing.T) {
	t.Parallel()
	v := New()
	schema := json.RawMessage(`{"type":"object","properties":{
		"a/b":{"type":"object","properties":{"c~d":{"minimum":0}}},
		"items":{"type":"array","items":{"type":"string","maxLength":2}}}}`)
	doc := json.RawMessage(`{"items":["ok","long","longer","x","xxx","yyy","zzz"],"a/b":{"c~d":-1}}`)
	var se *webhook.SchemaError
	want := []webhook.SchemaProblem{
		{Pointer: "/a~1b/c~0d", Keyword: "minimum", Message: "minimum: got -1, want 0"},
		{Pointer: "/items/1", Keyword: "maxLength", Message: "maxLength: got 4, want 2"},
		{Pointer: "/items/2", Keyword: "maxLength", Message: "maxLength: got 6, want 2"},
		{Pointer: "/items/4", Keyword: "maxLength", Message: "maxLength: got 3, want 2"},
		{Pointer: "/items/5", Keyword: "maxLength", Message: "maxLength: got 3, want 2"},
	}
	if len(want) != maxProblems {
		t.Fatalf("the test expects maxProblems = %d", len(want))
	}
	// The validator meets properties in map order; the answer must not
	// depend on it.
	for range 20 {
		err := v.Validate(schema, doc)
		if !errors.As(err, &se) || !slices.Equal(se.Problems, want) {
			t.Fatalf("problems %+v, want %+v in document order", se.Problems, want)
		}
	}
}

// The same schema bytes are compiled once.
func TestCompiledSchemasAreCached(t *testing.T) {
	t.Parallel()
	v := New()
	schema := json.RawMessage(`{"type":"string"}`)
	first, err := v.compile(schema)
	if err != nil {
		t.Fatal(err)
	}
	again, err := v.compile(append(json.RawMessage(nil), schema...))
	if err != nil || again != first {
		t.Fatalf("compiling the same schema again gave another *Schema (%p, %p), err %v", first, again, err)
	}
}

// BenchmarkValidate2KiB validates a 2 KiB payload against a schema
// describing every field, as an event type that enforces its schema does
// at each publish (issue 13 sets the bound: 50 µs).
func BenchmarkValidate2KiB(b *testing.B) {
	v := New()
	schema, doc := example2KiB()
	if len(doc) < 2048 || len(doc) > 2300 {
		b.Fatalf("the payload is %d bytes, want about 2 KiB", len(doc))
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	cpu := processCPU(b)
	for b.Loop() {
		if err := v.Validate(schema, doc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((processCPU(b)-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// processCPU returns the CPU time the process used so far (user and
// system, garbage collection included): on a busy machine a benchmark's
// wall time includes other processes' turns, its CPU time does not.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkValidateCached(b *testing.B) {
	v := New()
	schema := json.RawMessage(`{"type":"object","required":["id"],"properties":{"id":{"type":"string"},"n":{"type":"integer","minimum":0}}}`)
	doc := json.RawMessage(`{"id":"inv_1","n":3}`)
	for b.Loop() {
		if err := v.Validate(schema, doc); err != nil {
			b.Fatal(err)
		}
	}
}

// example2KiB returns an invoice-like payload of about 2 KiB and a schema
// that describes all of it: types, required fields, formats of strings,
// bounds of numbers, the items of a list.
func example2KiB() (schema, doc json.RawMessage) {
	schema = json.RawMessage(`{
		"type": "object",
		"required": ["id", "amount", "currency", "customer", "lines"],
		"properties": {
			"id": {"type": "string", "pattern": "^in_[A-Za-z0-9]+$"},
			"amount": {"type": "integer", "minimum": 0},
			"currency": {"enum": ["EUR", "USD", "GBP"]},
			"status": {"type": "string"},
			"paid": {"type": "boolean"},
			"created": {"type": "integer"},
			"customer": {
				"type": "object",
				"required": ["id", "email"],
				"properties": {
					"id": {"type": "string"},
					"email": {"type": "string", "maxLength": 254},
					"name": {"type": "string"},
					"address": {"type": "object", "additionalProperties": {"type": "string"}}
				}
			},
			"metadata": {"type": "object", "additionalProperties": {"type": "string"}},
			"lines": {
				"type": "array",
				"maxItems": 100,
				"items": {
					"type": "object",
					"required": ["sku", "quantity", "unitPrice"],
					"properties": {
						"sku": {"type": "string", "pattern": "^SKU-[0-9]{4}$"},
						"description": {"type": "string"},
						"quantity": {"type": "integer", "minimum": 1},
						"unitPrice": {"type": "number", "minimum": 0}
					}
				}
			}
		}
	}`)
	var lines []string
	for i := range 21 {
		lines = append(lines, fmt.Sprintf(`{"sku":"SKU-%04d","description":"line item number %d","quantity":%d,"unitPrice":%d.5}`, i, i, i+1, 100*i))
	}
	doc = json.RawMessage(`{"id":"in_1NqR7Y2eZvKYlo2C","object":"invoice","amount":4250,"currency":"EUR","status":"paid",` +
		`"customer":{"id":"cus_9s6XKzkNRiz8i3","email":"jenny.rosen@example.com","name":"Jenny Rosen","address":{"city":"Berlin","country":"DE","line1":"Unter den Linden 1","postal_code":"10117"}},` +
		`"metadata":{"order_id":"6735","source":"web"},"created":1714665600,"paid":true,` +
		`"lines":[` + strings.Join(lines, ",") + `]}`)
	return schema, doc
}
