package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/webhook"
)

// appJSON is the contract's ApplicationOut.
type appJSON struct {
	ID           string            `json:"id"`
	UID          *string           `json:"uid"`
	Name         string            `json:"name"`
	Metadata     map[string]string `json:"metadata"`
	ThrottleRate *int              `json:"throttleRate"`
	RateLimit    *int              `json:"rateLimit"`
	CreatedAt    time.Time         `json:"createdAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
}

// endpointJSON is the contract's EndpointOut with the SDKs' extra names.
type endpointJSON struct {
	ID           string            `json:"id"`
	UID          *string           `json:"uid"`
	URL          string            `json:"url"`
	Description  string            `json:"description"`
	Version      int               `json:"version"`
	Disabled     bool              `json:"disabled"`
	FilterTypes  []string          `json:"filterTypes"`
	EventTypes   []string          `json:"eventTypes"`
	Channels     []string          `json:"channels"`
	Metadata     map[string]string `json:"metadata"`
	ThrottleRate *int              `json:"throttleRate"`
	RateLimit    *int              `json:"rateLimit"`
	CreatedAt    time.Time         `json:"createdAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
}

// eventTypeJSON is the contract's EventTypeOut.
type eventTypeJSON struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Archived    bool            `json:"archived"`
	Deprecated  bool            `json:"deprecated"`
	FeatureFlag *string         `json:"featureFlag"`
	Schemas     json.RawMessage `json:"schemas"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
}

// backgroundTaskJSON is the contract's BackgroundTaskOut.
type backgroundTaskJSON struct {
	Data      map[string]any `json:"data"`
	ID        string         `json:"id"`
	Status    string         `json:"status"`
	Task      string         `json:"task"`
	UpdatedAt time.Time      `json:"updatedAt"`
}

// headersJSON is the contract's EndpointHeadersOut.
type headersJSON struct {
	Headers   map[string]string `json:"headers"`
	Sensitive []string          `json:"sensitive"`
}

// listJSON is the contract's list envelope.
type listJSON[T any] struct {
	Data         []T     `json:"data"`
	Iterator     *string `json:"iterator"`
	PrevIterator *string `json:"prevIterator"`
	Done         bool    `json:"done"`
}

// validationJSON is the contract's HTTPValidationError.
type validationJSON struct {
	Detail []struct {
		Loc  []string `json:"loc"`
		Msg  string   `json:"msg"`
		Type string   `json:"type"`
	} `json:"detail"`
}

// createApp creates an application from body (name defaults to "app").
func (b *bundle) createApp(body map[string]any) appJSON {
	b.t.Helper()
	if _, ok := body["name"]; !ok {
		body["name"] = "app"
	}
	return decode[appJSON](b.t, b.do(http.MethodPost, "/api/v1/app", body).must(b.t, http.StatusCreated))
}

// createEndpoint creates an endpoint of app from body (url defaults to https://example.com/hook).
func (b *bundle) createEndpoint(app string, body map[string]any) endpointJSON {
	b.t.Helper()
	if _, ok := body["url"]; !ok {
		body["url"] = "https://example.com/hook"
	}
	r := b.do(http.MethodPost, "/api/v1/app/"+app+"/endpoint", body).must(b.t, http.StatusCreated)
	return decode[endpointJSON](b.t, r)
}

// createEventType creates an event type named name.
func (b *bundle) createEventType(name string) eventTypeJSON {
	b.t.Helper()
	r := b.do(http.MethodPost, "/api/v1/event-type", map[string]any{"name": name, "description": "about " + name})
	return decode[eventTypeJSON](b.t, r.must(b.t, http.StatusCreated))
}

// secret returns the endpoint's current secret as the API shows it.
func (b *bundle) secret(app, ep string) string {
	b.t.Helper()
	r := b.do(http.MethodGet, "/api/v1/app/"+app+"/endpoint/"+ep+"/secret", nil).must(b.t, http.StatusOK)
	return decode[map[string]string](b.t, r)["key"]
}

// snapshot returns the body of a GET of path, which must answer 200; used to
// check that a rejected write changed nothing.
func (b *bundle) snapshot(path string) []byte {
	b.t.Helper()
	return b.do(http.MethodGet, path, nil).must(b.t, http.StatusOK).body
}

// unchanged fails unless a GET of path still answers before.
func (b *bundle) unchanged(path string, before []byte) {
	b.t.Helper()
	if after := b.snapshot(path); !bytes.Equal(after, before) {
		b.t.Fatalf("GET %s changed after a rejected write:\nbefore %s\nafter  %s", path, before, after)
	}
}

// mustInvalid checks that r is the contract's 422 and that one of its items
// is located at loc (or inside it, e.g. ["body","filterTypes","0"] for loc
// ["body","filterTypes"]).
func mustInvalid(t *testing.T, r response, loc ...string) validationJSON {
	t.Helper()
	r.must(t, http.StatusUnprocessableEntity)
	var v validationJSON
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("422 body %s is not {\"detail\":[{loc,msg,type}]}: %v", r.body, err)
	}
	if len(v.Detail) == 0 {
		t.Fatalf("422 body %s has no detail", r.body)
	}
	found := false
	for _, d := range v.Detail {
		if d.Msg == "" || d.Type == "" || len(d.Loc) == 0 {
			t.Fatalf("422 item without loc, msg or type: %s", r.body)
		}
		if len(d.Loc) >= len(loc) && slices.Equal(d.Loc[:len(loc)], loc) {
			found = true
		}
	}
	if !found {
		t.Fatalf("422 body %s names no field at %q", r.body, loc)
	}
	return v
}

// mustError checks that r is an error with the contract's {"code","detail"} body.
func mustError(t *testing.T, r response, status int, code string) {
	t.Helper()
	r.must(t, status)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type = %q, want JSON; body %s", ct, r.body)
	}
	var e map[string]any
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %s is not JSON: %v", r.body, err)
	}
	if e["code"] != code {
		t.Fatalf("error code = %v, want %q; body %s", e["code"], code, r.body)
	}
	if d, _ := e["detail"].(string); d == "" {
		t.Fatalf("error body %s has no detail", r.body)
	}
}

// mustKeys fails unless the JSON object in raw has every key.
func mustKeys(t *testing.T, raw []byte, keys ...string) map[string]json.RawMessage {
	t.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	for _, k := range keys {
		if _, ok := obj[k]; !ok {
			t.Fatalf("key %q missing from %s", k, raw)
		}
	}
	return obj
}

// str renders a nullable string for messages.
func str(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%q", *s)
}

// in returns b reporting to t, for use inside subtests.
func (b *bundle) in(t *testing.T) *bundle {
	c := *b
	c.t = t
	return &c
}

// storedEndpoint reads an endpoint straight from the store, secrets included.
func (b *bundle) storedEndpoint(appID, idOrUID string) (*webhook.Endpoint, error) {
	return b.db.FindEndpoint(context.Background(), &webhook.Application{ID: appID}, idOrUID)
}

// setFail makes every later queue call return err (nil: succeed).
func (r *recordingQueue) setFail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = err
}

// resent returns the delivery ids of the manual attempts queued so far.
func (r *recordingQueue) resent() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.resends...)
}
