package fleet

import (
	"bufio"
	"cmp"
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/pkgdb"
	"github.com/patchbay/patchbay/internal/version"
)

// evalData names the shared sample-data directory TestGenerateData reads.
// It is a flag, not a default path, so the package builds and tests without
// it; only regenerating the embedded data needs it.
var evalData = flag.String("eval-data", "", "regenerate data/ from this eval-data directory (e.g. ../../../shared/eval-data)")

// extraSources is how many bookworm source packages that the sample host
// does not have data/bookworm-sources.tsv keeps for growing images and for
// per-host extras.
const extraSources = 4000

// TestGenerateData rewrites data/debian12.tsv, data/bookworm-sources.tsv and
// data/bullseye-dsa.tsv from the shared eval data:
//
//	go test ./internal/fleet/ -run TestGenerateData -eval-data /work/shared/eval-data
//
// Review the diff before committing it; data/README.md describes each file.
func TestGenerateData(t *testing.T) {
	if *evalData == "" {
		t.Skip("no -eval-data directory")
	}
	pkgs := genDebian12(t, filepath.Join(*evalData, "dpkg-status", "bookworm-host.status"))
	genBookwormSources(t, filepath.Join(*evalData, "bookworm-sources.tsv"), pkgs)
	genBullseyeDSA(t, filepath.Join(*evalData, "debian-security-tracker-2023-04", "DSA", "list"))
}

// genDebian12 parses the real status file with pkgdb's dpkg reader and
// writes its packages as data/debian12.tsv.
func genDebian12(t *testing.T, status string) []pkgdb.Package {
	root := t.TempDir()
	dir := filepath.Join(root, "var", "lib", "dpkg")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(status)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "status"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	pkgs, err := pkgdb.DpkgReader{}.Read(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("# name\tarch\tversion\tsource\tsource-version: the installed packages of a real Debian 12 host, see README.md\n")
	for _, p := range pkgs {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\n", p.Name, p.Arch, p.Version, p.SourceName, p.SourceVersion)
	}
	writeData(t, "debian12.tsv", b.String())
	return pkgs
}

// genBookwormSources keeps, of Debian 12's source list, the newest version of
// every source the sample host has and of extraSources others, chosen by
// the FNV-1a hash of their names (a spread over the archive, stable when
// the list changes).
func genBookwormSources(t *testing.T, path string, pkgs []pkgdb.Package) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	newest := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, ver, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("%s: bad line %q", path, line)
		}
		old, seen := newest[name]
		if !seen {
			newest[name] = ver
			continue
		}
		c, err := version.Compare(version.Deb, ver, old)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if c > 0 {
			newest[name] = ver
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	installed := map[string]bool{}
	for _, p := range pkgs {
		installed[p.SourceName] = true
	}
	var keep, others []string
	for name := range newest {
		if installed[name] {
			keep = append(keep, name)
		} else if (pkgdb.Package{Ecosystem: pkgdb.Deb, Name: name, Version: newest[name], Arch: "amd64",
			SourceName: name, SourceVersion: newest[name]}).Validate() == nil {
			others = append(others, name)
		}
	}
	slices.SortFunc(others, func(a, b string) int { return cmp.Or(cmp.Compare(fnv64(a), fnv64(b)), cmp.Compare(a, b)) })
	keep = append(keep, others[:extraSources]...)
	slices.Sort(keep)
	var b strings.Builder
	b.WriteString("# source\tnewest-version: part of Debian 12's source list (bookworm, bookworm-updates, bookworm-security, 2026-12-04), see README.md\n")
	for _, name := range keep {
		fmt.Fprintf(&b, "%s\t%s\n", name, newest[name])
	}
	writeData(t, "bookworm-sources.tsv", b.String())
}

func fnv64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

var (
	dsaHeader = regexp.MustCompile(`^\[(\d\d \w\w\w \d{4})\] (DSA-\d+-\d+) `)
	dsaFixed  = regexp.MustCompile(`^\t\[bullseye\] - (\S+) (\S+)`)
)

// genBullseyeDSA extracts every Debian 11 fixed version from the security
// tracker's DSA list, oldest advisory first.
func genBullseyeDSA(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		date      time.Time
		id        string
		src, ver  string
		fileOrder int
	}
	var rows []row
	var date time.Time
	var id string
	for i, line := range strings.Split(string(data), "\n") {
		if m := dsaHeader.FindStringSubmatch(line); m != nil {
			date, err = time.Parse("02 Jan 2006", m[1])
			if err != nil {
				t.Fatalf("%s:%d: %v", path, i+1, err)
			}
			id = m[2]
			continue
		}
		m := dsaFixed.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if _, err := version.ParseDeb(m[2]); err != nil {
			continue // <not-affected>, <unfixed> and the like
		}
		rows = append(rows, row{date, id, m[1], m[2], i})
	}
	// The list is newest first; within a day, keep the file's order reversed.
	slices.SortStableFunc(rows, func(a, b row) int {
		return cmp.Or(a.date.Compare(b.date), cmp.Compare(b.fileOrder, a.fileOrder))
	})
	var b strings.Builder
	b.WriteString("# date\tadvisory\tsource\tbullseye-fixed-version: the [bullseye] lines of the Debian security tracker's DSA list (2023-04-02), see README.md\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\n", r.date.Format(time.DateOnly), r.id, r.src, r.ver)
	}
	writeData(t, "bullseye-dsa.tsv", b.String())
}

func writeData(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join("data", name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote data/%s: %d bytes", name, len(content))
}
