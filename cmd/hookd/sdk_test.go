package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"
	"github.com/svix/svix-webhooks/go/models"
	"github.com/svix/svix-webhooks/go/utils"

	"github.com/hookd/hookd/pkg/signature"
)

// These tests drive hookd through the official Svix Go SDK, unchanged but
// for the server URL: the contract is that the SDKs work against hookd.

// newSDK returns a Svix client of b's admin key. Retries are off so that a
// 5xx fails at once instead of hiding behind the SDK's retry schedule.
func newSDK(t *testing.T, b *testBundle) *svix.Svix {
	t.Helper()
	u, err := url.Parse(b.url)
	if err != nil {
		t.Fatal(err)
	}
	client, err := svix.New(b.key, &svix.SvixOptions{ServerUrl: u, RetrySchedule: &[]time.Duration{}})
	if err != nil {
		t.Fatalf("svix.New: %v", err)
	}
	return client
}

func ptr[T any](v T) *T { return &v }

// must fails t when err is not nil.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v%s", what, err, errorBody(err))
	}
}

// errorBody returns the response body of an SDK error, for failure messages.
func errorBody(err error) string {
	var se *svix.Error
	if errors.As(err, &se) {
		return "\nbody: " + string(se.Body())
	}
	return ""
}

// wantStatus fails t unless err is an SDK error with the given HTTP status.
// It returns the error's body.
func wantStatus(t *testing.T, what string, err error, status int) []byte {
	t.Helper()
	var se *svix.Error
	if !errors.As(err, &se) {
		t.Fatalf("%s: error %v, want an *svix.Error with status %d", what, err, status)
	}
	if se.Status() != status {
		t.Fatalf("%s: status %d, want %d; body: %s", what, se.Status(), status, se.Body())
	}
	return se.Body()
}

// wantErrorCode checks an error body of the contract, {"code": ..., "detail": ...}.
func wantErrorCode(t *testing.T, body []byte, code string) {
	t.Helper()
	var e struct {
		Code   string `json:"code"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Code != code || e.Detail == "" {
		t.Errorf("error body %s, want code %q and a detail", body, code)
	}
}

func TestSDKHealth(t *testing.T) {
	t.Parallel()
	svx := newSDK(t, setup(t))
	must(t, "Health.Get", svx.Health.Get(context.Background()))
}

// TestSDKServerURLTrailingSlash: the Go SDK joins ServerUrl and the path
// as strings, so a server URL configured with a trailing slash requests
// "//api/v1/...". (The JavaScript SDK strips the slash itself.)
func TestSDKServerURLTrailingSlash(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u, err := url.Parse(b.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	svx, err := svix.New(b.key, &svix.SvixOptions{ServerUrl: u, RetrySchedule: &[]time.Duration{}})
	must(t, "svix.New", err)
	_, err = svx.Application.List(context.Background(), nil)
	must(t, "Application.List with a trailing slash in ServerUrl", err)
}

func TestSDKApplications(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svx := newSDK(t, setup(t))

	// Create with uid and metadata.
	app, err := svx.Application.Create(ctx, models.ApplicationIn{
		Name:         "Acme",
		Uid:          ptr("acme-uid"),
		Metadata:     &map[string]string{"plan": "pro"},
		ThrottleRate: ptr(uint16(100)),
	}, nil)
	must(t, "Application.Create", err)
	if !strings.HasPrefix(app.Id, "app_") || app.Name != "Acme" || app.Uid == nil || *app.Uid != "acme-uid" {
		t.Errorf("created app = %+v", app)
	}
	if app.Metadata["plan"] != "pro" || app.ThrottleRate == nil || *app.ThrottleRate != 100 {
		t.Errorf("created app metadata %v, throttleRate %v", app.Metadata, app.ThrottleRate)
	}
	if app.CreatedAt.IsZero() || app.UpdatedAt.IsZero() {
		t.Errorf("created app has zero timestamps: %+v", app)
	}

	// Get by id and by uid.
	for _, idOrUID := range []string{app.Id, "acme-uid"} {
		got, err := svx.Application.Get(ctx, idOrUID)
		must(t, "Application.Get "+idOrUID, err)
		if got.Id != app.Id || got.Name != "Acme" || got.Metadata["plan"] != "pro" {
			t.Errorf("Application.Get(%s) = %+v", idOrUID, got)
		}
	}

	// A taken uid is a conflict.
	_, err = svx.Application.Create(ctx, models.ApplicationIn{Name: "Dup", Uid: ptr("acme-uid")}, nil)
	wantErrorCode(t, wantStatus(t, "Create with a taken uid", err, http.StatusConflict), "conflict")

	// The same idempotency key replays the first answer.
	idem := &svix.ApplicationCreateOptions{IdempotencyKey: ptr("create-globex")}
	first, err := svx.Application.Create(ctx, models.ApplicationIn{Name: "Globex"}, idem)
	must(t, "Application.Create with an idempotency key", err)
	again, err := svx.Application.Create(ctx, models.ApplicationIn{Name: "Globex"}, idem)
	must(t, "Application.Create replayed", err)
	if again.Id != first.Id {
		t.Errorf("idempotent replay created %s, want %s", again.Id, first.Id)
	}

	// GetOrCreate returns an existing app by uid and creates a missing one.
	existing, err := svx.Application.GetOrCreate(ctx, models.ApplicationIn{Name: "Other name", Uid: ptr("acme-uid")}, nil)
	must(t, "GetOrCreate existing", err)
	if existing.Id != app.Id || existing.Name != "Acme" {
		t.Errorf("GetOrCreate of an existing uid = %+v, want app %s unchanged", existing, app.Id)
	}
	initech, err := svx.Application.GetOrCreate(ctx, models.ApplicationIn{Name: "Initech", Uid: ptr("initech")}, nil)
	must(t, "GetOrCreate new", err)
	if initech.Id == app.Id || initech.Name != "Initech" {
		t.Errorf("GetOrCreate of a new uid = %+v", initech)
	}

	// List: oldest first, paged with limit and iterator.
	all := []string{app.Id, first.Id, initech.Id}
	list, err := svx.Application.List(ctx, nil)
	must(t, "Application.List", err)
	if got := appIDs(list.Data); !slices.Equal(got, all) || !list.Done {
		t.Errorf("List = %v (done %v), want %v (done)", got, list.Done, all)
	}
	page1, err := svx.Application.List(ctx, &svix.ApplicationListOptions{Limit: ptr(uint64(2))})
	must(t, "List limit 2", err)
	if got := appIDs(page1.Data); !slices.Equal(got, all[:2]) || page1.Done || page1.Iterator == nil {
		t.Fatalf("first page = %v (done %v, iterator %v), want %v, not done, an iterator", got, page1.Done, page1.Iterator, all[:2])
	}
	page2, err := svx.Application.List(ctx, &svix.ApplicationListOptions{Limit: ptr(uint64(2)), Iterator: page1.Iterator})
	must(t, "List page 2", err)
	if got := appIDs(page2.Data); !slices.Equal(got, all[2:]) || !page2.Done {
		t.Errorf("second page = %v (done %v), want %v, done", got, page2.Done, all[2:])
	}
	if page2.PrevIterator != nil {
		back, err := svx.Application.List(ctx, &svix.ApplicationListOptions{Limit: ptr(uint64(2)), Iterator: page2.PrevIterator})
		must(t, "List back", err)
		if got := appIDs(back.Data); !slices.Equal(got, all[:2]) {
			t.Errorf("page before the second = %v, want %v", got, all[:2])
		}
	}
	desc, err := svx.Application.List(ctx, &svix.ApplicationListOptions{Order: ptr(models.ORDERING_DESCENDING)})
	must(t, "List descending", err)
	if got, want := appIDs(desc.Data), []string{initech.Id, first.Id, app.Id}; !slices.Equal(got, want) {
		t.Errorf("descending list = %v, want %v", got, want)
	}
	_, err = svx.Application.List(ctx, &svix.ApplicationListOptions{Iterator: ptr("not-an-iterator")})
	wantStatus(t, "List with a malformed iterator", err, http.StatusUnprocessableEntity)

	// Update (PUT) replaces the app.
	updated, err := svx.Application.Update(ctx, "acme-uid", models.ApplicationIn{
		Name: "Acme Corp", Uid: ptr("acme-uid"), Metadata: &map[string]string{"plan": "enterprise"},
	})
	must(t, "Application.Update", err)
	if updated.Id != app.Id || updated.Name != "Acme Corp" || updated.Metadata["plan"] != "enterprise" || updated.ThrottleRate != nil {
		t.Errorf("updated app = %+v", updated)
	}
	// Update of a missing app creates it under the path as uid.
	created, err := svx.Application.Update(ctx, "hooli", models.ApplicationIn{Name: "Hooli"})
	must(t, "Application.Update of a missing app", err)
	if created.Uid == nil || *created.Uid != "hooli" || created.Name != "Hooli" {
		t.Errorf("app created by Update = %+v", created)
	}

	// Patch changes only what it names; a null uid clears it.
	patched, err := svx.Application.Patch(ctx, app.Id, models.ApplicationPatch{Name: ptr("Acme Inc")})
	must(t, "Application.Patch name", err)
	if patched.Name != "Acme Inc" || patched.Uid == nil || *patched.Uid != "acme-uid" || patched.Metadata["plan"] != "enterprise" {
		t.Errorf("patched app = %+v", patched)
	}
	patched, err = svx.Application.Patch(ctx, app.Id, models.ApplicationPatch{
		Uid:          utils.NewNullableFromPtr[string](nil),
		ThrottleRate: utils.NewNullable[uint16](7),
	})
	must(t, "Application.Patch uid null", err)
	if patched.Uid != nil || patched.ThrottleRate == nil || *patched.ThrottleRate != 7 || patched.Name != "Acme Inc" {
		t.Errorf("patched app = %+v, want no uid and throttleRate 7", patched)
	}
	_, err = svx.Application.Get(ctx, "acme-uid")
	wantStatus(t, "Get by a cleared uid", err, http.StatusNotFound)

	// Delete, then the app is gone.
	must(t, "Application.Delete", svx.Application.Delete(ctx, app.Id))
	_, err = svx.Application.Get(ctx, app.Id)
	wantErrorCode(t, wantStatus(t, "Get after Delete", err, http.StatusNotFound), "not_found")
	err = svx.Application.Delete(ctx, app.Id)
	wantStatus(t, "Delete twice", err, http.StatusNotFound)
}

func appIDs(apps []models.ApplicationOut) []string {
	ids := make([]string, 0, len(apps))
	for _, a := range apps {
		ids = append(ids, a.Id)
	}
	return ids
}

func TestSDKEventTypes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svx := newSDK(t, setup(t))

	schema := map[string]any{"1": map[string]any{
		"type":       "object",
		"properties": map[string]any{"id": map[string]any{"type": "string"}},
	}}
	et, err := svx.EventType.Create(ctx, models.EventTypeIn{
		Name:         "invoice.paid",
		Description:  "An invoice was paid",
		Schemas:      &schema,
		FeatureFlags: []string{"beta"},
		GroupName:    ptr("invoice"),
	}, nil)
	must(t, "EventType.Create", err)
	if et.Name != "invoice.paid" || et.Description != "An invoice was paid" || et.Deprecated || (et.Archived != nil && *et.Archived) {
		t.Errorf("created event type = %+v", et)
	}
	if et.GroupName == nil || *et.GroupName != "invoice" || !slices.Equal(et.FeatureFlags, []string{"beta"}) {
		t.Errorf("created event type groupName %v, featureFlags %v", et.GroupName, et.FeatureFlags)
	}
	if et.Schemas == nil || (*et.Schemas)["1"] == nil {
		t.Errorf("created event type schemas = %v", et.Schemas)
	}
	_, err = svx.EventType.Create(ctx, models.EventTypeIn{Name: "invoice.paid", Description: "again"}, nil)
	wantStatus(t, "Create a taken name", err, http.StatusConflict)

	for _, name := range []string{"user.created", "user.deleted"} {
		_, err := svx.EventType.Create(ctx, models.EventTypeIn{Name: name, Description: name}, nil)
		must(t, "EventType.Create "+name, err)
	}

	got, err := svx.EventType.Get(ctx, "invoice.paid")
	must(t, "EventType.Get", err)
	if got.Name != et.Name || got.Schemas == nil {
		t.Errorf("EventType.Get = %+v", got)
	}

	// List: by name, paged; schemas only with with_content.
	names := []string{"invoice.paid", "user.created", "user.deleted"}
	list, err := svx.EventType.List(ctx, nil)
	must(t, "EventType.List", err)
	if got := eventTypeNames(list.Data); !slices.Equal(got, names) || !list.Done {
		t.Errorf("List = %v (done %v), want %v", got, list.Done, names)
	}
	if list.Data[0].Schemas != nil {
		t.Errorf("List without with_content returned schemas %v", list.Data[0].Schemas)
	}
	withContent, err := svx.EventType.List(ctx, &svix.EventTypeListOptions{WithContent: ptr(true)})
	must(t, "List with_content", err)
	if withContent.Data[0].Schemas == nil {
		t.Errorf("List with_content=true returned no schemas")
	}
	page1, err := svx.EventType.List(ctx, &svix.EventTypeListOptions{Limit: ptr(uint64(2))})
	must(t, "List limit 2", err)
	if got := eventTypeNames(page1.Data); !slices.Equal(got, names[:2]) || page1.Done || page1.Iterator == nil {
		t.Fatalf("first page = %v (done %v)", got, page1.Done)
	}
	page2, err := svx.EventType.List(ctx, &svix.EventTypeListOptions{Limit: ptr(uint64(2)), Iterator: page1.Iterator})
	must(t, "List page 2", err)
	if got := eventTypeNames(page2.Data); !slices.Equal(got, names[2:]) || !page2.Done {
		t.Errorf("second page = %v (done %v)", got, page2.Done)
	}

	// Update (PUT) replaces everything but the name.
	updated, err := svx.EventType.Update(ctx, "invoice.paid", models.EventTypeUpdate{Description: "Paid invoice", Deprecated: ptr(true)})
	must(t, "EventType.Update", err)
	if updated.Description != "Paid invoice" || !updated.Deprecated || updated.GroupName != nil || updated.Schemas != nil {
		t.Errorf("updated event type = %+v", updated)
	}
	// Update of a missing event type creates it.
	created, err := svx.EventType.Update(ctx, "order.shipped", models.EventTypeUpdate{Description: "Shipped"})
	must(t, "EventType.Update of a missing event type", err)
	if created.Name != "order.shipped" {
		t.Errorf("event type created by Update = %+v", created)
	}

	// Patch changes only what it names.
	patched, err := svx.EventType.Patch(ctx, "invoice.paid", models.EventTypePatch{
		Deprecated: ptr(false),
		GroupName:  utils.NewNullable("billing"),
		Schemas:    utils.NewNullable(schema),
	})
	must(t, "EventType.Patch", err)
	if patched.Deprecated || patched.Description != "Paid invoice" || patched.GroupName == nil || *patched.GroupName != "billing" || patched.Schemas == nil {
		t.Errorf("patched event type = %+v", patched)
	}
	patched, err = svx.EventType.Patch(ctx, "invoice.paid", models.EventTypePatch{GroupName: utils.NewNullableFromPtr[string](nil)})
	must(t, "EventType.Patch groupName null", err)
	if patched.GroupName != nil || patched.Schemas == nil {
		t.Errorf("patched event type = %+v, want no group and schemas kept", patched)
	}

	// Delete archives: still readable, hidden from lists unless asked for.
	must(t, "EventType.Delete", svx.EventType.Delete(ctx, "user.deleted", nil))
	archived, err := svx.EventType.Get(ctx, "user.deleted")
	must(t, "Get an archived event type", err)
	if archived.Archived == nil || !*archived.Archived {
		t.Errorf("deleted event type is not archived: %+v", archived)
	}
	list, err = svx.EventType.List(ctx, nil)
	must(t, "List", err)
	if slices.Contains(eventTypeNames(list.Data), "user.deleted") {
		t.Errorf("List shows an archived event type: %v", eventTypeNames(list.Data))
	}
	list, err = svx.EventType.List(ctx, &svix.EventTypeListOptions{IncludeArchived: ptr(true)})
	must(t, "List include_archived", err)
	if !slices.Contains(eventTypeNames(list.Data), "user.deleted") {
		t.Errorf("List include_archived misses the archived event type: %v", eventTypeNames(list.Data))
	}
	// Create unarchives.
	unarchived, err := svx.EventType.Create(ctx, models.EventTypeIn{Name: "user.deleted", Description: "back"}, nil)
	must(t, "Create an archived event type", err)
	if unarchived.Archived != nil && *unarchived.Archived {
		t.Errorf("re-created event type is still archived")
	}

	// Delete with expunge removes it for good.
	must(t, "EventType.Delete expunge", svx.EventType.Delete(ctx, "order.shipped", &svix.EventTypeDeleteOptions{Expunge: ptr(true)}))
	_, err = svx.EventType.Get(ctx, "order.shipped")
	wantErrorCode(t, wantStatus(t, "Get after expunge", err, http.StatusNotFound), "not_found")
}

func eventTypeNames(ets []models.EventTypeOut) []string {
	names := make([]string, 0, len(ets))
	for _, et := range ets {
		names = append(names, et.Name)
	}
	return names
}

// sdkApp creates an application and the event types user.created and user.deleted.
func sdkApp(t *testing.T, svx *svix.Svix) *models.ApplicationOut {
	t.Helper()
	ctx := context.Background()
	for _, name := range []string{"user.created", "user.deleted"} {
		_, err := svx.EventType.Create(ctx, models.EventTypeIn{Name: name, Description: name}, nil)
		must(t, "EventType.Create "+name, err)
	}
	app, err := svx.Application.Create(ctx, models.ApplicationIn{Name: "Endpoints", Uid: ptr("endpoints-app")}, nil)
	must(t, "Application.Create", err)
	return app
}

func TestSDKEndpoints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svx := newSDK(t, setup(t))
	app := sdkApp(t, svx)

	// Create with every optional field; the secret is given without whsec_.
	const secret = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	ep, err := svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{
		Url:         "https://example.com/hook",
		Description: ptr("main receiver"),
		FilterTypes: []string{"user.created", "user.deleted"},
		Channels:    []string{"project-1", "project-2"},
		Uid:         ptr("ep-main"),
		Metadata:    &map[string]string{"owner": "ops"},
		Headers:     &map[string]string{"X-Team": "ops"},
		Secret:      ptr(secret),
	}, nil)
	must(t, "Endpoint.Create", err)
	if !strings.HasPrefix(ep.Id, "ep_") || ep.Url != "https://example.com/hook" || ep.Description != "main receiver" || ep.Version != 1 {
		t.Errorf("created endpoint = %+v", ep)
	}
	if !slices.Equal(ep.FilterTypes, []string{"user.created", "user.deleted"}) || !slices.Equal(ep.Channels, []string{"project-1", "project-2"}) {
		t.Errorf("created endpoint filterTypes %v, channels %v", ep.FilterTypes, ep.Channels)
	}
	if ep.Uid == nil || *ep.Uid != "ep-main" || ep.Metadata["owner"] != "ops" || (ep.Disabled != nil && *ep.Disabled) {
		t.Errorf("created endpoint = %+v", ep)
	}

	// Get by id and uid, through the app's id and uid.
	for _, ids := range [][2]string{{app.Id, ep.Id}, {"endpoints-app", "ep-main"}} {
		got, err := svx.Endpoint.Get(ctx, ids[0], ids[1])
		must(t, "Endpoint.Get "+ids[0]+"/"+ids[1], err)
		if got.Id != ep.Id || !slices.Equal(got.FilterTypes, ep.FilterTypes) || got.Version != 1 {
			t.Errorf("Endpoint.Get(%s, %s) = %+v", ids[0], ids[1], got)
		}
	}

	// Validation: unknown event types in the filter, a non-http URL, a taken uid.
	_, err = svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{Url: "https://example.com/x", FilterTypes: []string{"no.such.type"}}, nil)
	wantStatus(t, "Create with an unknown event type", err, http.StatusUnprocessableEntity)
	_, err = svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{Url: "ftp://example.com/x"}, nil)
	wantStatus(t, "Create with an ftp URL", err, http.StatusUnprocessableEntity)
	_, err = svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{Url: "https://example.com/x", Uid: ptr("ep-main")}, nil)
	wantStatus(t, "Create with a taken uid", err, http.StatusConflict)

	// List: newest first, paged.
	second, err := svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{Url: "https://example.com/2"}, nil)
	must(t, "Endpoint.Create 2", err)
	third, err := svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{Url: "https://example.com/3"}, nil)
	must(t, "Endpoint.Create 3", err)
	all := []string{third.Id, second.Id, ep.Id}
	list, err := svx.Endpoint.List(ctx, app.Id, nil)
	must(t, "Endpoint.List", err)
	if got := endpointIDs(list.Data); !slices.Equal(got, all) || !list.Done {
		t.Errorf("List = %v (done %v), want %v", got, list.Done, all)
	}
	page1, err := svx.Endpoint.List(ctx, app.Id, &svix.EndpointListOptions{Limit: ptr(uint64(2))})
	must(t, "List limit 2", err)
	if got := endpointIDs(page1.Data); !slices.Equal(got, all[:2]) || page1.Done || page1.Iterator == nil {
		t.Fatalf("first page = %v (done %v)", got, page1.Done)
	}
	page2, err := svx.Endpoint.List(ctx, app.Id, &svix.EndpointListOptions{Limit: ptr(uint64(2)), Iterator: page1.Iterator})
	must(t, "List page 2", err)
	if got := endpointIDs(page2.Data); !slices.Equal(got, all[2:]) || !page2.Done {
		t.Errorf("second page = %v (done %v)", got, page2.Done)
	}
	asc, err := svx.Endpoint.List(ctx, app.Id, &svix.EndpointListOptions{Order: ptr(models.ORDERING_ASCENDING)})
	must(t, "List ascending", err)
	if got, want := endpointIDs(asc.Data), []string{ep.Id, second.Id, third.Id}; !slices.Equal(got, want) {
		t.Errorf("ascending list = %v, want %v", got, want)
	}

	// Update (PUT) replaces the settings; an absent filter means all types.
	updated, err := svx.Endpoint.Update(ctx, app.Id, "ep-main", models.EndpointUpdate{
		Url:         "https://example.com/hook2",
		Uid:         ptr("ep-main"),
		FilterTypes: []string{"user.created"},
		Version:     ptr(uint16(2)),
	})
	must(t, "Endpoint.Update", err)
	if updated.Id != ep.Id || updated.Url != "https://example.com/hook2" || !slices.Equal(updated.FilterTypes, []string{"user.created"}) || updated.Version != 2 {
		t.Errorf("updated endpoint = %+v", updated)
	}
	if len(updated.Channels) != 0 || updated.Description != "" {
		t.Errorf("Update kept channels %v, description %q", updated.Channels, updated.Description)
	}
	// Update of a missing endpoint creates it under the path as uid.
	created, err := svx.Endpoint.Update(ctx, app.Id, "ep-put", models.EndpointUpdate{Url: "https://example.com/put"})
	must(t, "Endpoint.Update of a missing endpoint", err)
	if created.Uid == nil || *created.Uid != "ep-put" || created.Version != 1 {
		t.Errorf("endpoint created by Update = %+v", created)
	}

	// Patch changes only what it names; a null filter means all types again.
	patched, err := svx.Endpoint.Patch(ctx, app.Id, ep.Id, models.EndpointPatch{
		Description: ptr("patched"),
		Channels:    utils.NewNullable([]string{"project-3"}),
		Disabled:    ptr(true),
	})
	must(t, "Endpoint.Patch", err)
	if patched.Description != "patched" || !slices.Equal(patched.Channels, []string{"project-3"}) || patched.Disabled == nil || !*patched.Disabled {
		t.Errorf("patched endpoint = %+v", patched)
	}
	if !slices.Equal(patched.FilterTypes, []string{"user.created"}) || patched.Url != "https://example.com/hook2" {
		t.Errorf("Patch lost fields it did not name: %+v", patched)
	}
	patched, err = svx.Endpoint.Patch(ctx, app.Id, ep.Id, models.EndpointPatch{
		FilterTypes: utils.NewNullableFromPtr[[]string](nil),
		Channels:    utils.NewNullableFromPtr[[]string](nil),
	})
	must(t, "Endpoint.Patch filterTypes null", err)
	if patched.FilterTypes != nil || patched.Channels != nil || patched.Description != "patched" {
		t.Errorf("endpoint patched with null filterTypes and channels = %+v", patched)
	}
	got, err := svx.Endpoint.Get(ctx, app.Id, ep.Id)
	must(t, "Endpoint.Get after Patch", err)
	if got.FilterTypes != nil || got.Channels != nil {
		t.Errorf("stored endpoint keeps filterTypes %v, channels %v", got.FilterTypes, got.Channels)
	}
	_, err = svx.Endpoint.Patch(ctx, app.Id, ep.Id, models.EndpointPatch{FilterTypes: utils.NewNullable([]string{"no.such.type"})})
	wantStatus(t, "Patch with an unknown event type", err, http.StatusUnprocessableEntity)

	// Stats of an endpoint without deliveries, with and without a window.
	stats, err := svx.Endpoint.GetStats(ctx, app.Id, ep.Id, nil)
	must(t, "Endpoint.GetStats", err)
	if *stats != (models.EndpointStats{}) {
		t.Errorf("stats of a new endpoint = %+v", stats)
	}
	since, until := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	_, err = svx.Endpoint.GetStats(ctx, app.Id, ep.Id, &svix.EndpointGetStatsOptions{Since: &since, Until: &until})
	must(t, "Endpoint.GetStats with a window", err)

	// Delete, then it is gone; other apps' endpoints are not reachable.
	must(t, "Endpoint.Delete", svx.Endpoint.Delete(ctx, app.Id, ep.Id))
	_, err = svx.Endpoint.Get(ctx, app.Id, ep.Id)
	wantErrorCode(t, wantStatus(t, "Get after Delete", err, http.StatusNotFound), "not_found")
	other, err := svx.Application.Create(ctx, models.ApplicationIn{Name: "Other"}, nil)
	must(t, "Application.Create other", err)
	_, err = svx.Endpoint.Get(ctx, other.Id, second.Id)
	wantStatus(t, "Get through another app", err, http.StatusNotFound)
}

func endpointIDs(eps []models.EndpointOut) []string {
	ids := make([]string, 0, len(eps))
	for _, ep := range eps {
		ids = append(ids, ep.Id)
	}
	return ids
}

func TestSDKEndpointSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svx := newSDK(t, setup(t))
	app := sdkApp(t, svx)

	const given = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	ep, err := svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{Url: "https://example.com/hook", Secret: ptr(strings.TrimPrefix(given, "whsec_"))}, nil)
	must(t, "Endpoint.Create", err)
	s, err := svx.Endpoint.GetSecret(ctx, app.Id, ep.Id)
	must(t, "Endpoint.GetSecret", err)
	if s.Key != given {
		t.Errorf("secret = %q, want %q", s.Key, given)
	}

	// Rotate to a given key.
	const next = "whsec_dGhpcyBpcyBhIHRlc3Qgc2VjcmV0IGtleSBvayE="
	must(t, "RotateSecret with a key", svx.Endpoint.RotateSecret(ctx, app.Id, ep.Id, models.EndpointSecretRotateIn{Key: ptr(next)}, nil))
	s, err = svx.Endpoint.GetSecret(ctx, app.Id, ep.Id)
	must(t, "GetSecret after rotation", err)
	if s.Key != next {
		t.Errorf("secret after rotation = %q, want %q", s.Key, next)
	}

	// Rotate to a generated key, through the endpoint's uid-less id.
	must(t, "RotateSecret without a key", svx.Endpoint.RotateSecret(ctx, app.Id, ep.Id, models.EndpointSecretRotateIn{}, nil))
	s, err = svx.Endpoint.GetSecret(ctx, app.Id, ep.Id)
	must(t, "GetSecret after second rotation", err)
	if !strings.HasPrefix(s.Key, "whsec_") || s.Key == next || s.Key == given {
		t.Errorf("generated secret = %q, want a new whsec_ secret", s.Key)
	}
	must(t, "RotateSecret with a grace period", svx.Endpoint.RotateSecret(ctx, app.Id, ep.Id, models.EndpointSecretRotateIn{GracePeriodSeconds: ptr(uint32(0))}, nil))

	// A generated secret from create.
	generated, err := svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{Url: "https://example.com/other"}, nil)
	must(t, "Endpoint.Create without a secret", err)
	s, err = svx.Endpoint.GetSecret(ctx, app.Id, generated.Id)
	must(t, "GetSecret of a generated secret", err)
	if !strings.HasPrefix(s.Key, "whsec_") {
		t.Errorf("generated secret = %q, want whsec_...", s.Key)
	}

	// An invalid secret is refused.
	err = svx.Endpoint.RotateSecret(ctx, app.Id, ep.Id, models.EndpointSecretRotateIn{Key: ptr("too-short")}, nil)
	wantStatus(t, "RotateSecret with an invalid key", err, http.StatusUnprocessableEntity)

	// Patching the secret sets it.
	_, err = svx.Endpoint.Patch(ctx, app.Id, ep.Id, models.EndpointPatch{Secret: utils.NewNullable(given)})
	must(t, "Patch secret", err)
	s, err = svx.Endpoint.GetSecret(ctx, app.Id, ep.Id)
	must(t, "GetSecret after Patch", err)
	if s.Key != given {
		t.Errorf("secret after Patch = %q, want %q", s.Key, given)
	}
}

func TestSDKEndpointHeaders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svx := newSDK(t, setup(t))
	app := sdkApp(t, svx)

	ep, err := svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{
		Url:     "https://example.com/hook",
		Headers: &map[string]string{"X-Team": "ops", "Authorization": "Bearer receiver-token"},
	}, nil)
	must(t, "Endpoint.Create", err)

	h, err := svx.Endpoint.GetHeaders(ctx, app.Id, ep.Id)
	must(t, "GetHeaders", err)
	if h.Headers["X-Team"] != "ops" || !slices.Contains(h.Sensitive, "Authorization") {
		t.Errorf("headers = %+v, want X-Team and a sensitive Authorization", h)
	}
	if _, ok := h.Headers["Authorization"]; ok {
		t.Errorf("GetHeaders shows the value of a sensitive header: %+v", h)
	}

	// Update replaces every header.
	must(t, "UpdateHeaders", svx.Endpoint.UpdateHeaders(ctx, app.Id, ep.Id, models.EndpointHeadersIn{
		Headers: map[string]string{"X-One": "1", "X-Two": "2"},
	}))
	h, err = svx.Endpoint.GetHeaders(ctx, app.Id, ep.Id)
	must(t, "GetHeaders after Update", err)
	if len(h.Headers) != 2 || h.Headers["X-One"] != "1" || h.Headers["X-Two"] != "2" || len(h.Sensitive) != 0 {
		t.Errorf("headers after Update = %+v", h)
	}

	// Patch adds and changes the headers it names and removes deleteHeaders.
	must(t, "PatchHeaders", svx.Endpoint.PatchHeaders(ctx, app.Id, ep.Id, models.EndpointHeadersPatchIn{
		Headers:       map[string]string{"X-Two": "two", "X-Three": "3"},
		DeleteHeaders: []string{"X-One"},
	}))
	h, err = svx.Endpoint.GetHeaders(ctx, app.Id, ep.Id)
	must(t, "GetHeaders after Patch", err)
	want := map[string]string{"X-Two": "two", "X-Three": "3"}
	if len(h.Headers) != len(want) || h.Headers["X-Two"] != "two" || h.Headers["X-Three"] != "3" {
		t.Errorf("headers after Patch = %v, want %v", h.Headers, want)
	}

	// Headers hookd sets itself cannot be overridden.
	err = svx.Endpoint.UpdateHeaders(ctx, app.Id, ep.Id, models.EndpointHeadersIn{Headers: map[string]string{"webhook-signature": "forged"}})
	wantStatus(t, "UpdateHeaders with a reserved header", err, http.StatusUnprocessableEntity)
}

// nodeSDKDir holds the JavaScript SDK round trip (roundtrip.mjs) and its
// pinned dependencies.
const nodeSDKDir = "testdata/sdk-node"

// npmInstall installs nodeSDKDir's dependencies once per test binary.
var npmInstall struct {
	once sync.Once
	out  []byte
	err  error
}

// npmNetworkErrors are in npm's output when the registry cannot be reached.
var npmNetworkErrors = []string{"ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENETUNREACH", "network request", "request to https://"}

// TestSDKNode runs the same kind of round trip through the official Svix
// JavaScript SDK (npm package svix, version pinned in package.json). It is
// skipped when node or npm is missing or the npm registry is unreachable.
func TestSDKNode(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not on PATH")
	}
	npmInstall.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		args := []string{"ci", "--prefer-offline", "--no-audit", "--no-fund"}
		if _, err := os.Stat(filepath.Join(nodeSDKDir, "package-lock.json")); err != nil {
			args[0] = "install"
		}
		cmd := exec.CommandContext(ctx, npm, args...)
		cmd.Dir = nodeSDKDir
		npmInstall.out, npmInstall.err = cmd.CombinedOutput()
	})
	if npmInstall.err != nil {
		out := string(npmInstall.out)
		for _, s := range npmNetworkErrors {
			if strings.Contains(out, s) {
				t.Skipf("npm cannot reach the registry (%v):\n%s", npmInstall.err, out)
			}
		}
		t.Fatalf("npm install in %s: %v\n%s", nodeSDKDir, npmInstall.err, out)
	}

	b := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "roundtrip.mjs")
	cmd.Dir = nodeSDKDir
	cmd.Env = append(os.Environ(), "HOOKD_URL="+b.url, "HOOKD_KEY="+b.key)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node roundtrip.mjs: %v\n%s", err, out)
	}
	t.Logf("node roundtrip.mjs:\n%s", out)
}

// Ed25519 endpoint keys (whsk_) through the Go SDK: given on create, read
// back as given, rotated to from HMAC and back, set by Patch; the SDK
// parses endpoints that carry hookd's extension fields.
func TestSDKEd25519Secret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svx := newSDK(t, setup(t))
	app := sdkApp(t, svx)

	first, _ := signature.GeneratePrivateKey()
	ep, err := svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{Url: "https://example.com/hook", Secret: ptr(first.String())}, nil)
	must(t, "Endpoint.Create with a whsk_ key", err)
	s, err := svx.Endpoint.GetSecret(ctx, app.Id, ep.Id)
	must(t, "Endpoint.GetSecret", err)
	if s.Key != first.String() {
		t.Errorf("secret = %q, want the whsk_ key given", s.Key)
	}

	const hmac = "whsec_dGhpcyBpcyBhIHRlc3Qgc2VjcmV0IGtleSBvayE="
	must(t, "RotateSecret to HMAC", svx.Endpoint.RotateSecret(ctx, app.Id, ep.Id, models.EndpointSecretRotateIn{Key: ptr(hmac)}, nil))
	next, _ := signature.GeneratePrivateKey()
	must(t, "RotateSecret to Ed25519", svx.Endpoint.RotateSecret(ctx, app.Id, ep.Id, models.EndpointSecretRotateIn{Key: ptr(next.String())}, nil))
	s, err = svx.Endpoint.GetSecret(ctx, app.Id, ep.Id)
	must(t, "GetSecret after rotations", err)
	if s.Key != next.String() {
		t.Errorf("secret after rotations = %q", s.Key)
	}
	_, err = svx.Endpoint.Patch(ctx, app.Id, ep.Id, models.EndpointPatch{Secret: utils.NewNullable(first.String())})
	must(t, "Patch with a whsk_ key", err)

	err = svx.Endpoint.RotateSecret(ctx, app.Id, ep.Id, models.EndpointSecretRotateIn{Key: ptr(first.Public().String())}, nil)
	wantStatus(t, "RotateSecret with a public key", err, http.StatusUnprocessableEntity)

	got, err := svx.Endpoint.Get(ctx, app.Id, ep.Id)
	must(t, "Endpoint.Get", err)
	list, err := svx.Endpoint.List(ctx, app.Id, nil)
	must(t, "Endpoint.List", err)
	if got.Id != ep.Id || len(list.Data) != 1 {
		t.Errorf("Get = %+v, List = %+v", got, list)
	}
}
