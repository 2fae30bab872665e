package api_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/webhook"
)

// storeTask stores a background task of the "acme" organisation directly,
// with the given status and kind, for list tests.
func (b *bundle) storeTask(appID string, kind webhook.TaskKind, status webhook.TaskStatus) string {
	b.t.Helper()
	org, err := b.db.EnsureOrg(context.Background(), "acme")
	if err != nil {
		b.t.Fatal(err)
	}
	task, err := webhook.NewBackgroundTask(org.ID, appID, kind, map[string]any{})
	if err != nil {
		b.t.Fatal(err)
	}
	task.Status = status
	if err := b.db.CreateBackgroundTask(context.Background(), task); err != nil {
		b.t.Fatal(err)
	}
	return task.ID
}

// recoverTask starts a recover of the app's endpoint and returns the task id.
func (b *bundle) recoverTask(app, ep string) string {
	b.t.Helper()
	body := map[string]any{"since": time.Now().Add(-time.Hour).Format(time.RFC3339)}
	r := b.do(http.MethodPost, "/api/v1/app/"+app+"/endpoint/"+ep+"/recover", body).must(b.t, http.StatusAccepted)
	return decode[backgroundTaskJSON](b.t, r).ID
}

func TestBackgroundTasks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	shop := b.createApp(map[string]any{"uid": "shop"})
	b.createEndpoint(shop.ID, map[string]any{"uid": "one"})
	other := b.createApp(map[string]any{"uid": "other"})
	b.createEndpoint(other.ID, map[string]any{"uid": "one"})

	shopTask := b.recoverTask("shop", "one")
	otherTask := b.recoverTask("other", "one")
	orgTask := b.storeTask("", "message.broadcast", webhook.TaskFailed)
	stats := b.storeTask(shop.ID, "application.stats", webhook.TaskFinished)

	// A task reads as the contract's BackgroundTaskOut, running until a
	// worker runs it.
	r := b.do(http.MethodGet, "/api/v1/background-task/"+shopTask, nil).must(t, http.StatusOK)
	mustKeys(t, r.body, "data", "id", "status", "task", "updatedAt")
	if got := decode[backgroundTaskJSON](t, r); got.ID != shopTask || got.Status != "running" || got.Task != "endpoint.recover" || got.Data == nil {
		t.Fatalf("task before the worker = %s", r.body)
	}
	b.runTasks()
	if got := decode[backgroundTaskJSON](t, b.do(http.MethodGet, "/api/v1/background-task/"+shopTask+"/", nil).must(t, http.StatusOK)); got.Status != "finished" ||
		got.Data["recovered"] != float64(0) {
		t.Fatalf("task after the worker = %+v, want finished with recovered 0", got)
	}

	// Lists: newest first, filtered by status and task, paged.
	all := []string{stats, orgTask, otherTask, shopTask}
	for _, tc := range []struct {
		query url.Values
		want  []string
	}{
		{nil, all},
		{url.Values{"order": {"ascending"}}, []string{shopTask, otherTask, orgTask, stats}},
		{url.Values{"status": {"finished"}}, []string{stats, otherTask, shopTask}},
		{url.Values{"status": {"failed"}}, []string{orgTask}},
		{url.Values{"status": {"running"}}, nil},
		{url.Values{"task": {"endpoint.recover"}}, []string{otherTask, shopTask}},
		{url.Values{"task": {"endpoint.recover"}, "status": {"failed"}}, nil},
		{url.Values{"task": {"endpoint.bulk-replay"}}, nil},
	} {
		if got := b.listPage("/api/v1/background-task", tc.query, "id"); !slices.Equal(got.keys, tc.want) {
			t.Errorf("list %v = %v, want %v", tc.query, got.keys, tc.want)
		}
	}
	b.walk("/api/v1/background-task", nil, "id", all)

	// Bad filters are 422s naming the parameter.
	for _, tc := range []struct {
		query string
		loc   []string
	}{
		{"status=done", []string{"query", "status"}},
		{"task=endpoint.nap", []string{"query", "task"}},
		{"iterator=msg_2T7rj6ujKVqW9kfuFGS7IOzbtLK", []string{"query", "iterator"}},
		{"limit=-1", []string{"query", "limit"}},
	} {
		mustInvalid(t, b.do(http.MethodGet, "/api/v1/background-task?"+tc.query, nil), tc.loc...)
	}

	// Another organisation sees none of them.
	stranger := b.newKey("stranger")
	mustError(t, b.doWith(stranger, http.MethodGet, "/api/v1/background-task/"+shopTask, nil, nil), http.StatusNotFound, "not_found")
	if l := decode[listJSON[backgroundTaskJSON]](t, b.doWith(stranger, http.MethodGet, "/api/v1/background-task", nil, nil).must(t, http.StatusOK)); len(l.Data) != 0 || !l.Done {
		t.Fatalf("another organisation lists %+v", l)
	}
	mustError(t, b.do(http.MethodGet, "/api/v1/background-task/qtask_2T7rj6ujKVqW9kfuFGS7IOzbtLK", nil), http.StatusNotFound, "not_found")

	// An app-portal token sees its application's tasks only: not another
	// application's, nor the organisation's own.
	portal := b.portalToken("shop").Token
	l := decode[listJSON[backgroundTaskJSON]](t, b.doWith(portal, http.MethodGet, "/api/v1/background-task", nil, nil).must(t, http.StatusOK))
	var ids []string
	for _, task := range l.Data {
		ids = append(ids, task.ID)
	}
	if !slices.Equal(ids, []string{stats, shopTask}) {
		t.Fatalf("portal token lists %v, want %v", ids, []string{stats, shopTask})
	}
	b.doWith(portal, http.MethodGet, "/api/v1/background-task/"+shopTask, nil, nil).must(t, http.StatusOK)
	for _, id := range []string{otherTask, orgTask} {
		mustError(t, b.doWith(portal, http.MethodGet, "/api/v1/background-task/"+id, nil, nil), http.StatusNotFound, "not_found")
	}
	// It can start a recover of its own endpoint and follow it.
	r = b.doWith(portal, http.MethodPost, "/api/v1/app/shop/endpoint/one/recover", map[string]any{"since": time.Now().Add(-time.Hour).Format(time.RFC3339)}, nil)
	own := decode[backgroundTaskJSON](t, r.must(t, http.StatusAccepted)).ID
	b.doWith(portal, http.MethodGet, "/api/v1/background-task/"+own, nil, nil).must(t, http.StatusOK)
}
