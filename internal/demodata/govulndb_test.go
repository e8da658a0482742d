package demodata_test

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/demodata"
	"github.com/patchbay/patchbay/internal/gobin"
	"github.com/patchbay/patchbay/internal/osv"
)

// goVulnDB parses every embedded Go vulnerability record.
func goVulnDB(t *testing.T) []*osv.Record {
	t.Helper()
	files, err := fs.Glob(demodata.GoVulnDB, "govulndb/*.json")
	if err != nil {
		t.Fatal(err)
	}
	var recs []*osv.Record
	for _, name := range files {
		data, err := fs.ReadFile(demodata.GoVulnDB, name)
		if err != nil {
			t.Fatal(err)
		}
		r, err := osv.Parse(data)
		if err != nil {
			t.Errorf("osv.Parse(%s) = %v", name, err)
			continue
		}
		if want := strings.TrimSuffix(path.Base(name), ".json"); r.ID != want {
			t.Errorf("%s holds record %s: a record is kept under its own name", name, r.ID)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestGoVulnDBSubset checks the subset README.md describes: real records
// of the Go ecosystem, none withdrawn, every range readable in Go's
// version ordering.
func TestGoVulnDBSubset(t *testing.T) {
	recs := goVulnDB(t)
	if len(recs) != 216 {
		t.Errorf("%d records embedded, README.md says 216: update one or the other", len(recs))
	}
	stdlib := 0
	for _, r := range recs {
		if r.IsWithdrawn() {
			t.Errorf("%s is withdrawn: the subset leaves those out", r.ID)
		}
		if len(r.Affected) == 0 {
			t.Errorf("%s affects nothing", r.ID)
		}
		for i := range r.Affected {
			a := &r.Affected[i]
			if a.Package == nil || a.Package.Ecosystem != "Go" {
				t.Errorf("%s affected[%d] = %+v: want a package of ecosystem Go", r.ID, i, a.Package)
				continue
			}
			if a.Package.Name == gobin.StdlibModule {
				stdlib++
			}
			// Any version Go orders will do: the point is that every
			// event parses.
			if _, err := a.Evaluate("1.20.1"); err != nil {
				t.Errorf("%s affected[%d].Evaluate(1.20.1) = %v", r.ID, i, err)
			}
		}
	}
	if stdlib < 90 {
		t.Errorf("%d affected entries name stdlib; the subset keeps 98 records about it", stdlib)
	}
}

// buildHello builds a Go program that uses only the standard library with
// the go command in PATH, offline, and returns the binary and the
// toolchain's version.
func buildHello(t *testing.T) (bin, goversion string) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command in PATH to build a Go binary with")
	}
	dir := t.TempDir()
	for name, content := range map[string]string{
		"go.mod":  "module example.com/hello\n\ngo 1.22\n",
		"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod -buildvcs=false", "GOPROXY=off", "GOWORK=off", "CGO_ENABLED=0")
	run := func(args ...string) string {
		cmd := exec.Command("go", args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	bin = filepath.Join(dir, "bin", "hello")
	run("build", "-o", bin, ".")
	return bin, run("env", "GOVERSION")
}

// TestGoBinaryAgainstGoVulnDB is the idea end to end: a Go binary is
// scanned, and its modules are evaluated against the embedded records as
// the matcher evaluates Go modules (ecosystem "Go", the module path, the
// version without "v").
func TestGoBinaryAgainstGoVulnDB(t *testing.T) {
	recs := goVulnDB(t)
	bin, goversion := buildHello(t)
	pkgs, problems := gobin.Scan(context.Background(), []string{filepath.Dir(bin)}, gobin.Options{})
	if len(problems) > 0 {
		t.Fatalf("Scan(%s) problems: %v", bin, problems)
	}
	want, ok := gobin.StdlibVersion(goversion)
	if !ok {
		t.Skipf("the toolchain %q is not a release", goversion)
	}
	i := slices.IndexFunc(pkgs, func(p patchbay.Package) bool { return p.Name == gobin.StdlibModule })
	if i < 0 || pkgs[i] != (patchbay.Package{Ecosystem: "go", Name: "stdlib", Version: want, SourceName: bin}) {
		t.Fatalf("Scan(%s) = %+v: want stdlib %s (from %s) named by the binary", bin, pkgs, want, goversion)
	}

	// Every record evaluates the modules as scanned, without error.
	for _, p := range pkgs {
		affected := 0
		for _, r := range recs {
			res, err := r.Evaluate("Go", p.Name, p.Version)
			if err != nil {
				t.Errorf("%s.Evaluate(Go, %s, %s) = %v", r.ID, p.Name, p.Version, err)
			}
			if res.Affected {
				affected++
			}
		}
		t.Logf("%s %s (%s): %d of %d records affect it", p.Name, p.Version, goversion, affected, len(recs))
	}

	// A binary of an old toolchain: stdlib 1.20.1 is affected by
	// GO-2023-1987 (large RSA keys in crypto/tls: CVE-2023-29409, fixed in
	// 1.20.7), and by many more.
	old := pkgs[i]
	old.Version = "1.20.1"
	var ids []string
	for _, r := range recs {
		res, err := r.Evaluate("Go", old.Name, old.Version)
		if err != nil {
			t.Errorf("%s.Evaluate(Go, stdlib, 1.20.1) = %v", r.ID, err)
		}
		if res.Affected {
			ids = append(ids, r.ID)
		}
		if r.ID == "GO-2023-1987" && (!res.Affected || !slices.Equal(res.Fixed, []string{"1.20.7"})) {
			t.Errorf("GO-2023-1987.Evaluate(Go, stdlib, 1.20.1) = %+v: want affected, fixed in 1.20.7", res)
		}
	}
	if !slices.Contains(ids, "GO-2023-1987") || len(ids) < 50 {
		t.Errorf("stdlib 1.20.1 is affected by %d records %v: want GO-2023-1987 among dozens", len(ids), ids)
	}
	for _, v := range []string{"1.20.7", "1.21.0", want} {
		r := recs[slices.IndexFunc(recs, func(r *osv.Record) bool { return r.ID == "GO-2023-1987" })]
		if res, err := r.Evaluate("Go", "stdlib", v); err != nil || res.Affected {
			t.Errorf("GO-2023-1987.Evaluate(Go, stdlib, %s) = %+v, %v: want not affected", v, res, err)
		}
	}
}
