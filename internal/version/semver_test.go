package version

import (
	"strings"
	"testing"
)

// checkAscending checks that Compare(eco, ...) puts vs in the order given,
// every pair of them.
func checkAscending(t *testing.T, eco Ecosystem, vs []string) {
	t.Helper()
	for i, a := range vs {
		for j, b := range vs {
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			if got, err := Compare(eco, a, b); err != nil || got != want {
				t.Errorf("Compare(%s, %q, %q) = %d, %v, want %d", eco, a, b, got, err, want)
			}
		}
	}
}

func TestSemVerPrecedence(t *testing.T) {
	// The examples of SemVer 2.0.0, item 11.
	checkAscending(t, SemVer, []string{"1.0.0", "2.0.0", "2.1.0", "2.1.1"})
	checkAscending(t, SemVer, []string{
		"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
		"1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0",
	})
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{"build metadata ignored", "1.0.0+20130313144700", "1.0.0", 0},
		{"build metadata ignored on pre-release", "1.0.0-beta+exp.sha.5114f85", "1.0.0-beta", 0},
		{"numeric identifiers before alphanumeric", "1.0.0-1", "1.0.0-a", -1},
		{"hyphen is alphanumeric", "1.0.0-1", "1.0.0--1", -1},
		{"ASCII order", "1.0.0-Z", "1.0.0-a", -1},
		{"numbers beyond 64 bits", "99999999999999999999999.0.0", "99999999999999999999998.0.0", 1},
		{"numeric", "1.10.0", "1.9.0", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := Compare(SemVer, tt.a, tt.b); err != nil || got != tt.want {
				t.Errorf("Compare(semver, %q, %q) = %d, %v, want %d", tt.a, tt.b, got, err, tt.want)
			}
		})
	}
}

func TestParseSemVer(t *testing.T) {
	// The valid and invalid examples that semver.org offers for testing a
	// SemVer parser.
	valid := []string{
		"0.0.4", "1.2.3", "10.20.30", "1.1.2-prerelease+meta", "1.1.2+meta", "1.1.2+meta-valid",
		"1.0.0-alpha", "1.0.0-beta", "1.0.0-alpha.beta", "1.0.0-alpha.beta.1", "1.0.0-alpha.1",
		"1.0.0-alpha0.valid", "1.0.0-alpha.0valid", "1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay",
		"1.0.0-rc.1+build.1", "2.0.0-rc.1+build.123", "1.2.3-beta", "10.2.3-DEV-SNAPSHOT",
		"1.2.3-SNAPSHOT-123", "1.0.0", "2.0.0", "1.1.7", "2.0.0+build.1848", "2.0.1-alpha.1227",
		"1.0.0-alpha+beta", "1.2.3----RC-SNAPSHOT.12.9.1--.12+788", "1.2.3----R-S.12.9.1--.12+meta",
		"1.2.3----RC-SNAPSHOT.12.9.1--.12", "1.0.0+0.build.1-rc.10000aaa-kk-0.1",
		"99999999999999999999999.999999999999999999.99999999999999999", "1.0.0-0A.is.legal",
	}
	for _, s := range valid {
		v, err := ParseSemVer(s)
		if err != nil || v.String() != s {
			t.Errorf("ParseSemVer(%q) = %q, %v", s, v, err)
		}
	}
	invalid := []string{
		"1", "1.2", "1.2.3-0123", "1.2.3-0123.0123", "1.1.2+.123", "+invalid", "-invalid",
		"-invalid+invalid", "-invalid.01", "alpha", "alpha.beta", "alpha.beta.1", "alpha.1",
		"alpha+beta", "alpha_beta", "alpha.", "alpha..", "beta", "1.0.0-alpha_beta", "-alpha.",
		"1.0.0-alpha..", "1.0.0-alpha..1", "1.0.0-alpha...1", "01.1.1", "1.01.1", "1.1.01",
		"1.2.3.DEV", "1.2-SNAPSHOT", "1.2.31.2.3----RC-SNAPSHOT.12.09.1--..12+788", "1.2-RC-SNAPSHOT",
		"-1.0.3-gamma+b7718", "+justmeta", "9.8.7+meta+meta", "9.8.7-whatever+meta+meta",
		"99999999999999999999999.999999999999999999.99999999999999999----RC-SNAPSHOT.12.09.1--------------------------------..12",
		"", "v1.2.3", "1.2.3-", "1.2.3+", " 1.2.3",
	}
	for _, s := range invalid {
		if v, err := ParseSemVer(s); err == nil {
			t.Errorf("ParseSemVer(%q) = %q, want error", s, v)
		}
	}
	for in, want := range map[string]string{
		"v1.2.3":     `semver version "v1.2.3": leading "v" is not part of a semantic version`,
		"1.2":        `semver version "1.2": want MAJOR.MINOR.PATCH`,
		"1.02.3":     `semver version "1.02.3": leading zero in "02"`,
		"1.2.3-01":   `semver version "1.2.3-01": pre-release: leading zero in "01"`,
		"1.2.3+a..b": `semver version "1.2.3+a..b": build metadata: empty identifier`,
		"1.2.x":      `semver version "1.2.x": want MAJOR.MINOR.PATCH, got non-digits in "x"`,
	} {
		if _, err := ParseSemVer(in); err == nil || err.Error() != want {
			t.Errorf("ParseSemVer(%q) error = %v, want %s", in, err, want)
		}
	}
}

func TestCompareGo(t *testing.T) {
	checkAscending(t, Go, []string{
		"v0.0.0-20191109021931-daa7c04131f5", // pseudo-version with no tag before it
		"v0.0.0-20201109021931-aaa7c04131f5",
		"v0.0.1",
		"v1.2.3",
		"v1.2.4-0.20191109021931-daa7c04131f5", // pseudo-version after v1.2.3
		"v1.2.4-pre",
		"v1.2.4-pre.0.20191109021931-daa7c04131f5", // pseudo-version after v1.2.4-pre
		"v1.2.4",
		"v2.0.0+incompatible",
		"v2.0.1",
	})
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{"OSV writes no v", "1.17.10", "v1.17.10", 0},
		{"+incompatible is build metadata", "v2.0.0+incompatible", "v2.0.0", 0},
		{"OSV introduced", "1.18.0-0", "1.18.0", -1},
		{"pseudo-version", "1.0.1-0.20211012131345-9c444070ec7b", "1.0.1", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := Compare(Go, tt.a, tt.b); err != nil || got != tt.want {
				t.Errorf("Compare(go, %q, %q) = %d, %v, want %d", tt.a, tt.b, got, err, tt.want)
			}
		})
	}
	for in, want := range map[string]string{
		"v1.2":                `go version "v1.2": want MAJOR.MINOR.PATCH`,
		"v1.0.0+incompatible": `go version "v1.0.0+incompatible": +incompatible on major version 1`,
		"v2.0.0+meta":         `go version "v2.0.0+meta": build metadata other than +incompatible`,
		"vv1.0.0":             `go version "vv1.0.0": leading "v" is not part of a semantic version`,
		"":                    `go version "": empty version`,
	} {
		if _, err := ParseGo(in); err == nil || err.Error() != want {
			t.Errorf("ParseGo(%q) error = %v, want %s", in, err, want)
		}
	}
	if v, err := ParseGo("v1.2.3"); err != nil || v.String() != "v1.2.3" {
		t.Errorf("ParseGo(%q) = %q, %v", "v1.2.3", v, err)
	}
}

func TestEcosystems(t *testing.T) {
	for _, e := range Ecosystems() {
		if got, err := ParseEcosystem(string(e)); err != nil || got != e {
			t.Errorf("ParseEcosystem(%q) = %q, %v", e, got, err)
		}
	}
	_, err := ParseEcosystem("apk")
	want := `unknown version ecosystem "apk": want one of deb, rpm, apk2, apk3, semver, go, pypi`
	if err == nil || err.Error() != want {
		t.Errorf("ParseEcosystem(%q) error = %v, want %s", "apk", err, want)
	}
	if _, err := Compare("apk", "1", "2"); err == nil || err.Error() != want {
		t.Errorf("Compare(%q, ...) error = %v, want %s", "apk", err, want)
	}
	if _, err := Parse("apk", "1"); err == nil || err.Error() != want {
		t.Errorf("Parse(%q, ...) error = %v, want %s", "apk", err, want)
	}
}

// TestParseThenCompare checks that a Version parsed once orders as Compare
// does, in every ecosystem, and refuses to be compared across ecosystems.
func TestParseThenCompare(t *testing.T) {
	pairs := map[Ecosystem][2]string{
		Deb:    {"1:2.0~rc1-1", "1:2.0-1"},
		RPM:    {"1.0~rc1-1.el9", "1.0-1.el9"},
		APK2:   {"1.0_rc1-r0", "1.0-r0"},
		APK3:   {"1.0_rc1-r0", "1.0-r0"},
		SemVer: {"1.0.0-rc.1", "1.0.0"},
		Go:     {"v1.0.0-rc.1", "v1.0.0"},
		PyPI:   {"1.0rc1", "1.0"},
	}
	for eco, p := range pairs {
		a, err := Parse(eco, p[0])
		if err != nil {
			t.Fatalf("Parse(%s, %q) error = %v", eco, p[0], err)
		}
		b, err := Parse(eco, p[1])
		if err != nil {
			t.Fatalf("Parse(%s, %q) error = %v", eco, p[1], err)
		}
		if a.Ecosystem() != eco || a.String() != p[0] {
			t.Errorf("Parse(%s, %q) = %s %q", eco, p[0], a.Ecosystem(), a)
		}
		if got, err := a.Compare(b); err != nil || got != -1 {
			t.Errorf("Parse(%s, %q).Compare(%q) = %d, %v, want -1", eco, p[0], p[1], got, err)
		}
		if got, err := b.Compare(a); err != nil || got != 1 {
			t.Errorf("Parse(%s, %q).Compare(%q) = %d, %v, want 1", eco, p[1], p[0], got, err)
		}
	}
	deb, _ := Parse(Deb, "1.0")
	pypi, _ := Parse(PyPI, "1.0")
	if _, err := deb.Compare(pypi); err == nil || !strings.Contains(err.Error(), "deb version") {
		t.Errorf("comparing deb and pypi versions: error = %v", err)
	}
	if _, err := deb.Compare(Version{}); err == nil {
		t.Error("comparing with the zero Version: no error")
	}
	if _, err := Parse(SemVer, "v1"); err == nil {
		t.Error(`Parse(semver, "v1"): no error`)
	}
}
