package risk

import (
	"strings"
	"testing"

	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/version"
)

// deb returns an apt update as pkgmgr reports it.
func deb(name, from, to, srcName, srcVersion, archive string) protocol.Update {
	return protocol.Update{
		Ecosystem: "deb", Name: name, Arch: "amd64", FromVersion: from, ToVersion: to,
		SourceName: srcName, SourceVersion: srcVersion, Origin: "Debian", Archive: archive,
		Security: strings.HasSuffix(archive, "-security"),
	}
}

// rpm returns a dnf update as pkgmgr reports it: the source version from
// the source rpm's file name, without the epoch.
func rpm(name, from, to, srcName, srcVersion, repo, typ, sev string, ids ...string) protocol.Update {
	return protocol.Update{
		Ecosystem: "rpm", Name: name, Arch: "x86_64", FromVersion: from, ToVersion: to,
		SourceName: srcName, SourceVersion: srcVersion, Archive: repo,
		AdvisoryType: typ, Severity: sev, AdvisoryIDs: ids, Security: typ == "security",
	}
}

func TestFixes(t *testing.T) {
	openssl := deb("libssl3", "3.0.11-1~deb12u1", "3.0.11-1~deb12u2", "openssl", "3.0.11-1~deb12u2", "bookworm-security")
	// A binNMU: the binary has +b8, the source it is built from does not.
	bash := deb("bash", "5.2.15-2+b2", "5.2.15-2+b8", "bash", "5.2.15-2", "stable")
	// bsdutils carries an epoch its source util-linux does not.
	bsdutils := deb("bsdutils", "1:2.38.1-5+deb12u2", "1:2.38.1-5+deb12u3", "util-linux", "2.38.1-5+deb12u3", "stable")
	openssh := deb("openssh-server", "1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u4", "openssh", "1:9.2p1-2+deb12u4", "stable-security")
	glibc := deb("libc6", "2.36-9+deb12u3", "2.36-9+deb12u9", "glibc", "2.36-9+deb12u9", "stable")
	// tzdata's source is itself: pkgmgr still fills the source version, but
	// an agent that leaves it out must not lose the comparison.
	tzdata := deb("tzdata", "2024a-0+deb12u1", "2024b-0+deb12u1", "", "", "stable-updates")
	opensslRPM := rpm("openssl-libs", "1:3.0.7-25.el9_3", "1:3.0.7-27.el9", "openssl", "3.0.7-27.el9", "baseos", "security", "Moderate", "RLSA-2024:2447")
	kernel := rpm("kernel-core", "5.14.0-427.13.1.el9_4", "5.14.0-427.20.1.el9_4", "kernel", "5.14.0-427.20.1.el9_4", "baseos", "security", "Important", "RLSA-2024:2570")
	musl := protocol.Update{Ecosystem: "apk", Name: "musl", FromVersion: "1.2.5-r0", ToVersion: "1.2.5-r1", SourceName: "musl", SourceVersion: "1.2.5-r1"}
	stdlib := protocol.Update{Ecosystem: "go", Name: "stdlib", FromVersion: "1.21.1", ToVersion: "1.21.3"}

	tests := []struct {
		name  string
		u     protocol.Update
		fixed []string
		ord   version.Ecosystem
		want  bool
		err   string // a part of the error; "" for none
	}{
		{"at the fixed version", openssl, []string{"3.0.11-1~deb12u2"}, version.Deb, true, ""},
		{"below a later fix", openssl, []string{"3.0.13-1~deb12u1"}, version.Deb, false, ""},
		{"~deb12u2 is below unstable's 3.0.11-1", openssl, []string{"3.0.11-1"}, version.Deb, false, ""},
		{"past the fix", glibc, []string{"2.36-9+deb12u4"}, version.Deb, true, ""},
		{"binNMU compared by its source version", bash, []string{"5.2.15-2"}, version.Deb, true, ""},
		{"binNMU source below a new revision", bash, []string{"5.2.15-3"}, version.Deb, false, ""},
		{"binary epoch is not the source's: not fixed", bsdutils, []string{"2.38.1-5+deb12u4"}, version.Deb, false, ""},
		{"binary epoch is not the source's: fixed", bsdutils, []string{"2.38.1-5+deb12u3"}, version.Deb, true, ""},
		{"source epoch at the fix", openssh, []string{"1:9.2p1-2+deb12u3"}, version.Deb, true, ""},
		{"source epoch below the fix", openssh, []string{"1:9.2p1-2+deb12u5"}, version.Deb, false, ""},
		{"epoch 1 is past any epoch-0 version", openssh, []string{"9.6p1-1"}, version.Deb, true, ""},
		{"no source version: the candidate", tzdata, []string{"2024b-0+deb12u1"}, version.Deb, true, ""},
		{"every range cleared", glibc, []string{"2.36-9+deb12u4", "2.36-9+deb12u7"}, version.Deb, true, ""},
		{"one range of two cleared", deb("libc6", "2.36-9+deb12u3", "2.36-9+deb12u5", "glibc", "2.36-9+deb12u5", "stable"),
			[]string{"2.36-9+deb12u4", "2.36-9+deb12u7"}, version.Deb, false, ""},
		{"no fix known", openssl, nil, version.Deb, false, ""},
		{"rpm compares the binary's epoch", opensslRPM, []string{"1:3.0.7-27.el9"}, version.RPM, true, ""},
		{"rpm below a later fix", opensslRPM, []string{"1:3.0.7-28.el9_4"}, version.RPM, false, ""},
		{"rpm kernel past the fix", kernel, []string{"5.14.0-427.18.1.el9_4"}, version.RPM, true, ""},
		{"rpm kernel below the fix", kernel, []string{"5.14.0-427.22.1.el9_4"}, version.RPM, false, ""},
		{"apk at the fix", musl, []string{"1.2.5-r1"}, version.APK2, true, ""},
		{"apk below the fix", musl, []string{"1.2.5-r2"}, version.APK3, false, ""},
		{"go at the fix", stdlib, []string{"1.21.3"}, version.Go, true, ""},
		{"go below the fix", stdlib, []string{"1.21.5"}, version.Go, false, ""},

		{"unparseable fixed version", openssl, []string{"x:1.0"}, version.Deb, false, "fixed version: deb version \"x:1.0\": epoch is not a number"},
		{"unparseable fixed version after one that is not met", openssl, []string{"4.0-1", "1:"}, version.Deb, false, "fixed version"},
		{"unparseable candidate", deb("a", "1.0-1", "1:", "a", "1:", "stable"), []string{"1.0-2"}, version.Deb, false, "update deb a to 1:: deb version \"1:\": nothing after the epoch colon"},
		{"no version at all", protocol.Update{Ecosystem: "deb", Name: "a"}, []string{"1.0-1"}, version.Deb, false, "no version to compare"},
		{"unknown ordering", openssl, []string{"3.0.11-1~deb12u2"}, version.Ecosystem("dpkg"), false, "unknown version ecosystem"},
		{"an rpm fixed version read as deb", opensslRPM, []string{"1:3.0.7-27.el9"}, version.APK2, false, "apk2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Fixes(tc.u, tc.fixed, tc.ord)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("Fixes(%s %s, %q, %s): error %v", tc.u.Name, ComparedVersion(tc.u), tc.fixed, tc.ord, err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("Fixes(%s %s, %q, %s) error = %v; want one containing %q", tc.u.Name, ComparedVersion(tc.u), tc.fixed, tc.ord, err, tc.err)
			case got != tc.want:
				t.Errorf("Fixes(%s %s, %q, %s) = %v; want %v", tc.u.Name, ComparedVersion(tc.u), tc.fixed, tc.ord, got, tc.want)
			}
		})
	}
}

func TestComparedVersion(t *testing.T) {
	tests := []struct {
		u    protocol.Update
		want string
	}{
		{deb("bash", "5.2.15-2+b2", "5.2.15-2+b8", "bash", "5.2.15-2", "stable"), "5.2.15-2"},
		{deb("tzdata", "2024a-0+deb12u1", "2024b-0+deb12u1", "", "", "stable-updates"), "2024b-0+deb12u1"},
		{rpm("openssl", "1:3.0.7-25.el9_3", "1:3.0.7-27.el9", "openssl", "3.0.7-27.el9", "baseos", "", ""), "1:3.0.7-27.el9"},
		{protocol.Update{Ecosystem: "apk", ToVersion: "1.2.5-r1", SourceVersion: "1.2.5-r1"}, "1.2.5-r1"},
		{protocol.Update{Ecosystem: "go", ToVersion: "0.17.0"}, "0.17.0"},
	}
	for _, tc := range tests {
		if got := ComparedVersion(tc.u); got != tc.want {
			t.Errorf("ComparedVersion(%s %s %s src %s) = %q; want %q", tc.u.Ecosystem, tc.u.Name, tc.u.ToVersion, tc.u.SourceVersion, got, tc.want)
		}
	}
}
