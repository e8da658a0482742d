package pkgmgr

import (
	"fmt"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/internal/protocol"
)

// parseAptTestdata runs the four parsers over one set of captured outputs
// (PREFIX-simulate.txt, PREFIX-policy-files.txt, ...) and joins them.
func parseAptTestdata(t *testing.T, prefix string) []AptUpdate {
	t.Helper()
	sim, err := parseAptSimulation(readTestdata(t, "apt/"+prefix+"simulate.txt"))
	if err != nil {
		t.Fatalf("parseAptSimulation: %v", err)
	}
	files, err := parseAptPolicyFiles(readTestdata(t, "apt/"+prefix+"policy-files.txt"))
	if err != nil {
		t.Fatalf("parseAptPolicyFiles: %v", err)
	}
	pols, err := parseAptPolicyPackages(readTestdata(t, "apt/"+prefix+"policy-pkgs.txt"))
	if err != nil {
		t.Fatalf("parseAptPolicyPackages: %v", err)
	}
	srcs, err := parseAptShow(readTestdata(t, "apt/"+prefix+"show.txt"))
	if err != nil {
		t.Fatalf("parseAptShow: %v", err)
	}
	ups, err := joinApt(sim, files, pols, srcs)
	if err != nil {
		t.Fatalf("joinApt: %v", err)
	}
	return ups
}

func renderUpdates(ups []AptUpdate) string {
	var b strings.Builder
	for _, u := range ups {
		fmt.Fprintf(&b, "%s %s %s -> %s src %s %s origin %q archive %q security %v\n", u.Name, u.Arch, u.FromVersion, u.ToVersion,
			u.SourceName, u.SourceVersion, u.Origin, u.Archive, u.Security)
		for _, r := range u.Releases {
			fmt.Fprintf(&b, "  %+v\n", r)
		}
	}
	return b.String()
}

// The real output apt 2.6 printed for TestAptUpdates' fixture
// (testdata/README.md).
func TestParseAptCaptured(t *testing.T) {
	got := renderUpdates(parseAptTestdata(t, ""))
	want := `both-pb all 3.0 -> 3.1 src both-pb 3.1 origin "Debian" archive "bookworm-security" security true
  {Index:file:/tmp/pbtest/repo-main ./ Packages Origin:Patchbay Test Label:Patchbay Test Archive:stable Codename:bookworm Version: Component: Site:}
  {Index:file:/tmp/pbtest/repo-security ./ Packages Origin:Debian Label:Debian-Security Archive:bookworm-security Codename:bookworm-security Version: Component: Site:}
hello-pb all 1.0 -> 1.1 src hello-pb 1.1 origin "Patchbay Test" archive "stable" security false
  {Index:file:/tmp/pbtest/repo-main ./ Packages Origin:Patchbay Test Label:Patchbay Test Archive:stable Codename:bookworm Version: Component: Site:}
libhello-pb1 all 1.0-1 -> 1.0-1+b1 src hello-pb-src 1.0-1 origin "Patchbay Test" archive "stable" security false
  {Index:file:/tmp/pbtest/repo-main ./ Packages Origin:Patchbay Test Label:Patchbay Test Archive:stable Codename:bookworm Version: Component: Site:}
native-pb amd64 1:1.0-1 -> 1:1.0-2 src native-pb 1:1.0-2 origin "Patchbay Test" archive "stable" security false
  {Index:file:/tmp/pbtest/repo-main ./ Packages Origin:Patchbay Test Label:Patchbay Test Archive:stable Codename:bookworm Version: Component: Site:}
sec-pb all 2.0 -> 2.0+deb12u1 src sec-pb 2.0+deb12u1 origin "Debian" archive "bookworm-security" security true
  {Index:file:/tmp/pbtest/repo-security ./ Packages Origin:Debian Label:Debian-Security Archive:bookworm-security Codename:bookworm-security Version: Component: Site:}
`
	if got != want {
		t.Errorf("captured apt output joins to\n%s\nwant\n%s", got, want)
	}
}

// The hand-written output of a Debian 12 host with multiarch and several
// suites (testdata/README.md): a foreign-architecture package, a candidate
// in both the main and the security suite, a new package pulled in (not
// an update), a label with commas.
func TestParseAptHost(t *testing.T) {
	ups := parseAptTestdata(t, "host-")
	var got strings.Builder
	for _, u := range ups {
		fmt.Fprintf(&got, "%s %s %s -> %s src %s %s %s/%s sec=%v releases=%d\n", u.Name, u.Arch, u.FromVersion, u.ToVersion,
			u.SourceName, u.SourceVersion, u.Origin, u.Archive, u.Security, len(u.Releases))
	}
	want := `base-files amd64 12.4+deb12u7 -> 12.4+deb12u8 src base-files 12.4+deb12u8 Debian/stable sec=false releases=1
libc-bin amd64 2.36-9+deb12u8 -> 2.36-9+deb12u9 src glibc 2.36-9+deb12u9 Debian/stable sec=false releases=1
libc6 amd64 2.36-9+deb12u8 -> 2.36-9+deb12u9 src glibc 2.36-9+deb12u9 Debian/stable sec=false releases=1
libc6 i386 2.36-9+deb12u8 -> 2.36-9+deb12u9 src glibc 2.36-9+deb12u9 Debian/stable sec=false releases=1
openssh-client amd64 1:9.2p1-2+deb12u3 -> 1:9.2p1-2+deb12u4 src openssh 1:9.2p1-2+deb12u4 Debian/stable-security sec=true releases=2
openssh-server amd64 1:9.2p1-2+deb12u3 -> 1:9.2p1-2+deb12u4 src openssh 1:9.2p1-2+deb12u4 Debian/stable-security sec=true releases=2
tzdata all 2024a-0+deb12u1 -> 2024b-0+deb12u1 src tzdata 2024b-0+deb12u1 Debian/stable-updates sec=false releases=2
`
	if got.String() != want {
		t.Errorf("host apt output joins to\n%s\nwant\n%s", got.String(), want)
	}
	if r := ups[4].Releases[1]; r.Site != "deb.debian.org" || r.Codename != "bookworm-security" || r.Label != "Debian-Security" || r.Version != "12" || r.Component != "main" {
		t.Errorf("openssh-client's security release: %+v", r)
	}
	files, _ := parseAptPolicyFiles(readTestdata(t, "apt/host-policy-files.txt"))
	ex := files["https://download.example.com/apt stable/main amd64 Packages"]
	if ex.Origin != "Example, Inc." || ex.Label != "Example, Inc. Tools" || ex.Archive != "stable" {
		t.Errorf("release with commas in its values: %+v", ex)
	}
	if _, ok := files["https://download.example.com/apt testing/main amd64 Packages"]; !ok || len(files) != 10 {
		t.Errorf("%d package files (a negative priority among them?): %v", len(files), files)
	}
}

func TestAptReleaseSecurity(t *testing.T) {
	tests := []struct {
		r    AptRelease
		want bool
	}{
		{AptRelease{Origin: "Debian", Label: "Debian-Security", Archive: "stable-security", Codename: "bookworm-security"}, true},
		{AptRelease{Origin: "Ubuntu", Label: "Ubuntu", Archive: "jammy-security", Codename: "jammy"}, true},
		{AptRelease{Origin: "UbuntuESMApps", Label: "Ubuntu", Archive: "jammy-apps-security", Codename: "jammy"}, true},
		{AptRelease{Origin: "Debian", Label: "Debian", Archive: "oldstable-security"}, true},
		{AptRelease{Origin: "Ubuntu", Label: "Ubuntu", Archive: "jammy-updates", Codename: "jammy"}, false},
		{AptRelease{Origin: "Debian", Label: "Debian", Archive: "stable", Codename: "bookworm"}, false},
		{AptRelease{Origin: "Debian Backports", Label: "Debian Backports", Archive: "stable-backports"}, false},
		{AptRelease{Origin: "Example", Label: "Example Security Tools", Archive: "stable"}, true},
		{AptRelease{}, false},
	}
	for _, tc := range tests {
		if got := tc.r.Security(); got != tc.want {
			t.Errorf("%+v.Security() = %v; want %v", tc.r, got, tc.want)
		}
	}
}

func TestParseAptSimulationLines(t *testing.T) {
	tests := []struct {
		line string
		want string // "name arch from to release", "" for a skipped line, "error: ..." for an error
	}{
		{"Inst a [1.0] (1.1 Debian:12.8/stable [amd64])", "a amd64 1.0 1.1 Debian:12.8/stable"},
		{"Inst a:i386 [1.0] (1.1 Debian:12.8/stable [i386]) []", "a:i386 i386 1.0 1.1 Debian:12.8/stable"},
		{"Inst a [1.0] (1.1 Debian:12/stable-security, Debian:12.8/stable [all]) [b on c] [d ]", "a all 1.0 1.1 Debian:12/stable-security, Debian:12.8/stable"},
		{"Inst a [1.0] (1.1 localhost [all])", "a all 1.0 1.1 localhost"},
		{"Inst a [1:1.0~rc1+dfsg-1] (1:1.0+dfsg-1 Label With Spaces:suite [arm64])", "a arm64 1:1.0~rc1+dfsg-1 1:1.0+dfsg-1 Label With Spaces:suite"},
		{"Inst new-pkg (1.0 Debian:12.8/stable [amd64])", ""},
		{"Conf a (1.1 Debian:12.8/stable [amd64])", ""},
		{"Remv a [1.0]", ""},
		{"Inst A [1.0] (1.1 x [amd64])", "error: package name"},
		{"Inst a [1.0 (1.1 x [amd64])", "error: no ] after"},
		{"Inst a [1.0] 1.1 x [amd64]", "error: no ( before"},
		{"Inst a [1.0] (1.1 x)", "error: no [ARCH])"},
		{"Inst a [1.0] (1.1 x [amd64]) trailing", "error: unexpected text"},
		{"Inst a:i386 [1.0] (1.1 x [amd64])", "error: package a:i386, candidate architecture amd64"},
		{"Inst a [1.0] (x:y [amd64])", "error: "},
		{"Inst a [] (1.1 x [amd64])", "error: "},
		{"Inst a [1.0] (1.1 x [AMD64])", "error: architecture"},
		{"Inst a [1.0] (1.1 x\x01 [amd64])", "error: line 1: control character"},
	}
	for _, tc := range tests {
		ups, err := parseAptSimulation([]byte(tc.line + "\n"))
		var got string
		switch {
		case err != nil:
			got = "error: " + err.Error()
		case len(ups) == 1:
			u := ups[0]
			got = strings.Join([]string{u.name, u.arch, u.from, u.to, u.release}, " ")
		case len(ups) > 1:
			got = fmt.Sprint(ups)
		}
		ok := got == tc.want
		if want, isErr := strings.CutPrefix(tc.want, "error: "); isErr {
			ok = err != nil && strings.Contains(err.Error(), want)
		}
		if !ok {
			t.Errorf("parseAptSimulation(%q) = %q; want %q", tc.line, got, tc.want)
		}
	}
	if _, err := parseAptSimulation([]byte("Inst a [1] (2 x [all])\nInst a [1] (2 x [all])\n")); err == nil {
		t.Error("parseAptSimulation(a package twice): no error")
	}
}

func TestParseAptErrors(t *testing.T) {
	if _, err := parseAptPolicyFiles([]byte("Paketdateien:\n")); err == nil {
		t.Error("parseAptPolicyFiles(translated output): no error")
	}
	if _, err := parseAptPolicyFiles([]byte("")); err == nil {
		t.Error("parseAptPolicyFiles(nothing): no error")
	}
	if _, err := parseAptPolicyFiles([]byte("Package files:\n 500\n")); err == nil {
		t.Error("parseAptPolicyFiles(priority without index): no error")
	}
	if _, err := parseAptPolicyFiles([]byte("Package files:\n 500 x\n     release q=1\n")); err == nil {
		t.Error("parseAptPolicyFiles(unknown release field): no error")
	}
	for _, in := range []string{
		"  Installed: 1\n",         // outside a package
		"a:\n  Installed\n",        // no value
		"a:\n     1.0 x\n",         // priority not a number
		"a:\n        500 idx\n",    // index before a version
		"a:\n   odd indentation\n", // 3 spaces
		"a:\na:\n",                 // twice
		"a b:\n",                   // space in the name
	} {
		if _, err := parseAptPolicyPackages([]byte(in)); err == nil {
			t.Errorf("parseAptPolicyPackages(%q): no error", in)
		}
	}
	for _, in := range []string{
		"Package: a\nVersion: 1\nArchitecture: all\nSource: b (1\n",
		"Package: a\nVersion: 1\nArchitecture: all\nSource: B\n",
		"Package: a\nVersion: 1\nArchitecture: all\nSource: b (x y)\n",
		"Package: a\nVersion: 1\n",
		" continuation\n",
		"no colon\n",
		"Package: a\nVersion: 1\nArchitecture: all\nSource: b\n\nPackage: a\nVersion: 1\nArchitecture: all\nSource: c\n",
	} {
		if _, err := parseAptShow([]byte(in)); err == nil {
			t.Errorf("parseAptShow(%q): no error", in)
		}
	}
}

// A candidate the other commands know nothing of is an error, never an
// update with empty fields.
func TestJoinAptMissing(t *testing.T) {
	sim := []aptInst{{name: "a", arch: "all", from: "1", to: "2"}}
	files := map[string]AptRelease{"idx": {Index: "idx", Archive: "stable"}}
	pols := map[string]aptPolicy{"a": {candidate: "2", versions: map[string][]string{"2": {"idx"}}}}
	srcs := map[aptShowKey]aptSource{{"a", "all", "2"}: {"a", "2"}}
	if ups, err := joinApt(sim, files, pols, srcs); err != nil || len(ups) != 1 ||
		fmt.Sprint(ups[0].Update) != fmt.Sprint(protocol.Update{Ecosystem: "deb", Name: "a", Arch: "all", FromVersion: "1", ToVersion: "2", SourceName: "a", SourceVersion: "2", Archive: "stable"}) {
		t.Fatalf("joinApt = %+v, %v", ups, err)
	}
	for name, f := range map[string]func(){
		"no show record":  func() { srcs = map[aptShowKey]aptSource{} },
		"no policy":       func() { pols = map[string]aptPolicy{} },
		"other candidate": func() { pols["a"] = aptPolicy{candidate: "3", versions: pols["a"].versions} },
		"unknown index":   func() { files = map[string]AptRelease{} },
		"only the status file": func() {
			pols["a"] = aptPolicy{candidate: "2", versions: map[string][]string{"2": {"/var/lib/dpkg/status"}}}
		},
	} {
		saveS, saveP, saveF := srcs, map[string]aptPolicy{"a": pols["a"]}, files
		f()
		if _, err := joinApt(sim, files, pols, srcs); err == nil {
			t.Errorf("joinApt with %s: no error", name)
		}
		srcs, pols, files = saveS, saveP, saveF
	}
}
