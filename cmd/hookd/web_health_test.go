package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestConsoleFindHealthAndReplay finds a message by its eventId and by
// status with filters kept in the page's URL, sees an endpoint turn red as
// its receiver fails and green as it recovers, and replays its failed
// deliveries after a dry run.
func TestConsoleFindHealthAndReplay(t *testing.T) {
	t.Parallel()
	br := newBrowser(t)
	b := setupWithEnv(t, webEnv)
	recv := newToggleReceiver(t)
	br.base = b.url

	var app, ep struct{ ID string }
	mustJSON(t, apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/app", map[string]string{"name": "Acme Shop"}, http.StatusCreated), &app)
	mustJSON(t, apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/app/"+app.ID+"/endpoint",
		map[string]string{"url": recv.srv.URL + "/orders", "description": "Order service"}, http.StatusCreated), &ep)
	// 24 healthy deliveries: the two failures to come stay under the 10 %
	// that makes a recovered endpoint amber.
	var refund string
	for i := range 24 {
		publishEvent(t, b, app.ID, "order.paid", fmt.Sprintf("order-%d", 1000+i), fmt.Sprintf(`{"order":%d}`, 1000+i))
		if i == 7 {
			refund = publishEvent(t, b, app.ID, "order.refunded", "refund-77", `{"order":1007}`)
		}
	}
	waitUntil(t, browserStepTimeout, "the deliveries to succeed", func() bool { return endpointStats(t, b, app.ID, ep.ID)["success"] == 25 })

	br.signIn(b.key)
	appRoute := "/app/" + app.ID
	row := fmt.Sprintf(`tr[data-endpoint=%q]`, ep.ID)
	br.route(appRoute)
	br.waitVisible(row + `[data-health="healthy"]`)
	// Nothing is about to change: the page backs off.
	br.do(chromedp.Poll[chromedp.Void](`Number(document.querySelector('[data-testid="updated"]').dataset.next) > 1000`))
	// A hidden tab pauses, and reloads as soon as it is shown.
	setHidden := func(hidden bool) {
		br.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`Object.defineProperty(document, "hidden", {value: %v, configurable: true});
			document.dispatchEvent(new Event("visibilitychange"))`, hidden)))
	}
	setHidden(true)
	br.waitVisible(`[data-testid="updated"][data-paused="true"]`)
	br.do(chromedp.Evaluate[chromedp.Void](`window.__fetches = 0; window.fetch = (f => (...args) => { window.__fetches++; return f(...args); })(window.fetch)`))
	setHidden(false)
	br.do(chromedp.Poll[chromedp.Void](`window.__fetches > 0 && !document.querySelector('[data-testid="updated"]').dataset.paused`))

	// Find a message by the start of its eventId; the filter is in the URL.
	msgs := `[data-testid="messages"] tr[data-msg]`
	filters := `form[data-testid="message-filters"]`
	br.sendKeys(filters+` input[name="event_id"]`, "refund")
	br.click(filters + ` button[type="submit"]`)
	br.do(chromedp.Poll[chromedp.Void](fmt.Sprintf(`(rows => rows.length === 1 && rows[0].dataset.msg === %q)(document.querySelectorAll(%q))`, refund, msgs)))
	if h := evaluate[string](br, `location.hash`); !strings.Contains(h, "event_id=refund") {
		t.Errorf("the filter is not in the page's URL: %q", h)
	}
	// The URL gives the same view on its own (a shared link).
	br.navigate(b.url + "/#" + appRoute + "?event_id=order-101")
	br.do(chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelectorAll(%q).length === 10`, msgs)))
	if v := evaluate[string](br, `document.querySelector('`+filters+` input[name="event_id"]').value`); v != "order-101" {
		t.Errorf("the eventId filter shows %q after opening the URL", v)
	}
	br.click(filters + ` .filter-actions button.ghost`)
	br.do(chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelectorAll(%q).length === 20`, msgs)))

	// The receiver fails: the endpoint turns red, with "failing since", and
	// the delivery shows among what is failing now.
	recv.healthy.Store(false)
	failed := publishEvent(t, b, app.ID, "order.paid", "order-2001", `{"order":2001}`)
	waitUntil(t, browserStepTimeout, "the delivery to fail", func() bool { return endpointStats(t, b, app.ID, ep.ID)["fail"] == 1 })
	br.click(`[data-testid="refresh-app"]`)
	br.waitVisible(row + `[data-health="failing"] .failing-since`)
	group := fmt.Sprintf(`[data-testid="failing"] .failing-group[data-endpoint=%q]`, ep.ID)
	br.waitVisible(fmt.Sprintf(`%s tr[data-msg=%q][data-status="2"]`, group, failed))
	br.screenshot("failing-now")
	br.do(chromedp.EmulateViewport(390, 844))
	br.screenshotViewport("failing-now-phone")
	br.do(chromedp.EmulateViewport(1280, 900))

	// Filter by status: only the failed message.
	br.do(chromedp.SetValue(chromedp.CSS(filters+` select[name="status"]`), "2"))
	br.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('` + filters + ` select[name="status"]').dispatchEvent(new Event("change"))`))
	br.do(chromedp.Poll[chromedp.Void](fmt.Sprintf(`(rows => rows.length === 1 && rows[0].dataset.msg === %q && rows[0].dataset.status === "2")(document.querySelectorAll(%q))`, failed, msgs)))
	if h := evaluate[string](br, `location.hash`); !strings.Contains(h, "status=2") {
		t.Errorf("the status filter is not in the page's URL: %q", h)
	}
	br.screenshot("messages-filtered")

	// The endpoint page shows the failures in its health chart.
	br.route(appRoute + "/endpoint/" + ep.ID)
	// The chart's bars add up to the attempts (whatever hours they fell in).
	chartSums := func(bars int) string {
		return fmt.Sprintf(`(bars => bars.length === %d && [...bars].reduce((a, b) => a + Number(b.dataset.attempts), 0) === 27 &&
			[...bars].reduce((a, b) => a + Number(b.dataset.failures), 0) === 2)(document.querySelectorAll('[data-testid="health-chart"] svg.chart .bar'))`, bars)
	}
	br.do(chromedp.Poll[chromedp.Void](chartSums(24)))
	br.waitVisible(`[data-testid="health-chart"] svg.chart rect.fail`)
	br.waitVisible(`.health-failing`)
	if got := br.text(`[data-testid="rate-24h"]`); !strings.Contains(got, "92.6 %") {
		t.Errorf("the 24-hour success rate shows %q, want 92.6 %% (25 of 27)", got)
	}
	br.screenshot("endpoint-health")
	// Per day over 30 days: the same attempts.
	br.do(chromedp.SetValue(chromedp.CSS(`[data-testid="chart-period"]`), "daily"))
	br.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="chart-period"]').dispatchEvent(new Event("change"))`))
	br.do(chromedp.Poll[chromedp.Void](chartSums(30)))

	// Bulk replay, once the receiver is back: a dry run counts first, and
	// nothing is sent until confirmed.
	recv.healthy.Store(true)
	hits := recv.hits.Load()
	br.route(appRoute)
	br.click(group + ` [data-testid="replay-dry-run"]`)
	br.waitVisible(group + ` [data-testid="replay-confirm"]`)
	if got := br.text(group + ` [data-testid="replay-count"]`); got != "Send 1 failed message again?" {
		t.Errorf("the dry run says %q", got)
	}
	if n := recv.hits.Load(); n != hits {
		t.Errorf("the dry run sent %d requests", n-hits)
	}
	br.click(group + ` [data-testid="replay-confirm"]`)
	waitUntil(t, browserStepTimeout, "the replayed delivery to succeed", func() bool { return endpointStats(t, b, app.ID, ep.ID)["success"] == 26 })
	// The endpoint is green again and nothing is failing.
	br.click(`[data-testid="refresh-app"]`)
	br.waitVisible(row + `[data-health="healthy"]`)
	br.waitVisible(`[data-testid="failing"] .state.empty`)

	// At phone width.
	br.do(chromedp.EmulateViewport(390, 844))
	br.route(appRoute + "/endpoint/" + ep.ID)
	br.waitVisible(`[data-testid="health-chart"] svg.chart`)
	br.screenshotViewport("endpoint-health-phone")
}

// publishEvent publishes a message with an eventId and returns its id.
func publishEvent(t *testing.T, b *testBundle, app, eventType, eventID, payload string) string {
	t.Helper()
	body := map[string]any{"eventType": eventType, "eventId": eventID, "payload": json.RawMessage(payload)}
	var msg struct{ ID string }
	mustJSON(t, apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/app/"+app+"/msg", body, http.StatusAccepted), &msg)
	return msg.ID
}

// endpointStats is GET .../stats of an endpoint, its numbers by name.
func endpointStats(t *testing.T, b *testBundle, app, ep string) map[string]any {
	t.Helper()
	var st map[string]any
	mustJSON(t, apiCall(t, b.url, b.key, http.MethodGet, "/api/v1/app/"+app+"/endpoint/"+ep+"/stats", nil, http.StatusOK), &st)
	for k, v := range st {
		if f, ok := v.(float64); ok {
			st[k] = int(f)
		}
	}
	return st
}
