package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hookd/hookd/api"
	"github.com/hookd/hookd/pkg/postgres"
	"github.com/hookd/hookd/pkg/postgres/postgrestest"
	"github.com/hookd/hookd/pkg/webhook"
)

// The bad-input tests send what careless clients and attackers send to every
// route: random path segments, query strings, idempotency keys and JSON
// bodies full of NUL, invalid UTF-8, any Unicode, deep nesting and huge
// numbers. hookd must answer each with a 4xx (or a success) in the
// contract's format: never a 500, never a panic, and it must keep serving.
//
// TestBadInputNeverFails runs a bounded random sample on every go test;
// FuzzAPI runs the seed corpus, and searches further with
//
//	go test ./api -run '^$' -fuzz FuzzAPI -fuzztime 5m

var (
	badInputSeed  = flag.Uint64("badinput.seed", 1, "seed of TestBadInputNeverFails")
	badInputCount = flag.Int("badinput.count", 600, "requests TestBadInputNeverFails sends")
)

// fuzzTarget is a running API with one of everything, sent requests in process.
type fuzzTarget struct {
	srv    *api.Server
	routes []api.Route
	key    string            // an API key of the organisation
	portal string            // a portal token of the app
	known  map[string]string // path parameter -> an existing id
	// statuses counts the answers by status, to see what a run reached
	// (only one goroutine sends).
	statuses map[int]int
}

func newFuzzTarget(t testing.TB) *fuzzTarget {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, postgrestest.NewDSN(t), postgres.Options{MaxOpenConns: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	org, err := db.EnsureOrg(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	token, key := webhook.NewAPIKey(org.ID)
	if err := db.CreateKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	ft := &fuzzTarget{key: token, known: map[string]string{}, statuses: map[int]int{}}
	cfg, _ := serverConfig(db)
	ft.srv = api.New(cfg)
	ft.routes = ft.srv.Routes()

	create := func(path string, body string) map[string]any {
		rec := ft.serve(http.MethodPost, path, "", ft.key, "", []byte(body))
		if rec.Code >= 300 {
			t.Fatalf("POST %s = %d %s", path, rec.Code, rec.Body)
		}
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return out
	}
	create("/api/v1/event-type", `{"name":"order.paid","description":"d"}`)
	app := create("/api/v1/app", `{"name":"shop","uid":"shop"}`)["id"].(string)
	ep := create("/api/v1/app/"+app+"/endpoint", `{"url":"https://example.com/hook","uid":"main"}`)["id"].(string)
	msg := create("/api/v1/app/"+app+"/msg", `{"eventType":"order.paid","payload":{"a":1},"eventId":"evt-1"}`)["id"].(string)
	ft.portal = create("/api/v1/auth/app-portal-access/"+app, `{}`)["token"].(string)
	ft.known = map[string]string{
		"app_id": app, "endpoint_id": ep, "msg_id": msg, "event_type_name": "order.paid",
		"attempt_id": "atmpt_2zBLMXwqsCUpiHBNJ1GEGbDoOWQ",
	}
	return ft
}

// serve sends one request in process and returns the recorded answer.
func (ft *fuzzTarget) serve(method, path, query, token, idemKey string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/", bytes.NewReader(body))
	req.URL.Path, req.URL.RawQuery = path, query
	req.RequestURI = ""
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	rec := httptest.NewRecorder()
	ft.srv.ServeHTTP(rec, req)
	return rec
}

// fuzzRequest is one request of the fuzzers, in the fuzzing engine's types.
type fuzzRequest struct {
	Route   uint16 // index into the routes, modulo
	Known   uint8  // bit i set: path parameter i names an existing resource
	Segment string // every other path parameter
	Query   string
	IdemKey string
	Portal  bool // sent with the portal token instead of the API key
	Body    []byte
}

// check sends r and fails t unless the answer keeps the contract.
func (ft *fuzzTarget) check(t *testing.T, r fuzzRequest) {
	t.Helper()
	route := ft.routes[int(r.Route)%len(ft.routes)]
	method, path := route.Method, route.Path
	params := 0
	var segs []string
	for _, s := range strings.Split(path, "/") {
		if name, ok := strings.CutPrefix(s, ":"); ok {
			switch {
			case method == http.MethodDelete && slices.Contains([]string{"shop", "main", "evt-1", "order.paid"}, r.Segment):
				s = "not-" + r.Segment // the fixtures stay
			case r.Known&(1<<params) != 0 && method != http.MethodDelete:
				s = ft.known[name]
			default:
				s = r.Segment
			}
			params++
		}
		segs = append(segs, s)
	}
	path = strings.Join(segs, "/")
	token := ft.key
	if r.Portal && !strings.HasSuffix(path, "/logout") {
		token = ft.portal // a logout would revoke it for the requests to come
	}
	if !validHeaderValue(r.IdemKey) {
		r.IdemKey = "" // no HTTP server lets it through
	}
	rec := ft.serve(method, path, r.Query, token, r.IdemKey, r.Body)
	describe := func() string {
		return fmt.Sprintf("%s %q ?%q key %q body %.4000q", method, path, r.Query, r.IdemKey, r.Body)
	}
	ft.statuses[rec.Code]++
	if rec.Code >= 500 {
		t.Fatalf("%s answered %d: %s", describe(), rec.Code, rec.Body)
	}
	if rec.Code >= 400 {
		checkErrorBody(t, rec, describe)
	}
	if rec.Body.Len() > 0 && !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("%s answered %d with a body that is not JSON: %.300q", describe(), rec.Code, rec.Body)
	}
}

// checkErrorBody fails unless rec holds the contract's error body.
func checkErrorBody(t *testing.T, rec *httptest.ResponseRecorder, describe func() string) {
	t.Helper()
	if rec.Code == http.StatusUnprocessableEntity {
		var v validationJSON
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || len(v.Detail) == 0 {
			t.Fatalf("%s: 422 body %s is not the contract's", describe(), rec.Body)
		}
		for _, d := range v.Detail {
			if len(d.Loc) == 0 || d.Msg == "" || d.Type == "" {
				t.Fatalf("%s: 422 item without loc, msg or type: %s", describe(), rec.Body)
			}
		}
		return
	}
	var e struct{ Code, Detail string }
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == "" || e.Detail == "" {
		t.Fatalf("%s: %d body %s is not {code, detail}", describe(), rec.Code, rec.Body)
	}
}

// validHeaderValue reports whether an HTTP server accepts s as a header
// value (RFC 9110: no control characters but tab).
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// alive fails t unless the API still answers and reaches Postgres.
func (ft *fuzzTarget) alive(t testing.TB) {
	t.Helper()
	if rec := ft.serve(http.MethodGet, "/api/v1/health", "", "", "", nil); rec.Code != http.StatusNoContent {
		t.Fatalf("health after the requests = %d %s", rec.Code, rec.Body)
	}
	if rec := ft.serve(http.MethodGet, "/api/v1/app", "", ft.key, "", nil); rec.Code != http.StatusOK {
		t.Fatalf("listing apps after the requests = %d %s", rec.Code, rec.Body)
	}
}

func TestBadInputNeverFails(t *testing.T) {
	t.Parallel()
	ft := newFuzzTarget(t)
	g := newBadInput(*badInputSeed)
	for range *badInputCount {
		ft.check(t, g.request(ft.routes))
	}
	ft.alive(t)
	t.Logf("answers by status: %v", ft.statuses)
}

func FuzzAPI(f *testing.F) {
	ft := newFuzzTarget(f)
	// The issue's findings, then a sample of the generator's requests.
	for _, r := range issueFindings(ft) {
		f.Add(r.Route, r.Known, r.Segment, r.Query, r.IdemKey, r.Portal, r.Body)
	}
	g := newBadInput(7)
	for range 100 {
		r := g.request(ft.routes)
		f.Add(r.Route, r.Known, r.Segment, r.Query, r.IdemKey, r.Portal, r.Body)
	}
	f.Fuzz(func(t *testing.T, route uint16, known uint8, segment, query, idemKey string, portal bool, body []byte) {
		ft.check(t, fuzzRequest{route, known, segment, query, idemKey, portal, body})
	})
}

// issueFindings are the requests that answered 500 when the issue was filed.
func issueFindings(ft *fuzzTarget) []fuzzRequest {
	index := func(method, path string) uint16 {
		return uint16(slices.Index(ft.routes, api.Route{Method: method, Path: path}))
	}
	all := uint8(0xff)
	return []fuzzRequest{
		{Route: index("POST", "/api/v1/app"), Body: []byte(`{"name":"a\u0000b"}`)},
		{Route: index("POST", "/api/v1/app"), Body: []byte(`{"name":"a","metadata":{"k\u0000":"v\u0000"}}`)},
		{Route: index("POST", "/api/v1/app"), Body: []byte(`{"name":"a","uid":"u\u0000"}`)},
		{Route: index("POST", "/api/v1/event-type"), Body: []byte(`{"name":"x","description":"d\u0000"}`)},
		{Route: index("POST", "/api/v1/app/:app_id/endpoint"), Known: all, Body: []byte(`{"url":"https://example.com","description":"\u0000"}`)},
		{Route: index("POST", "/api/v1/app/:app_id/endpoint"), Known: all, Body: []byte(`{"url":"https://example.com:99999/"}`)},
		{Route: index("POST", "/api/v1/app/:app_id/msg"), Known: all, Body: []byte(`{"eventType":"a","payload":{},"payloadRetentionHours":-5}`)},
		{Route: index("POST", "/api/v1/app/:app_id/msg"), Known: all, Body: []byte(`{"eventType":"a","payload":{},"payloadRetentionHours":9223372036854775807}`)},
		{Route: index("POST", "/api/v1/app/:app_id/msg"), Known: all, Body: []byte("{\"eventType\":\"a\",\"payload\":{\"s\":\"\xff\"}}")},
		{Route: index("POST", "/api/v1/app/:app_id/msg"), Segment: "new\x00app", Body: []byte(`{"eventType":"a","payload":{},"application":{"name":"n\u0000"}}`)},
		{Route: index("GET", "/api/v1/app/:app_id"), Segment: "\x00"},
		{Route: index("GET", "/api/v1/app/:app_id"), Segment: "\xff"},
		{Route: index("GET", "/api/v1/app/:app_id/endpoint/:endpoint_id"), Known: 1, Segment: "\xff\x00"},
		{Route: index("GET", "/api/v1/app/:app_id/msg/:msg_id"), Known: 1, Segment: "\x00"},
		{Route: index("GET", "/api/v1/event-type/:event_type_name"), Segment: "\xfe"},
		{Route: index("POST", "/api/v1/app"), IdemKey: "\xff\xfe", Body: []byte(`{"name":"a"}`)},
		{Route: index("GET", "/api/v1/app/:app_id/msg"), Known: all, Query: "channel=%00&event_types=%ff&iterator=%00"},
		{Route: index("GET", "/api/v1/app/:app_id/attempt/msg/:msg_id"), Known: all, Query: "endpoint_id=%00%ff"},
	}
}

// badInput generates requests from a seeded random source.
type badInput struct{ rng *rand.Rand }

func newBadInput(seed uint64) *badInput { return &badInput{rand.New(rand.NewPCG(seed, seed^0x5eed))} }

func (g *badInput) request(routes []api.Route) fuzzRequest {
	r := fuzzRequest{
		Route:   uint16(g.rng.IntN(len(routes))),
		Known:   uint8(g.rng.UintN(256)),
		Segment: g.segment(),
		Portal:  g.rng.IntN(5) == 0,
	}
	if g.rng.IntN(2) == 0 {
		r.Known = 0xff
	}
	if g.rng.IntN(2) == 0 {
		r.Query = g.query()
	}
	if g.rng.IntN(4) == 0 {
		r.IdemKey = g.pick(nastyStrings)
	}
	switch g.rng.IntN(8) {
	case 0:
	case 1, 2, 3:
		r.Body = g.body()
	default:
		fields := validBody(routes[r.Route].Path)
		for _, name := range []string{"uid", "name", "eventId"} {
			if _, ok := fields[name]; ok {
				fields[name] = fmt.Sprintf(`"n%d"`, g.rng.IntN(1<<30)) // unique, mostly
			}
		}
		r.Body = g.mutate(fields)
	}
	return r
}

// validBody is a body the route accepts (with fields it ignores).
func validBody(path string) map[string]string {
	const secret = `"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"`
	switch {
	case strings.HasSuffix(path, "/headers"):
		return map[string]string{"headers": `{"X-A":"1"}`, "deleteHeaders": `["X-B"]`}
	case strings.HasSuffix(path, "/rotate"):
		return map[string]string{"key": secret, "gracePeriodSeconds": "60"}
	case strings.HasSuffix(path, "/recover"):
		return map[string]string{"since": `"2024-01-01T00:00:00Z"`, "until": `"2099-01-01T00:00:00Z"`}
	case strings.HasSuffix(path, "/send-example"):
		return map[string]string{"eventType": `"order.paid"`}
	case strings.Contains(path, "app-portal-access"):
		return map[string]string{"expiry": "3600", "application": `{"name":"n","uid":"u2"}`}
	case strings.HasSuffix(path, "/msg"):
		return map[string]string{"eventType": `"order.paid"`, "payload": `{"a":[1,{"b":null}]}`, "eventId": `"e2"`,
			"channels": `["c"]`, "tags": `["t"]`, "payloadRetentionPeriod": "30", "payloadRetentionHours": "24",
			"application": `{"name":"n","uid":"u3","metadata":{"k":"v"}}`}
	case strings.Contains(path, "endpoint"):
		return map[string]string{"url": `"https://example.com/h"`, "uid": `"e2"`, "description": `"d"`,
			"metadata": `{"k":"v"}`, "filterTypes": `["order.paid"]`, "channels": `["c"]`, "secret": secret,
			"headers": `{"X-A":"1"}`, "rateLimit": "1", "throttleRate": "1", "version": "1", "disabled": "false"}
	case strings.Contains(path, "event-type"):
		return map[string]string{"name": `"e2"`, "description": `"d"`, "featureFlag": `"f"`, "groupName": `"g"`,
			"schemas": `{"1":{"type":"object"}}`, "archived": "false", "deprecated": "false", "featureFlags": `["f"]`}
	}
	return map[string]string{"name": `"n"`, "uid": `"u4"`, "metadata": `{"k":"v"}`, "throttleRate": "10"}
}

// mutate writes fields as a JSON object, with one or two values replaced
// by random ones (so that the others pass validation and the random one
// reaches as far as it can), and sometimes a field added.
func (g *badInput) mutate(fields map[string]string) []byte {
	names := slices.Sorted(maps.Keys(fields))
	for n := 1 + g.rng.IntN(2); n > 0; n-- {
		name := names[g.rng.IntN(len(names))]
		v := fields[name]
		if strings.HasPrefix(v, `{"`) && g.rng.IntN(2) == 0 {
			// a nasty key and value inside a valid object
			fields[name] = "{" + string(g.str(g.segment())) + ":" + string(g.value(2)) + "," + v[1:]
			continue
		}
		fields[name] = string(g.value(0))
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, name := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(g.str(name))
		b.WriteByte(':')
		b.WriteString(fields[name])
	}
	if g.rng.IntN(3) == 0 {
		b.WriteString("," + string(g.str(g.pick(bodyFields))) + ":" + string(g.value(0)))
	}
	b.WriteByte('}')
	return b.Bytes()
}

func (g *badInput) pick(from []string) string { return from[g.rng.IntN(len(from))] }

// nastyStrings are raw values that broke or could break something.
var nastyStrings = []string{
	"", "\x00", "a\x00b", "\xff", "\xfe\xff", "\xc3", "\xed\xa0\x80", "é", "🎉", "\u202e", "\u2028",
	"%", "%00", "%ff", "..", "/", "a/b", "?", "#", " ", "\t", "\\", "'", "\"", "--", ";",
	"shop", "main", "evt-1", "order.paid", "app_", "msg_x", "ep_" + strings.Repeat("A", 27),
	strings.Repeat("a", 257), strings.Repeat("é", 300), strings.Repeat("\x00", 64),
}

func (g *badInput) segment() string {
	if g.rng.IntN(3) == 0 {
		return g.randomString()
	}
	return g.pick(nastyStrings)
}

// randomString is up to 40 random bytes, runes or both.
func (g *badInput) randomString() string {
	var b []byte
	for n := g.rng.IntN(40); n > 0; n-- {
		switch g.rng.IntN(3) {
		case 0:
			b = append(b, byte(g.rng.UintN(256)))
		case 1:
			b = utf8.AppendRune(b, rune(g.rng.IntN(0x110000)))
		default:
			b = append(b, byte('a'+g.rng.IntN(26)))
		}
	}
	return string(b)
}

var queryNames = []string{
	"limit", "iterator", "order", "before", "after", "status", "status_code_class", "event_types", "channel",
	"with_content", "endpoint_id", "since", "until", "expunge", "get_if_exists", "include_archived",
	"with_msg", "expanded_statuses", "tag",
}

func (g *badInput) query() string {
	v := url.Values{}
	for n := 1 + g.rng.IntN(4); n > 0; n-- {
		var val string
		switch g.rng.IntN(4) {
		case 0:
			val = g.pick(nastyStrings)
		case 1:
			val = g.pick(nastyNumbers)
		case 2:
			val = g.pick([]string{"2024-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "-1", "true", "descending", "-" + "app_x", "~"})
		default:
			val = g.randomString()
		}
		v.Add(g.pick(queryNames), val)
	}
	q := v.Encode()
	if g.rng.IntN(5) == 0 {
		q += "&" + g.randomString() // not even well-formed
	}
	return q
}

var nastyNumbers = []string{
	"0", "-1", "1", "-0", "1.5", "1e400", "-1e400", "1e-400", "99999", "65536", "2147483648", "-2147483649",
	"9223372036854775807", "9223372036854775808", "-9223372036854775809", "18446744073709551616",
	"123456789012345678901234567890", "3600", "604800", "604801", "0.0000001",
}

// bodyFields are every field name some route reads.
var bodyFields = []string{
	"name", "uid", "metadata", "throttleRate", "rateLimit", "url", "description", "version", "disabled",
	"filterTypes", "eventTypes", "channels", "secret", "headers", "deleteHeaders", "key", "gracePeriodSeconds",
	"eventType", "payload", "eventId", "tags", "application", "payloadRetentionPeriod", "payloadRetentionHours",
	"deliverAt", "archived", "deprecated", "featureFlag", "featureFlags", "groupName", "schemas",
	"since", "until", "expiry", "capabilities", "readOnly",
}

// body is a JSON object of random fields (sometimes a broken one), written
// by hand so that strings can carry raw invalid UTF-8.
func (g *badInput) body() []byte {
	switch g.rng.IntN(20) {
	case 0:
		return []byte(g.randomString())
	case 1:
		return g.value(0)
	case 2:
		n := 1 + g.rng.IntN(20000)
		return []byte(`{"payload":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `,"eventType":"a"}`)
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, n := 0, g.rng.IntN(8); i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(g.str(g.pick(bodyFields)))
		b.WriteByte(':')
		b.Write(g.value(0))
	}
	b.WriteByte('}')
	return b.Bytes()
}

// value is a random JSON value: mostly valid ones of the right kind for
// some field, sometimes nasty.
func (g *badInput) value(depth int) []byte {
	switch k := g.rng.IntN(12); {
	case k == 0:
		return []byte("null")
	case k == 1:
		return []byte(g.pick([]string{"true", "false"}))
	case k == 2:
		return []byte(g.pick(nastyNumbers))
	case k <= 5:
		return g.str(g.pick(append(nastyStrings, "https://example.com/hook", "https://127.0.0.1:99999/", "http://[::1]:0/",
			"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "order.paid", `\u0000`, `\ud800`, `a\u0000b`)))
	case k == 6:
		return g.str(g.randomString())
	case depth > 3:
		return []byte(`{}`)
	case k <= 8:
		var b bytes.Buffer
		b.WriteByte('[')
		for i, n := 0, g.rng.IntN(4); i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(g.value(depth + 1))
		}
		b.WriteByte(']')
		return b.Bytes()
	default:
		var b bytes.Buffer
		b.WriteByte('{')
		for i, n := 0, g.rng.IntN(4); i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(g.str(g.segment()))
			b.WriteByte(':')
			b.Write(g.value(depth + 1))
		}
		b.WriteByte('}')
		return b.Bytes()
	}
}

// str quotes s as a JSON string, keeping invalid UTF-8 bytes raw and
// JSON escapes given as `\u....` literally.
func (g *badInput) str(s string) []byte {
	if strings.HasPrefix(s, `\u`) || strings.Contains(s, `\u0000`) {
		return []byte(`"` + s + `"`)
	}
	var b bytes.Buffer
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.Bytes()
}
