// Package layout holds the test of hookd's import rules (DESIGN.md §4):
// the domain and the use cases import no framework, and each framework is
// imported by its one adapter.
package layout_test

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/hookd/hookd"

// stdlibOnly are hookd's packages that import the standard library alone
// (and each other): the domain and the small packages the use cases build on.
var stdlibOnly = []string{
	"pkg/webhook", "pkg/signature", "pkg/retry", "pkg/egress", "pkg/ttlcache", "pkg/loop",
}

// extended are the Go project's own extensions of the standard library
// (golang.org/x/...) that some of those may use besides.
var extended = map[string]bool{"pkg/egress": true}

// frameworks maps each framework to the packages that may import it.
var frameworks = map[string][]string{
	"github.com/gin-gonic/gin":   {"api"},
	"github.com/hibiken/asynq":   {"worker", "cmd/hookd"},
	"gorm.io/gorm":               {"pkg/postgres"},
	"gorm.io/driver/postgres":    {"pkg/postgres"},
	"github.com/redis/go-redis":  {"worker", "cmd/hookd", "internal/redistest"},
	"github.com/jackc/pgx":       {"pkg/postgres", "pkg/postgres/postgrestest"},
	"github.com/pressly/goose":   {"pkg/postgres"},
	"github.com/go-redis/redis_": {"worker"},
	"go.opentelemetry.io/otel":   {"pkg/tracing"},
}

type pkg struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

// listPackages returns hookd's packages with their non-test imports.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages", len(pkgs))
	}
	return pkgs
}

// rel returns a path of hookd's relative to the module ("" for others).
func rel(path string) string {
	if r, ok := strings.CutPrefix(path, module+"/"); ok {
		return r
	}
	return ""
}

// isStandard reports a standard library import path: no dot in its first
// element.
func isStandard(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// violations returns every import of pkgs that breaks the rules.
func violations(pkgs []pkg) []string {
	var out []string
	for _, p := range pkgs {
		name := rel(p.ImportPath)
		for _, imp := range p.Imports {
			ours := slices.Contains(stdlibOnly, rel(imp)) || (extended[name] && strings.HasPrefix(imp, "golang.org/x/"))
			switch {
			// The domain and the small packages: the standard library, and
			// each other.
			case slices.Contains(stdlibOnly, name) && !isStandard(imp) && !ours:
				out = append(out, name+" imports "+imp+": it may import the standard library only")
			// The use cases: the domain and the small packages.
			case name == "pkg/delivery" && !isStandard(imp) && !ours:
				out = append(out, name+" imports "+imp+": it may import the domain and the standard-library packages only")
			}
			// Each framework in its adapter.
			for fw, allowed := range frameworks {
				if strings.HasPrefix(imp, fw) && !slices.Contains(allowed, name) {
					out = append(out, name+" imports "+imp+": only "+strings.Join(allowed, ", ")+" may")
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

func TestImportRules(t *testing.T) {
	for _, v := range violations(listPackages(t)) {
		t.Error(v)
	}
}

// The rules refuse what they are meant to.
func TestImportRulesRefuse(t *testing.T) {
	bad := []pkg{
		{ImportPath: module + "/worker", Imports: []string{"github.com/gin-gonic/gin"}},
		{ImportPath: module + "/api", Imports: []string{"gorm.io/gorm", "github.com/hibiken/asynq"}},
		{ImportPath: module + "/pkg/webhook", Imports: []string{"fmt", module + "/pkg/postgres"}},
		{ImportPath: module + "/pkg/delivery", Imports: []string{module + "/pkg/webhook", module + "/worker"}},
		{ImportPath: module + "/pkg/egress", Imports: []string{"golang.org/x/net/proxy", "github.com/elazarl/goproxy"}},
	}
	got := violations(bad)
	if len(got) != 6 {
		t.Fatalf("violations of a bad layout:\n%s\nwant 6", strings.Join(got, "\n"))
	}
	good := []pkg{
		{ImportPath: module + "/pkg/delivery", Imports: []string{"net/http", module + "/pkg/webhook", module + "/pkg/egress"}},
		{ImportPath: module + "/api", Imports: []string{"github.com/gin-gonic/gin", module + "/pkg/delivery"}},
	}
	if got := violations(good); len(got) != 0 {
		t.Fatalf("violations of a good layout: %v", got)
	}
}
