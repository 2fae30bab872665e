package api_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestAppLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)

	r := b.do(http.MethodPost, "/api/v1/app", map[string]any{
		"name": "Acme", "uid": "acme-1", "metadata": map[string]string{"plan": "pro"}, "throttleRate": 10,
	}).must(t, http.StatusCreated)
	mustKeys(t, r.body, "id", "uid", "name", "metadata", "throttleRate", "rateLimit", "createdAt", "updatedAt")
	app := decode[appJSON](t, r)
	if !strings.HasPrefix(app.ID, "app_") || str(app.UID) != `"acme-1"` || app.Name != "Acme" ||
		app.Metadata["plan"] != "pro" || app.ThrottleRate == nil || *app.ThrottleRate != 10 ||
		app.RateLimit == nil || *app.RateLimit != 10 || app.CreatedAt.IsZero() || app.UpdatedAt.IsZero() {
		t.Fatalf("created app = %s", r.body)
	}

	got := decode[appJSON](t, b.do(http.MethodGet, "/api/v1/app/"+app.ID, nil).must(t, http.StatusOK))
	if got.ID != app.ID || got.Name != "Acme" || got.Metadata["plan"] != "pro" {
		t.Fatalf("GET = %+v, want %+v", got, app)
	}

	r = b.do(http.MethodPatch, "/api/v1/app/"+app.ID, map[string]any{"name": "Acme 2"}).must(t, http.StatusOK)
	if got := decode[appJSON](t, r); got.Name != "Acme 2" || got.Metadata["plan"] != "pro" {
		t.Fatalf("PATCH = %s", r.body)
	}

	r = b.do(http.MethodPut, "/api/v1/app/"+app.ID, map[string]any{"name": "Acme 3", "uid": "acme-1"}).must(t, http.StatusOK)
	if got := decode[appJSON](t, r); got.ID != app.ID || got.Name != "Acme 3" {
		t.Fatalf("PUT = %s", r.body)
	}

	b.do(http.MethodDelete, "/api/v1/app/"+app.ID, nil).must(t, http.StatusNoContent)
	mustError(t, b.do(http.MethodGet, "/api/v1/app/"+app.ID, nil), http.StatusNotFound, "not_found")
	mustError(t, b.do(http.MethodGet, "/api/v1/app/acme-1", nil), http.StatusNotFound, "not_found")
}

func TestAppPutCreates(t *testing.T) {
	t.Parallel()
	b := setup(t)

	// A path naming no application creates one with the path as its uid.
	r := b.do(http.MethodPut, "/api/v1/app/made-by-put", map[string]any{"name": "p"}).must(t, http.StatusCreated)
	app := decode[appJSON](t, r)
	if str(app.UID) != `"made-by-put"` || !strings.HasPrefix(app.ID, "app_") {
		t.Fatalf("PUT-created app = %s", r.body)
	}
	// The second PUT finds it by that uid and updates it.
	r = b.do(http.MethodPut, "/api/v1/app/made-by-put", map[string]any{"name": "q", "uid": "made-by-put"}).must(t, http.StatusOK)
	if got := decode[appJSON](t, r); got.ID != app.ID || got.Name != "q" {
		t.Fatalf("second PUT = %s", r.body)
	}
	// A uid in the body wins over the path.
	r = b.do(http.MethodPut, "/api/v1/app/other-path", map[string]any{"name": "p", "uid": "body-uid"}).must(t, http.StatusCreated)
	if got := decode[appJSON](t, r); str(got.UID) != `"body-uid"` {
		t.Fatalf("PUT with body uid = %s", r.body)
	}
	if n := len(decode[listJSON[appJSON]](t, b.do(http.MethodGet, "/api/v1/app", nil)).Data); n != 2 {
		t.Fatalf("%d apps, want 2", n)
	}
}

func TestAppPutReplacesPatchMerges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{"name": "a", "uid": "u1", "metadata": map[string]string{"k": "v"}, "throttleRate": 5})
	path := "/api/v1/app/" + app.ID

	// PATCH changes only the fields it carries.
	r := b.do(http.MethodPatch, path, map[string]any{"metadata": map[string]string{"k2": "v2"}}).must(t, http.StatusOK)
	got := decode[appJSON](t, r)
	if got.Name != "a" || str(got.UID) != `"u1"` || got.ThrottleRate == nil || *got.ThrottleRate != 5 ||
		len(got.Metadata) != 1 || got.Metadata["k2"] != "v2" {
		t.Fatalf("PATCH metadata = %s", r.body)
	}
	// rateLimit is the SDKs' name for throttleRate.
	r = b.do(http.MethodPatch, path, map[string]any{"rateLimit": 7}).must(t, http.StatusOK)
	if got := decode[appJSON](t, r); got.ThrottleRate == nil || *got.ThrottleRate != 7 {
		t.Fatalf("PATCH rateLimit = %s", r.body)
	}
	// null clears nullable fields.
	r = b.do(http.MethodPatch, path, map[string]any{"uid": nil, "throttleRate": nil}).must(t, http.StatusOK)
	if got := decode[appJSON](t, r); got.UID != nil || got.ThrottleRate != nil || got.RateLimit != nil || got.Name != "a" {
		t.Fatalf("PATCH nulls = %s", r.body)
	}
	after := decode[appJSON](t, b.do(http.MethodGet, path, nil).must(t, http.StatusOK))
	if after.UID != nil || after.ThrottleRate != nil || after.Metadata["k2"] != "v2" {
		t.Fatalf("GET after PATCH = %+v", after)
	}

	// PUT replaces: absent fields go back to their defaults, except the uid,
	// which is kept (a repeated PUT of /app/{uid} must find the same app).
	b.do(http.MethodPatch, path, map[string]any{"uid": "u1", "throttleRate": 5}).must(t, http.StatusOK)
	r = b.do(http.MethodPut, path, map[string]any{"name": "b"}).must(t, http.StatusOK)
	mustKeys(t, r.body, "metadata")
	for _, raw := range [][]byte{r.body, b.snapshot(path)} {
		got := decode[appJSON](t, response{body: raw})
		if got.Name != "b" || got.UID == nil || *got.UID != "u1" || got.ThrottleRate != nil || got.Metadata == nil || len(got.Metadata) != 0 {
			t.Fatalf("after PUT: %s (want metadata {}, throttleRate null, uid kept)", raw)
		}
	}
}

func TestAppCreateMetadataDefaultsToObject(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// ApplicationOut.metadata is a required object: never null.
	r := b.do(http.MethodPost, "/api/v1/app", map[string]any{"name": "a"}).must(t, http.StatusCreated)
	if obj := mustKeys(t, r.body, "metadata"); string(obj["metadata"]) != "{}" {
		t.Fatalf("metadata = %s, want {}", obj["metadata"])
	}
	app := decode[appJSON](t, r)
	if obj := mustKeys(t, b.snapshot("/api/v1/app/"+app.ID), "metadata"); string(obj["metadata"]) != "{}" {
		t.Fatalf("GET metadata = %s, want {}", obj["metadata"])
	}
}

func TestAppGetIfExists(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := b.createApp(map[string]any{"name": "first", "uid": "same"})

	r := b.do(http.MethodPost, "/api/v1/app?get_if_exists=true", map[string]any{"name": "second", "uid": "same"}).must(t, http.StatusOK)
	if got := decode[appJSON](t, r); got.ID != first.ID || got.Name != "first" {
		t.Fatalf("get_if_exists returned %s, want the existing app %s", r.body, first.ID)
	}
	// Without it, the uid is taken.
	mustError(t, b.do(http.MethodPost, "/api/v1/app", map[string]any{"name": "second", "uid": "same"}), http.StatusConflict, "conflict")
	// A new uid is created as usual.
	b.do(http.MethodPost, "/api/v1/app?get_if_exists=true", map[string]any{"name": "third", "uid": "new"}).must(t, http.StatusCreated)
	// A bad flag is a validation error.
	mustInvalid(t, b.do(http.MethodPost, "/api/v1/app?get_if_exists=maybe", map[string]any{"name": "x"}), "query", "get_if_exists")

	if n := len(decode[listJSON[appJSON]](t, b.do(http.MethodGet, "/api/v1/app", nil)).Data); n != 2 {
		t.Fatalf("%d apps, want 2", n)
	}
}

func TestAppCreateInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	long := strings.Repeat("a", 257)
	for _, tc := range []struct {
		name string
		body string
		loc  []string
	}{
		// Missing required fields.
		{"no name", `{}`, []string{"body", "name"}},
		{"only uid", `{"uid":"x"}`, []string{"body", "name"}},
		{"null body", `null`, []string{"body", "name"}},
		// Wrong types.
		{"name a number", `{"name":1}`, []string{"body", "name"}},
		{"metadata value a number", `{"name":"a","metadata":{"k":1}}`, []string{"body", "metadata"}},
		{"metadata an array", `{"name":"a","metadata":["k"]}`, []string{"body", "metadata"}},
		{"throttleRate a string", `{"name":"a","throttleRate":"10"}`, []string{"body", "throttleRate"}},
		{"uid a number", `{"name":"a","uid":5}`, []string{"body", "uid"}},
		// Values out of the contract's range.
		{"empty name", `{"name":""}`, []string{"body", "name"}},
		{"uid with space", `{"name":"a","uid":"a b"}`, []string{"body", "uid"}},
		{"uid with slash", `{"name":"a","uid":"a/b"}`, []string{"body", "uid"}},
		{"uid empty", `{"name":"a","uid":""}`, []string{"body", "uid"}},
		{"uid 257 chars", `{"name":"a","uid":"` + long + `"}`, []string{"body", "uid"}},
		{"throttleRate 0", `{"name":"a","throttleRate":0}`, []string{"body", "throttleRate"}},
		{"throttleRate negative", `{"name":"a","throttleRate":-2}`, []string{"body", "throttleRate"}},
		{"rateLimit 0", `{"name":"a","rateLimit":0}`, []string{"body", "rateLimit"}},
		{"rateLimit negative", `{"name":"a","rateLimit":-1}`, []string{"body", "rateLimit"}},
		{"throttleRate over uint16", `{"name":"a","throttleRate":65536}`, []string{"body", "throttleRate"}},
		// Bodies that are not an object.
		{"array body", `[]`, []string{"body"}},
		{"string body", `"app"`, []string{"body"}},
		{"empty body", ``, []string{"body"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := b.in(t)
			mustInvalid(t, b.do(http.MethodPost, "/api/v1/app", tc.body), tc.loc...)
		})
	}
	// A uid of exactly 256 characters is fine.
	b.createApp(map[string]any{"uid": long[:256]})
	if n := len(decode[listJSON[appJSON]](t, b.do(http.MethodGet, "/api/v1/app", nil)).Data); n != 1 {
		t.Fatalf("%d apps stored, want only the valid one", n)
	}
}

func TestAppUpdateInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{"name": "a", "uid": "u", "metadata": map[string]string{"k": "v"}, "throttleRate": 3})
	path := "/api/v1/app/" + app.ID
	before := b.snapshot(path)
	for _, tc := range []struct {
		name   string
		method string
		body   string
		loc    []string
	}{
		// PUT takes the full ApplicationIn.
		{"put without name", http.MethodPut, `{"uid":"u"}`, []string{"body", "name"}},
		{"put empty name", http.MethodPut, `{"name":""}`, []string{"body", "name"}},
		{"put bad uid", http.MethodPut, `{"name":"a","uid":"a b"}`, []string{"body", "uid"}},
		{"put metadata value a number", http.MethodPut, `{"name":"a","metadata":{"k":true}}`, []string{"body", "metadata"}},
		{"put throttleRate a string", http.MethodPut, `{"name":"a","throttleRate":"x"}`, []string{"body", "throttleRate"}},
		{"put throttleRate 0", http.MethodPut, `{"name":"a","throttleRate":0}`, []string{"body", "throttleRate"}},
		{"put rateLimit 0", http.MethodPut, `{"name":"a","rateLimit":0}`, []string{"body", "rateLimit"}},
		{"put array body", http.MethodPut, `[{"name":"a"}]`, []string{"body"}},
		// PATCH validates what it carries.
		{"patch empty name", http.MethodPatch, `{"name":""}`, []string{"body", "name"}},
		{"patch null name", http.MethodPatch, `{"name":null}`, []string{"body", "name"}},
		{"patch bad uid", http.MethodPatch, `{"uid":"a/b"}`, []string{"body", "uid"}},
		{"patch uid 257 chars", http.MethodPatch, `{"uid":"` + strings.Repeat("u", 257) + `"}`, []string{"body", "uid"}},
		{"patch throttleRate a string", http.MethodPatch, `{"throttleRate":"x"}`, []string{"body", "throttleRate"}},
		{"patch throttleRate 0", http.MethodPatch, `{"throttleRate":0}`, []string{"body", "throttleRate"}},
		{"patch rateLimit 0", http.MethodPatch, `{"rateLimit":0}`, []string{"body", "rateLimit"}},
		{"patch metadata value a number", http.MethodPatch, `{"metadata":{"k":1}}`, []string{"body", "metadata"}},
		{"patch empty body", http.MethodPatch, ``, []string{"body"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := b.in(t)
			mustInvalid(t, b.do(tc.method, path, tc.body), tc.loc...)
			b.unchanged(path, before)
		})
	}
}

func TestAppUIDConflict(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.createApp(map[string]any{"uid": "taken"})
	c := b.createApp(map[string]any{"uid": "free"})
	before := b.snapshot("/api/v1/app/" + c.ID)

	// Creating, patching or putting onto a taken uid is a conflict.
	mustError(t, b.do(http.MethodPost, "/api/v1/app", map[string]any{"name": "x", "uid": "taken"}), http.StatusConflict, "conflict")
	mustError(t, b.do(http.MethodPatch, "/api/v1/app/"+c.ID, map[string]any{"uid": "taken"}), http.StatusConflict, "conflict")
	mustError(t, b.do(http.MethodPut, "/api/v1/app/"+c.ID, map[string]any{"name": "x", "uid": "taken"}), http.StatusConflict, "conflict")
	b.unchanged("/api/v1/app/"+c.ID, before)
	if n := len(decode[listJSON[appJSON]](t, b.do(http.MethodGet, "/api/v1/app", nil)).Data); n != 2 {
		t.Fatalf("%d apps, want 2", n)
	}
	// Keeping one's own uid is not a conflict.
	b.do(http.MethodPatch, "/api/v1/app/"+a.ID, map[string]any{"uid": "taken", "name": "renamed"}).must(t, http.StatusOK)

	// The same uid in another organisation is fine.
	other := b.newKey("other")
	r := b.doWith(other, http.MethodPost, "/api/v1/app", map[string]any{"name": "x", "uid": "taken"}, nil).must(t, http.StatusCreated)
	if got := decode[appJSON](t, r); got.ID == a.ID {
		t.Fatal("other organisation got acme's app")
	}
}

func TestAppUIDAddressing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.createApp(map[string]any{"name": "a", "uid": "my-app"})

	for _, tc := range []struct {
		name string
		path string
	}{
		{"by id", "/api/v1/app/" + app.ID},
		{"by uid", "/api/v1/app/my-app"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := b.in(t)
			if got := decode[appJSON](t, b.do(http.MethodGet, tc.path, nil).must(t, http.StatusOK)); got.ID != app.ID {
				t.Fatalf("GET %s = %s", tc.path, got.ID)
			}
			r := b.do(http.MethodPatch, tc.path, map[string]any{"name": tc.name}).must(t, http.StatusOK)
			if got := decode[appJSON](t, r); got.ID != app.ID || got.Name != tc.name {
				t.Fatalf("PATCH %s = %s", tc.path, r.body)
			}
			// PUT finds the app (200, not a new one with 201).
			r = b.do(http.MethodPut, tc.path, map[string]any{"name": tc.name + " put", "uid": "my-app"}).must(t, http.StatusOK)
			if got := decode[appJSON](t, r); got.ID != app.ID {
				t.Fatalf("PUT %s = %s", tc.path, r.body)
			}
			b.do(http.MethodGet, tc.path+"/endpoint", nil).must(t, http.StatusOK)
		})
	}
	b.do(http.MethodDelete, "/api/v1/app/my-app", nil).must(t, http.StatusNoContent)
	mustError(t, b.do(http.MethodGet, "/api/v1/app/"+app.ID, nil), http.StatusNotFound, "not_found")
}

func TestAppNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const missing = "app_2abcdefghijklmnopqrstuvwxyz"
	ep := `{"url":"https://example.com"}`
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		// The application routes.
		{http.MethodGet, "/api/v1/app/" + missing, nil},
		{http.MethodGet, "/api/v1/app/no-such-uid", nil},
		{http.MethodPatch, "/api/v1/app/" + missing, `{"name":"x"}`},
		{http.MethodDelete, "/api/v1/app/" + missing, nil},
		// Routes nested under a missing application.
		{http.MethodGet, "/api/v1/app/" + missing + "/endpoint", nil},
		{http.MethodPost, "/api/v1/app/" + missing + "/endpoint", ep},
		{http.MethodPut, "/api/v1/app/" + missing + "/endpoint/e", ep},
		{http.MethodGet, "/api/v1/app/" + missing + "/endpoint/e", nil},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			b := b.in(t)
			mustError(t, b.do(tc.method, tc.path, tc.body), http.StatusNotFound, "not_found")
		})
	}
	if n := len(decode[listJSON[appJSON]](t, b.do(http.MethodGet, "/api/v1/app", nil)).Data); n != 0 {
		t.Fatalf("%d apps, want 0", n)
	}
}

// A repeated PUT of the same path updates the application it created.
func TestAppPutTwiceFindsTheSameApp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := decode[appJSON](t, b.do(http.MethodPut, "/api/v1/app/same", map[string]any{"name": "a"}).must(t, http.StatusCreated))
	for i := 0; i < 2; i++ {
		again := decode[appJSON](t, b.do(http.MethodPut, "/api/v1/app/same", map[string]any{"name": "a"}).must(t, http.StatusOK))
		if again.ID != first.ID {
			t.Fatalf("PUT %d answered app %s, want %s", i+2, again.ID, first.ID)
		}
	}
	list := decode[struct{ Data []appJSON }](t, b.do(http.MethodGet, "/api/v1/app", nil).must(t, http.StatusOK))
	if len(list.Data) != 1 {
		t.Fatalf("%d applications after three PUTs, want 1", len(list.Data))
	}
}
