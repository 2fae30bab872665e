package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/hookd/hookd/web"
)

// The browser tests drive Debian's Chromium, headless, through the web UI
// of a real hookd (API and worker on their own database and Redis). They
// skip when Chromium is not installed and under -short. With
// HOOKD_SCREENSHOTS=1 they also save screenshots of the main pages to
// docs/screenshots/, for the documentation; CI leaves them alone.

// browserStepTimeout bounds one wait of a browser test.
const browserStepTimeout = 90 * time.Second

// webEnv makes deliveries to a local receiver possible and quick: the SSRF
// guard lets 127.0.0.0/8 through and a failure is retried once, 200 ms later.
var webEnv = map[string]string{
	"HOOKD_WHITELIST_SUBNETS": "127.0.0.0/8",
	"HOOKD_RETRY_SCHEDULE":    "200ms",
	"HOOKD_LOG_LEVEL":         "warn",
}

// TestWebServedBesideAPI checks the mount and the headers over plain HTTP.
func TestWebServedBesideAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)

	for _, tt := range []struct {
		path, contentType string
	}{
		{"/", "text/html; charset=utf-8"},
		{"/portal/", "text/html; charset=utf-8"},
		{"/portal", "text/html; charset=utf-8"},
		{"/assets/app.css", "text/css; charset=utf-8"},
		{"/assets/js/console.js", "text/javascript; charset=utf-8"},
		{"/assets/js/portal.js", "text/javascript; charset=utf-8"},
	} {
		res := httpGet(t, b.url+tt.path)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != tt.contentType {
			t.Errorf("GET %s = %d %q, want 200 %q", tt.path, res.StatusCode, res.Header.Get("Content-Type"), tt.contentType)
		}
		csp := res.Header.Get("Content-Security-Policy")
		if csp != web.ContentSecurityPolicy || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q, want %q", tt.path, csp, web.ContentSecurityPolicy)
		}
		if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q", tt.path, got)
		}
		if got := res.Header.Get("Referrer-Policy"); got != "no-referrer" {
			t.Errorf("GET %s: Referrer-Policy %q", tt.path, got)
		}
	}

	// Unknown API routes keep answering the API's JSON 404.
	for _, p := range []string{"/api/v1/nope", "/api/nope", "/api"} {
		res := httpGet(t, b.url+p)
		body, _ := io.ReadAll(res.Body)
		var e struct{ Code string }
		if res.StatusCode != http.StatusNotFound || json.Unmarshal(body, &e) != nil || e.Code != "not_found" {
			t.Errorf("GET %s = %d %s, want the JSON 404", p, res.StatusCode, body)
		}
	}
	// The UI is not a place to POST to.
	res, err := http.Post(b.url+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("POST / = %d, want 404", res.StatusCode)
	}
}

// TestConsoleDeliveryFailureAndResend signs in, creates an application, an
// event type and an endpoint through the UI, follows a delivery, a failure
// and a resend.
func TestConsoleDeliveryFailureAndResend(t *testing.T) {
	t.Parallel()
	br := newBrowser(t)
	b := setupWithEnv(t, webEnv)
	recv := newToggleReceiver(t)
	br.base = b.url

	br.navigate(b.url + "/")
	br.waitVisible(`form[data-testid="sign-in"]`)
	br.screenshot("sign-in")
	br.signIn(b.key)

	// An event type, through the UI.
	br.click(`nav.mainnav a[href="#/event-types"]`)
	br.click(`[data-testid="new-event-type"]`)
	br.sendKeys(`form[data-testid="event-type-form"] input.mono`, "invoice.paid")
	br.sendKeys(`form[data-testid="event-type-form"] input[placeholder="An invoice was paid"]`, "An invoice was paid")
	br.click(`form[data-testid="event-type-form"] button[type="submit"]`)
	br.waitVisible(`tr[data-event-type="invoice.paid"]`)

	// An application, through the UI: the form opens its page.
	br.click(`nav.mainnav a[href="#/apps"]`)
	br.click(`[data-testid="new-app"]`)
	br.sendKeys(`form[data-testid="app-form"] input[placeholder="Acme Inc."]`, "Acme Inc.")
	br.sendKeys(`form[data-testid="app-form"] input[placeholder="acme (optional)"]`, "acme")
	br.click(`form[data-testid="app-form"] button[type="submit"]`)
	br.waitVisible(`[data-testid="add-endpoint"]`)
	var app struct{ ID string }
	mustJSON(t, apiCall(t, b.url, b.key, http.MethodGet, "/api/v1/app/acme", nil, http.StatusOK), &app)

	// An endpoint pointing at the receiver, through the UI.
	br.click(`[data-testid="add-endpoint"]`)
	br.sendKeys(`form[data-testid="endpoint-form"] input[name="url"]`, recv.srv.URL+"/hooks")
	br.sendKeys(`form[data-testid="endpoint-form"] input[name="description"]`, "Billing service")
	br.waitVisible(`form[data-testid="endpoint-form"] input[value="invoice.paid"]`)
	br.click(`form[data-testid="endpoint-form"] button[type="submit"]`)
	br.waitVisible(`tr[data-endpoint]`)
	var eps struct{ Data []struct{ ID string } }
	mustJSON(t, apiCall(t, b.url, b.key, http.MethodGet, "/api/v1/app/acme/endpoint", nil, http.StatusOK), &eps)
	if len(eps.Data) != 1 {
		t.Fatalf("the application has %d endpoints, want the 1 created in the UI", len(eps.Data))
	}
	ep := eps.Data[0].ID

	// A message published through the API shows up, delivered.
	first := publish(t, b, "acme", `{"type":"invoice.paid","invoice":{"id":"in_1001","amount":4200,"currency":"EUR"}}`)
	br.click(`[data-testid="refresh-messages"]`)
	br.click(fmt.Sprintf(`tr[data-msg=%q] a`, first))
	br.waitVisible(fmt.Sprintf(`.delivery[data-endpoint=%q][data-status="success"] tr[data-status="0"]`, ep))

	// The receiver fails: the next message runs out of attempts.
	recv.healthy.Store(false)
	second := publish(t, b, "acme", `{"type":"invoice.paid","invoice":{"id":"in_1002","amount":990,"currency":"EUR"}}`)
	br.route("/app/" + app.ID + "/msg/" + second)
	failed := fmt.Sprintf(`.delivery[data-endpoint=%q][data-status="fail"]`, ep)
	br.waitVisible(failed)
	if got := br.text(failed); !strings.Contains(got, "503") || !strings.Contains(got, "receiver is down") {
		t.Errorf("the failed delivery shows %q, want the 503 and the receiver's answer", got)
	}

	// The application page lists it among the failed deliveries.
	br.route("/app/" + app.ID)
	br.waitVisible(fmt.Sprintf(`tr[data-msg=%q][data-endpoint=%q]`, second, ep))
	br.screenshot("application")
	for _, name := range []string{"Globex Corporation", "Initech", "Umbrella Health"} {
		apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/app", map[string]string{"name": name}, http.StatusCreated)
	}
	br.route("/apps")
	br.waitVisible(`tr[data-app]:nth-child(4)`)
	br.screenshot("applications")

	// Resend once the receiver is healthy again: the delivery succeeds.
	recv.healthy.Store(true)
	br.route("/app/" + app.ID + "/msg/" + second)
	br.click(failed + ` [data-testid="resend"]`)
	br.waitVisible(fmt.Sprintf(`.delivery[data-endpoint=%q][data-status="success"] tr[data-status="0"]`, ep))
	br.screenshot("message")
	br.colorScheme("dark")
	br.screenshot("message-dark")
	br.colorScheme("")

	br.route("/app/" + app.ID + "/endpoint/" + ep)
	br.waitVisible(`tr[data-attempt]`)
	br.screenshot("endpoint")
	br.route("/event-types")
	br.waitVisible(`tr[data-event-type="invoice.paid"]`)
	br.screenshot("event-types")

	// At phone width the message page still works.
	br.do(chromedp.EmulateViewport(390, 844))
	br.route("/app/" + app.ID + "/msg/" + second)
	br.waitVisible(fmt.Sprintf(`.delivery[data-endpoint=%q][data-status="success"]`, ep))
	br.screenshot("message-phone")

	br.click(`[data-testid="sign-out"]`)
	br.waitVisible(`form[data-testid="sign-in"]`)
	if key := evaluate[string](br, `sessionStorage.getItem("hookd.console.apiKey") || ""`); key != "" {
		t.Errorf("the API key is still in sessionStorage after signing out")
	}
}

// TestPortal opens an app-portal link, adds an endpoint, follows a delivery
// and signs out, which revokes the token.
func TestPortal(t *testing.T) {
	t.Parallel()
	br := newBrowser(t)
	b := setupWithEnv(t, webEnv)
	recv := newToggleReceiver(t)
	br.base = b.url

	var app, other struct{ ID string }
	mustJSON(t, apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/app", map[string]string{"name": "Globex", "uid": "globex"}, http.StatusCreated), &app)
	mustJSON(t, apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/app", map[string]string{"name": "Initech", "uid": "initech"}, http.StatusCreated), &other)
	// The event catalog: one schema with examples, one without.
	apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/event-type", json.RawMessage(`{"name":"order.shipped",
		"description":"An order left the warehouse","schemas":{"1":{"type":"object","required":["order"],"properties":{
		"order":{"type":"object","description":"The order shipped","properties":{"id":{"type":"string","description":"Its id"},
		"items":{"type":"integer","minimum":1}}},"shippedAt":{"type":"string","format":"date-time"}}}}}`), http.StatusCreated)
	apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/event-type", json.RawMessage(`{"name":"order.refunded",
		"description":"Money went back to the customer","schemas":{"1":{"type":"object","properties":{"amount":{"type":"integer"}},
		"examples":[{"amount":1250,"reason":"damaged"}]}}}`), http.StatusCreated)
	var access struct{ URL, Token string }
	mustJSON(t, apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/auth/app-portal-access/globex", map[string]any{}, http.StatusOK), &access)
	if !strings.HasPrefix(access.URL, b.url+"/portal/#") {
		t.Fatalf("portal URL %q is not under %s/portal/#", access.URL, b.url)
	}

	br.navigate(access.URL)
	br.waitVisible(`[data-testid="add-endpoint"]`)
	// The token left the address bar for the tab's sessionStorage.
	if h := evaluate[string](br, `location.hash`); strings.Contains(h, "token") || strings.Contains(h, access.Token) {
		t.Errorf("the token stays in the address bar: %q", h)
	}
	if got := evaluate[string](br, `sessionStorage.getItem("hookd.portal.token") || ""`); got != access.Token {
		t.Errorf("sessionStorage holds %q, want the token", got)
	}
	// Organisation-level pages are not offered.
	if nav := br.text(`nav.mainnav`); strings.Contains(nav, "Applications") || strings.Contains(nav, "Event types") {
		t.Errorf("the portal's navigation offers %q", nav)
	}

	// The event catalog: descriptions, fields, examples.
	br.click(`nav.mainnav a[href="#/event-types"]`)
	shipped := `section[data-event-type="order.shipped"]`
	br.waitVisible(shipped + ` tr[data-field="order.id"]`)
	if got := br.text(shipped); !strings.Contains(got, "An order left the warehouse") || !strings.Contains(got, "The order shipped") {
		t.Errorf("the catalog shows order.shipped as %q", got)
	}
	// Generated from the schema, or the schema's own example.
	for sel, want := range map[string]string{shipped: `"items": 1`, `section[data-event-type="order.refunded"]`: `"reason": "damaged"`} {
		if got := br.text(sel + ` [data-testid="example"]`); !strings.Contains(got, want) {
			t.Errorf("the example of %s is %q, want it to contain %s", sel, got, want)
		}
	}
	br.screenshot("portal-catalog")
	br.do(chromedp.EmulateViewport(390, 844))
	br.screenshotViewport("portal-catalog-phone")
	br.do(chromedp.EmulateViewport(1280, 900))
	br.click(`nav.mainnav a[href="#/"]`)

	// The endpoint form's event types come with their descriptions.
	br.click(`[data-testid="add-endpoint"]`)
	br.waitVisible(`form[data-testid="endpoint-form"] input[value="order.shipped"]`)
	if got := br.text(`form[data-testid="endpoint-form"] .checks`); !strings.Contains(got, "Money went back to the customer") {
		t.Errorf("the event type picker shows %q, want the descriptions", got)
	}
	br.sendKeys(`form[data-testid="endpoint-form"] input[name="url"]`, recv.srv.URL+"/globex")
	br.sendKeys(`form[data-testid="endpoint-form"] input[name="description"]`, "Globex production")
	br.click(`form[data-testid="endpoint-form"] button[type="submit"]`)
	br.waitVisible(`tr[data-endpoint]`)

	msg := publish(t, b, "globex", `{"type":"order.shipped","order":{"id":"ord_77","items":3}}`)
	br.click(`[data-testid="refresh-messages"]`)
	br.waitVisible(fmt.Sprintf(`tr[data-msg=%q]`, msg))
	br.screenshot("portal")
	br.click(fmt.Sprintf(`tr[data-msg=%q] a`, msg))
	br.waitVisible(`.delivery[data-status="success"] tr[data-status="0"]`)
	if recv.hits.Load() == 0 {
		t.Errorf("the receiver got no request")
	}

	// The token is scoped to its application.
	if got := b.get(t, "/api/v1/app/"+other.ID+"/endpoint", access.Token); got != http.StatusNotFound {
		t.Errorf("the portal token on another application = %d, want 404", got)
	}
	if got := b.get(t, "/api/v1/app", access.Token); got != http.StatusForbidden {
		t.Errorf("the portal token on the application list = %d, want 403", got)
	}

	// Signing out revokes the token.
	br.click(`[data-testid="sign-out"]`)
	br.waitVisible(`main.bare h1`)
	if got := br.text(`main.bare h1`); got != "You are signed out" {
		t.Errorf("after sign out the page says %q", got)
	}
	if got := b.get(t, "/api/v1/app/globex", access.Token); got != http.StatusUnauthorized {
		t.Errorf("the token after sign out = %d, want 401", got)
	}
	if got := evaluate[string](br, `sessionStorage.getItem("hookd.portal.token") || ""`); got != "" {
		t.Errorf("the token is still in sessionStorage after sign out")
	}
}

// TestConsoleShowsDataAsText publishes markup in a payload, an endpoint
// description and a response body: the pages show it as text and run none.
func TestConsoleShowsDataAsText(t *testing.T) {
	t.Parallel()
	br := newBrowser(t)
	b := setupWithEnv(t, webEnv)
	const script = `<script>window.__xss=1</script>`
	const img = `<img src=x onerror="window.__xss=2">`
	recv := newToggleReceiver(t)
	recv.body = `<b>ok</b>` + img
	br.base = b.url

	var app struct{ ID string }
	mustJSON(t, apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/app", map[string]string{"name": "Evil " + img}, http.StatusCreated), &app)
	apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/app/"+app.ID+"/endpoint",
		map[string]string{"url": recv.srv.URL, "description": img}, http.StatusCreated)
	payload, _ := json.Marshal(map[string]string{"html": script, "img": img})
	msg := publish(t, b, app.ID, string(payload))

	br.signIn(b.key)
	br.route("/app/" + app.ID)
	br.waitVisible(`tr[data-endpoint]`)
	if got := br.text(`tr[data-endpoint]`); !strings.Contains(got, img) {
		t.Errorf("the endpoint row shows %q, want the description as text", got)
	}
	if got := br.text(`.page-head h1`); got != "Evil "+img {
		t.Errorf("the application's name shows as %q", got)
	}

	br.route("/app/" + app.ID + "/msg/" + msg)
	br.waitVisible(`.delivery[data-status="success"] pre.response`)
	if got := br.text(`pre.payload`); !strings.Contains(got, script) || !strings.Contains(got, `onerror=\"window.__xss=2\"`) {
		t.Errorf("the payload shows as %q, want the markup as text", got)
	}
	if got := br.text(`pre.response`); !strings.Contains(got, img) {
		t.Errorf("the response body shows as %q, want the markup as text", got)
	}
	if got := evaluate[string](br, `typeof window.__xss`); got != "undefined" {
		t.Errorf("window.__xss is %s: markup from data ran", got)
	}
	if n := evaluate[int](br, `document.querySelectorAll('img[src="x"], script:not([src]), b').length`); n != 0 {
		t.Errorf("%d elements were created from data", n)
	}
}

// TestConsoleEndpointPageAndLists exercises the rest of the console: a
// refused key, validation errors in words, endpoint settings, secret
// rotation, custom headers, recovery, archiving and paging.
func TestConsoleEndpointPageAndLists(t *testing.T) {
	t.Parallel()
	br := newBrowser(t)
	b := setupWithEnv(t, webEnv)
	recv := newToggleReceiver(t)
	br.base = b.url

	// A wrong key is refused, in words.
	br.navigate(b.url + "/")
	br.sendKeys(`form[data-testid="sign-in"] input[name="key"]`, randomKey(t))
	br.click(`form[data-testid="sign-in"] button[type="submit"]`)
	br.waitVisible(`form[data-testid="sign-in"] .notice.error`)
	if got := br.text(`form[data-testid="sign-in"] .notice.error`); !strings.Contains(got, "refused") {
		t.Errorf("a wrong key shows %q", got)
	}
	br.signIn(b.key)

	for _, name := range []string{"invoice.paid", "invoice.voided"} {
		apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/event-type", map[string]string{"name": name, "description": name}, http.StatusCreated)
	}
	var app, ep struct{ ID string }
	mustJSON(t, apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/app", map[string]string{"name": "Hooli"}, http.StatusCreated), &app)
	mustJSON(t, apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/app/"+app.ID+"/endpoint", map[string]string{"url": recv.srv.URL}, http.StatusCreated), &ep)
	epPath := "/api/v1/app/" + app.ID + "/endpoint/" + ep.ID
	br.route("/app/" + app.ID + "/endpoint/" + ep.ID)
	settings := `form[data-testid="settings-form"]`
	br.waitVisible(settings + ` input[value="invoice.voided"]`)

	// A 422 names the field and says what is wrong.
	br.do(chromedp.SetValue(chromedp.CSS(settings+` input[name="url"]`), "ftp://example.com/hooks"))
	br.click(settings + ` button[type="submit"]`)
	br.waitVisible(settings + ` .notice.error`)
	if got := br.text(settings + ` .notice.error`); !strings.Contains(got, "url: scheme must be http or https") {
		t.Errorf("the refused URL shows %q", got)
	}

	// Settings are saved.
	br.do(chromedp.SetValue(chromedp.CSS(settings+` input[name="url"]`), recv.srv.URL+"/v2"))
	br.click(settings + ` input[value="invoice.paid"]`)
	br.click(settings + ` button[type="submit"]`)
	waitUntil(t, browserStepTimeout, "the settings to be saved", func() bool {
		var got struct {
			URL         string
			FilterTypes []string
		}
		mustJSON(t, apiCall(t, b.url, b.key, http.MethodGet, epPath, nil, http.StatusOK), &got)
		return got.URL == recv.srv.URL+"/v2" && len(got.FilterTypes) == 1 && got.FilterTypes[0] == "invoice.paid"
	})

	// The secret is revealed, and rotated after a confirmation.
	secret := func() string {
		var s struct{ Key string }
		mustJSON(t, apiCall(t, b.url, b.key, http.MethodGet, epPath+"/secret", nil, http.StatusOK), &s)
		return s.Key
	}
	old := secret()
	br.waitVisible(`[data-testid="reveal-secret"]`)
	br.click(`[data-testid="reveal-secret"]`)
	br.do(chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector('[data-testid="secret"]').textContent === %q`, old)))
	br.click(`.secret-row .confirm button`)
	br.click(`.secret-row .confirm .question + button`)
	br.do(chromedp.Poll[chromedp.Void](fmt.Sprintf(`(t => t.startsWith("whsec_") && t !== %q)(document.querySelector('[data-testid="secret"]').textContent)`, old)))
	if now := secret(); now == old || br.text(`[data-testid="secret"]`) != now {
		t.Errorf("after rotation the page shows %q; the API has %q (before: %q)", br.text(`[data-testid="secret"]`), now, old)
	}

	// A custom header is added.
	br.click(`[data-testid="add-header"]`)
	br.sendKeys(`.header-row input[aria-label="Header name"]`, "X-Team")
	br.sendKeys(`.header-row input[aria-label="Header value"]`, "billing")
	br.click(`form[data-testid="headers-form"] button[type="submit"]`)
	waitUntil(t, browserStepTimeout, "the header to be saved", func() bool {
		var got struct{ Headers map[string]string }
		mustJSON(t, apiCall(t, b.url, b.key, http.MethodGet, epPath+"/headers", nil, http.StatusOK), &got)
		return got.Headers["X-Team"] == "billing"
	})

	// A failed delivery is recovered.
	recv.healthy.Store(false)
	msg := publish(t, b, app.ID, `{"n":1}`)
	status := func() int {
		var got struct{ Data []struct{ Status int } }
		mustJSON(t, apiCall(t, b.url, b.key, http.MethodGet, "/api/v1/app/"+app.ID+"/msg/"+msg+"/endpoint", nil, http.StatusOK), &got)
		if len(got.Data) != 1 {
			return -1
		}
		return got.Data[0].Status
	}
	waitUntil(t, browserStepTimeout, "the delivery to fail", func() bool { return status() == 2 })
	recv.healthy.Store(true)
	br.click(`form[data-testid="recover-form"] button[type="submit"]`)
	waitUntil(t, browserStepTimeout, "the recovered delivery to succeed", func() bool { return status() == 0 })

	// An event type is archived, and shown again with "Show archived".
	br.route("/event-types")
	br.click(`tr[data-event-type="invoice.voided"] .confirm button`)
	br.click(`tr[data-event-type="invoice.voided"] .confirm .question + button`)
	br.do(chromedp.WaitNotPresent(chromedp.CSS(`tr[data-event-type="invoice.voided"]`)))
	br.click(`.toolbar input[type="checkbox"]`)
	br.waitVisible(`tr[data-event-type="invoice.voided"] .tag.off`)

	// 30 applications page by 25, newest first.
	for i := range 29 {
		apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/app", map[string]string{"name": fmt.Sprintf("App %02d", i)}, http.StatusCreated)
	}
	rows := `document.querySelectorAll("tr[data-app]").length`
	br.route("/apps")
	br.do(chromedp.Poll[chromedp.Void](rows + ` === 25`))
	if got := br.text(`tr[data-app]`); !strings.Contains(got, "App 28") {
		t.Errorf("the first row is %q, want the newest application", got)
	}
	br.click(`.pager button:last-child`)
	br.do(chromedp.Poll[chromedp.Void](rows + ` === 5`))
	if got := br.text(`tbody`); !strings.Contains(got, "Hooli") {
		t.Errorf("the older page lacks the oldest application: %q", got)
	}
	br.click(`.pager button:first-child`)
	br.do(chromedp.Poll[chromedp.Void](rows + ` === 25`))
	// The filter searches the page shown; Open looks up an exact id.
	br.sendKeys(`form.search input`, "App 2")
	br.do(chromedp.Poll[chromedp.Void](rows + ` === 9`))
	br.do(chromedp.SetValue(chromedp.CSS(`form.search input`), app.ID))
	br.click(`form.search button`)
	br.waitVisible(`[data-testid="add-endpoint"]`)
	if got := br.text(`.page-head h1`); got != "Hooli" {
		t.Errorf("looking up %s opened %q", app.ID, got)
	}
}

// --- helpers -----------------------------------------------------------------

// browser is a headless Chromium tab on a test server's web UI. Its
// methods fail the test on error; every wait is bounded by browserStepTimeout.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string // the server, e.g. http://127.0.0.1:41234

	mu       sync.Mutex
	problems []string // exceptions and CSP violations seen in the page
	stopped  bool
}

// chromiumPath is the browser the tests run, or "" when none is installed.
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newBrowser starts Chromium with a fresh profile for t, or skips t.
// Uncaught exceptions and Content-Security-Policy violations in the page
// fail the test.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	path := chromiumPath()
	if path == "" {
		t.Skip("chromium is not installed")
	}
	profile, err := os.MkdirTemp("", "hookd-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs after the browser has stopped; Chromium's
	// helpers may still write for a moment, so removal is retried.
	t.Cleanup(func() {
		for i := 0; i < 50 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)
	br := &browser{t: t}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(br.logf), chromedp.WithLogf(br.logf))
	br.ctx = ctx
	t.Cleanup(func() {
		br.mu.Lock()
		br.stopped = true
		problems := br.problems
		br.mu.Unlock()
		for _, p := range problems {
			t.Errorf("browser: %s", p)
		}
		cancel()
		cancelAlloc()
	})

	// Console starts the browser, on the context without a deadline, which
	// the browser lives as long as.
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
				br.mu.Lock()
				if !br.stopped {
					br.problems = append(br.problems, m.String())
				}
				br.mu.Unlock()
			}
		}
	}()
	return br
}

func (br *browser) logf(format string, args ...any) {
	br.mu.Lock()
	defer br.mu.Unlock()
	if !br.stopped {
		br.t.Logf("chromedp: "+format, args...)
	}
}

// do runs steps within browserStepTimeout; on failure it reports what the
// page showed.
func (br *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	br.t.Helper()
	ctx, cancel := context.WithTimeout(br.ctx, browserStepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		br.fatal(err)
	}
}

func (br *browser) fatal(err error) {
	br.t.Helper()
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %v: %w", browserStepTimeout, err)
	}
	ctx, cancel := context.WithTimeout(br.ctx, 5*time.Second)
	defer cancel()
	page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash + "\n" + document.body.innerText`))
	br.t.Fatalf("browser: %v\npage at the time:\n%s", err, page)
}

func (br *browser) navigate(url string) { br.t.Helper(); br.do(chromedp.Navigate(url)) }

// route shows a page of the UI by its hash route, e.g. "/apps".
func (br *browser) route(r string) {
	br.t.Helper()
	br.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = %q`, "#"+r)))
}

func (br *browser) waitVisible(sel string) {
	br.t.Helper()
	br.do(chromedp.WaitVisible(chromedp.CSS(sel)))
}

func (br *browser) click(sel string) {
	br.t.Helper()
	br.do(chromedp.Click(chromedp.CSS(sel)))
}

func (br *browser) sendKeys(sel, text string) {
	br.t.Helper()
	br.do(chromedp.SendKeys(chromedp.CSS(sel), text))
}

// text is the visible text of the first element matching sel.
func (br *browser) text(sel string) string {
	br.t.Helper()
	ctx, cancel := context.WithTimeout(br.ctx, browserStepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		br.fatal(err)
	}
	return s
}

// evaluate runs a JavaScript expression in the page and returns its value.
func evaluate[T any](br *browser, expr string) T {
	br.t.Helper()
	ctx, cancel := context.WithTimeout(br.ctx, browserStepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		br.fatal(err)
	}
	return v
}

// colorScheme makes the page prefer "dark" or "light"; "" restores the default.
func (br *browser) colorScheme(scheme string) {
	br.t.Helper()
	params := emulation.SetEmulatedMediaParams{}
	if scheme != "" {
		// Reduced motion turns the CSS transitions off, so the picture
		// shows the new colours, not a fade towards them.
		params.Features = []*emulation.MediaFeature{
			{Name: "prefers-color-scheme", Value: scheme},
			{Name: "prefers-reduced-motion", Value: "reduce"},
		}
	}
	ctx, cancel := context.WithTimeout(br.ctx, browserStepTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, params); err != nil {
		br.fatal(err)
	}
}

// signIn opens the console and signs in with key.
func (br *browser) signIn(key string) {
	br.t.Helper()
	br.navigate(br.base + "/")
	br.sendKeys(`form[data-testid="sign-in"] input[name="key"]`, key)
	br.click(`form[data-testid="sign-in"] button[type="submit"]`)
	br.waitVisible(`nav.mainnav a.active`)
}

// screenshot saves the page as docs/screenshots/<name>.png when
// HOOKD_SCREENSHOTS=1, once nothing is loading; otherwise it does nothing.
func (br *browser) screenshot(name string) {
	br.t.Helper()
	br.capture(name, chromedp.FullScreenshot(100))
}

// screenshotViewport is screenshot of the visible part of the page only,
// for pages much longer than a phone's screen.
func (br *browser) screenshotViewport(name string) {
	br.t.Helper()
	br.capture(name, chromedp.CaptureScreenshot())
}

func (br *browser) capture(name string, shot chromedp.Action[[]byte]) {
	br.t.Helper()
	if os.Getenv("HOOKD_SCREENSHOTS") != "1" {
		return
	}
	br.do(
		chromedp.Poll[chromedp.Void](`document.querySelectorAll(".state.loading").length === 0`, chromedp.WithPollingTimeout(browserStepTimeout)),
		// Toasts are transient; the pictures show the pages.
		chromedp.Evaluate[chromedp.Void](`document.getElementById("toasts")?.replaceChildren(); window.scrollTo(0, 0)`),
	)
	ctx, cancel := context.WithTimeout(br.ctx, browserStepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		br.fatal(err)
	}
	dir := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		br.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		br.t.Fatal(err)
	}
}

// toggleReceiver is a webhook receiver on 127.0.0.1 that answers 200 with
// body, or 503 while healthy is false.
type toggleReceiver struct {
	srv     *httptest.Server
	healthy atomic.Bool
	hits    atomic.Int64
	body    string
}

func newToggleReceiver(t *testing.T) *toggleReceiver {
	t.Helper()
	r := &toggleReceiver{body: `{"received":true}`}
	r.healthy.Store(true)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		_, _ = io.Copy(io.Discard, req.Body)
		if !r.healthy.Load() {
			http.Error(w, "receiver is down for maintenance", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, r.body)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// publish sends a message of app with the given JSON payload through the
// API and returns its id.
func publish(t *testing.T, b *testBundle, app, payload string) string {
	t.Helper()
	body := json.RawMessage(`{"eventType":"invoice.paid","payload":` + payload + `}`)
	var msg struct{ ID string }
	mustJSON(t, apiCall(t, b.url, b.key, http.MethodPost, "/api/v1/app/"+app+"/msg", body, http.StatusAccepted), &msg)
	return msg.ID
}

func mustJSON(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
}

func httpGet(t *testing.T, url string) *http.Response {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}
