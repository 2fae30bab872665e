package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestEventTypeLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)

	r := b.do(http.MethodPost, "/api/v1/event-type", map[string]any{
		"name": "user.signup", "description": "A user signed up", "featureFlag": "beta",
	}).must(t, http.StatusCreated)
	mustKeys(t, r.body, "name", "description", "archived", "deprecated", "featureFlag", "schemas", "createdAt", "updatedAt")
	et := decode[eventTypeJSON](t, r)
	if et.Name != "user.signup" || et.Description != "A user signed up" || et.Archived || et.Deprecated ||
		str(et.FeatureFlag) != `"beta"` || et.CreatedAt.IsZero() {
		t.Fatalf("created = %s", r.body)
	}
	got := decode[eventTypeJSON](t, b.do(http.MethodGet, "/api/v1/event-type/user.signup", nil).must(t, http.StatusOK))
	if got.Name != et.Name || got.Description != et.Description {
		t.Fatalf("GET = %+v", got)
	}

	// PATCH changes only what it carries.
	r = b.do(http.MethodPatch, "/api/v1/event-type/user.signup", map[string]any{"deprecated": true}).must(t, http.StatusOK)
	if got := decode[eventTypeJSON](t, r); !got.Deprecated || got.Description != "A user signed up" || str(got.FeatureFlag) != `"beta"` {
		t.Fatalf("PATCH = %s", r.body)
	}
	r = b.do(http.MethodPatch, "/api/v1/event-type/user.signup", map[string]any{"featureFlag": nil, "description": "d2"}).must(t, http.StatusOK)
	if got := decode[eventTypeJSON](t, r); got.FeatureFlag != nil || got.Description != "d2" || !got.Deprecated {
		t.Fatalf("PATCH null featureFlag = %s", r.body)
	}

	// PUT replaces: absent fields go back to their defaults.
	r = b.do(http.MethodPut, "/api/v1/event-type/user.signup", map[string]any{"description": "d3"}).must(t, http.StatusOK)
	if got := decode[eventTypeJSON](t, r); got.Deprecated || got.Description != "d3" || got.FeatureFlag != nil {
		t.Fatalf("PUT = %s", r.body)
	}
	// PUT of an unknown name creates it.
	r = b.do(http.MethodPut, "/api/v1/event-type/user.deleted", map[string]any{"description": "gone"}).must(t, http.StatusCreated)
	if got := decode[eventTypeJSON](t, r); got.Name != "user.deleted" || got.Description != "gone" {
		t.Fatalf("PUT-created = %s", r.body)
	}
	b.do(http.MethodGet, "/api/v1/event-type/user.deleted", nil).must(t, http.StatusOK)
}

func TestEventTypeArchive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createEventType("a.kept")
	b.createEventType("b.archived")
	names := func(query string) []string {
		t.Helper()
		l := decode[listJSON[eventTypeJSON]](t, b.do(http.MethodGet, "/api/v1/event-type"+query, nil).must(t, http.StatusOK))
		var out []string
		for _, et := range l.Data {
			out = append(out, et.Name)
		}
		return out
	}

	// DELETE archives: still readable, hidden from lists unless asked for.
	b.do(http.MethodDelete, "/api/v1/event-type/b.archived", nil).must(t, http.StatusNoContent)
	if got := decode[eventTypeJSON](t, b.do(http.MethodGet, "/api/v1/event-type/b.archived", nil).must(t, http.StatusOK)); !got.Archived {
		t.Fatal("archived event type reads back with archived=false")
	}
	if got := strings.Join(names(""), ","); got != "a.kept" {
		t.Fatalf("list = %s, want only a.kept", got)
	}
	if got := strings.Join(names("?include_archived=true"), ","); got != "a.kept,b.archived" {
		t.Fatalf("list with archived = %s", got)
	}

	// Creating an active name again is a conflict; an archived one is unarchived.
	mustError(t, b.do(http.MethodPost, "/api/v1/event-type", map[string]any{"name": "a.kept", "description": "again"}), http.StatusConflict, "conflict")
	if got := decode[eventTypeJSON](t, b.do(http.MethodGet, "/api/v1/event-type/a.kept", nil)); got.Description != "about a.kept" {
		t.Fatalf("conflicting create changed the event type: %+v", got)
	}
	r := b.do(http.MethodPost, "/api/v1/event-type", map[string]any{"name": "b.archived", "description": "back"}).must(t, http.StatusCreated)
	if got := decode[eventTypeJSON](t, r); got.Archived || got.Description != "back" {
		t.Fatalf("unarchiving create = %s", r.body)
	}
	if got := strings.Join(names(""), ","); got != "a.kept,b.archived" {
		t.Fatalf("list after unarchive = %s", got)
	}

	// expunge removes it for good.
	b.do(http.MethodDelete, "/api/v1/event-type/b.archived?expunge=true", nil).must(t, http.StatusNoContent)
	mustError(t, b.do(http.MethodGet, "/api/v1/event-type/b.archived", nil), http.StatusNotFound, "not_found")
	mustError(t, b.do(http.MethodDelete, "/api/v1/event-type/b.archived?expunge=true", nil), http.StatusNotFound, "not_found")
	if got := strings.Join(names("?include_archived=true"), ","); got != "a.kept" {
		t.Fatalf("list after expunge = %s", got)
	}
	mustInvalid(t, b.do(http.MethodDelete, "/api/v1/event-type/a.kept?expunge=perhaps", nil), "query", "expunge")
}

// schemasOf returns the raw JSON of the "schemas" key of body.
func schemasOf(t *testing.T, body []byte) string {
	t.Helper()
	return string(mustKeys(t, body, "schemas")["schemas"])
}

func TestEventTypeSchemas(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Keys deliberately out of order: they must come back as given.
	const schemas = `{"1":{"z":1,"a":2,"properties":{"y":{"type":"string"},"b":{"type":"integer"}}},"0":{}}`
	r := b.do(http.MethodPost, "/api/v1/event-type", `{"name":"order.paid","description":"d","schemas":`+schemas+`}`).must(t, http.StatusCreated)
	if got := schemasOf(t, r.body); got != schemas {
		t.Fatalf("created schemas = %s, want %s", got, schemas)
	}
	if got := schemasOf(t, b.snapshot("/api/v1/event-type/order.paid")); got != schemas {
		t.Fatalf("GET schemas = %s, want %s", got, schemas)
	}

	// Lists leave schemas out unless with_content=true.
	for _, tc := range []struct {
		query string
		want  string
	}{
		{"", "null"},
		{"?with_content=false", "null"},
		{"?with_content=true", schemas},
	} {
		l := decode[struct{ Data []json.RawMessage }](t, b.do(http.MethodGet, "/api/v1/event-type"+tc.query, nil).must(t, http.StatusOK))
		if len(l.Data) != 1 {
			t.Fatalf("list%s has %d items", tc.query, len(l.Data))
		}
		var obj map[string]json.RawMessage
		_ = json.Unmarshal(l.Data[0], &obj)
		if got, ok := obj["schemas"]; (ok && string(got) != tc.want) || (!ok && tc.want != "null") {
			t.Fatalf("list%s schemas = %s, want %s", tc.query, got, tc.want)
		}
	}

	// PATCH replaces the schemas exactly, null removes them.
	const next = `{"2":{"b":true,"a":false}}`
	r = b.do(http.MethodPatch, "/api/v1/event-type/order.paid", `{"schemas":`+next+`}`).must(t, http.StatusOK)
	if got := schemasOf(t, r.body); got != next {
		t.Fatalf("patched schemas = %s, want %s", got, next)
	}
	r = b.do(http.MethodPatch, "/api/v1/event-type/order.paid", `{"description":"only"}`).must(t, http.StatusOK)
	if got := schemasOf(t, r.body); got != next {
		t.Fatalf("PATCH without schemas changed them to %s", got)
	}
	b.do(http.MethodPatch, "/api/v1/event-type/order.paid", `{"schemas":null}`).must(t, http.StatusOK)
	if got := schemasOf(t, b.snapshot("/api/v1/event-type/order.paid")); got != "null" {
		t.Fatalf("schemas after null = %s", got)
	}
	// PUT sets them as given too.
	r = b.do(http.MethodPut, "/api/v1/event-type/order.paid", `{"description":"d","schemas":`+schemas+`}`).must(t, http.StatusOK)
	if got := schemasOf(t, b.snapshot("/api/v1/event-type/order.paid")); got != schemas {
		t.Fatalf("PUT schemas = %s, want %s", got, schemas)
	}
}

func TestEventTypeInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createEventType("existing")
	path := "/api/v1/event-type/existing"
	before := b.snapshot(path)
	long := strings.Repeat("e", 257)
	for _, tc := range []struct {
		name         string
		method, path string
		body         string
		loc          []string
	}{
		// Missing required fields on create.
		{"no name", http.MethodPost, "/api/v1/event-type", `{"description":"d"}`, []string{"body", "name"}},
		{"no description", http.MethodPost, "/api/v1/event-type", `{"name":"x.y"}`, []string{"body", "description"}},
		// Names outside the pattern or the length.
		{"name with space", http.MethodPost, "/api/v1/event-type", `{"name":"user signup","description":"d"}`, []string{"body", "name"}},
		{"name with slash", http.MethodPost, "/api/v1/event-type", `{"name":"user/signup","description":"d"}`, []string{"body", "name"}},
		{"name with colon", http.MethodPost, "/api/v1/event-type", `{"name":"user:signup","description":"d"}`, []string{"body", "name"}},
		{"empty name", http.MethodPost, "/api/v1/event-type", `{"name":"","description":"d"}`, []string{"body", "name"}},
		{"name 257 chars", http.MethodPost, "/api/v1/event-type", `{"name":"` + long + `","description":"d"}`, []string{"body", "name"}},
		{"featureFlag with space", http.MethodPost, "/api/v1/event-type", `{"name":"x","description":"d","featureFlag":"a b"}`, []string{"body", "featureFlag"}},
		// Wrong types.
		{"description a number", http.MethodPost, "/api/v1/event-type", `{"name":"x","description":1}`, []string{"body", "description"}},
		{"archived a string", http.MethodPost, "/api/v1/event-type", `{"name":"x","description":"d","archived":"yes"}`, []string{"body", "archived"}},
		// schemas must map versions to objects.
		{"schemas value a string", http.MethodPost, "/api/v1/event-type", `{"name":"x","description":"d","schemas":{"1":"s"}}`, []string{"body", "schemas"}},
		{"schemas value an array", http.MethodPost, "/api/v1/event-type", `{"name":"x","description":"d","schemas":{"1":[]}}`, []string{"body", "schemas"}},
		{"schemas value null", http.MethodPost, "/api/v1/event-type", `{"name":"x","description":"d","schemas":{"1":null}}`, []string{"body", "schemas"}},
		{"schemas an array", http.MethodPost, "/api/v1/event-type", `{"name":"x","description":"d","schemas":[{}]}`, []string{"body", "schemas"}},
		{"schemas a string", http.MethodPost, "/api/v1/event-type", `{"name":"x","description":"d","schemas":"{}"}`, []string{"body", "schemas"}},
		// Each version must be a valid JSON Schema.
		{"schema readOnly a number", http.MethodPost, "/api/v1/event-type", `{"name":"x","description":"d","schemas":{"1":{"readOnly":15}}}`, []string{"body", "schemas", "1"}},
		{"schema unknown type", http.MethodPost, "/api/v1/event-type", `{"name":"x","description":"d","schemas":{"1":{},"2":{"type":"strin"}}}`, []string{"body", "schemas", "2"}},
		{"schema ref to a file", http.MethodPost, "/api/v1/event-type", `{"name":"x","description":"d","schemas":{"1":{"$ref":"file:///etc/passwd"}}}`, []string{"body", "schemas", "1"}},
		{"put schema bad pattern", http.MethodPut, path, `{"description":"d","schemas":{"1":{"pattern":"("}}}`, []string{"body", "schemas", "1"}},
		{"patch schema negative minLength", http.MethodPatch, path, `{"schemas":{"v2":{"properties":{"a":{"minLength":-1}}}}}`, []string{"body", "schemas", "v2"}},
		// PUT and PATCH of an existing event type.
		{"put without description", http.MethodPut, path, `{}`, []string{"body", "description"}},
		{"put schemas value a number", http.MethodPut, path, `{"description":"d","schemas":{"1":1}}`, []string{"body", "schemas"}},
		{"put bad name in path", http.MethodPut, "/api/v1/event-type/a:b", `{"description":"d"}`, []string{"body", "name"}},
		{"patch null description", http.MethodPatch, path, `{"description":null}`, []string{"body", "description"}},
		{"patch null archived", http.MethodPatch, path, `{"archived":null}`, []string{"body", "archived"}},
		{"patch schemas value a string", http.MethodPatch, path, `{"schemas":{"1":"s"}}`, []string{"body", "schemas"}},
		{"patch deprecated a string", http.MethodPatch, path, `{"deprecated":"no"}`, []string{"body", "deprecated"}},
		{"patch featureFlag bad", http.MethodPatch, path, `{"featureFlag":"a/b"}`, []string{"body", "featureFlag"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := b.in(t)
			mustInvalid(t, b.do(tc.method, tc.path, tc.body), tc.loc...)
			b.unchanged(path, before)
		})
	}
	l := decode[listJSON[eventTypeJSON]](t, b.do(http.MethodGet, "/api/v1/event-type?include_archived=true", nil))
	if len(l.Data) != 1 || l.Data[0].Name != "existing" {
		t.Fatalf("stored event types = %+v, want only existing", l.Data)
	}
}

// Schemas are checked as JSON Schema (the draft their $schema names, 2020-12
// by default): a 422 names the version and says what is wrong, where.
func TestEventTypeSchemaIsJSONSchema(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.do(http.MethodPost, "/api/v1/event-type", `{"name":"x","description":"d","schemas":{"1":{"readOnly":15}}}`)
	v := mustInvalid(t, r, "body", "schemas", "1")
	if msg := v.Detail[0].Msg; !strings.Contains(msg, "/readOnly") || !strings.Contains(msg, "boolean") {
		t.Fatalf("422 message %q does not say that readOnly must be a boolean", msg)
	}
	// Valid schemas of every supported draft are stored.
	for i, schema := range []string{
		`{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","properties":{"n":{"type":"integer","minimum":1,"exclusiveMinimum":true}}}`,
		`{"$schema":"http://json-schema.org/draft-06/schema#","type":"object","properties":{"n":{"exclusiveMinimum":1}}}`,
		`{"$schema":"http://json-schema.org/draft-07/schema#","if":{"required":["a"]},"then":{"required":["b"]}}`,
		`{"$schema":"https://json-schema.org/draft/2019-09/schema","$defs":{"id":{"type":"string"}},"properties":{"id":{"$ref":"#/$defs/id"}}}`,
		`{"type":"object","required":["invoiceId"],"properties":{"invoiceId":{"type":"string","readOnly":true}}}`,
	} {
		body := fmt.Sprintf(`{"name":"ok.%d","description":"d","schemas":{"1":%s}}`, i, schema)
		b.do(http.MethodPost, "/api/v1/event-type", body).must(t, http.StatusCreated)
	}
}

func TestEventTypeNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		method string
		path   string
		body   any
	}{
		{http.MethodGet, "/api/v1/event-type/nope", nil},
		{http.MethodPatch, "/api/v1/event-type/nope", `{"description":"d"}`},
		{http.MethodDelete, "/api/v1/event-type/nope", nil},
		{http.MethodDelete, "/api/v1/event-type/nope?expunge=true", nil},
	} {
		mustError(t, b.do(tc.method, tc.path, tc.body), http.StatusNotFound, "not_found")
	}
	if l := decode[listJSON[eventTypeJSON]](t, b.do(http.MethodGet, "/api/v1/event-type?include_archived=true", nil)); len(l.Data) != 0 {
		t.Fatalf("a 404 stored %+v", l.Data)
	}
}

func TestEventTypeConcurrentCreate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const racers = 8
	for round := range 5 {
		name := fmt.Sprint("race.", round)
		if round%2 == 1 {
			// An archived name: exactly one create may unarchive it.
			b.createEventType(name)
			b.do(http.MethodDelete, "/api/v1/event-type/"+name, nil).must(t, http.StatusNoContent)
		}
		statuses := make(chan int, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				body := map[string]any{"name": name, "description": fmt.Sprint("racer ", i)}
				r, err := b.send(b.key, http.MethodPost, "/api/v1/event-type", body, nil)
				if err != nil {
					t.Error(err)
				}
				statuses <- r.status
			})
		}
		wg.Wait()
		close(statuses)
		count := map[int]int{}
		for s := range statuses {
			count[s]++
		}
		if count[http.StatusCreated] != 1 || count[http.StatusConflict] != racers-1 {
			t.Fatalf("%s: statuses %v, want one 201 and %d 409", name, count, racers-1)
		}
	}
}
