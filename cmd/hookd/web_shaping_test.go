package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The endpoint page edits the payload filter and tests it on a payload
// (saying why a message would not be delivered), edits the transformation
// and simulates it, and the message page says why a delivery was cancelled.
func TestConsoleFilterAndTransformation(t *testing.T) {
	t.Parallel()
	br := newBrowser(t)
	b := setupWithEnv(t, webEnv)
	recv := newToggleReceiver(t)
	br.base = b.url
	br.signIn(b.key)

	var app, ep struct{ ID string }
	mustJSON(t, apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/app", map[string]string{"name": "Hooli"}, http.StatusCreated), &app)
	mustJSON(t, apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/app/"+app.ID+"/endpoint", map[string]string{"url": recv.srv.URL}, http.StatusCreated), &ep)
	epPath := "/api/v1/app/" + app.ID + "/endpoint/" + ep.ID
	br.route("/app/" + app.ID + "/endpoint/" + ep.ID)

	// A filter that does not compile is refused with its position.
	filterForm := `form[data-testid="filter-form"]`
	br.waitVisible(filterForm + ` textarea[name="filter"]`)
	br.do(chromedp.SetValue(chromedp.CSS(filterForm+` textarea[name="filter"]`), "payload.amount >"))
	br.click(filterForm + ` button[type="submit"]`)
	br.waitVisible(filterForm + ` .notice.error`)
	if got := br.text(filterForm + ` .notice.error`); !strings.Contains(got, "filter: invalid filter: line 1, column 17") {
		t.Errorf("the refused filter shows %q", got)
	}
	const expr = `payload.amount > 1000 && payload.currency == "EUR"`
	br.do(chromedp.SetValue(chromedp.CSS(filterForm+` textarea[name="filter"]`), expr))
	br.click(filterForm + ` button[type="submit"]`)
	waitUntil(t, browserStepTimeout, "the filter to be saved", func() bool {
		var got struct{ Filter *string }
		mustJSON(t, apiCall(t, b.url, b.key, http.MethodGet, epPath, nil, http.StatusOK), &got)
		return got.Filter != nil && *got.Filter == expr
	})

	// Tested on payloads: why it would not be delivered.
	testForm := `form[data-testid="filter-test-form"]`
	result := `[data-testid="filter-result"] .verdict`
	br.waitVisible(filterForm)
	br.click(`[data-testid="filter-try"] summary`)
	br.do(chromedp.SetValue(chromedp.CSS(testForm+` input[name="eventType"]`), "invoice.paid"))
	for _, tc := range []struct{ payload, want string }{
		{`{"amount": 500, "currency": "EUR"}`, "not delivered: the filter is false: payload.amount > 1000 is false"},
		{`{"currency": "EUR"}`, "filtered out: no such key: amount"},
		{`{"amount": 5000, "currency": "EUR"}`, "delivered: the filter is true"},
	} {
		br.do(chromedp.SetValue(chromedp.CSS(testForm+` textarea[name="payload"]`), tc.payload))
		br.click(testForm + ` button[type="submit"]`)
		br.do(chromedp.Poll[chromedp.Void](fmt.Sprintf(`(document.querySelector(%q)?.textContent || "").includes(%q)`, result, tc.want)))
	}

	// The transformation is written, saved and simulated.
	trForm := `form[data-testid="transformation-form"]`
	br.waitVisible(trForm + ` textarea[name="code"]`)
	const code = "function handler(webhook) {\n  webhook.payload.total = webhook.payload.amount;\n  delete webhook.payload.amount;\n  webhook.method = \"PUT\";\n  return webhook;\n}"
	br.do(chromedp.SetValue(chromedp.CSS(trForm+` textarea[name="code"]`), code))
	br.click(trForm + ` input[name="enabled"]`)
	br.click(trForm + ` button[type="submit"]`)
	waitUntil(t, browserStepTimeout, "the transformation to be saved", func() bool {
		var got struct {
			Code    *string
			Enabled bool
		}
		mustJSON(t, apiCall(t, b.url, b.key, http.MethodGet, epPath+"/transformation", nil, http.StatusOK), &got)
		return got.Enabled && got.Code != nil && *got.Code == code
	})
	simForm := `form[data-testid="simulate-form"]`
	br.waitVisible(trForm)
	br.click(`[data-testid="simulate-try"] summary`)
	br.do(chromedp.SetValue(chromedp.CSS(simForm+` textarea[name="payload"]`), `{"amount": 7}`))
	br.click(simForm + ` button[type="submit"]`)
	br.do(chromedp.Poll[chromedp.Void](`(document.querySelector('[data-testid="simulated-payload"]')?.textContent || "").includes('"total": 7')`))
	if got := br.text(`[data-testid="simulate-result"] .verdict`); !strings.Contains(got, "PUT") {
		t.Errorf("the simulated request shows %q", got)
	}
	br.screenshot("endpoint-shaping")
	// A failing one says what an attempt would record.
	br.do(chromedp.SetValue(chromedp.CSS(trForm+` textarea[name="code"]`), "function handler(webhook) {\n\n  throw new TypeError('no');\n}"))
	br.click(simForm + ` button[type="submit"]`)
	br.waitVisible(`[data-testid="simulate-error"]`)
	if got := br.text(`[data-testid="simulate-error"]`); !strings.Contains(got, "transformation failed: TypeError at line 3: no") {
		t.Errorf("the failed simulation shows %q", got)
	}

	// A message the filter cannot evaluate: the message page says why it
	// was not delivered.
	msg := publish(t, b, app.ID, `{"currency":"EUR"}`)
	br.route("/app/" + app.ID + "/msg/" + msg)
	br.waitVisible(`[data-testid="reason"]`)
	if got := br.text(`.delivery[data-status="canceled"] [data-testid="reason"]`); got != "filtered out: no such key: amount" {
		t.Errorf("the cancelled delivery's reason shows %q", got)
	}
	if got := br.text(`.delivery[data-status="canceled"] .badge`); got != "Cancelled" {
		t.Errorf("the cancelled delivery's badge shows %q", got)
	}
}
