package api_test

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/pkg/webhook"
)

// replayPreviewJSON is the answer of a replay with ?dryRun=true.
type replayPreviewJSON struct {
	DryRun bool     `json:"dryRun"`
	Count  int      `json:"count"`
	MsgIDs []string `json:"msgIds"`
}

// statusMessageJSON is a message of the message list, with hookd's status.
type statusMessageJSON struct {
	messageJSON
	Status       *int           `json:"status"`
	StatusText   *string        `json:"statusText"`
	StatusCounts map[string]int `json:"statusCounts"`
}

// startTask posts body to path, which must start a background task of
// kind, and returns the task's id.
func (b *bundle) startTask(path string, body any, kind string) string {
	b.t.Helper()
	r := b.do(http.MethodPost, path, body).must(b.t, http.StatusAccepted)
	mustKeys(b.t, r.body, "id", "status", "task", "updatedAt")
	out := decode[backgroundTaskJSON](b.t, r)
	if out.Status != "running" || out.Task != kind || !webhook.ValidID(webhook.PrefixTask, out.ID) {
		b.t.Fatalf("POST %s = %s, want a running %s task", path, r.body, kind)
	}
	return out.ID
}

// finishedTask runs the background tasks and returns task id, which must
// have finished.
func (b *bundle) finishedTask(id string) backgroundTaskJSON {
	b.t.Helper()
	b.runTasks()
	task := decode[backgroundTaskJSON](b.t, b.do(http.MethodGet, "/api/v1/background-task/"+id, nil).must(b.t, http.StatusOK))
	if task.Status != "finished" {
		b.t.Fatalf("task %s after the worker: %+v", id, task)
	}
	return task
}

func hourAgo() string { return time.Now().Add(-time.Hour).Format(time.RFC3339) }

func TestBulkReplay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createApp(map[string]any{"uid": "shop"})
	ep := b.createEndpoint("shop", map[string]any{"uid": "one"})
	var msgs []messageJSON
	for _, et := range []string{"a", "b", "a"} {
		msgs = append(msgs, b.publish("shop", map[string]any{"eventType": et, "payload": map[string]any{}}))
	}
	b.attempt(b.delivery(msgs[0].ID, ep.ID).ID, outcome{code: 200})
	b.attempt(b.delivery(msgs[1].ID, ep.ID).ID, outcome{code: 500, last: true})
	path := "/api/v1/app/shop/endpoint/one/bulk-replay"

	// A dry run names what would be sent, and sends nothing.
	r := b.do(http.MethodPost, path+"?dryRun=true", map[string]any{"since": hourAgo(), "eventTypes": []string{"a"}}).must(t, http.StatusOK)
	if p := decode[replayPreviewJSON](t, r); !p.DryRun || p.Count != 2 || !slices.Equal(p.MsgIDs, []string{msgs[0].ID, msgs[2].ID}) {
		t.Fatalf("dry run = %s, want msgs 0 and 2", r.body)
	}
	r = b.do(http.MethodPost, path+"?dryRun=true", map[string]any{"since": hourAgo(), "status": 2, "statusCodeClass": 500}).must(t, http.StatusOK)
	if p := decode[replayPreviewJSON](t, r); p.Count != 1 || p.MsgIDs[0] != msgs[1].ID {
		t.Fatalf("dry run of the failed ones = %s, want msg 1", r.body)
	}

	queued := len(b.dispatched.dispatchedTo())
	id := b.startTask(path, map[string]any{"since": hourAgo()}, "endpoint.bulk-replay")
	if task := b.finishedTask(id); task.Data["messagesSent"] != float64(3) {
		t.Fatalf("task = %+v, want 3 sent", task)
	}
	replayed := b.dispatched.dispatchedTo()[queued:]
	if len(replayed) != 3 {
		t.Fatalf("%d deliveries queued by the replay, want 3", len(replayed))
	}
	for _, d := range replayed {
		if d.Status != webhook.StatusPending || d.Round != 1 || d.NextAttemptAt == nil {
			t.Errorf("replayed delivery %+v, want pending in round 1", d)
		}
	}

	// Bad input is a 422 naming the field; a disabled endpoint a 409.
	for _, tc := range []struct {
		path string
		body map[string]any
		loc  []string
	}{
		{path, map[string]any{}, []string{"body", "since"}},
		{path, map[string]any{"since": "yesterday"}, []string{"body", "since"}},
		{path, map[string]any{"since": time.Now().Add(-100 * 24 * time.Hour).Format(time.RFC3339)}, []string{"body", "since"}},
		{path, map[string]any{"since": hourAgo(), "until": time.Now().Add(-2 * time.Hour).Format(time.RFC3339)}, []string{"body", "until"}},
		{path, map[string]any{"since": hourAgo(), "eventTypes": []string{"a b"}}, []string{"body", "eventTypes", "0"}},
		{path, map[string]any{"since": hourAgo(), "eventTypes": []string{"a", "a"}}, []string{"body", "eventTypes", "1"}},
		{path, map[string]any{"since": hourAgo(), "channel": "a b"}, []string{"body", "channel"}},
		{path, map[string]any{"since": hourAgo(), "tag": "a b"}, []string{"body", "tag"}},
		{path, map[string]any{"since": hourAgo(), "status": 7}, []string{"body", "status"}},
		{path, map[string]any{"since": hourAgo(), "statusCodeClass": 250}, []string{"body", "statusCodeClass"}},
		{path + "?dryRun=maybe", map[string]any{"since": hourAgo()}, []string{"query", "dryRun"}},
	} {
		mustInvalid(t, b.do(http.MethodPost, tc.path, tc.body), tc.loc...)
	}
	b.do(http.MethodPatch, "/api/v1/app/shop/endpoint/one", map[string]any{"disabled": true}).must(t, http.StatusOK)
	mustError(t, b.do(http.MethodPost, path, map[string]any{"since": hourAgo()}), http.StatusConflict, webhook.ECONFLICT)
	mustError(t, b.do(http.MethodPost, "/api/v1/app/shop/endpoint/nope/bulk-replay", map[string]any{"since": hourAgo()}),
		http.StatusNotFound, webhook.ENOTFOUND)
}

func TestReplayMissing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createApp(map[string]any{"uid": "shop"})
	b.createEventType("a")
	early := b.publish("shop", map[string]any{"eventType": "a", "payload": map[string]any{"n": 1}})
	b.publish("shop", map[string]any{"eventType": "b", "payload": map[string]any{}}) // not its type
	ep := b.createEndpoint("shop", map[string]any{"uid": "late", "filterTypes": []string{"a"}})
	got := b.publish("shop", map[string]any{"eventType": "a", "payload": map[string]any{}}) // received
	path := "/api/v1/app/shop/endpoint/late/replay-missing"

	r := b.do(http.MethodPost, path+"?dryRun=true", map[string]any{"since": hourAgo()}).must(t, http.StatusOK)
	if p := decode[replayPreviewJSON](t, r); p.Count != 1 || !slices.Equal(p.MsgIDs, []string{early.ID}) {
		t.Fatalf("dry run = %s, want only the early message", r.body)
	}
	id := b.startTask(path, map[string]any{"since": hourAgo()}, "endpoint.replay")
	if task := b.finishedTask(id); task.Data["messagesSent"] != float64(1) {
		t.Fatalf("task = %+v, want 1 sent", task)
	}
	if d := b.delivery(early.ID, ep.ID); d.Status != webhook.StatusPending || d.NextAttemptAt == nil {
		t.Fatalf("the early message's delivery = %+v, want pending", d)
	}
	if d := b.delivery(got.ID, ep.ID); d.Round != 0 || d.Status != webhook.StatusPending {
		t.Fatalf("the message it received was touched: %+v", d)
	}
	mustInvalid(t, b.do(http.MethodPost, path, map[string]any{"until": hourAgo()}), "body", "since")
}

// cancel-msgs answers 204 at once; its task, hookd's own kind, is neither
// listed nor shown; the deliveries then read canceled everywhere.
func TestCancelMsgs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createApp(map[string]any{"uid": "shop"})
	b.createEndpoint("shop", map[string]any{"uid": "one"})
	var ids []string
	for range 3 {
		ids = append(ids, b.publish("shop", map[string]any{"eventType": "a", "payload": map[string]any{}}).ID)
	}
	path := "/api/v1/app/shop/endpoint/one/cancel-msgs"
	r := b.do(http.MethodPost, path, map[string]any{"createdBefore": time.Now().Add(time.Hour).Format(time.RFC3339)}).must(t, http.StatusNoContent)
	if len(r.body) != 0 {
		t.Fatalf("204 with body %s", r.body)
	}
	if l := decode[listJSON[backgroundTaskJSON]](t, b.do(http.MethodGet, "/api/v1/background-task", nil).must(t, http.StatusOK)); len(l.Data) != 0 {
		t.Fatalf("the cancellation's task is listed: %+v", l.Data)
	}
	b.runTasks()

	msgs := decode[listJSON[endpointMessageJSON]](t, b.do(http.MethodGet, "/api/v1/app/shop/endpoint/one/msg", nil).must(t, http.StatusOK))
	for _, m := range msgs.Data {
		if m.Status != 4 || m.StatusText != "canceled" || m.NextAttempt != nil {
			t.Errorf("endpoint message %s: status %d %q, next %v; want 4 canceled", m.ID, m.Status, m.StatusText, m.NextAttempt)
		}
	}
	stats := decode[struct{ Canceled, Pending int }](t, b.do(http.MethodGet, "/api/v1/app/shop/endpoint/one/stats", nil).must(t, http.StatusOK))
	if stats.Canceled != 3 || stats.Pending != 0 {
		t.Fatalf("stats %v, want 3 canceled", stats)
	}
	list := decode[listJSON[statusMessageJSON]](t, b.do(http.MethodGet, "/api/v1/app/shop/msg?status=4", nil).must(t, http.StatusOK))
	var got []string
	for _, m := range list.Data {
		got = append(got, m.ID)
		if m.Status == nil || *m.Status != 4 || m.StatusCounts["canceled"] != 1 {
			t.Errorf("message %s: %+v, want status 4", m.ID, m)
		}
	}
	slices.Reverse(got)
	if !slices.Equal(got, ids) {
		t.Fatalf("messages with status 4: %v, want %v", got, ids)
	}

	mustInvalid(t, b.do(http.MethodPost, path, map[string]any{}), "body", "createdBefore")
	mustInvalid(t, b.do(http.MethodPost, path, map[string]any{"createdBefore": "now"}), "body", "createdBefore")
}

// The message list carries each message's status and counts, and filters
// on status, tag and eventId prefix; search takes the same filters in a
// body, without payloads unless asked.
func TestMessageStatusAndSearch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createApp(map[string]any{"uid": "shop"})
	one := b.createEndpoint("shop", map[string]any{"uid": "one"})
	two := b.createEndpoint("shop", map[string]any{"uid": "two"})
	m0 := b.publish("shop", map[string]any{"eventType": "a", "eventId": "order-1", "tags": []string{"vip"}, "payload": map[string]any{"n": 0}})
	m1 := b.publish("shop", map[string]any{"eventType": "b", "eventId": "order-2", "payload": map[string]any{"n": 1}})
	m2 := b.publish("shop", map[string]any{"eventType": "a", "eventId": "refund-1", "payload": map[string]any{"n": 2}})
	for _, ep := range []string{one.ID, two.ID} {
		b.attempt(b.delivery(m0.ID, ep).ID, outcome{code: 200})
	}
	b.attempt(b.delivery(m1.ID, one.ID).ID, outcome{code: 200})
	b.attempt(b.delivery(m1.ID, two.ID).ID, outcome{code: 500, last: true})

	list := func(q url.Values) []statusMessageJSON {
		t.Helper()
		r := b.do(http.MethodGet, "/api/v1/app/shop/msg?"+q.Encode(), nil).must(t, http.StatusOK)
		return decode[listJSON[statusMessageJSON]](t, r).Data
	}
	all := list(nil)
	if len(all) != 3 {
		t.Fatalf("%d messages", len(all))
	}
	for _, tc := range []struct {
		m      statusMessageJSON
		status int
		text   string
		counts map[string]int
	}{
		{all[2], 0, "success", map[string]int{"success": 2}},
		{all[1], 2, "fail", map[string]int{"success": 1, "fail": 1}},
		{all[0], 1, "pending", map[string]int{"pending": 2}},
	} {
		want := map[string]int{"success": 0, "pending": 0, "fail": 0, "sending": 0, "canceled": 0}
		for k, v := range tc.counts {
			want[k] = v
		}
		if tc.m.Status == nil || *tc.m.Status != tc.status || *tc.m.StatusText != tc.text || !maps.Equal(tc.m.StatusCounts, want) {
			t.Errorf("message %s: status %v %v counts %v, want %d %s %v", tc.m.ID, tc.m.Status, tc.m.StatusText, tc.m.StatusCounts, tc.status, tc.text, want)
		}
	}
	one1 := decode[statusMessageJSON](t, b.do(http.MethodGet, "/api/v1/app/shop/msg/order-2", nil).must(t, http.StatusOK))
	if one1.Status == nil || *one1.Status != 2 {
		t.Fatalf("GET of a message: %+v, want status 2", one1)
	}
	for _, tc := range []struct {
		q    url.Values
		want []string
	}{
		{url.Values{"status": {"2"}}, []string{m1.ID}},
		{url.Values{"status": {"0"}}, []string{m0.ID}},
		{url.Values{"status": {"1"}}, []string{m2.ID}},
		{url.Values{"status": {"3"}}, nil},
		{url.Values{"event_id": {"order"}}, []string{m1.ID, m0.ID}},
		{url.Values{"event_id": {"order-1"}}, []string{m0.ID}},
		{url.Values{"tag": {"vip"}}, []string{m0.ID}},
		{url.Values{"event_types": {"a"}, "status": {"1"}}, []string{m2.ID}},
	} {
		var got []string
		for _, m := range list(tc.q) {
			got = append(got, m.ID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("?%s: %v, want %v", tc.q.Encode(), got, tc.want)
		}
	}
	for _, q := range []string{"status=9", "event_id=a%20b", "tag=a%20b"} {
		key, _, _ := strings.Cut(q, "=")
		mustInvalid(t, b.do(http.MethodGet, "/api/v1/app/shop/msg?"+q, nil), "query", key)
	}

	// Search: the same filters in a body, one page at a time, payloads
	// only with with_content.
	search := "/api/v1/app/shop/msg/search"
	r := b.do(http.MethodPost, search, map[string]any{"event_types": []string{"a"}, "limit": 1}).must(t, http.StatusOK)
	page := decode[listJSON[statusMessageJSON]](t, r)
	if len(page.Data) != 1 || page.Data[0].ID != m2.ID || string(page.Data[0].Payload) != "{}" || page.Done || page.Iterator == nil {
		t.Fatalf("search page 1 = %s", r.body)
	}
	r = b.do(http.MethodPost, search, map[string]any{"event_types": []string{"a"}, "limit": 1, "iterator": *page.Iterator, "with_content": true}).must(t, http.StatusOK)
	page = decode[listJSON[statusMessageJSON]](t, r)
	if len(page.Data) != 1 || page.Data[0].ID != m0.ID || string(page.Data[0].Payload) != `{"n":0}` || *page.Data[0].Status != 0 {
		t.Fatalf("search page 2 = %s", r.body)
	}
	for _, tc := range []struct {
		body map[string]any
		want []string
	}{
		{map[string]any{"status": 2}, []string{m1.ID}},
		{map[string]any{"event_id": "refund"}, []string{m2.ID}},
		{map[string]any{"tag": "vip"}, []string{m0.ID}},
		{map[string]any{"order": "ascending", "before": time.Now().Add(time.Minute).Format(time.RFC3339)}, []string{m0.ID, m1.ID, m2.ID}},
	} {
		var got []string
		for _, m := range decode[listJSON[statusMessageJSON]](t, b.do(http.MethodPost, search, tc.body).must(t, http.StatusOK)).Data {
			got = append(got, m.ID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("search %v: %v, want %v", tc.body, got, tc.want)
		}
	}
	for _, tc := range []struct {
		body map[string]any
		loc  string
	}{
		{map[string]any{"limit": 0}, "limit"},
		{map[string]any{"iterator": "ep_1"}, "iterator"},
		{map[string]any{"status": 5}, "status"},
		{map[string]any{"event_types": []string{"a b"}}, "event_types"},
		{map[string]any{"before": "today"}, "before"},
		{map[string]any{"order": "up"}, "order"},
	} {
		mustInvalid(t, b.do(http.MethodPost, search, tc.body), "body", tc.loc)
	}
}

func TestBroadcast(t *testing.T) {
	t.Parallel()
	b := setup(t)
	shop := b.createApp(map[string]any{"uid": "shop"})
	b.createEndpoint("shop", map[string]any{})
	other := b.createApp(map[string]any{"uid": "other"})
	b.createEndpoint("other", map[string]any{})
	b.createApp(map[string]any{"uid": "empty"}) // no endpoint: no message

	body := `{"eventType": "news", "eventId": "launch", "payload": {"z": 1, "a": 2}}`
	for run := range 2 {
		id := b.startTask("/api/v1/msg/broadcast", body, "message.broadcast")
		task := b.finishedTask(id)
		created, _ := task.Data["messagesCreated"].([]any)
		if len(created) != 2 || task.Data["messagesCreatedTotal"] != float64(2) {
			t.Fatalf("run %d: task data %v, want 2 messages", run, task.Data)
		}
	}
	for _, app := range []string{shop.ID, other.ID} {
		r := b.do(http.MethodGet, "/api/v1/app/"+app+"/msg/launch", nil).must(t, http.StatusOK)
		if m := decode[messageJSON](t, r); string(m.Payload) != `{"z":1,"a":2}` || m.EventType != "news" {
			t.Fatalf("broadcast message in %s: %s", app, r.body)
		}
		if n := len(b.listMessages(app, nil).Data); n != 1 {
			t.Fatalf("%s has %d messages after two broadcasts with one eventId, want 1", app, n)
		}
	}
	// Without an eventId, the task's id is every copy's.
	id := b.startTask("/api/v1/msg/broadcast", map[string]any{"eventType": "news", "payload": map[string]any{}}, "message.broadcast")
	b.finishedTask(id)
	b.do(http.MethodGet, "/api/v1/app/shop/msg/"+id, nil).must(t, http.StatusOK)

	mustInvalid(t, b.do(http.MethodPost, "/api/v1/msg/broadcast", map[string]any{"payload": map[string]any{}}), "body", "eventType")
	mustInvalid(t, b.do(http.MethodPost, "/api/v1/msg/broadcast", map[string]any{"eventType": "x", "payload": []int{1}}), "body", "payload")
}

// App-portal tokens may replay, cancel and search in their own application;
// broadcast acts on the organisation (403).
func TestReplayRoutesForPortalTokens(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createApp(map[string]any{"uid": "shop"})
	b.createEndpoint("shop", map[string]any{"uid": "one"})
	b.createApp(map[string]any{"uid": "other"})
	b.createEndpoint("other", map[string]any{"uid": "one"})
	token := b.portalToken("shop").Token
	since := map[string]any{"since": hourAgo()}
	for _, app := range []string{"shop", "other"} {
		want := http.StatusAccepted
		if app == "other" {
			want = http.StatusNotFound
		}
		for _, route := range []string{"bulk-replay", "replay-missing"} {
			r := b.doWith(token, http.MethodPost, "/api/v1/app/"+app+"/endpoint/one/"+route, since, nil).must(t, want)
			if want == http.StatusAccepted {
				id := decode[backgroundTaskJSON](t, r).ID
				b.doWith(token, http.MethodGet, "/api/v1/background-task/"+id, nil, nil).must(t, http.StatusOK)
			}
		}
		cancelWant, searchWant := http.StatusNoContent, http.StatusOK
		if app == "other" {
			cancelWant, searchWant = http.StatusNotFound, http.StatusNotFound
		}
		b.doWith(token, http.MethodPost, "/api/v1/app/"+app+"/endpoint/one/cancel-msgs",
			map[string]any{"createdBefore": time.Now().Format(time.RFC3339)}, nil).must(t, cancelWant)
		b.doWith(token, http.MethodPost, "/api/v1/app/"+app+"/msg/search", map[string]any{}, nil).must(t, searchWant)
	}
	mustError(t, b.doWith(token, http.MethodPost, "/api/v1/msg/broadcast", map[string]any{"eventType": "a", "payload": map[string]any{}}, nil),
		http.StatusForbidden, webhook.EFORBIDDEN)
}
