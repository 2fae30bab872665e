package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

func serve(t *testing.T, method, target string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandler(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		method, path string
		status       int
		contentType  string
		bodyHas      string
	}{
		// The two entry points, with and without the trailing slash.
		{"GET", "/", 200, "text/html; charset=utf-8", "assets/js/console.js"},
		{"GET", "/index.html", 200, "text/html; charset=utf-8", "assets/js/console.js"},
		{"GET", "/portal/", 200, "text/html; charset=utf-8", "../assets/js/portal.js"},
		{"GET", "/portal", 200, "text/html; charset=utf-8", "../assets/js/portal.js"},
		{"GET", "/portal/index.html", 200, "text/html; charset=utf-8", "portal.js"},
		{"HEAD", "/", 200, "text/html; charset=utf-8", ""},
		// Assets, with their content types.
		{"GET", "/assets/app.css", 200, "text/css; charset=utf-8", ":root"},
		{"GET", "/assets/js/api.js", 200, "text/javascript; charset=utf-8", "export class Client"},
		{"GET", "/assets/js/pages/message.js", 200, "text/javascript; charset=utf-8", "renderMessage"},
		{"GET", "/assets/logo.svg", 200, "image/svg+xml", "<svg"},
		// Anything else.
		{"GET", "/nope", 404, "text/plain; charset=utf-8", "not found"},
		{"GET", "/assets/js/nope.js", 404, "text/plain; charset=utf-8", ""},
		{"GET", "/static/index.html", 404, "text/plain; charset=utf-8", ""},
		{"GET", "/assets/../index.html", 404, "text/plain; charset=utf-8", ""},
		{"POST", "/", 405, "text/plain; charset=utf-8", ""},
		{"DELETE", "/assets/app.css", 405, "text/plain; charset=utf-8", ""},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res := serve(t, tt.method, tt.path, nil)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if got := res.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type %q, want %q", got, tt.contentType)
			}
			if !strings.Contains(string(body), tt.bodyHas) {
				t.Errorf("body does not contain %q", tt.bodyHas)
			}
			if tt.method == "HEAD" && len(body) != 0 {
				t.Errorf("HEAD answered a body of %d bytes", len(body))
			}
			// Every answer, errors included, carries the security headers.
			for name, want := range map[string]string{
				"Content-Security-Policy": ContentSecurityPolicy,
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"X-Frame-Options":         "DENY",
			} {
				if got := res.Header.Get(name); got != want {
					t.Errorf("%s %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestContentSecurityPolicy(t *testing.T) {
	t.Parallel()
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(ContentSecurityPolicy, want) {
			t.Errorf("the policy lacks %q", want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*", "http:", "https:"} {
		if strings.Contains(ContentSecurityPolicy, bad) {
			t.Errorf("the policy allows %q", bad)
		}
	}
}

// TestRevalidation: files carry a strong ETag, and a matching If-None-Match
// gets a 304 without a body.
func TestRevalidation(t *testing.T) {
	t.Parallel()
	res := serve(t, "GET", "/assets/js/console.js", nil)
	etag := res.Header.Get("ETag")
	if etag == "" || strings.HasPrefix(etag, "W/") {
		t.Fatalf("ETag %q, want a strong one", etag)
	}
	if got := res.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("Cache-Control %q, want no-cache", got)
	}
	res = serve(t, "GET", "/assets/js/console.js", http.Header{"If-None-Match": {etag}})
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("revalidation answered %d with %d bytes, want 304 and none", res.StatusCode, len(body))
	}
}

// The rules below keep data from ever running as code, and the pages from
// loading anything from elsewhere. They read the embedded sources.
var (
	// Sinks that parse strings as HTML or code.
	jsSinks = regexp.MustCompile(`\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setTimeout\(\s*['"\x60]|\.srcdoc`)
	// Inline script, inline style and event handler attributes, which the
	// policy would block anyway.
	htmlInline = regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|<script>|<style|\sstyle=|\son[a-z]+=`)
	// Any absolute URL but the documentation domain of placeholders
	// (example.com): nothing is loaded from another origin.
	remoteURL = regexp.MustCompile(`(?i)(https?:)?//(?:[a-z0-9-]+\.)*(?:[a-z0-9-]+)\.[a-z]{2,}/`)
	// Relative imports and references, to check that they resolve.
	jsImport = regexp.MustCompile(`(?m)^\s*(?:import|export)\s[^'"]*from\s+'([^']+)'|^import\s+'([^']+)'`)
	htmlRef  = regexp.MustCompile(`(?:src|href)="([^"#]+)"`)
)

func TestAssetsAreSelfContainedAndSafe(t *testing.T) {
	t.Parallel()
	files := 0
	err := fs.WalkDir(static, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		body, err := fs.ReadFile(static, name)
		if err != nil {
			return err
		}
		src := string(body)
		if path.Ext(name) != ".svg" { // the SVG namespace is a name, not a load
			// So it is in scripts that create SVG elements (createElementNS).
			src := strings.ReplaceAll(src, "'http://www.w3.org/2000/svg'", "")
			for _, m := range remoteURL.FindAllString(src, -1) {
				if !strings.HasSuffix(m, "example.com/") {
					t.Errorf("%s refers to another origin: %q", name, m)
				}
			}
		}
		switch path.Ext(name) {
		case ".js":
			if m := jsSinks.FindString(src); m != "" {
				t.Errorf("%s uses %q: build the DOM with createElement and textContent", name, m)
			}
			for _, m := range jsImport.FindAllStringSubmatch(src, -1) {
				target := m[1] + m[2]
				if !strings.HasPrefix(target, ".") {
					t.Errorf("%s imports %q: only relative module paths resolve without a build step", name, target)
					continue
				}
				if _, err := fs.Stat(static, path.Join(path.Dir(name), target)); err != nil {
					t.Errorf("%s imports %q, which does not exist", name, target)
				}
			}
		case ".html":
			if m := htmlInline.FindString(src); m != "" {
				t.Errorf("%s has inline code or style %q: the policy forbids it", name, m)
			}
			for _, m := range htmlRef.FindAllStringSubmatch(src, -1) {
				if _, err := fs.Stat(static, path.Join(path.Dir(name), m[1])); err != nil {
					t.Errorf("%s refers to %q, which does not exist", name, m[1])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 10 {
		t.Errorf("only %d embedded files: is the go:embed pattern right?", files)
	}
	// Every embedded file is served: none has an extension without a content type.
	all, err := loadFiles(static)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != files {
		t.Errorf("%d of %d embedded files are served", len(all), files)
	}
}
