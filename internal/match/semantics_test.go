package match

import (
	"slices"
	"strings"
	"testing"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/osv"
)

// The matching rules of the issue, one named case each, on Debian 12.
func TestMatchSemantics(t *testing.T) {
	deb := func(id, eco, name, events string) string {
		return `{"id":"` + id + `","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"` + eco + `","name":"` + name + `"},"ranges":[{"type":"ECOSYSTEM","events":[` + events + `]}]}]}`
	}
	recs := []*osv.Record{
		// binNMU: binary 5.2.15-2+b8 of source 5.2.15-2 is at 5.2.15-2.
		record(t, deb("BIN-1", "Debian:12", "bash", `{"introduced":"0"},{"fixed":"5.2.15-2+b1"}`)),
		// a binary with its own epoch is compared by its source's version.
		record(t, deb("EPOCH-1", "Debian:12", "util-linux", `{"introduced":"0"},{"fixed":"2.38.1-5+deb12u4"}`)),
		record(t, deb("EPOCH-2", "Debian:12", "util-linux", `{"introduced":"0"},{"fixed":"2.38.1-5+deb12u3"}`)),
		// releases: Debian:11 never on a 12 host; bare Debian on all.
		record(t, deb("REL-11", "Debian:11", "zlib", `{"introduced":"0"}`)),
		record(t, deb("REL-ALL", "Debian", "zlib", `{"introduced":"0"},{"fixed":"1:1.2.13.dfsg-2"}`)),
		// a GIT range first must not hide the ECOSYSTEM range after it.
		record(t, `{"id":"GIT-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12","name":"curl"},"ranges":[`+
			`{"type":"GIT","repo":"https://github.com/curl/curl","events":[{"introduced":"0"},{"fixed":"abcdef"}]},`+
			`{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"7.88.1-10+deb12u5"}]}]}]}`),
		// limit and last_affected.
		record(t, deb("LIMIT-1", "Debian:12", "curl", `{"introduced":"0"},{"limit":"7.88.1-10"}`)),
		record(t, deb("LAST-1", "Debian:12", "curl", `{"introduced":"0"},{"last_affected":"7.88.1-10+deb12u4"}`)),
		// withdrawn never matches.
		record(t, `{"id":"WD-1","modified":"2024-01-01T00:00:00Z","withdrawn":"2024-01-02T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12","name":"curl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}`),
		// Go modules, whatever the platform.
		record(t, `{"id":"GO-2024-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"stdlib"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.21.8"}]}]}]}`),
	}
	pkgs := []patchbay.Package{
		{Ecosystem: "deb", Name: "bash", Version: "5.2.15-2+b8", Arch: "amd64", SourceName: "bash", SourceVersion: "5.2.15-2"},
		{Ecosystem: "deb", Name: "bsdutils", Version: "1:2.38.1-5+deb12u3", Arch: "amd64", SourceName: "util-linux", SourceVersion: "2.38.1-5+deb12u3"},
		{Ecosystem: "deb", Name: "zlib1g", Version: "1:1.2.13.dfsg-1", Arch: "amd64", SourceName: "zlib"},
		{Ecosystem: "deb", Name: "curl", Version: "7.88.1-10+deb12u4", Arch: "amd64"},
		{Ecosystem: "go", Name: "stdlib", Version: "1.21.7", SourceName: "/usr/local/bin/tool"},
	}
	got, errs := NewIndex(recs).Match(Platform{"Debian", "12"}, pkgs, Options{})
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	var pairs []string
	for _, f := range got {
		pairs = append(pairs, f.Package.Name+" "+f.Advisory)
	}
	want := []string{"bash BIN-1", "bsdutils EPOCH-1", "curl GIT-1", "curl LAST-1", "stdlib GO-2024-1", "zlib1g REL-ALL"}
	if !slices.Equal(pairs, want) {
		t.Fatalf("findings %q\nwant %q", pairs, want)
	}
	for _, f := range got {
		if len(f.Why) == 0 || f.Matched.Name == "" || f.Severity == "" {
			t.Errorf("%s %s: no explanation: %+v", f.Package.Name, f.Advisory, f)
		}
	}
	git := got[2]
	if git.Why[0] != "Debian:12 affected[0]: ranges[1] ECOSYSTEM: introduced 0 <= 7.88.1-10+deb12u4 < fixed 7.88.1-10+deb12u5" {
		t.Errorf("GIT-1 explained as %q", git.Why)
	}
	if bsd := got[1]; bsd.Matched != (Key{"Debian:12", "util-linux", "2.38.1-5+deb12u3"}) {
		t.Errorf("bsdutils compared as %+v, want its source's version", bsd.Matched)
	}
}

func TestKernelsNotRunning(t *testing.T) {
	rec := record(t, `{"id":"DSA-K","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12","name":"linux"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"6.1.66-1"}]}]}]}`)
	old := patchbay.Package{Ecosystem: "deb", Name: "linux-image-6.1.0-13-amd64", Version: "6.1.55-1", Arch: "amd64", SourceName: "linux"}
	cur := patchbay.Package{Ecosystem: "deb", Name: "linux-image-6.1.0-17-amd64", Version: "6.1.69-1", Arch: "amd64", SourceName: "linux"}
	ix := NewIndex([]*osv.Record{rec})
	names := func(fs []Finding) string {
		var s []string
		for _, f := range fs {
			s = append(s, f.Package.Name)
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct {
		running, want string
	}{
		{"6.1.0-17-amd64", ""},                           // booted the fix: the old image on disk is no finding
		{"6.1.0-13-amd64", "linux-image-6.1.0-13-amd64"}, // fix installed, not booted: still exposed
		{"", "linux-image-6.1.0-13-amd64"},               // running kernel unknown: every installed image
		{"5.10.0-1-amd64", "linux-image-6.1.0-13-amd64"}, // running one not installed as a package: every image
	} {
		got, _ := ix.Match(Platform{"Debian", "12"}, []patchbay.Package{old, cur}, Options{RunningKernel: tc.running})
		if names(got) != tc.want {
			t.Errorf("running %q: findings on %q, want %q", tc.running, names(got), tc.want)
		}
	}
	rpm := []patchbay.Package{
		{Ecosystem: "rpm", Name: "kernel-core", Version: "5.14.0-362.8.1.el9_3", Arch: "x86_64"},
		{Ecosystem: "rpm", Name: "kernel-core", Version: "5.14.0-427.13.1.el9_4", Arch: "x86_64"},
		{Ecosystem: "rpm", Name: "bash", Version: "5.1.8-6.el9_1", Arch: "x86_64"},
	}
	skip := KernelsNotRunning(rpm, "5.14.0-427.13.1.el9_4.x86_64")
	if !skip[0] || skip[1] || skip[2] {
		t.Errorf("rpm: skipped %v, want only the kernel not running", skip)
	}
}
