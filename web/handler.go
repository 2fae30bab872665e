package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed static
var static embed.FS

// ContentSecurityPolicy is sent with every answer of Handler: the pages run
// only the modules served next to them, and talk only to their own origin.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// contentTypes covers every extension under static/; a file with another
// extension is not served (see loadFiles).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// file is one embedded file, ready to serve.
type file struct {
	body        []byte
	contentType string
	etag        string
}

var (
	loadOnce sync.Once
	files    map[string]*file // by URL path
	loadErr  error
)

// Handler returns the handler of the console, the portal and their assets.
// See the package documentation for the paths and headers it serves.
func Handler() http.Handler {
	loadOnce.Do(func() { files, loadErr = loadFiles(static) })
	if loadErr != nil {
		// The files are compiled in: this is a build defect, not a runtime condition.
		panic("web: loading embedded files: " + loadErr.Error())
	}
	return handler{files: files}
}

// loadFiles reads every file under static/ and maps it to its URL path:
// static/index.html to "/", static/portal/index.html to "/portal", and
// static/assets/x to "/assets/x".
func loadFiles(fsys fs.FS) (map[string]*file, error) {
	out := map[string]*file{}
	err := fs.WalkDir(fsys, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ctype, ok := contentTypes[path.Ext(name)]
		if !ok {
			return nil
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		urlPath := strings.TrimPrefix(name, "static")
		if strings.HasSuffix(urlPath, "/index.html") {
			urlPath = strings.TrimSuffix(urlPath, "index.html")
			if urlPath != "/" {
				urlPath = strings.TrimSuffix(urlPath, "/")
			}
		}
		out[urlPath] = &file{
			body:        body,
			contentType: ctype,
			etag:        `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`,
		}
		return nil
	})
	return out, err
}

type handler struct {
	files map[string]*file
}

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")

	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		plainError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	p := r.URL.Path
	if p == "/index.html" {
		p = "/"
	}
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
		p = strings.TrimSuffix(p, "/index.html")
	}
	f, ok := h.files[p]
	if !ok {
		plainError(w, http.StatusNotFound, "page not found")
		return
	}
	hdr.Set("Content-Type", f.contentType)
	hdr.Set("ETag", f.etag)
	hdr.Set("Cache-Control", "no-cache")
	// ServeContent answers If-None-Match with 304 and HEAD without a body;
	// it always writes the status line itself, which matters under gin,
	// whose NoRoute writer would otherwise default to 404.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

func plainError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}
