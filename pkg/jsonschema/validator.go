package jsonschema

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	js "github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/hookd/hookd/pkg/ttlcache"
	"github.com/hookd/hookd/pkg/webhook"
)

// cacheTTL and cacheSize bound the compiled schemas kept in memory. A
// compiled schema never changes (it is keyed by its bytes); the TTL only
// lets schemas no longer used go.
const (
	cacheTTL  = 10 * time.Minute
	cacheSize = 1000
)

// maxProblems caps how many problems one error message lists.
const maxProblems = 5

// Validator compiles and caches JSON Schemas. The zero value is not usable;
// call New. It is safe for concurrent use.
type Validator struct {
	compiled *ttlcache.Cache[[sha256.Size]byte, *compiled]
}

// compiled is a compiled schema and its fast plan (nil when the schema
// uses keywords the fast path does not check).
type compiled struct {
	schema *js.Schema
	plan   *plan
}

var _ webhook.SchemaValidator = (*Validator)(nil)

// New returns a Validator with an empty cache.
func New() *Validator {
	return &Validator{compiled: ttlcache.New[[sha256.Size]byte, *compiled](cacheTTL, cacheSize)}
}

// CheckSchema implements webhook.SchemaValidator: it returns nil when
// schema is a valid JSON Schema of the draft its "$schema" names (2020-12
// when it names none), and otherwise an error whose message says what is
// wrong and where, safe to show to the caller.
func (v *Validator) CheckSchema(schema json.RawMessage) error {
	_, err := v.compile(schema)
	return err
}

// Validate implements webhook.SchemaValidator: it returns nil when doc is
// valid against schema, a *webhook.SchemaError listing the problems (each
// with its JSON pointer in doc and the keyword it breaks, at most
// maxProblems) when it is not, and the error of CheckSchema when schema
// itself is not valid.
func (v *Validator) Validate(schema, doc json.RawMessage) error {
	c, err := v.compile(schema)
	if err != nil {
		return err
	}
	inst, err := decode(doc)
	if err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	if c.plan != nil && c.plan.valid(inst, 0) {
		return nil // the fast path (fast.go); the library judges the rest
	}
	var verr *js.ValidationError
	if err := c.schema.Validate(inst); errors.As(err, &verr) {
		return &webhook.SchemaError{Problems: problems(verr)}
	} else if err != nil {
		return err
	}
	return nil
}

// problems lists the innermost problems of a validation error, each once,
// ordered by where they are in the document (so the same document always
// gets the same answer, whatever order the validator met them in), and at
// most maxProblems of them.
func problems(verr *js.ValidationError) []webhook.SchemaProblem {
	type located struct {
		at []string
		p  webhook.SchemaProblem
	}
	var all []located
	for _, e := range leaves(verr, nil) {
		p := webhook.SchemaProblem{Message: e.ErrorKind.LocalizedString(printer)}
		if len(e.InstanceLocation) > 0 {
			p.Pointer = "/" + strings.Join(escapePointer(e.InstanceLocation), "/")
		}
		if kw := e.ErrorKind.KeywordPath(); len(kw) > 0 {
			p.Keyword = kw[len(kw)-1]
		}
		all = append(all, located{e.InstanceLocation, p})
	}
	slices.SortStableFunc(all, func(a, b located) int { return compareLocations(a.at, b.at) })
	var out []webhook.SchemaProblem
	for _, l := range all {
		if len(out) == maxProblems {
			break
		}
		if !slices.Contains(out, l.p) {
			out = append(out, l.p)
		}
	}
	return out
}

// leaves appends to out the innermost errors under e (those without
// causes), in the validator's order.
func leaves(e *js.ValidationError, out []*js.ValidationError) []*js.ValidationError {
	if len(e.Causes) == 0 {
		return append(out, e)
	}
	for _, c := range e.Causes {
		out = leaves(c, out)
	}
	return out
}

// compareLocations orders two places in a document token by token, array
// indexes by number, so /items/2 comes before /items/10.
func compareLocations(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] == b[i] {
			continue
		}
		x, errA := strconv.Atoi(a[i])
		y, errB := strconv.Atoi(b[i])
		if errA == nil && errB == nil {
			return cmp.Compare(x, y)
		}
		return strings.Compare(a[i], b[i])
	}
	return cmp.Compare(len(a), len(b))
}

// escapePointer escapes the reference tokens of a JSON pointer (RFC 6901).
func escapePointer(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		out[i] = strings.NewReplacer("~", "~0", "/", "~1").Replace(t)
	}
	return out
}

// schemaURL is where a schema being compiled lives, for "$ref"s within it.
const schemaURL = "hookd:///schema.json"

func (v *Validator) compile(schema json.RawMessage) (*compiled, error) {
	key := sha256.Sum256(schema)
	return v.compiled.Load(key, func() (*compiled, error) {
		doc, err := js.UnmarshalJSON(bytes.NewReader(schema))
		if err != nil {
			return nil, fmt.Errorf("not valid JSON: %w", err)
		}
		c := js.NewCompiler()
		c.UseLoader(refuseLoader{})
		if err := c.AddResource(schemaURL, doc); err != nil {
			return nil, fmt.Errorf("not a JSON Schema: %w", err)
		}
		sch, err := c.Compile(schemaURL)
		if err != nil {
			return nil, schemaError(err)
		}
		return &compiled{schema: sch, plan: newPlan(sch)}, nil
	})
}

// schemaError turns a compile error into a message without the internal URL.
func schemaError(err error) error {
	var sverr *js.SchemaValidationError
	var verr *js.ValidationError
	if errors.As(err, &sverr) && errors.As(sverr.Err, &verr) {
		return errors.New("not a valid JSON Schema: " + describe(verr))
	}
	var lerr *js.LoadURLError
	if errors.As(err, &lerr) {
		return fmt.Errorf("not a valid JSON Schema: cannot resolve %q: only references within the schema are allowed",
			strings.TrimPrefix(lerr.URL, "hookd://"))
	}
	return errors.New("not a valid JSON Schema: " + strings.ReplaceAll(err.Error(), schemaURL, "schema"))
}

// describe lists the innermost problems of a validation error, each with
// the JSON pointer where it is: "at /readOnly: got number, want boolean".
func describe(verr *js.ValidationError) string {
	var problems []string
	for _, e := range leaves(verr, nil) {
		p := "at /" + strings.Join(e.InstanceLocation, "/") + ": " + e.ErrorKind.LocalizedString(printer)
		if !slices.Contains(problems, p) {
			problems = append(problems, p)
		}
	}
	if len(problems) > maxProblems {
		problems = append(problems[:maxProblems], fmt.Sprintf("and %d more", len(problems)-maxProblems))
	}
	return strings.Join(problems, "; ")
}

// printer renders the library's messages in English.
var printer = message.NewPrinter(language.English)

// refuseLoader refuses every URL: the drafts' metaschemas are built in,
// and a schema must not make hookd read files or call out.
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("loading %s is not allowed", url)
}
