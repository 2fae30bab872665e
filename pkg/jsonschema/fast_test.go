package jsonschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	js "github.com/santhosh-tekuri/jsonschema/v6"
)

// decode gives what js.UnmarshalJSON gives, or its error.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"a":1,"b":[true,false,null,"x",-0.5e+3,{}],"c":{"d":"é"}}`, `[]`, `{}`, `"x"`, `1`, `-0`, `01`, `1.`, `.5`,
		`{"a":"\u00e9"}`, `{"a":"\n"}`, "{\"a\":\"\xff\"}", `{"a":1}x`, `{"a":1,"a":2}`, `[1,]`, `{"a" : [ 1 , 2 ] }`,
		`truex`, `[true x]`, `1e`, `-`, `{"a":}`, `nul`, ` {"a":1} `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, gotErr := decode(doc)
		want, wantErr := js.UnmarshalJSON(bytes.NewReader(doc))
		if (gotErr != nil) != (wantErr != nil) || gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("decode(%q) = %#v, %v; js.UnmarshalJSON = %#v, %v", doc, got, gotErr, want, wantErr)
		}
	})
}

// The fast path never accepts what the library refuses: random schemas of
// the keywords it checks, random documents near them, both judges asked.
func TestPlanAgreesWithTheLibrary(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(13, 42))
	v := New()
	planned, accepted := 0, 0
	for i := range 3000 {
		schema := randomSchema(rnd, 0)
		if rnd.IntN(4) == 0 {
			drafts := []string{"http://json-schema.org/draft-04/schema#", "http://json-schema.org/draft-07/schema#", "https://json-schema.org/draft/2019-09/schema"}
			schema["$schema"] = drafts[rnd.IntN(len(drafts))]
			if schema["$schema"] == drafts[0] && schema["exclusiveMinimum"] != nil {
				schema["exclusiveMinimum"] = true
				schema["minimum"] = 3
			}
		}
		raw, _ := json.Marshal(schema)
		c, err := v.compile(raw)
		if err != nil {
			continue
		}
		if c.plan == nil {
			continue
		}
		planned++
		for range 5 {
			doc := randomValue(rnd, 0)
			rawDoc, _ := json.Marshal(doc)
			inst, err := decode(rawDoc)
			if err != nil {
				t.Fatal(err)
			}
			if !c.plan.valid(inst, 0) {
				continue
			}
			accepted++
			if err := c.schema.Validate(inst); err != nil {
				t.Fatalf("case %d: the plan accepts %s against %s; the library says %v", i, rawDoc, raw, err)
			}
		}
	}
	if planned < 1000 || accepted < 500 {
		t.Fatalf("only %d planned schemas and %d accepted documents: the test checks too little", planned, accepted)
	}
}

var keys = []string{"a", "b", "c", "id", "n"}

// randomSchema returns a schema of the keywords the fast path checks, and
// now and then one it does not.
func randomSchema(rnd *rand.Rand, depth int) map[string]any {
	s := map[string]any{}
	types := []string{"null", "boolean", "integer", "number", "string", "array", "object"}
	if rnd.IntN(3) > 0 {
		if rnd.IntN(4) == 0 {
			s["type"] = []string{types[rnd.IntN(len(types))], types[rnd.IntN(len(types))]}
		} else {
			s["type"] = types[rnd.IntN(len(types))]
		}
	}
	nums := []any{0, 1, -1, 2.5, 3, 1e3, 0.1, -7.25}
	for _, kw := range []string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} {
		if rnd.IntN(5) == 0 {
			s[kw] = nums[rnd.IntN(len(nums))]
		}
	}
	for _, kw := range []string{"minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"} {
		if rnd.IntN(6) == 0 {
			s[kw] = rnd.IntN(4)
		}
	}
	if rnd.IntN(5) == 0 {
		s["pattern"] = []string{"^a", "b$", "[0-9]+", "^x{2}"}[rnd.IntN(4)]
	}
	if rnd.IntN(6) == 0 {
		s["enum"] = []any{"a", 1, true, nil, 2.5}[:1+rnd.IntN(5)]
	}
	if rnd.IntN(10) == 0 {
		s["const"] = []any{"a", 1, false}[rnd.IntN(3)]
	}
	if rnd.IntN(8) == 0 {
		s["format"] = []string{"email", "date-time", "uuid", "ipv4"}[rnd.IntN(4)]
	}
	if depth < 3 && rnd.IntN(2) == 0 {
		props := map[string]any{}
		for _, k := range keys[:rnd.IntN(len(keys))] {
			props[k] = randomSchema(rnd, depth+1)
		}
		s["properties"] = props
		if rnd.IntN(3) == 0 {
			s["required"] = keys[:rnd.IntN(3)]
		}
		switch rnd.IntN(4) {
		case 0:
			s["additionalProperties"] = false
		case 1:
			s["additionalProperties"] = randomSchema(rnd, depth+1)
		}
	}
	if depth < 3 && rnd.IntN(3) == 0 {
		s["items"] = randomSchema(rnd, depth+1)
	}
	if rnd.IntN(30) == 0 {
		s["uniqueItems"] = true // not planned: the library alone
	}
	return s
}

// randomValue returns a JSON value, often one a random schema accepts.
func randomValue(rnd *rand.Rand, depth int) any {
	switch n := rnd.IntN(10); {
	case n == 0:
		return nil
	case n == 1:
		return rnd.IntN(2) == 0
	case n <= 3:
		return []any{0, 1, -1, 2, 3, 2.5, 1000, 0.1, -7.25, 1e21, 3.0000000001, 12345678901234567}[rnd.IntN(12)]
	case n <= 5:
		return []string{"", "a", "ab", "abc", "b", "x12", "xx", "a@b.c", "2024-01-01T00:00:00Z", "1.2.3.4", "é", strings.Repeat("z", 5)}[rnd.IntN(12)]
	case n <= 7 && depth < 3:
		arr := make([]any, rnd.IntN(4))
		for i := range arr {
			arr[i] = randomValue(rnd, depth+1)
		}
		return arr
	case depth < 3:
		obj := map[string]any{}
		for _, k := range keys[:rnd.IntN(len(keys)+1)] {
			obj[k] = randomValue(rnd, depth+1)
		}
		return obj
	}
	return fmt.Sprint(rnd.IntN(100))
}
