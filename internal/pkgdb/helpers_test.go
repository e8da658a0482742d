package pkgdb

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/internal/testtool"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// render prints a parse result as a golden file holds it: one line per
// package (name, arch, version, source name, source version, and the source
// rpm when there is one, tab-separated), or one line "error: ...".
func render(pkgs []Package, err error) string {
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	var b strings.Builder
	for _, p := range pkgs {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s", p.Name, p.Arch, p.Version, p.SourceName, p.SourceVersion)
		if p.SourceRPM != "" {
			fmt.Fprintf(&b, "\t%s", p.SourceRPM)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// runGolden parses every file matching pattern and compares the result with
// the file of the same name ending in .golden; with -update it rewrites
// the golden files instead.
func runGolden(t *testing.T, pattern string, parse func(context.Context, []byte) ([]Package, error)) {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no files match %s", pattern)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := render(parse(context.Background(), data))
			golden := strings.TrimSuffix(file, filepath.Ext(file)) + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("parse %s: result differs from %s (run go test -update to accept):\n%s",
					file, golden, lineDiff(string(want), got))
			}
		})
	}
}

// lineDiff lists the lines only in want (-) and only in got (+), at most 20.
func lineDiff(want, got string) string {
	count := map[string]int{}
	for _, l := range strings.Split(want, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(got, "\n") {
		count[l]--
	}
	var b strings.Builder
	n := 0
	for l, c := range count {
		for ; c > 0 && n < 20; c, n = c-1, n+1 {
			fmt.Fprintf(&b, "- %s\n", l)
		}
		for ; c < 0 && n < 20; c, n = c+1, n+1 {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	return b.String()
}

// makeRoot builds a root directory holding files, keyed by their path
// under the root.
func makeRoot(t testing.TB, files map[string][]byte) string {
	t.Helper()
	root := t.TempDir()
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// checkResult checks what every reader promises: every package valid and
// of the ecosystem, the list sorted. dpkg and apk record one package per
// name and architecture; an rpm database can list a package twice.
func checkResult(t testing.TB, eco Ecosystem, pkgs []Package) {
	t.Helper()
	seen := map[[2]string]bool{}
	for i, p := range pkgs {
		if err := p.Validate(); err != nil {
			t.Fatalf("package %d %+v: %v", i, p, err)
		}
		if p.Ecosystem != eco {
			t.Fatalf("package %d %+v: ecosystem %q, want %q", i, p, p.Ecosystem, eco)
		}
		if i > 0 && comparePackages(pkgs[i-1], p) > 0 {
			t.Fatalf("packages %d and %d out of order: %+v, %+v", i-1, i, pkgs[i-1], p)
		}
		key := [2]string{p.Name, p.Arch}
		if eco != RPM && seen[key] {
			t.Fatalf("package %s:%s twice", p.Name, p.Arch)
		}
		seen[key] = true
	}
}

// lookTool returns the path of a program a test runs (see testtool.Look).
func lookTool(t testing.TB, name string) string {
	t.Helper()
	return testtool.Look(t, name)
}
