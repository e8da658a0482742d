package match

import (
	"archive/zip"
	"os"
	"path/filepath"
	"testing"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/osv"
)

func TestPlatformOf(t *testing.T) {
	for _, tc := range []struct {
		id, ver string
		want    string
		ok      bool
	}{
		{"debian", "12", "Debian:12", true},
		{"debian", "11.9", "Debian:11", true},
		{"ubuntu", "22.04", "Ubuntu:22.04", true},
		{"alpine", "3.20.3", "Alpine:v3.20", true},
		{"rocky", "9.4", "Rocky Linux:9", true},
		{"almalinux", "9", "AlmaLinux:9", true},
		{"arch", "", "", false},
		{"debian", "", "", false},
		{"alpine", "edge", "", false},
	} {
		p, ok := PlatformOf(map[string]string{"ID": tc.id, "VERSION_ID": tc.ver})
		if ok != tc.ok || (ok && p.String() != tc.want) {
			t.Errorf("PlatformOf(%s %s) = %v, %v; want %s, %v", tc.id, tc.ver, p, ok, tc.want, tc.ok)
		}
	}
}

func record(t *testing.T, js string) *osv.Record {
	t.Helper()
	r, err := osv.Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestMatchBySourceAndRelease(t *testing.T) {
	recs := []*osv.Record{
		record(t, `{"id":"USN-1","modified":"2024-01-01T00:00:00Z","upstream":["CVE-2024-1"],"affected":[{"package":{"ecosystem":"Ubuntu:22.04:LTS","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.2-0ubuntu1.15"}]}]}]}`),
		record(t, `{"id":"USN-2","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Ubuntu:20.04:LTS","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"9"}]}]}]}`),
		record(t, `{"id":"W-1","modified":"2024-01-01T00:00:00Z","withdrawn":"2024-02-01T00:00:00Z","affected":[{"package":{"ecosystem":"Ubuntu:22.04:LTS","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}`),
	}
	ix := NewIndex(recs)
	if ix.Len() != 2 {
		t.Fatalf("Len = %d, want 2 (the withdrawn record left out)", ix.Len())
	}
	pkgs := []patchbay.Package{
		{Ecosystem: "deb", Name: "libssl3", Version: "3.0.2-0ubuntu1.14", Arch: "amd64", SourceName: "openssl"},
		{Ecosystem: "deb", Name: "openssl", Version: "3.0.2-0ubuntu1.15", Arch: "amd64"},
	}
	got, errs := ix.Match(Platform{"Ubuntu", "22.04"}, pkgs, Options{})
	if len(errs) != 0 || len(got) != 1 || got[0].Package.Name != "libssl3" || got[0].Advisory != "USN-1" ||
		got[0].Fixed[0] != "3.0.2-0ubuntu1.15" || got[0].Aliases[0] != "CVE-2024-1" {
		t.Fatalf("Match = %+v, %v; want libssl3 by its source, USN-1 only", got, errs)
	}
	bad := []patchbay.Package{{Ecosystem: "deb", Name: "openssl", Version: "not a version!", Arch: "amd64"}}
	if _, errs := ix.Match(Platform{"Ubuntu", "22.04"}, bad, Options{}); len(errs) == 0 {
		t.Fatal("a version that does not parse was taken as not affected, silently")
	}
}

func TestLoadOSV(t *testing.T) {
	dir := t.TempDir()
	good := `{"id":"DLA-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:9","name":"dpkg"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.18.26"}]}]}]}`
	zpath := filepath.Join(dir, "all.zip")
	f, _ := os.Create(zpath)
	zw := zip.NewWriter(f)
	for name, body := range map[string]string{"DLA-1.json": good, "bad.json": "{", "README": "x"} {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	zw.Close()
	f.Close()
	recs, problems, err := LoadOSV(zpath)
	if err != nil || len(recs) != 1 || len(problems) != 1 || problems[0].File != zpath+":bad.json" {
		t.Fatalf("LoadOSV(zip) = %d records, %v, %v; want 1 record and bad.json reported", len(recs), problems, err)
	}
	single := filepath.Join(dir, "one.json")
	os.WriteFile(single, []byte(good), 0o644)
	if recs, problems, err := LoadOSV(single); err != nil || len(recs) != 1 || len(problems) != 0 {
		t.Fatalf("LoadOSV(file) = %d, %v, %v", len(recs), problems, err)
	}
	if _, _, err := LoadOSV(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("LoadOSV of a missing path: no error")
	}
}
