// Package web is hookd's browser interface: the admin console and the
// customer app portal, as static HTML, CSS and JavaScript modules embedded
// in the binary. There is no build step and nothing is loaded from another
// origin; the pages call the same JSON API as every other client, with the
// token kept in the tab's sessionStorage.
//
// Handler serves, for GET and HEAD only:
//
//	/               the admin console (sign in with an API key)
//	/portal/        the app portal, opened from the URL that
//	                POST /api/v1/auth/app-portal-access/{app_id} returns;
//	                "/portal" answers the same, without a redirect
//	/assets/...     the stylesheet, the modules and the icon
//
// Every answer carries a Content-Security-Policy that allows scripts,
// styles and connections from the page's own origin only (no inline script
// or style, no framing), X-Content-Type-Options: nosniff and
// Referrer-Policy: no-referrer. Files are sent with their content type, a
// strong ETag and Cache-Control: no-cache, so a browser revalidates (and
// gets a 304) instead of running stale modules after an upgrade. Any other
// path is a 404 and any other method a 405, both as plain text.
//
// The handler is mounted by the api package for every request outside
// /api/ (see api.Config.Web); it does no authentication itself: the pages
// hold no data until the API, which checks the token, returns some.
package web
