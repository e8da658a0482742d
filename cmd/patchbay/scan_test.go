package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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
