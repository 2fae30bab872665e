package jsonschema

import (
	"encoding/json"
	"strings"
	"testing"
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
	if err := v.Validate(json.RawMessage(`{"readOnly":1}`), json.RawMessage(`{}`)); err == nil {
		t.Fatalf("an invalid schema validated a document")
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
