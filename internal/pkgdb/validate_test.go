package pkgdb

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	deb := Package{Deb, "bsdutils", "1:2.38.1-5+deb12u3", "amd64", "util-linux", "2.38.1-5+deb12u3", ""}
	rpm := Package{RPM, "openssl-libs", "1:3.0.7-27.el9", "x86_64", "openssl", "3.0.7-27.el9", "openssl-3.0.7-27.el9.src.rpm"}
	apk := Package{Apk, "libcrypto3", "3.3.0-r2", "x86_64", "openssl", "3.3.0-r2", ""}
	with := func(p Package, f func(*Package)) Package { f(&p); return p }
	long := strings.Repeat("a", MaxNameLen+1)
	tests := []struct {
		name string
		p    Package
		want string // "" for valid
	}{
		{"deb", deb, ""},
		{"rpm", rpm, ""},
		{"apk", apk, ""},
		{"deb one-letter name", with(deb, func(p *Package) { p.Name = "x" }), ""},
		{"deb tilde", with(deb, func(p *Package) { p.Version = "1.0~rc1-1" }), ""},
		{"rpm without source", with(rpm, func(p *Package) { p.SourceName, p.SourceVersion, p.SourceRPM = "", "", "" }), ""},
		{"rpm caret", with(rpm, func(p *Package) { p.Version = "1.0^20240101git1-1" }), ""},
		{"unknown ecosystem", with(deb, func(p *Package) { p.Ecosystem = "pacman" }), "unknown ecosystem"},
		{"deb upper case", with(deb, func(p *Package) { p.Name = "BSDutils" }), "package name"},
		{"deb underscore", with(deb, func(p *Package) { p.Name = "bsd_utils" }), "package name"},
		{"deb leading plus", with(deb, func(p *Package) { p.Name = "+bsd" }), "must start with"},
		{"deb too long", with(deb, func(p *Package) { p.Name = long }), "longer than"},
		{"deb empty name", with(deb, func(p *Package) { p.Name = "" }), "empty"},
		{"deb shell", with(deb, func(p *Package) { p.Name = "x;rm" }), "package name"},
		{"deb version with space", with(deb, func(p *Package) { p.Version = "1.0 -1" }), "version"},
		{"deb version letter first", with(deb, func(p *Package) { p.Version = "v1.0" }), "does not start with a digit"},
		{"deb epoch not a number", with(deb, func(p *Package) { p.Version = "a:1.0" }), "epoch"},
		{"deb epoch too big", with(deb, func(p *Package) { p.Version = "99999999999:1.0" }), "epoch is too big"},
		{"deb long version", with(deb, func(p *Package) { p.Version = "1" + strings.Repeat(".1", MaxVersionLen) }), "longer than"},
		{"deb colon in revision", with(deb, func(p *Package) { p.Version = "1:1.0-1:2" }), "revision"},
		{"deb arch upper case", with(deb, func(p *Package) { p.Arch = "AMD64" }), "architecture"},
		{"deb no source", with(deb, func(p *Package) { p.SourceName = "" }), "source name"},
		{"deb source rpm", with(deb, func(p *Package) { p.SourceRPM = "x-1-1.src.rpm" }), "source rpm set"},
		{"rpm no release", with(rpm, func(p *Package) { p.Version = "1:3.0.7" }), "no release"},
		{"rpm empty release", with(rpm, func(p *Package) { p.Version = "3.0.7-" }), "release"},
		{"rpm two hyphens", with(rpm, func(p *Package) { p.Version = "3.0-7-27" }), "release"},
		{"rpm epoch too big", with(rpm, func(p *Package) { p.Version = "4294967296:1-1" }), "epoch"},
		{"rpm no arch", with(rpm, func(p *Package) { p.Arch = "" }), "architecture"},
		{"rpm slash in source rpm", with(rpm, func(p *Package) { p.SourceRPM = "../x-1-1.src.rpm" }), "source rpm"},
		{"apk version letter first", with(apk, func(p *Package) { p.Version = "r2" }), "version"},
		{"apk newline", with(apk, func(p *Package) { p.Name = "a\nb" }), "package name"},
		{"apk no origin", with(apk, func(p *Package) { p.SourceName = "" }), "source name"},
	}
	for _, tc := range tests {
		err := tc.p.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: Validate(%+v) = %v, want nil", tc.name, tc.p, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: Validate(%+v) = %v, want an error containing %q", tc.name, tc.p, err, tc.want)
		}
	}
}

// Versions are printed as dpkg-query prints them (checked against dpkg-query
// on testdata/dpkg/multiarch.status).
func TestDebVersionString(t *testing.T) {
	for in, want := range map[string]string{
		"1.0":          "1.0",
		"0:1.0-1":      "1.0-1",
		"007:2.0":      "7:2.0",
		"1:2.38.1-5":   "1:2.38.1-5",
		"0:1:2-3":      "0:1:2-3",
		"2.4+git-1-2":  "2.4+git-1-2",
		"1.0~rc1+dfsg": "1.0~rc1+dfsg",
	} {
		v, err := parseDebVersion(in)
		if err != nil || v.String() != want {
			t.Errorf("parseDebVersion(%q).String() = %q, %v; want %q", in, v.String(), err, want)
		}
	}
}
