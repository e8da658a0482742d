package pkgmgr

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestActionValidate(t *testing.T) {
	good := []Action{
		{Name: "openssh-server", Version: "1:9.2p1-2+deb12u3"},
		{Name: "libc6", Arch: "i386", Version: "2.36-9+deb12u9"},
		{Name: "g++", Arch: "all", Version: "4:12.2.0-3"},
		{Name: "0ad", Version: "0.0.26-3~bpo12+1"},
	}
	for _, a := range good {
		if err := a.Validate(); err != nil {
			t.Errorf("%+v.Validate() = %v; want nil", a, err)
		}
	}
	bad := []struct {
		a    Action
		want string
	}{
		{Action{Name: "-oAPT::Get::Trivial-Only=1", Version: "1.0"}, `action "-oAPT::Get::Trivial-Only=1=1.0": package name`},
		{Action{Name: "--reinstall", Version: "1.0"}, "package name"},
		{Action{Name: "Hello", Version: "1.0"}, `character 'H' not allowed`},
		{Action{Name: "hello world", Version: "1.0"}, "not allowed"},
		{Action{Name: "", Version: "1.0"}, "empty"},
		{Action{Name: "hello", Version: "-1.0"}, `version "-1.0"`},
		{Action{Name: "hello", Version: "1.0 --force-all"}, "not allowed"},
		{Action{Name: "hello", Version: "1.0;reboot"}, "not allowed"},
		{Action{Name: "hello", Version: "a1.0"}, "digit"},
		{Action{Name: "hello", Version: ""}, "empty"},
		{Action{Name: "hello", Version: "1.0\n"}, "not allowed"},
		{Action{Name: "hello", Arch: "-amd64", Version: "1.0"}, "starts with -"},
		{Action{Name: "hello", Arch: "amd64 ", Version: "1.0"}, "not allowed"},
	}
	for _, tc := range bad {
		err := tc.a.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "action ") {
			t.Errorf("%+v.Validate() = %v; want an error naming the action, with %q", tc.a, err, tc.want)
		}
	}
	if err := validateActions([]Action{{Name: "a", Version: "1"}, {Name: "a", Version: "2"}}); err == nil || !strings.Contains(err.Error(), "named twice") {
		t.Errorf("validateActions(a twice) = %v", err)
	}
	if err := validateActions(nil); err == nil {
		t.Error("validateActions(nil): no error")
	}
}

func TestActionSpecs(t *testing.T) {
	for _, tc := range []struct {
		a          Action
		spec, file string
	}{
		{Action{"hello", "", "1.0"}, "hello=1.0", "hello_1.0_all.deb"},
		{Action{"hello", "all", "1.0"}, "hello=1.0", "hello_1.0_all.deb"},
		{Action{"libc6", "i386", "2.36-9"}, "libc6:i386=2.36-9", "libc6_2.36-9_i386.deb"},
		{Action{"openssh-server", "amd64", "1:9.2p1-2"}, "openssh-server:amd64=1:9.2p1-2", "openssh-server_1%3a9.2p1-2_amd64.deb"},
	} {
		arch := tc.a.Arch
		if arch == "" {
			arch = "all"
		}
		if got := tc.a.aptSpec(); got != tc.spec {
			t.Errorf("%+v.aptSpec() = %q; want %q", tc.a, got, tc.spec)
		}
		if got := debFileName(tc.a.Name, tc.a.Version, arch); got != tc.file {
			t.Errorf("debFileName(%+v) = %q; want %q", tc.a, got, tc.file)
		}
	}
}

// render prints states one a line, for comparisons.
func render(pkgs []PackageState) string {
	var b strings.Builder
	for _, p := range pkgs {
		fmt.Fprintf(&b, "%s %s %q want=%s status=%s reinstreq=%v broken=%v\n", p.ref, p.Arch, p.Version, p.Want, p.Status, p.ReinstReq, p.Broken())
	}
	return b.String()
}

func TestParseDpkgQueryCaptured(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"dpkg/query.txt", `story-pb all "1.1" want=install status=installed reinstreq=false broken=false
storylib-pb all "1.1" want=install status=installed reinstreq=false broken=false
`},
		{"dpkg/query-broken.txt", `story-pb all "1.2" want=install status=half-configured reinstreq=false broken=true
storylib-pb all "1.1" want=install status=installed reinstreq=false broken=false
`},
		{"dpkg/query-held.txt", `story-pb all "1.0" want=hold status=installed reinstreq=false broken=false
storylib-pb all "1.0" want=install status=installed reinstreq=false broken=false
`},
		{"dpkg/host-query.txt", `adduser all "3.134" want=install status=installed reinstreq=false broken=false
base-files amd64 "12.4+deb12u8" want=install status=installed reinstreq=false broken=false
initramfs-tools all "0.142" want=install status=triggers-pending reinstreq=false broken=true
libc6:amd64 amd64 "2.36-9+deb12u9" want=install status=installed reinstreq=false broken=false
libc6:i386 i386 "2.36-9+deb12u9" want=install status=installed reinstreq=false broken=false
linux-image-6.1.0-25-amd64 amd64 "6.1.106-3" want=deinstall status=config-files reinstreq=false broken=false
man-db amd64 "2.11.2-2" want=install status=triggers-awaited reinstreq=false broken=true
nginx amd64 "1.22.1-9" want=install status=unpacked reinstreq=false broken=true
ntp  "" want=unknown status=not-installed reinstreq=false broken=false
openssh-server amd64 "1:9.2p1-2+deb12u3" want=hold status=installed reinstreq=false broken=false
postgresql-15 amd64 "15.8-0+deb12u1" want=install status=half-configured reinstreq=false broken=true
telnet  "" want=purge status=not-installed reinstreq=false broken=false
tzdata all "2024a-0+deb12u1" want=install status=half-installed reinstreq=true broken=true
`},
	} {
		pkgs, err := parseDpkgQuery(readTestdata(t, tc.file))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if got := render(pkgs); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.file, got, tc.want)
		}
	}
	pkgs, _ := parseDpkgQuery(readTestdata(t, "dpkg/host-query.txt"))
	s := snapshot(pkgs)
	for _, tc := range []struct{ name, arch, want string }{
		{"libc6", "i386", "2.36-9+deb12u9 installed"},
		{"openssh-server", "", "1:9.2p1-2+deb12u3 installed, held"},
		{"tzdata", "", "2024a-0+deb12u1 half-installed, reinstallation required"},
		{"ntp", "", "not installed"},
		{"absent", "amd64", "not installed"},
	} {
		if got := s.find(tc.name, tc.arch).String(); got != tc.want {
			t.Errorf("find(%s, %q) = %s; want %s", tc.name, tc.arch, got, tc.want)
		}
	}
}

func TestParseDpkgQueryErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ii \thello\tall\n", "3 fields"},
		{"ii\thello\tall\t1.0\n", "three letters"},
		{"xi \thello\tall\t1.0\n", "unknown selection"},
		{"iX \thello\tall\t1.0\n", "unknown status"},
		{"iiX\thello\tall\t1.0\n", "unknown error flag"},
		{"ii \tHello\tall\t1.0\n", "not allowed"},
		{"ii \t-hello\tall\t1.0\n", "not allowed"},
		{"ii \thello\tall\t\n", "without a version"},
		{"ii \thello\tall\t1.0 2\n", "not a version"},
		{"ii \tlibc6:i386\tamd64\t1.0\n", "architecture"},
		{"ii \thello\tall\t1.0\nii \thello\tall\t1.1\n", "twice"},
		{"ii \thello\tall\t1.0\x1b\n", "control character"},
	} {
		if pkgs, err := parseDpkgQuery([]byte(tc.in)); err == nil || pkgs != nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseDpkgQuery(%q) = %v, %v; want an error with %q", tc.in, pkgs, err, tc.want)
		}
	}
}

func TestChanges(t *testing.T) {
	before := snapshot{
		{Name: "a", Arch: "all", Version: "1.0", Want: "install", Status: "installed"},
		{Name: "b", Arch: "all", Version: "1.0", Want: "install", Status: "installed"},
		{Name: "gone", Arch: "all", Version: "1.0", Want: "install", Status: "installed"},
		{Name: "same", Arch: "all", Version: "1.0", Want: "install", Status: "installed"},
	}
	after := snapshot{
		{Name: "a", Arch: "all", Version: "1.1", Want: "install", Status: "installed"},
		{Name: "b", Arch: "all", Version: "1.0", Want: "install", Status: "half-configured"},
		{Name: "new", Arch: "amd64", Version: "2.0", Want: "install", Status: "installed"},
		{Name: "same", Arch: "all", Version: "1.0", Want: "install", Status: "installed"},
	}
	var got []string
	for _, c := range changes(before, after) {
		got = append(got, fmt.Sprintf("%s: %s -> %s", c[1].Name, c[0], c[1]))
	}
	want := []string{
		"a: 1.0 installed -> 1.1 installed",
		"b: 1.0 installed -> 1.0 half-configured",
		"new: not installed -> 2.0 installed",
		"gone: 1.0 installed -> not installed",
	}
	if !slices.Equal(got, want) {
		t.Errorf("changes:\n got %q\nwant %q", got, want)
	}
}

func TestParseDpkgList(t *testing.T) {
	render := func(files []packageFile) string {
		var lines []string
		for _, f := range files {
			if f.onDisk == f.path {
				lines = append(lines, f.path)
			} else {
				lines = append(lines, f.path+" at "+f.onDisk)
			}
		}
		return strings.Join(lines, "\n")
	}
	for _, tc := range []struct{ file, want string }{
		{"dpkg/list-diverted-by.txt", `/etc
/etc/story-pb.conf
/usr
/usr/lib
/usr/lib/story-pb
/usr/lib/story-pb/run
/usr/share
/usr/share/story-pb
/usr/share/story-pb/data at /usr/share/story-pb/data.real`},
		{"dpkg/list-local-diversion.txt", `/etc
/etc/storylib-pb.conf
/usr
/usr/lib
/usr/lib/storylib-pb
/usr/lib/storylib-pb/run
/usr/share
/usr/share/storylib-pb
/usr/share/storylib-pb/data at /usr/share/storylib-pb/data.distrib`},
		// The diverting package's own files stay where they are.
		{"dpkg/host-list-dash.txt", `/bin
/bin/dash
/bin/sh
/usr
/usr/share
/usr/share/man
/usr/share/man/man1
/usr/share/man/man1/dash.1.gz
/usr/share/man/man1/sh.1.gz`},
	} {
		files, err := parseDpkgList(readTestdata(t, tc.file))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if got := render(files); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.file, got, tc.want)
		}
	}
	if files, err := parseDpkgList([]byte("Package 'empty-pb' does not contain any files (!)\n")); err != nil || len(files) != 0 {
		t.Errorf("a package without files: %v, %v", files, err)
	}
	for _, tc := range []struct{ in, want string }{
		{"/usr/../etc/shadow\n", "not clean"},
		{"usr/bin/x\n", "not a path"},
		{"/usr//bin\n", "not clean"},
		{"/usr/bin/\n", "not clean"},
		{"diverted by dash to: /bin/sh.distrib\n", "without a path"},
		{"/bin/sh\ndiverted by Dash to: /bin/sh.distrib\n", "not allowed"},
		{"/bin/sh\ndiverted by dash to: ../sh\n", "not absolute"},
		{"/bin/sh\nrenamed to: /x\n", "not a path nor a diversion"},
		{"/bin/sh\n/bin/sh\n", "twice"},
		{"/bin/sh\nPackage 'x' does not contain any files (!)\n", "after files"},
	} {
		if files, err := parseDpkgList([]byte(tc.in)); err == nil || files != nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseDpkgList(%q) = %v, %v; want an error with %q", tc.in, files, err, tc.want)
		}
	}
}

func TestParseStatusStanza(t *testing.T) {
	rc, err := parseStatusStanza(readTestdata(t, "dpkg/status-story-pb.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := `Package: story-pb
Maintainer: Patchbay Tests <tests@patchbay.invalid>
Architecture: all
Version: 1.0
Depends: storylib-pb (>= 1.0)
Description: patchbay deployment test package
 a package the pkgmgr tests install,
 .
 upgrade and roll back in a throwaway root
`
	if rc.control != want || rc.pkg != (Action{"story-pb", "all", "1.0"}) || !slices.Equal(rc.conffiles, []string{"/etc/story-pb.conf"}) {
		t.Errorf("status-story-pb.txt: %+v; want control\n%s", rc, want)
	}

	rc, err = parseStatusStanza(readTestdata(t, "dpkg/host-status-openssh-server.txt"))
	if err != nil {
		t.Fatal(err)
	}
	wantConf := []string{"/etc/default/ssh", "/etc/init.d/ssh", "/etc/pam.d/sshd", "/etc/ssh/moduli", "/etc/ufw/applications.d/openssh-server"}
	if !slices.Equal(rc.conffiles, wantConf) {
		t.Errorf("openssh-server conffiles = %q; want %q (not the obsolete nor the remove-on-upgrade one)", rc.conffiles, wantConf)
	}
	for _, field := range []string{"Status:", "Config-Version:", "Conffiles:", "Triggers-Pending:", " /etc/default/ssh"} {
		if strings.Contains(rc.control, field) {
			t.Errorf("openssh-server control has %q:\n%s", field, rc.control)
		}
	}
	for _, field := range []string{"Pre-Depends: init-system-helpers (>= 1.54~)\n", " and for executing commands on a remote machine.\nHomepage: https://www.openssh.com/\n"} {
		if !strings.Contains(rc.control, field) {
			t.Errorf("openssh-server control lacks %q:\n%s", field, rc.control)
		}
	}
	if rc.pkg != (Action{"openssh-server", "amd64", "1:9.2p1-2+deb12u3"}) {
		t.Errorf("openssh-server: %+v", rc.pkg)
	}

	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"Package: a\nVersion: 1\n", "architecture"},
		{"Package: a\nArchitecture: all\n", "empty version"},
		{"Package: a\nArchitecture: all\nVersion: 1\n\nPackage: b\n", "more than one stanza"},
		{" continuation\nPackage: a\n", "before any field"},
		{"Package: a\nPackage: b\n", "twice"},
		{"Package a\n", "not \"Field: value\""},
		{"Package: a\nArchitecture: all\nVersion: 1\nConffiles:\n /etc/a\n", "PATH HASH"},
		{"Package: a\nArchitecture: all\nVersion: 1\nConffiles:\n ../etc/a 0123\n", "not absolute"},
		{"Package: a\nArchitecture: all\nVersion: 1\nConffiles:\n /etc/a 0123 weird\n", "unknown flag"},
		{"Package: a\r\nArchitecture: all\n", "control character"},
	} {
		if _, err := parseStatusStanza([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseStatusStanza(%q) = %v; want an error with %q", tc.in, err, tc.want)
		}
	}
}

func TestParseMD5Sums(t *testing.T) {
	sums, err := parseMD5Sums(readTestdata(t, "dpkg/md5sums-story-pb.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 3 || sums["/usr/share/story-pb/data"] != "8a4bd9f0872453a1b2cda209d2e67451" {
		t.Errorf("md5sums-story-pb.txt: %v", sums)
	}
	sums, err = parseMD5Sums([]byte("d41d8cd98f00b204e9800998ecf8427e  usr/share/doc/a b/with space\n"))
	if err != nil || sums["/usr/share/doc/a b/with space"] == "" {
		t.Errorf("a path with a space: %v, %v", sums, err)
	}
	for _, tc := range []struct{ in, want string }{
		{"d41d8cd98f00b204e9800998ecf8427e usr/bin/x\n", "HASH  PATH"},
		{"D41D8CD98F00B204E9800998ECF8427E  usr/bin/x\n", "hex"},
		{"d41d8cd98f00b204e9800998ecf8427e  ../etc/shadow\n", "not clean"},
		{"d41d8cd98f00b204e9800998ecf8427e  a\nd41d8cd98f00b204e9800998ecf8427e  a\n", "twice"},
	} {
		if _, err := parseMD5Sums([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseMD5Sums(%q) = %v; want an error with %q", tc.in, err, tc.want)
		}
	}
}

func TestParseDebShow(t *testing.T) {
	a, err := parseDebShow([]byte("story-pb\tall\t1.1\n"))
	if err != nil || a != (Action{"story-pb", "all", "1.1"}) {
		t.Errorf("parseDebShow = %+v, %v", a, err)
	}
	for _, in := range []string{"", "story-pb\tall\n", "story-pb\tall\t1.1\nother\tall\t1\n", "Story\tall\t1\n", "a\tall\t1 1\n", "a\tall\t \n"} {
		if _, err := parseDebShow([]byte(in)); err == nil {
			t.Errorf("parseDebShow(%q): no error", in)
		}
	}
}

func TestOutputLog(t *testing.T) {
	l := &outputLog{head: 10, tail: 20}
	l.Write([]byte("0123456789abc"))
	if got := l.String(); got != "0123456789abc" {
		t.Errorf("short output: %q", got)
	}
	for range 100 {
		l.Write([]byte("xxxxxxxxxx"))
	}
	l.Write([]byte("...the end"))
	got := l.String()
	if !strings.HasPrefix(got, "0123456789\n[... 993 bytes left out ...]\n") || !strings.HasSuffix(got, "xxxxxxxxxx...the end") || len(got) > 10+20+40 {
		t.Errorf("long output: %q", got)
	}
}

func TestStderrLockMessages(t *testing.T) {
	for _, s := range []string{
		"dpkg: error: dpkg frontend lock was locked by another process with pid 15954",
		"dpkg: error: dpkg database lock was locked by another process with pid 16048",
		"dpkg: error: dpkg status database is locked by another process",
	} {
		if !dpkgLocked(s) {
			t.Errorf("dpkgLocked(%q) = false", s)
		}
	}
	if dpkgLocked("dpkg: error processing package story-pb (--configure):") {
		t.Error("dpkgLocked took a package error for a lock")
	}
}

func TestAptProblems(t *testing.T) {
	dep := string(readTestdata(t, "apt/install-held-dependency.txt"))
	if got := aptProblems(dep, "story-pb"); !slices.Equal(got, []string{"story-pb : Depends: storylib-pb (>= 1.1) but 1.0 is to be installed"}) {
		t.Errorf("aptProblems(install-held-dependency.txt) = %q", got)
	}
	if got := aptProblems(dep, "storylib-pb"); got != nil {
		t.Errorf("aptProblems(install-held-dependency.txt, storylib-pb) = %q; want none", got)
	}
	if got := aptProblems(string(readTestdata(t, "apt/install-broken.txt")), "story-pb"); got != nil {
		t.Errorf("aptProblems(install-broken.txt) = %q; want none", got)
	}
	// Several dependencies, and an alternative continued on the next line.
	multi := `The following packages have unmet dependencies:
 story-pb : Depends: base-files-pb but it is not installable or
                     dpkg-pb but it is not installable
            Depends: storylib-pb (>= 1.1) but 1.0 is to be installed
 other-pb : Depends: story-pb (= 1.1) but 1.0 is to be installed
E: Unable to correct problems, you have held broken packages.
`
	want := []string{"story-pb : Depends: base-files-pb but it is not installable or", "dpkg-pb but it is not installable",
		"Depends: storylib-pb (>= 1.1) but 1.0 is to be installed"}
	if got := aptProblems(multi, "story-pb"); !slices.Equal(got, want) {
		t.Errorf("aptProblems(several) =\n%q\nwant\n%q", got, want)
	}
	if got := aptHeldChanged(string(readTestdata(t, "apt/install-held-changed.txt"))); !slices.Equal(got, []string{"story-pb"}) {
		t.Errorf("aptHeldChanged(install-held-changed.txt) = %q", got)
	}
	before := snapshot{{Name: "storylib-pb", Want: "hold", Status: "installed"}, {Name: "lib-pb", Want: "hold", Status: "installed"}, {Name: "story-pb", Want: "install", Status: "installed"}}
	if got := heldIn(before, want); !slices.Equal(got, []string{"storylib-pb"}) {
		t.Errorf("heldIn = %q; want storylib-pb alone (lib-pb is not named, only part of a name)", got)
	}
}
