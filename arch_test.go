package patchbay_test

import (
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/patchbay/patchbay"

// deps returns each package of the module with its transitive imports.
func deps(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps=false", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		m[f[0]] = f[1:]
	}
	return m
}

// within reports whether package p is root or below it.
func within(p, root string) bool { return p == root || strings.HasPrefix(p, root+"/") }

// TestImportDirection holds the layering: the domain imports nothing of
// ours; the agent side (client, agent, package readers and drivers) never
// reaches the store or the web server; the store never reaches the web.
func TestImportDirection(t *testing.T) {
	all := deps(t)
	if len(all) < 5 {
		t.Fatalf("go list found only %d packages; the test is not looking at the module", len(all))
	}
	type rule struct {
		pkg    string // the package and those below it
		exact  bool   // only pkg itself
		banned []string
	}
	rules := []rule{
		{pkg: module, exact: true, banned: []string{module + "/internal", module + "/cmd"}},
		{pkg: module + "/internal/store", banned: []string{module + "/internal/web", module + "/internal/client", module + "/cmd"}},
		{pkg: module + "/internal/web", banned: []string{module + "/internal/client", module + "/cmd"}},
	}
	for _, agentSide := range []string{"client", "agent", "pkgdb", "pkgmgr", "version", "apiv1", "protocol", "certs", "gobin"} {
		rules = append(rules, rule{pkg: module + "/internal/" + agentSide, banned: []string{module + "/internal/store", module + "/internal/web"}})
	}
	// Test support stays out of everything built: only tests import it.
	for _, p := range []string{"cmd", "internal"} {
		rules = append(rules, rule{pkg: module + "/" + p, banned: []string{module + "/internal/debtest", module + "/internal/testtool"}})
	}
	for pkg, ds := range all {
		if within(pkg, module+"/internal/debtest") || within(pkg, module+"/internal/testtool") || within(pkg, module+"/internal/store/storetest") {
			continue
		}
		for _, r := range rules {
			if (r.exact && pkg != r.pkg) || (!r.exact && !within(pkg, r.pkg)) {
				continue
			}
			for _, d := range ds {
				for _, ban := range r.banned {
					if within(d, ban) {
						t.Errorf("%s depends on %s: the layering forbids it (see docs/architecture.md)", pkg, d)
					}
				}
			}
		}
	}
}

// TestPackageDocs requires a package doc comment in every package.
func TestPackageDocs(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata") {
			return filepath.SkipDir
		}
		pkgs, err := parser.ParseDir(token.NewFileSet(), path, func(fi os.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			return err
		}
		for name, p := range pkgs {
			documented := false
			for _, f := range p.Files {
				if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
					documented = true
				}
			}
			if !documented {
				t.Errorf("package %s in %s has no doc comment", name, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
