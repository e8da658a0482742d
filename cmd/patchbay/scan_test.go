package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/fleet"
	"github.com/patchbay/patchbay/internal/match"
)

// stretchRoot is a Debian 9 host: dpkg and dselect (built from source dpkg)
// before the fix of DLA-3022-1, libssl1.1 (source openssl) exactly at the
// fix of DLA-3008-1, libxml2 above the fix of DLA-3012-1, and tzdata with
// a fix of DLA-3051-1 to come.
func stretchRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	stanza := func(pkg, ver, source string) string {
		s := "Package: " + pkg + "\nStatus: install ok installed\nArchitecture: amd64\nVersion: " + ver + "\n"
		if source != "" {
			s += "Source: " + source + "\n"
		}
		return s + "\n"
	}
	status := stanza("dpkg", "1.18.25", "") + stanza("dselect", "1.18.25", "dpkg") +
		stanza("libssl1.1", "1.1.0l-1~deb9u6", "openssl") + stanza("libxml2", "2.9.4+dfsg1-2.2+deb9u8", "") +
		stanza("tzdata", "2021a-0+deb9u3", "")
	files := map[string]string{
		"etc/os-release":      "PRETTY_NAME=\"Debian GNU/Linux 9 (stretch)\"\nID=debian\nVERSION_ID=\"9\"\nVERSION_CODENAME=stretch\n",
		"var/lib/dpkg/status": status,
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestScan scans a Debian 9 fixture against the real Debian OSV records:
// each finding is named, nothing at or past its fix is reported, and the
// source package links binaries to source advisories.
func TestScan(t *testing.T) {
	root := stretchRoot(t)
	feed := "../../internal/osv/testdata/osv-real/Debian"
	out, errOut, err := runCLI(t, nil, "scan", "--root", root, "--feed", feed, "-o", "json")
	if err != nil {
		t.Fatalf("scan: %v\n%s", err, errOut)
	}
	var findings []match.Finding
	if err := json.Unmarshal([]byte(out), &findings); err != nil {
		t.Fatalf("scan -o json: %v\n%s", err, out)
	}
	var got []string
	for _, f := range findings {
		got = append(got, f.Package.Name+" "+f.Advisory+" "+strings.Join(f.Fixed, ","))
	}
	want := []string{"dpkg DLA-3022-1 1.18.26", "dselect DLA-3022-1 1.18.26", "tzdata DLA-3051-1 2021a-0+deb9u4"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("findings:\n got %q\nwant %q", got, want)
	}
	if !strings.Contains(strings.Join(findings[0].Aliases, " "), "CVE-2022-1664") {
		t.Errorf("DLA-3022-1 should carry CVE-2022-1664 from upstream, got %v", findings[0].Aliases)
	}
	if !strings.Contains(errOut, "Debian:9, 5 packages") {
		t.Errorf("summary %q", errOut)
	}
	// The same packages as Debian 12 match nothing: the records are for 9.
	out, _, err = runCLI(t, nil, "scan", "--root", root, "--feed", feed, "--platform", "Debian:12", "-o", "csv")
	if err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("scan as Debian:12: %v\n%s", err, out)
	}
}

func TestScanRefusesBadInput(t *testing.T) {
	root := stretchRoot(t)
	bad := filepath.Join(t.TempDir(), "feed")
	os.MkdirAll(bad, 0o755)
	os.WriteFile(filepath.Join(bad, "broken.json"), []byte(`{"id":"X-1","affected":[{"package":{"ecosystem":"Debian:9","name":"dpkg"},"ranges":[{"type":"ECOSYSTEM","events":[{"fixed":"1"}]}]}]}`), 0o644)
	_, errOut, err := runCLI(t, nil, "scan", "--root", root, "--feed", bad)
	if err != nil || !strings.Contains(errOut, "skipped") || !strings.Contains(errOut, "broken.json") {
		t.Fatalf("a broken record: err %v, stderr %q; want it reported by file", err, errOut)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"scan", "--root", root}, "--feed is required"},
		{[]string{"scan", "--root", root, "--feed", "/no/such/feed"}, "/no/such/feed"},
		{[]string{"scan", "--root", root, "--feed", bad, "--platform", "Debian"}, "--platform"},
		{[]string{"scan", "--root", t.TempDir(), "--feed", bad}, "--platform"},
	} {
		if _, _, err := runCLI(t, nil, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("patchbay %v: err = %v, want one naming %q", tc.args, err, tc.want)
		}
	}
}

// TestScanTrackerList scans the Debian 9 fixture against the Debian
// security tracker's real DLA list (as of 2023-04), read directly.
func TestScanTrackerList(t *testing.T) {
	root := stretchRoot(t)
	list := "../../internal/feed/testdata/debian-security-tracker-2023-04/DLA/list"
	out, errOut, err := runCLI(t, nil, "scan", "--root", root, "--feed", list, "-o", "json")
	if err != nil {
		t.Fatalf("scan: %v\n%s", err, errOut)
	}
	var findings []match.Finding
	if err := json.Unmarshal([]byte(out), &findings); err != nil {
		t.Fatal(err)
	}
	byPkg := map[string][]string{}
	for _, f := range findings {
		byPkg[f.Package.Name] = append(byPkg[f.Package.Name], f.Advisory)
	}
	// dpkg 1.18.25 is before DLA-3022-1's fix; libssl1.1 at DLA-3008-1's fix
	// is not affected by it.
	if !slices.Contains(byPkg["dpkg"], "DLA-3022-1") || !slices.Contains(byPkg["dselect"], "DLA-3022-1") {
		t.Fatalf("dpkg findings %v, dselect %v: want DLA-3022-1 for both", byPkg["dpkg"], byPkg["dselect"])
	}
	if slices.Contains(byPkg["libssl1.1"], "DLA-3008-1") {
		t.Fatalf("libssl1.1 at the fixed version reported as affected by DLA-3008-1")
	}
	if !strings.Contains(errOut, "skipped") {
		t.Errorf("the list's unusable entries were not reported: %q", errOut)
	}
}

const (
	trackerLists = "../../internal/feed/testdata/debian-security-tracker-2023-04"
	osvRealDir   = "../../internal/osv/testdata/osv-real"
)

func writeFile(t testing.TB, path, body string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// debian11Host writes the fleet's Debian 11 image — a bullseye host as of
// June 2022, its versions derived from the tracker's real DSA list — as a
// dpkg status file and an os-release file. Scanned against the 2023 lists,
// the later real advisories apply to it.
func debian11Host(t testing.TB) (status, osRelease string) {
	t.Helper()
	im, err := fleet.ImageByName("debian-11")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, p := range im.Packages {
		fmt.Fprintf(&b, "Package: %s\nStatus: install ok installed\nArchitecture: %s\nVersion: %s\n", p.Name, p.Arch, p.Version)
		if src, ver := p.Source(); src != p.Name || ver != p.Version {
			fmt.Fprintf(&b, "Source: %s (%s)\n", src, ver)
		}
		b.WriteString("\n")
	}
	var os strings.Builder
	for k, v := range im.OSRelease() {
		fmt.Fprintf(&os, "%s=%q\n", k, v)
	}
	dir := t.TempDir()
	return writeFile(t, filepath.Join(dir, "status"), b.String()), writeFile(t, filepath.Join(dir, "os-release"), os.String())
}

// TestScanUsage: wrong combinations of flags are usage errors (exit 2)
// that say what to do; files that cannot be read are failures (exit 1).
func TestScanUsage(t *testing.T) {
	root := stretchRoot(t)
	status, osRelease := filepath.Join(root, "var/lib/dpkg/status"), filepath.Join(root, "etc/os-release")
	list := trackerLists + "/DLA/list"
	for _, tc := range []struct {
		args []string
		exit int
		want string
	}{
		{[]string{"--dpkg-status", status}, exitUsage, "--dpkg-status and --os-release go together"},
		{[]string{"--os-release", osRelease}, exitUsage, "--dpkg-status and --os-release go together"},
		{[]string{"--dpkg-status", status, "--os-release", osRelease, "--root", root}, exitUsage, "not both"},
		{[]string{"--root", root, "--output", "xml"}, exitUsage, "want table, json, csv or tsv"},
		{[]string{"--root", root, "--fail-on", "severe"}, exitUsage, "--fail-on"},
		{[]string{"--root", root, "--platform", "Debian"}, exitUsage, "NAME:RELEASE"},
		{[]string{"--root", root, "--no-such-flag"}, exitUsage, "unknown flag"},
		{[]string{"--dpkg-status", status, "--os-release", filepath.Join(root, "nothing")}, exitFailure, "--os-release"},
		{[]string{"--dpkg-status", filepath.Join(root, "nothing"), "--os-release", osRelease}, exitFailure, "--dpkg-status"},
		{[]string{"--dpkg-status", root, "--os-release", osRelease}, exitFailure, "not a regular file"},
		{[]string{"--dpkg-status", status, "--os-release", status}, exitUsage, "cannot tell the platform"},
	} {
		args := append([]string{"scan", "--feed", list, "--cache-dir", ""}, tc.args...)
		_, _, err := runCLI(t, nil, args...)
		if err == nil || exitCode(err) != tc.exit || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("patchbay %q: err = %v (exit %d); want exit %d naming %q", tc.args, err, exitCode(err), tc.exit, tc.want)
		}
	}
	// --root / is the default, so giving it with a status file is no conflict.
	if _, errOut, err := runCLI(t, nil, "scan", "--feed", list, "--cache-dir", "", "--root", "/", "--dpkg-status", status, "--os-release", osRelease); err != nil {
		t.Fatalf("--root / with --dpkg-status: %v\n%s", err, errOut)
	}
}

// TestScanStatusFile: a status file and an os-release file scan exactly as
// the root holding them, and tsv is "binary<TAB>version<TAB>advisory".
func TestScanStatusFile(t *testing.T) {
	root := stretchRoot(t)
	list := trackerLists + "/DLA/list"
	byRoot, _, err := runCLI(t, nil, "scan", "--root", root, "--feed", list, "--cache-dir", "", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	byFile, errOut, err := runCLI(t, nil, "scan", "--dpkg-status", filepath.Join(root, "var/lib/dpkg/status"),
		"--os-release", filepath.Join(root, "etc/os-release"), "--feed", list, "--cache-dir", "", "-o", "json")
	if err != nil || byFile != byRoot {
		t.Fatalf("by status file: %v\n%s\n%s\nby root:\n%s", err, errOut, byFile, byRoot)
	}
	tsv, _, err := runCLI(t, nil, "scan", "--root", root, "--feed", list, "--cache-dir", "", "-o", "tsv")
	want := "dpkg\t1.18.25\tDLA-3022-1\ndselect\t1.18.25\tDLA-3022-1\ntzdata\t2021a-0+deb9u3\tDLA-3051-1\n"
	if err != nil || tsv != want {
		t.Fatalf("-o tsv = %q, %v\nwant %q", tsv, err, want)
	}
	// A damaged status file is named as the user gave it, and fails the scan.
	bad := writeFile(t, filepath.Join(t.TempDir(), "status"), "Package: dpkg\nVersion: 1\n\x00\n")
	_, errOut, err = runCLI(t, nil, "scan", "--dpkg-status", bad, "--os-release", filepath.Join(root, "etc/os-release"), "--feed", list, "--cache-dir", "")
	if err == nil || exitCode(err) != exitFailure || !strings.Contains(errOut, bad) || strings.Contains(errOut, "patchbay-scan-") {
		t.Fatalf("damaged status file: %v\n%s", err, errOut)
	}
}

// TestScanTSV scans the Debian 11 host against the tracker's real lists:
// tsv holds exactly the (binary, version, advisory) of the json findings,
// sorted bytewise, once each, with no header.
func TestScanTSV(t *testing.T) {
	status, osRelease := debian11Host(t)
	args := []string{"scan", "--dpkg-status", status, "--os-release", osRelease, "--cache-dir", "",
		"--feed", trackerLists + "/DSA/list", "--feed", trackerLists + "/DLA/list", "--feed", trackerLists + "/DTSA/list"}
	js, errOut, err := runCLI(t, nil, append(args, "-o", "json")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	var findings []match.Finding
	if err := json.Unmarshal([]byte(js), &findings); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range findings {
		if f.Why == nil || f.Matched.Ecosystem != "Debian:11" || f.Severity == "" {
			t.Fatalf("json finding without its explanation: %+v", f)
		}
		want = append(want, f.Package.Name+"\t"+f.Package.Version+"\t"+f.Advisory)
	}
	slices.Sort(want)
	want = slices.Compact(want)
	// curl 7.74.0-1.3+deb11u1 is before DSA-5197-1's bullseye fix, deb11u2.
	if len(want) < 20 || !slices.Contains(want, "curl\t7.74.0-1.3+deb11u1\tDSA-5197-1") {
		t.Fatalf("Debian 11 host: %d findings, want curl's DSA-5197-1 among many: %q", len(want), want)
	}
	tsv, _, err := runCLI(t, nil, append(args, "-o", "tsv")...)
	if err != nil || tsv != strings.Join(want, "\n")+"\n" {
		t.Fatalf("-o tsv, %v:\n%s\nwant\n%s", err, tsv, strings.Join(want, "\n"))
	}

	// A package installed for two architectures is one line.
	dir := t.TempDir()
	osr := writeFile(t, filepath.Join(dir, "os-release"), "ID=debian\nVERSION_ID=12\n")
	writeFile(t, filepath.Join(dir, "feed", "GLIBC-1.json"), `{"id":"GLIBC-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12","name":"glibc"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.36-9+deb12u10"}]}]}]}`)
	multi := []string{"scan", "--dpkg-status", "../../internal/pkgdb/testdata/dpkg/multiarch.status", "--os-release", osr, "--feed", filepath.Join(dir, "feed"), "--cache-dir", ""}
	tsv, _, err = runCLI(t, nil, append(multi, "-o", "tsv")...)
	table, _, _ := runCLI(t, nil, append(multi, "-o", "table")...)
	if err != nil || tsv != "libc6\t2.36-9+deb12u9\tGLIBC-1\n" || strings.Count(table, "GLIBC-1") != 2 {
		t.Fatalf("multiarch: tsv %q, %v; table\n%s\nwant one tsv line, two table rows", tsv, err, table)
	}
}

// severityFeed writes advisories of the Debian 9 fixture's packages with
// known severities: critical for dpkg (dpkg and dselect), high for tzdata,
// none rated for libxml2.
func severityFeed(t *testing.T) string {
	dir := t.TempDir()
	rec := func(id, name, fixed, severity string) {
		events := `{"introduced":"0"}`
		if fixed != "" {
			events += `,{"fixed":"` + fixed + `"}`
		}
		sev := ""
		if severity != "" {
			sev = `"severity":[{"type":"CVSS_V3","score":"` + severity + `"}],`
		}
		writeFile(t, filepath.Join(dir, id+".json"), `{"id":"`+id+`","modified":"2024-01-01T00:00:00Z",`+sev+
			`"affected":[{"package":{"ecosystem":"Debian:9","name":"`+name+`"},"ranges":[{"type":"ECOSYSTEM","events":[`+events+`]}]}]}`)
	}
	rec("CRIT-1", "dpkg", "1.18.26", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
	rec("HIGH-1", "tzdata", "2021a-0+deb9u4", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N")
	rec("UNK-1", "libxml2", "", "")
	return dir
}

// TestScanFailOn: --fail-on exits 1 when findings are at or above its
// severity, unrated ones included at every threshold, and says how many.
func TestScanFailOn(t *testing.T) {
	root := stretchRoot(t)
	feed := severityFeed(t)
	out, _, err := runCLI(t, nil, "scan", "--root", root, "--feed", feed, "--cache-dir", "", "-o", "csv")
	if err != nil || !strings.Contains(out, "CRIT-1,critical") || !strings.Contains(out, "HIGH-1,high") || !strings.Contains(out, "UNK-1,unknown") {
		t.Fatalf("scan without --fail-on: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		level, want string
	}{
		{"critical", "3 findings at or above critical (--fail-on): 1 unknown, 2 critical"},
		{"High", "4 findings at or above high (--fail-on): 1 unknown, 2 critical, 1 high"},
		{"low", "4 findings at or above low"},
		{"none", "4 findings at or above none"},
		{"unknown", "1 finding at or above unknown (--fail-on): 1 unknown"},
	} {
		out2, _, err := runCLI(t, nil, "scan", "--root", root, "--feed", feed, "--cache-dir", "", "-o", "csv", "--fail-on", tc.level)
		if err == nil || exitCode(err) != exitFailure || err.Error() != tc.want && !strings.HasPrefix(err.Error(), tc.want) || out2 != out {
			t.Errorf("--fail-on %s: err = %v (exit %d); want exit 1, %q, and the same findings printed", tc.level, err, exitCode(err), tc.want)
		}
	}
	// Nothing at or above: exit 0. The Debian 9 packages as Debian 12 have none.
	if _, _, err := runCLI(t, nil, "scan", "--root", root, "--feed", feed, "--cache-dir", "", "--platform", "Debian:12", "--fail-on", "none"); err != nil {
		t.Fatalf("--fail-on none without findings: %v", err)
	}
}

// TestScanRunningKernel: of two kernel images installed, --running-kernel
// keeps the running one; without it, off this machine, both are matched.
func TestScanRunningKernel(t *testing.T) {
	dir := t.TempDir()
	img := func(abi, ver string) string {
		return "Package: linux-image-" + abi + "\nStatus: install ok installed\nArchitecture: amd64\nVersion: " + ver + "\nSource: linux\n\n"
	}
	status := writeFile(t, filepath.Join(dir, "status"), img("6.1.0-13-amd64", "6.1.55-1")+img("6.1.0-17-amd64", "6.1.69-1"))
	osr := writeFile(t, filepath.Join(dir, "os-release"), "ID=debian\nVERSION_ID=12\n")
	writeFile(t, filepath.Join(dir, "feed", "DSA-K.json"), `{"id":"DSA-K","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12","name":"linux"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"6.1.66-1"}]}]}]}`)
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{nil, "linux-image-6.1.0-13-amd64\t6.1.55-1\tDSA-K\n"},
		{[]string{"--running-kernel", "6.1.0-17-amd64"}, ""},
		{[]string{"--running-kernel", "6.1.0-13-amd64"}, "linux-image-6.1.0-13-amd64\t6.1.55-1\tDSA-K\n"},
	} {
		args := append([]string{"scan", "--dpkg-status", status, "--os-release", osr, "--feed", filepath.Join(dir, "feed"), "--cache-dir", "", "-o", "tsv"}, tc.flags...)
		if out, _, err := runCLI(t, nil, args...); err != nil || out != tc.want {
			t.Errorf("scan %q = %q, %v; want %q", tc.flags, out, err, tc.want)
		}
	}
}

// TestScanCache: the second scan of a feed reads its index, says so, and
// prints exactly what a scan without the cache prints, on real data: the
// Debian 11 host against the tracker's lists and the real OSV records.
// A damaged index is reported, not used, and rewritten.
func TestScanCache(t *testing.T) {
	status, osRelease := debian11Host(t)
	cacheDir := filepath.Join(t.TempDir(), "cache")
	args := func(cache string, extra ...string) []string {
		return append([]string{"scan", "--dpkg-status", status, "--os-release", osRelease, "--cache-dir", cache,
			"--feed", trackerLists + "/DSA/list", "--feed", trackerLists + "/DLA/list", "--feed", osvRealDir, "-o", "json"}, extra...)
	}
	want, wantErr, err := runCLI(t, nil, args("")...)
	if err != nil || strings.Count(want, `"advisory"`) < 20 {
		t.Fatalf("uncached: %v\n%s", err, wantErr)
	}
	if _, err := os.Stat(cacheDir); err == nil {
		t.Fatal("--cache-dir \"\" wrote a cache")
	}
	for i, note := range []string{"", "from the scan cache", "from the scan cache"} {
		got, errOut, err := runCLI(t, nil, args(cacheDir)...)
		if err != nil || got != want {
			t.Fatalf("scan %d with the cache: %v\n%s\nprinted\n%s\nwant\n%s", i, err, errOut, got, want)
		}
		if gotNote := strings.Contains(errOut, "from the scan cache"); gotNote != (note != "") || strings.Contains(errOut, "cache:") {
			t.Fatalf("scan %d: stderr %q; want cache note %v", i, errOut, note != "")
		}
		if stripCacheNote(errOut) != wantErr {
			t.Fatalf("scan %d: stderr\n%s\nwant (skipped records and summary as uncached)\n%s", i, errOut, wantErr)
		}
	}
	indexes, _ := filepath.Glob(filepath.Join(cacheDir, "*.idx"))
	if len(indexes) != 3 {
		t.Fatalf("%d indexes for 3 feeds: %v", len(indexes), indexes)
	}
	// Damage each index where every scan reads: its directory, at the end.
	// (A damaged record is found when a scan needs it; the scancache tests
	// damage those.)
	for _, idx := range indexes {
		b, _ := os.ReadFile(idx)
		b[len(b)-1] ^= 0xff
		os.WriteFile(idx, b, 0o600)
	}
	got, errOut, err := runCLI(t, nil, args(cacheDir)...)
	if err != nil || got != want || strings.Count(errOut, "unusable, rebuilt") != 3 {
		t.Fatalf("damaged indexes: %v\n%s", err, errOut)
	}
	if got, errOut, _ = runCLI(t, nil, args(cacheDir)...); got != want || !strings.Contains(errOut, "8945 from the scan cache") {
		t.Fatalf("after the rebuild: %s", errOut)
	}
	// Every output format prints the same from the cache.
	for _, o := range []string{"table", "csv", "tsv"} {
		a, _, _ := runCLI(t, nil, args("", "-o", o)...)
		b, _, _ := runCLI(t, nil, args(cacheDir, "-o", o)...)
		if a != b || a == "" {
			t.Errorf("-o %s from the cache differs from uncached", o)
		}
	}

	// The real Debian 12 machine's packages, as Debian 11, from the same
	// indexes: the same as uncached, which is nothing, since its versions
	// are past every bullseye fix of 2023-04.
	bookworm := func(cache string) []string {
		return []string{"scan", "--dpkg-status", "../../internal/pkgdb/testdata/dpkg/bookworm-host.status", "--os-release", osRelease,
			"--cache-dir", cache, "--feed", trackerLists + "/DSA/list", "--feed", trackerLists + "/DLA/list", "--feed", osvRealDir, "-o", "json"}
	}
	a, _, errA := runCLI(t, nil, bookworm("")...)
	b, errOut, errB := runCLI(t, nil, bookworm(cacheDir)...)
	if errA != nil || errB != nil || a != b || a != "[]\n" || !strings.Contains(errOut, "8945 from the scan cache") {
		t.Fatalf("bookworm as Debian 11: %v, %v; uncached %q, cached %q\n%s", errA, errB, a, b, errOut)
	}
}

// stripCacheNote removes the cached scan's note from its summary.
func stripCacheNote(s string) string {
	return cacheNoteRE.ReplaceAllString(s, "")
}

var cacheNoteRE = regexp.MustCompile(`, \d+ from the scan cache`)

// TestScanCacheDefaultDir: the cache is under the user cache directory
// (XDG_CACHE_HOME, else HOME/.cache), and there is none without either.
func TestScanCacheDefaultDir(t *testing.T) {
	root := stretchRoot(t)
	list := trackerLists + "/DLA/list"
	xdg, home := t.TempDir(), t.TempDir()
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XDG_CACHE_HOME": xdg, "HOME": home}, filepath.Join(xdg, "patchbay", "scan")},
		{map[string]string{"HOME": home}, filepath.Join(home, ".cache", "patchbay", "scan")},
		{map[string]string{"HOME": home, "PATCHBAY_CACHE_DIR": filepath.Join(home, "elsewhere")}, filepath.Join(home, "elsewhere")},
	} {
		if _, errOut, err := runCLI(t, tc.env, "scan", "--root", root, "--feed", list); err != nil {
			t.Fatalf("%v: %v\n%s", tc.env, err, errOut)
		}
		if idx, _ := filepath.Glob(filepath.Join(tc.want, "*.idx")); len(idx) != 1 {
			t.Errorf("env %v: no index in %s", tc.env, tc.want)
		}
	}
	if _, errOut, err := runCLI(t, nil, "scan", "--root", root, "--feed", list); err != nil || strings.Contains(errOut, "cache") {
		t.Fatalf("without HOME: %v\n%s", err, errOut)
	}
}

var scanBenchRecords = flag.Int("scan-bench-records", 50_000, "records in BenchmarkScan's corpus")

// writeCorpus writes n OSV records to dir: the real Debian records with new
// ids, each naming a source package of bookworm-sources-sample.tsv (or, one
// in ten, a source the Debian 12 host has) in a Debian release from 9 to 12.
func writeCorpus(tb testing.TB, dir string, n int) {
	tb.Helper()
	var templates []map[string]any
	ents, err := os.ReadDir(osvRealDir + "/Debian")
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(osvRealDir, "Debian", e.Name()))
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			tb.Fatal(err)
		}
		templates = append(templates, m)
	}
	names := func(path string, field int) []string {
		b, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		var out []string
		for line := range strings.Lines(string(b)) {
			if f := strings.Fields(line); len(f) > field && !strings.HasPrefix(line, "#") {
				out = append(out, f[field])
			}
		}
		return out
	}
	sample := names("../../internal/version/testdata/bookworm-sources-sample.tsv", 0)
	var host []string
	for _, l := range names("../../internal/pkgdb/testdata/dpkg/bookworm-host.status", 1) {
		host = append(host, l)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		b, _ := json.Marshal(templates[i%len(templates)])
		var m map[string]any
		json.Unmarshal(b, &m)
		id := fmt.Sprintf("PBT-%d", 100000+i)
		m["id"] = id
		name := sample[r.IntN(len(sample))]
		if i%10 == 0 {
			name = host[r.IntN(len(host))]
		}
		for _, a := range m["affected"].([]any) {
			if p, ok := a.(map[string]any)["package"].(map[string]any); ok {
				p["name"] = name
				p["ecosystem"] = fmt.Sprintf("Debian:%d", 9+r.IntN(4))
			}
		}
		b, _ = json.MarshalIndent(m, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, id+".json"), b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkScan runs the real binary on a corpus of -scan-bench-records
// records against the Debian 12 host: "first" with an empty cache, "cached"
// from the index the first left. It reports the median wall time and the
// largest peak RSS of the process.
func BenchmarkScan(b *testing.B) {
	bin, err := buildBinary()
	if err != nil {
		b.Fatal(err)
	}
	corpus := b.TempDir()
	writeCorpus(b, corpus, *scanBenchRecords)
	time.Sleep(2 * time.Second) // a feed that just changed is not cached (see scancache)
	osr := writeFile(b, filepath.Join(b.TempDir(), "os-release"), "ID=debian\nVERSION_ID=12\n")
	scan := func(b *testing.B, cache string) (time.Duration, int64) {
		cmd := exec.Command(bin, "scan", "--dpkg-status", "../../internal/pkgdb/testdata/dpkg/bookworm-host.status",
			"--os-release", osr, "--feed", corpus, "--cache-dir", cache, "-o", "tsv")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("%v\n%s", err, stderr.String())
		}
		d := time.Since(start)
		var rss int64
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = ru.Maxrss
		}
		return d, rss
	}
	for _, mode := range []string{"first", "cached"} {
		b.Run(mode, func(b *testing.B) {
			cache := filepath.Join(b.TempDir(), "cache")
			if mode == "cached" {
				scan(b, cache)
			}
			var times []time.Duration
			var peak int64
			b.ResetTimer()
			for range b.N {
				if mode == "first" {
					os.RemoveAll(cache)
				}
				d, rss := scan(b, cache)
				times = append(times, d)
				peak = max(peak, rss)
			}
			b.StopTimer()
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(peak)/1024, "peak-MiB")
		})
	}
}
