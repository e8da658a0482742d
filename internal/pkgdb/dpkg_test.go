package pkgdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDpkgGolden(t *testing.T) {
	runGolden(t, "testdata/dpkg/*.status", parseDpkgStatus)
}

func bookwormRoot(t testing.TB) string {
	return makeRoot(t, map[string][]byte{
		dpkgStatusPath: readTestdata(t, "dpkg/bookworm-host.status"),
	})
}

// The real status file of a Debian 12 machine, with the counts its
// provenance (/work/shared/eval-data/README.md) states.
func TestDpkgBookworm(t *testing.T) {
	pkgs, err := DpkgReader{}.Read(context.Background(), bookwormRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, Deb, pkgs)
	if len(pkgs) != 717 {
		t.Errorf("Read: %d packages, want 717", len(pkgs))
	}
	differ, ownEpoch := 0, 0
	for _, p := range pkgs {
		if p.Version == p.SourceVersion {
			continue
		}
		differ++
		if e, _, ok := strings.Cut(p.Version, ":"); ok && !strings.HasPrefix(p.SourceVersion, e+":") {
			ownEpoch++
		}
	}
	if differ != 64 || ownEpoch != 9 {
		t.Errorf("Read: %d packages whose version differs from the source's, %d with their own epoch; want 64 and 9", differ, ownEpoch)
	}
	for _, want := range []Package{
		{Deb, "bsdutils", "1:2.38.1-5+deb12u3", "amd64", "util-linux", "2.38.1-5+deb12u3", ""},
		{Deb, "dmsetup", "2:1.02.185-2", "amd64", "lvm2", "2.03.16-2", ""},
		{Deb, "bash", "5.2.15-2+b8", "amd64", "bash", "5.2.15-2", ""},
		{Deb, "libcap2", "1:2.66-4+deb12u2+b2", "amd64", "libcap2", "1:2.66-4+deb12u2", ""},
		{Deb, "adduser", "3.134", "all", "adduser", "3.134", ""},
	} {
		i := slices.IndexFunc(pkgs, func(p Package) bool { return p.Name == want.Name })
		if i < 0 {
			t.Errorf("Read: no package %s", want.Name)
		} else if pkgs[i] != want {
			t.Errorf("Read: package %s = %+v, want %+v", want.Name, pkgs[i], want)
		}
	}
}

// dpkgQuery runs dpkg-query -W with format, on the database in admindir
// ("" for the machine's own), and returns its output lines sorted.
func dpkgQuery(t *testing.T, admindir, format string) []string {
	t.Helper()
	bin := lookTool(t, "dpkg-query")
	args := []string{"-W", "-f=" + format}
	if admindir != "" {
		args = append([]string{"--admindir=" + admindir}, args...)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dpkg-query %v: %v: %s", args, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	slices.Sort(lines)
	return lines
}

// installedRows keeps the rows whose first column is "installed" and drops
// that column.
func installedRows(rows []string) []string {
	var out []string
	for _, r := range rows {
		if rest, ok := strings.CutPrefix(r, "installed\t"); ok {
			out = append(out, rest)
		}
	}
	return out
}

func compareRows(t *testing.T, what string, got, want []string) {
	t.Helper()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s: reader and dpkg-query differ (reader %d rows, dpkg-query %d):\n%s",
			what, len(got), len(want), lineDiff(strings.Join(want, "\n"), strings.Join(got, "\n")))
	}
}

// The reader agrees with dpkg-query on the machine it runs on, row for row.
func TestDpkgMatchesDpkgQueryOnThisMachine(t *testing.T) {
	if _, err := os.Stat("/" + dpkgStatusPath); err != nil {
		t.Skipf("no dpkg database on this machine: %v", err)
	}
	want := installedRows(dpkgQuery(t, "", `${db:Status-Status}\t${Package}\t${Architecture}\t${Version}\n`))
	pkgs, err := DpkgReader{}.Read(context.Background(), "/")
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, Deb, pkgs)
	var got []string
	for _, p := range pkgs {
		got = append(got, p.Name+"\t"+p.Arch+"\t"+p.Version)
	}
	compareRows(t, "Read(/)", got, want)
	t.Logf("%d installed packages on this machine", len(got))
}

// dpkgSourceFormat has dpkg-query print what Package holds.
const dpkgSourceFormat = `${db:Status-Status}\t${Package}\t${Architecture}\t${Version}\t${source:Package}\t${source:Version}\n`

func readerRows(pkgs []Package) []string {
	var rows []string
	for _, p := range pkgs {
		rows = append(rows, strings.Join([]string{p.Name, p.Arch, p.Version, p.SourceName, p.SourceVersion}, "\t"))
	}
	return rows
}

// dpkg-query is the oracle for the source rules: on every fixture it can
// read, its ${source:Package} and ${source:Version} equal the reader's.
func TestDpkgSourceMatchesDpkgQuery(t *testing.T) {
	for _, name := range []string{"bookworm-host.status", "multiarch.status"} {
		t.Run(name, func(t *testing.T) {
			root := makeRoot(t, map[string][]byte{
				dpkgStatusPath:             readTestdata(t, "dpkg/"+name),
				dpkgUpdatesPath + "/.keep": nil,
			})
			want := installedRows(dpkgQuery(t, filepath.Join(root, "var/lib/dpkg"), dpkgSourceFormat))
			pkgs, err := DpkgReader{}.Read(context.Background(), root)
			if err != nil {
				t.Fatal(err)
			}
			compareRows(t, "Read "+name, readerRows(pkgs), want)
		})
	}
}

const updateStanza = `Package: %s
Status: install ok installed
Maintainer: Nobody <nobody@example.org>
Architecture: %s
Version: %s
Description: test
`

func stanza(name, arch, version string) string {
	return fmt.Sprintf(updateStanza, name, arch, version)
}

// dpkg's journal of updates not yet merged into the status file counts, and
// a record there can move a package to another architecture; dpkg-query is
// the oracle.
func TestDpkgUpdatesJournal(t *testing.T) {
	status := stanza("kept", "amd64", "1.0") + "\n" +
		stanza("upgraded", "amd64", "1.0") + "\n" +
		stanza("crossgraded", "amd64", "1.0") + "\n" +
		stanza("removed", "all", "1.0") + "\n"
	removed := strings.Replace(stanza("removed", "all", "1.0"), "install ok installed", "deinstall ok config-files", 1)
	root := makeRoot(t, map[string][]byte{
		dpkgStatusPath:                 []byte(status),
		dpkgUpdatesPath + "/0000":      []byte(stanza("upgraded", "amd64", "1.1")),
		dpkgUpdatesPath + "/0001":      []byte(stanza("crossgraded", "i386", "1.0")),
		dpkgUpdatesPath + "/0002":      []byte(stanza("new", "all", "0.1")),
		dpkgUpdatesPath + "/0003":      []byte(removed),
		dpkgUpdatesPath + "/0004":      []byte(stanza("upgraded", "amd64", "1.2")),
		dpkgUpdatesPath + "/tmp.i":     []byte("ignored by dpkg"),
		dpkgUpdatesPath + "/not-digit": []byte("ignored by dpkg"),
	})
	pkgs, err := DpkgReader{}.Read(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	got := readerRows(pkgs)
	want := []string{
		"crossgraded\ti386\t1.0\tcrossgraded\t1.0",
		"kept\tamd64\t1.0\tkept\t1.0",
		"new\tall\t0.1\tnew\t0.1",
		"upgraded\tamd64\t1.2\tupgraded\t1.2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Read: got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A journal file that is not one record is corruption.
	for name, data := range map[string]string{
		"empty":   "",
		"two":     stanza("a", "all", "1") + "\n" + stanza("b", "all", "1"),
		"garbage": "Package: a\n\x00\x01\n",
	} {
		root := makeRoot(t, map[string][]byte{
			dpkgStatusPath:            []byte(status),
			dpkgUpdatesPath + "/0000": []byte(data),
		})
		if pkgs, err := (DpkgReader{}).Read(context.Background(), root); err == nil {
			t.Errorf("Read with %s update file: %d packages, no error", name, len(pkgs))
		} else if !strings.Contains(err.Error(), "updates/0000") {
			t.Errorf("Read with %s update file: error %q does not name the file", name, err)
		}
	}

	compareRows(t, "Read with updates", got, installedRows(dpkgQuery(t, filepath.Join(root, "var/lib/dpkg"), dpkgSourceFormat)))
}

func TestDpkgMissingOrEmpty(t *testing.T) {
	ctx := context.Background()
	_, err := DpkgReader{}.Read(ctx, t.TempDir())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read(empty root): error %v, want one wrapping fs.ErrNotExist", err)
	}
	// A fresh root, as debootstrap starts one: an empty status file.
	pkgs, err := DpkgReader{}.Read(ctx, makeRoot(t, map[string][]byte{dpkgStatusPath: nil}))
	if err != nil || len(pkgs) != 0 {
		t.Errorf("Read(empty status) = %d packages, %v; want none, no error", len(pkgs), err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := (DpkgReader{}).Read(cancelled, bookwormRoot(t)); !errors.Is(err, context.Canceled) {
		t.Errorf("Read(cancelled context): error %v, want context.Canceled", err)
	}
}

// Each kind of damage is reported with the file, the line and the reason,
// and never as a shorter list.
func TestDpkgCorrupt(t *testing.T) {
	real := string(readTestdata(t, "dpkg/bookworm-host.status"))
	first := real[:strings.Index(real, "\n\n")+2] // the adduser stanza: 39 lines and a blank one
	tests := []struct {
		name, status, want string
	}{
		{"cut mid-line", real[:len(real)/2], "no newline at end of file"},
		{"cut at a line inside a stanza", first[:strings.Index(first, "Version:")], "line 8: file ends inside a stanza"},
		{"NUL byte", strings.Replace(first, "add and remove", "add\x00remove", 1), "line 15: control character"},
		{"invalid UTF-8", strings.Replace(first, "add and remove", "add \xff\xfe remove", 1), "line 15: invalid UTF-8"},
		{"CRLF", strings.ReplaceAll(first, "\n", "\r\n"), "line 1: control character"},
		{"no Package", strings.Replace(first, "Package: adduser\n", "", 1), "line 1: stanza without a Package field"},
		{"no Status", strings.Replace(first, "Status: install ok installed\n", "", 1), "no Status field"},
		{"two words of Status", strings.Replace(first, "install ok installed", "install installed", 1), "line 2: package adduser: malformed Status"},
		{"unknown status", strings.Replace(first, "ok installed", "ok instaled", 1), "line 2: package adduser: malformed Status"},
		{"upper case name", strings.Replace(first, "Package: adduser", "Package: AddUser", 1), "line 1: package name \"AddUser\""},
		{"bad version", strings.Replace(first, "Version: 3.134", "Version: 3.134 beta", 1), "line 9: package adduser: version"},
		{"empty revision", strings.Replace(first, "Version: 3.134", "Version: 3.134-", 1), "revision is empty"},
		{"no version", strings.Replace(first, "Version: 3.134\n", "", 1), "has no Version"},
		{"no architecture", strings.Replace(first, "Architecture: all\n", "", 1), "has no Architecture"},
		{"bad source", strings.Replace(first, "Version: 3.134", "Version: 3.134\nSource: adduser 3.134", 1), "line 10: package adduser: Source"},
		{"duplicate field", strings.Replace(first, "Version: 3.134", "Version: 3.134\nversion: 3.135", 1), "line 10: duplicate field version (first on line 9)"},
		{"duplicate package", first + first, "line 41: package adduser:all listed twice (first on line 1)"},
		{"not a field", strings.Replace(first, "Priority: important", "Priority important", 1), "line 3: not a field"},
		{"continuation first", " continued\n" + first, "line 1: continuation line outside a field"},
		{"blank continuation", strings.Replace(first, " .\n", " \n", 1), "line 18: blank continuation line"},
		{"multi-line version", strings.Replace(first, "Version: 3.134", "Version: 3.134\n 3.135", 1), "line 9: field Version spans several lines"},
		{"line too long", strings.Replace(first, "Priority: important", "Priority: "+strings.Repeat("x", maxLineLen), 1), "line 3: line longer than"},
		{"binary garbage", first + "\x7fELF\x02\x01\x01\x00\x00\x00\n\n", "line 41: control character"},
		{"two installed instances", first + strings.Replace(first, "Architecture: all", "Architecture: amd64", 1), "several instances"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := makeRoot(t, map[string][]byte{dpkgStatusPath: []byte(tc.status)})
			pkgs, err := DpkgReader{}.Read(context.Background(), root)
			if err == nil {
				t.Fatalf("Read: %d packages, no error; want an error containing %q", len(pkgs), tc.want)
			}
			if pkgs != nil {
				t.Errorf("Read: %d packages with the error", len(pkgs))
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, filepath.Join(root, dpkgStatusPath)) {
				t.Errorf("Read: error %q; want it to name the file and contain %q", msg, tc.want)
			}
		})
	}
}

// Cut anywhere but between two stanzas, the file is an error; cut between
// two stanzas it is indistinguishable from a shorter, complete file, and
// gives exactly the packages before the cut.
func TestDpkgTruncatedAnywhere(t *testing.T) {
	real := readTestdata(t, "dpkg/bookworm-host.status")
	sample := real[:12000]
	sample = sample[:bytes.LastIndex(sample, []byte("\n\n"))+2]
	full, err := parseDpkgStatus(context.Background(), sample)
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(sample) {
		pkgs, err := parseDpkgStatus(context.Background(), sample[:n])
		atBoundary := n == 0 || bytes.HasSuffix(sample[:n], []byte("\n\n"))
		switch {
		case atBoundary && err != nil:
			t.Fatalf("cut at %d, between stanzas: %v", n, err)
		case atBoundary:
			if !slices.Equal(pkgs, full[:len(pkgs)]) {
				t.Fatalf("cut at %d: packages are not a prefix of the whole file's", n)
			}
		case err == nil:
			t.Fatalf("cut at %d (%q): %d packages, no error", n, sample[max(0, n-20):n], len(pkgs))
		}
	}
}

func BenchmarkDpkgRead(b *testing.B) {
	roots := []struct{ name, root string }{{"bookworm-717", bookwormRoot(b)}}
	if _, err := os.Stat("/" + dpkgStatusPath); err == nil {
		roots = append(roots, struct{ name, root string }{"this-machine", "/"})
	}
	for _, r := range roots {
		b.Run(r.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				if _, err := (DpkgReader{}).Read(ctx, r.root); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
