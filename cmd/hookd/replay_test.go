package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"
	"github.com/svix/svix-webhooks/go/models"
)

// arrivals is a receiver that counts the arrivals of each message
// (webhook-id) at each path, answering 204, or 503 while down.
type arrivals struct {
	srv  *httptest.Server
	down atomic.Bool
	mu   sync.Mutex
	seen map[string]map[string]int // path -> msg id -> arrivals
}

func newArrivals(t *testing.T) *arrivals {
	t.Helper()
	a := &arrivals{seen: map[string]map[string]int{}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		a.mu.Lock()
		if a.seen[r.URL.Path] == nil {
			a.seen[r.URL.Path] = map[string]int{}
		}
		a.seen[r.URL.Path][r.Header.Get("webhook-id")]++
		a.mu.Unlock()
		if a.down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// at returns how often each message arrived at path.
func (a *arrivals) at(path string) map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int{}
	for id, n := range a.seen[path] {
		out[id] = n
	}
	return out
}

// waitTask polls the task with the SDK until it is no longer running.
func waitTask(t *testing.T, svx *svix.Svix, id string) *models.BackgroundTaskOut {
	t.Helper()
	var task *models.BackgroundTaskOut
	waitUntil(t, 30*time.Second, "task "+id+" to finish", func() bool {
		var err error
		task, err = svx.BackgroundTask.Get(context.Background(), id)
		must(t, "BackgroundTask.Get", err)
		return task.Status != models.BACKGROUNDTASKSTATUS_RUNNING
	})
	if task.Status != models.BACKGROUNDTASKSTATUS_FINISHED {
		t.Fatalf("task %s = %+v, want finished", id, task)
	}
	return task
}

// TestSDKBulkReplayAndReplayMissing drives both replays through the Go
// SDK (Endpoint.BulkReplay, Endpoint.ReplayMissing, BackgroundTask.Get)
// against the real binary, to a real receiver.
func TestSDKBulkReplayAndReplayMissing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupWithEnv(t, map[string]string{"HOOKD_WHITELIST_SUBNETS": "127.0.0.1/32"})
	svx := newSDK(t, b)
	rcv := newArrivals(t)
	app, err := svx.Application.Create(ctx, models.ApplicationIn{Name: "replays"}, nil)
	must(t, "Application.Create", err)
	first, err := svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{Url: rcv.srv.URL + "/first"}, nil)
	must(t, "Endpoint.Create", err)
	since := time.Now().Add(-time.Minute)
	var ids []string
	for i, et := range []string{"order.paid", "order.refunded", "order.paid", "order.paid", "user.created"} {
		msg, err := svx.Message.Create(ctx, app.Id, models.MessageIn{EventType: et, Payload: map[string]any{"i": i}}, nil)
		must(t, "Message.Create", err)
		ids = append(ids, msg.Id)
	}
	waitUntil(t, 20*time.Second, "the first deliveries", func() bool { return len(rcv.at("/first")) == 5 })

	// Bulk replay of one event type: those arrive again.
	out, err := svx.Endpoint.BulkReplay(ctx, app.Id, first.Id, models.BulkReplayIn{Since: since, EventTypes: []string{"order.paid"}}, nil)
	must(t, "Endpoint.BulkReplay", err)
	if out.Status != models.BACKGROUNDTASKSTATUS_RUNNING || out.Task != models.BACKGROUNDTASKTYPE_ENDPOINT_BULK_REPLAY || !strings.HasPrefix(out.Id, "qtask_") {
		t.Fatalf("BulkReplay = %+v", out)
	}
	if task := waitTask(t, svx, out.Id); task.Data["messagesSent"] != float64(3) {
		t.Fatalf("bulk replay data %v, want 3 sent", task.Data)
	}
	waitUntil(t, 20*time.Second, "the replayed deliveries", func() bool {
		got := rcv.at("/first")
		return got[ids[0]] == 2 && got[ids[2]] == 2 && got[ids[3]] == 2
	})
	if got := rcv.at("/first"); got[ids[1]] != 1 || got[ids[4]] != 1 {
		t.Fatalf("arrivals %v: messages of other types were replayed", got)
	}

	// An endpoint added now gets what it missed.
	late, err := svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{Url: rcv.srv.URL + "/late"}, nil)
	must(t, "Endpoint.Create", err)
	out, err = svx.Endpoint.ReplayMissing(ctx, app.Id, late.Id, models.ReplayIn{Since: since}, nil)
	must(t, "Endpoint.ReplayMissing", err)
	if out.Task != models.BACKGROUNDTASKTYPE_ENDPOINT_REPLAY {
		t.Fatalf("ReplayMissing = %+v", out)
	}
	if task := waitTask(t, svx, out.Id); task.Data["messagesSent"] != float64(5) {
		t.Fatalf("replay-missing data %v, want 5 sent", task.Data)
	}
	waitUntil(t, 20*time.Second, "the missed messages at the new endpoint", func() bool { return len(rcv.at("/late")) == 5 })
	list, err := svx.BackgroundTask.List(ctx, nil)
	must(t, "BackgroundTask.List", err)
	if len(list.Data) != 2 {
		t.Fatalf("BackgroundTask.List = %d tasks, want the 2 replays", len(list.Data))
	}
}

// TestCancelMsgsThenRecover: cancel-msgs cancels retrying deliveries (it
// is not in the Go SDK v1.99.1: plain HTTP), they read canceled, the
// SDK's task list still decodes (the cancellation's task is not in it),
// and recover sends them.
func TestCancelMsgsThenRecover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupWithEnv(t, map[string]string{"HOOKD_WHITELIST_SUBNETS": "127.0.0.1/32", "HOOKD_RETRY_SCHEDULE": "1h"})
	svx := newSDK(t, b)
	rcv := newArrivals(t)
	rcv.down.Store(true)
	app, err := svx.Application.Create(ctx, models.ApplicationIn{Name: "cancel"}, nil)
	must(t, "Application.Create", err)
	ep, err := svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{Url: rcv.srv.URL + "/hook"}, nil)
	must(t, "Endpoint.Create", err)
	since := time.Now().Add(-time.Minute)
	for i := range 4 {
		_, err := svx.Message.Create(ctx, app.Id, models.MessageIn{EventType: "a", Payload: map[string]any{"i": i}}, nil)
		must(t, "Message.Create", err)
	}
	stats := func() *models.EndpointStats {
		st, err := svx.Endpoint.GetStats(ctx, app.Id, ep.Id, nil)
		must(t, "Endpoint.GetStats", err)
		return st
	}
	waitUntil(t, 20*time.Second, "the first attempts to fail", func() bool { return stats().Sending == 4 })

	body := map[string]any{"createdBefore": time.Now().Format(time.RFC3339Nano)}
	apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/app/"+app.Id+"/endpoint/"+ep.Id+"/cancel-msgs", body, http.StatusNoContent)
	waitUntil(t, 20*time.Second, "the cancellation", func() bool { return stats().Canceled == 4 })
	msgs, err := svx.MessageAttempt.ListAttemptedMessages(ctx, app.Id, ep.Id, nil)
	must(t, "MessageAttempt.ListAttemptedMessages", err)
	for _, m := range msgs.Data {
		if m.Status != models.MESSAGESTATUS_CANCELED || m.NextAttempt != nil {
			t.Fatalf("attempted message %s: status %v, next %v; want canceled", m.Id, m.Status, m.NextAttempt)
		}
	}
	list, err := svx.BackgroundTask.List(ctx, nil)
	must(t, "BackgroundTask.List after a cancellation", err)
	if len(list.Data) != 0 {
		t.Fatalf("tasks listed: %+v", list.Data)
	}

	rcv.down.Store(false)
	out, err := svx.Endpoint.Recover(ctx, app.Id, ep.Id, models.RecoverIn{Since: since}, nil)
	must(t, "Endpoint.Recover", err)
	if task := waitTask(t, svx, out.Id); task.Data["recovered"] != float64(4) {
		t.Fatalf("recover data %v, want the 4 cancelled", task.Data)
	}
	waitUntil(t, 20*time.Second, "the recovered deliveries", func() bool { return stats().Success == 4 })
}

// TestBroadcastAndSearch: broadcast and search through the real binary
// (neither is in the Go SDK v1.99.1: plain HTTP; the task reads with
// BackgroundTask.Get).
func TestBroadcastAndSearch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupWithEnv(t, map[string]string{"HOOKD_WHITELIST_SUBNETS": "127.0.0.1/32"})
	svx := newSDK(t, b)
	rcv := newArrivals(t)
	var apps []string
	for _, name := range []string{"one", "two"} {
		app, err := svx.Application.Create(ctx, models.ApplicationIn{Name: name, Uid: ptr(name)}, nil)
		must(t, "Application.Create", err)
		_, err = svx.Endpoint.Create(ctx, app.Id, models.EndpointIn{Url: rcv.srv.URL + "/" + name}, nil)
		must(t, "Endpoint.Create", err)
		apps = append(apps, app.Id)
	}
	body := json.RawMessage(`{"eventType":"maintenance.scheduled","eventId":"maint-2027-01","payload":{"at":"2027-01-01"}}`)
	var started struct{ ID, Task string }
	mustJSON(t, apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/msg/broadcast", body, http.StatusAccepted), &started)
	task := waitTask(t, svx, started.ID)
	if task.Task != models.BACKGROUNDTASKTYPE_MESSAGE_BROADCAST || task.Data["messagesCreatedTotal"] != float64(2) {
		t.Fatalf("broadcast task = %+v", task)
	}
	waitUntil(t, 20*time.Second, "the broadcast at both apps", func() bool {
		return len(rcv.at("/one")) == 1 && len(rcv.at("/two")) == 1
	})
	for _, app := range apps {
		var found struct {
			Data []struct {
				ID      string `json:"id"`
				EventID string `json:"eventId"`
				Status  int    `json:"status"`
			} `json:"data"`
		}
		mustJSON(t, apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/app/"+app+"/msg/search",
			json.RawMessage(`{"event_id":"maint-","event_types":["maintenance.scheduled"]}`), http.StatusOK), &found)
		if len(found.Data) != 1 || found.Data[0].EventID != "maint-2027-01" {
			t.Fatalf("search in %s = %+v, want the broadcast message", app, found)
		}
		msg, err := svx.Message.Get(ctx, app, "maint-2027-01", nil)
		must(t, "Message.Get by eventId", err)
		if msg.Id != found.Data[0].ID {
			t.Fatalf("Message.Get = %s, search found %s", msg.Id, found.Data[0].ID)
		}
	}
}
