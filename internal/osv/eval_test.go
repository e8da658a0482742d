package osv

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/internal/version"
)

// ev builds events from kind, version pairs.
func ev(kv ...string) []Event {
	var es []Event
	for i := 0; i < len(kv); i += 2 {
		es = append(es, Event{Kind: EventKind(kv[i]), Version: kv[i+1]})
	}
	return es
}

func eco(e string, ranges ...Range) Affected {
	return Affected{Package: &Package{Ecosystem: e, Name: "p"}, Ranges: ranges}
}

func TestEvaluate(t *testing.T) {
	debRange := Range{Type: RangeEcosystem, Events: ev("introduced", "0", "fixed", "1.1.1n-0+deb11u4")}
	rpmRange := Range{Type: RangeEcosystem, Events: ev("introduced", "0", "fixed", "2.9.13-5.el9")}
	semver := Range{Type: RangeSemVer, Events: ev("introduced", "1.0.0", "fixed", "1.0.2")}
	django := Range{Type: RangeEcosystem, Events: ev("introduced", "0", "fixed", "2.2.24", "introduced", "3.0", "fixed", "3.1.12", "introduced", "3.2", "fixed", "3.2.4")}
	lastAffected := Range{Type: RangeEcosystem, Events: ev("introduced", "0", "last_affected", "2.1.214")}
	limit := Range{Type: RangeSemVer, Events: ev("introduced", "0", "limit", "2.0.0")}
	withList := func(a Affected, vs ...string) Affected { a.Versions = vs; return a }
	maven := Affected{Package: &Package{Ecosystem: "Maven", Name: "junit:junit"}}

	tests := []struct {
		name    string
		a       Affected
		v       string
		want    bool
		fixed   []string
		wantErr string // part of the error; "" for none
	}{
		// Debian, the dpkg ordering.
		{"deb: before fixed", eco("Debian:11", debRange), "1.1.1n-0+deb11u3", true, []string{"1.1.1n-0+deb11u4"}, ""},
		{"deb: fixed itself", eco("Debian:11", debRange), "1.1.1n-0+deb11u4", false, nil, ""},
		{"deb: after fixed", eco("Debian:11", debRange), "1.1.1n-0+deb11u5", false, nil, ""},
		{"deb: tilde sorts before", eco("Debian:11", debRange), "1.1.1n-0+deb11u4~bpo1", true, []string{"1.1.1n-0+deb11u4"}, ""},
		{"deb: epoch sorts after", eco("Debian", debRange), "1:1.0-1", false, nil, ""},
		{"ubuntu: dpkg ordering", eco("Ubuntu:22.04:LTS", debRange), "1.1.1f-1ubuntu2", true, []string{"1.1.1n-0+deb11u4"}, ""},
		// RPM.
		{"rpm: release before fixed", eco("Rocky Linux:9", rpmRange), "2.9.13-4.el9", true, []string{"2.9.13-5.el9"}, ""},
		{"rpm: fixed itself", eco("AlmaLinux:9", rpmRange), "2.9.13-5.el9", false, nil, ""},
		{"rpm: newer release", eco("Red Hat:rhel_aus:8.4::appstream", rpmRange), "2.9.13-5.el9_2.1", false, nil, ""},
		{"rpm: epoch", eco("Rocky Linux:9", rpmRange), "1:2.0-1.el9", false, nil, ""},
		// apk, by Alpine release.
		{"apk: before fixed", eco("Alpine:v3.20", Range{Type: RangeEcosystem, Events: ev("introduced", "0.9.13", "fixed", "1.2.5-r1")}), "1.2.5-r0", true, []string{"1.2.5-r1"}, ""},
		{"apk: fixed", eco("Alpine:v3.20", Range{Type: RangeEcosystem, Events: ev("introduced", "0.9.13", "fixed", "1.2.5-r1")}), "1.2.5-r1", false, nil, ""},
		{"apk: before introduced", eco("Alpine:v3.23", Range{Type: RangeEcosystem, Events: ev("introduced", "0.9.13", "fixed", "1.2.5-r1")}), "0.9.12-r0", false, nil, ""},
		// SemVer: introduced inclusive, fixed exclusive, pre-releases.
		{"semver: below introduced", eco("npm", semver), "0.9.9", false, nil, ""},
		{"semver: introduced inclusive", eco("npm", semver), "1.0.0", true, []string{"1.0.2"}, ""},
		{"semver: inside", eco("crates.io", semver), "1.0.1", true, []string{"1.0.2"}, ""},
		{"semver: pre-release of fixed", eco("npm", semver), "1.0.2-rc.1", true, []string{"1.0.2"}, ""},
		{"semver: fixed exclusive", eco("npm", semver), "1.0.2", false, nil, ""},
		{"semver: build metadata ignored", eco("npm", semver), "1.0.2+build.5", false, nil, ""},
		{"semver: range of an unsupported ecosystem", eco("Maven", semver), "1.0.1", true, []string{"1.0.2"}, ""},
		{"go: pseudo-version introduced", eco("Go", Range{Type: RangeSemVer, Events: ev("introduced", "1.0.1-0.20211012131345-9c444070ec7b", "fixed", "1.1.0")}), "1.0.2", true, []string{"1.1.0"}, ""},
		{"go: v prefix accepted", eco("Go", Range{Type: RangeSemVer, Events: ev("introduced", "0", "fixed", "1.17.10")}), "v1.17.9", true, []string{"1.17.10"}, ""},
		{"go: before pseudo-version", eco("Go", Range{Type: RangeSemVer, Events: ev("introduced", "1.0.1-0.20211012131345-9c444070ec7b", "fixed", "1.1.0")}), "1.0.0", false, nil, ""},
		// last_affected is inclusive.
		{"last_affected: itself", eco("PyPI", lastAffected), "2.1.214", true, nil, ""},
		{"last_affected: below", eco("PyPI", lastAffected), "1.0", true, nil, ""},
		{"last_affected: above", eco("PyPI", lastAffected), "2.1.215", false, nil, ""},
		{"last_affected: post-release above", eco("PyPI", lastAffected), "2.1.214.post1", false, nil, ""},
		// limit bounds the range; "*" is infinity.
		{"limit: below", eco("npm", limit), "1.9.9", true, nil, ""},
		{"limit: itself excluded", eco("npm", limit), "2.0.0", false, nil, ""},
		{"limit: above", eco("npm", limit), "3.0.0", false, nil, ""},
		{"limit star", eco("npm", Range{Type: RangeSemVer, Events: ev("introduced", "1.0.0", "limit", "*")}), "99.0.0", true, nil, ""},
		{"limit with fixed", eco("npm", Range{Type: RangeSemVer, Events: ev("introduced", "0", "fixed", "1.5.0", "limit", "2.0.0")}), "1.6.0", false, nil, ""},
		{"limit with fixed: inside", eco("npm", Range{Type: RangeSemVer, Events: ev("introduced", "0", "fixed", "1.5.0", "limit", "2.0.0")}), "1.4.0", true, []string{"1.5.0"}, ""},
		{"two limits: below the higher", eco("npm", Range{Type: RangeSemVer, Events: ev("introduced", "1.0.0", "limit", "1.5.0", "limit", "3.0.0")}), "2.0.0", true, nil, ""},
		{"two limits: above both", eco("npm", Range{Type: RangeSemVer, Events: ev("introduced", "1.0.0", "limit", "1.5.0", "limit", "3.0.0")}), "3.0.0", false, nil, ""},
		// Several introduced/fixed pairs in one range (PYSEC-2021-98).
		{"pairs: first", eco("PyPI", django), "2.2.23", true, []string{"2.2.24"}, ""},
		{"pairs: first fixed", eco("PyPI", django), "2.2.24", false, nil, ""},
		{"pairs: gap", eco("PyPI", django), "2.3", false, nil, ""},
		{"pairs: second", eco("PyPI", django), "3.1.5", true, []string{"3.1.12"}, ""},
		{"pairs: third introduced", eco("PyPI", django), "3.2", true, []string{"3.2.4"}, ""},
		{"pairs: third pre-release", eco("PyPI", django), "3.2rc1", false, nil, ""},
		{"pairs: last fixed", eco("PyPI", django), "3.2.4", false, nil, ""},
		{"unsorted events", eco("npm", Range{Type: RangeSemVer, Events: ev("fixed", "1.0.2", "introduced", "1.0.0")}), "1.0.1", true, []string{"1.0.2"}, ""},
		{"reintroduced, not fixed", eco("npm", Range{Type: RangeSemVer, Events: ev("introduced", "0", "fixed", "1.0.0", "introduced", "2.0.0")}), "2.5.0", true, nil, ""},
		{"introduced and fixed equal: empty", eco("npm", Range{Type: RangeSemVer, Events: ev("fixed", "1.0.0", "introduced", "1.0.0")}), "1.0.0", false, nil, ""},
		{"introduced and last_affected equal: one version", eco("npm", Range{Type: RangeSemVer, Events: ev("last_affected", "1.0.0", "introduced", "1.0.0")}), "1.0.0", true, nil, ""},
		{"unfixed: every version", eco("npm", Range{Type: RangeSemVer, Events: ev("introduced", "0")}), "0.0.1", true, nil, ""},
		// Several ranges (DRUPAL-CORE-2025-005 shape): any range suffices.
		{"ranges: second", eco("PyPI", Range{Type: RangeEcosystem, Events: ev("introduced", "8.0.0", "fixed", "10.4.9")}, Range{Type: RangeEcosystem, Events: ev("introduced", "10.5.0", "fixed", "10.5.6")}), "10.5.2", true, []string{"10.5.6"}, ""},
		{"ranges: between", eco("PyPI", Range{Type: RangeEcosystem, Events: ev("introduced", "8.0.0", "fixed", "10.4.9")}, Range{Type: RangeEcosystem, Events: ev("introduced", "10.5.0", "fixed", "10.5.6")}), "10.4.9", false, nil, ""},
		{"ranges: overlapping, both fixes", eco("PyPI", Range{Type: RangeEcosystem, Events: ev("introduced", "1.0", "fixed", "2.0")}, Range{Type: RangeSemVer, Events: ev("introduced", "1.0.0", "fixed", "1.5.0")}), "1.2.0", true, []string{"2.0", "1.5.0"}, ""},
		// GIT ranges do not apply to package versions.
		{"git range ignored", eco("PyPI", Range{Type: RangeGit, Repo: "https://example.com/r", Events: ev("introduced", "0", "fixed", "1dd69c5c")}), "1.0", false, nil, ""},
		{"git next to ecosystem", eco("PyPI", Range{Type: RangeGit, Repo: "https://example.com/r", Events: ev("introduced", "0")}, Range{Type: RangeEcosystem, Events: ev("introduced", "0", "fixed", "1.25.9")}), "1.25.8", true, []string{"1.25.9"}, ""},
		// The explicit versions list: exact strings.
		{"versions only: listed", withList(maven, "4.7", "4.8"), "4.8", true, nil, ""},
		{"versions only: not listed", withList(maven, "4.7", "4.8"), "4.9", false, nil, ""},
		{"versions only: not normalised", withList(eco("PyPI"), "1.0"), "1.0.0", false, nil, ""},
		{"versions: listed beats unsupported range", withList(eco("Maven", Range{Type: RangeEcosystem, Events: ev("introduced", "4.7", "fixed", "4.13.1")}), "4.8"), "4.8", true, nil, ""},
		{"versions: listed outside range", withList(eco("PyPI", Range{Type: RangeEcosystem, Events: ev("introduced", "0", "fixed", "1.0")}), "5.0"), "5.0", true, nil, ""},
		{"versions: listed, invalid for ordering", withList(eco("npm", semver), "not-semver"), "not-semver", true, nil, ""},
		// Errors.
		{"unsupported ecosystem", eco("Maven", Range{Type: RangeEcosystem, Events: ev("introduced", "4.7", "fixed", "4.13.1")}), "4.8", false, nil, `unsupported ecosystem "Maven"`},
		{"alpine without release", eco("Alpine", Range{Type: RangeEcosystem, Events: ev("introduced", "0", "fixed", "1.0-r1")}), "1.0-r0", false, nil, "unknown Alpine release"},
		{"no package", Affected{Ranges: []Range{{Type: RangeEcosystem, Events: ev("introduced", "0")}}}, "1.0", false, nil, "unsupported ecosystem"},
		{"installed version invalid", eco("npm", semver), "1.0", false, nil, `semver version "1.0"`},
		{"installed deb version invalid", eco("Debian:12", debRange), "", false, nil, "deb version"},
		{"event version invalid", eco("npm", Range{Type: RangeSemVer, Events: ev("introduced", "0", "fixed", "next")}), "1.0.0", false, nil, `events[1]: semver version "next"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.a.Evaluate(tt.v)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Evaluate(%q) = %+v, %v; want error containing %q", tt.v, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Evaluate(%q): %v", tt.v, err)
			}
			if got.Affected != tt.want || !slices.Equal(got.Fixed, tt.fixed) {
				t.Errorf("Evaluate(%q) on %s %v = %+v, want {Affected:%v Fixed:%q}", tt.v, tt.a.Package.Ecosystem, tt.a.Ranges, got, tt.want, tt.fixed)
			}
			if ok, err := tt.a.Affects(tt.v); ok != tt.want || err != nil {
				t.Errorf("Affects(%q) = %v, %v; want %v, nil", tt.v, ok, err, tt.want)
			}
		})
	}
}

func TestEvaluateUnsupportedIsSentinel(t *testing.T) {
	a := eco("Packagist", Range{Type: RangeEcosystem, Events: ev("introduced", "0")})
	_, err := a.Evaluate("1.0.0")
	if !errors.Is(err, ErrUnsupportedEcosystem) {
		t.Errorf("Evaluate on Packagist: error %v, want one wrapping ErrUnsupportedEcosystem", err)
	}
	var pe *version.ParseError
	npm := eco("npm", Range{Type: RangeSemVer, Events: ev("introduced", "0")})
	_, err = npm.Evaluate("x")
	if !errors.As(err, &pe) {
		t.Errorf("Evaluate(%q) on npm: error %v, want a *version.ParseError", "x", err)
	}
}

func TestRecordEvaluate(t *testing.T) {
	load := func(path string) *Record {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	dla := load("testdata/osv-real/Debian/DLA-3008-1.json")
	alpine := load("testdata/osv-real/Alpine/ALPINE-CVE-2025-26519.json")
	golang := load("testdata/osv-real/Go/GO-2022-0493.json")
	withdrawn, err := Parse([]byte(`{"id":"GHSA-xxxx","modified":"2024-01-02T03:04:05Z","withdrawn":"2024-01-03T00:00:00Z",
		"affected":[{"package":{"ecosystem":"npm","name":"p"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		r           *Record
		eco, pkg, v string
		want        bool
		fixed       []string
	}{
		{"debian: listed version", dla, "Debian:9", "openssl", "1.1.0l-1~deb9u5", true, []string{"1.1.0l-1~deb9u6"}},
		{"debian: fixed", dla, "Debian:9", "openssl", "1.1.0l-1~deb9u6", false, nil},
		{"debian: other release", dla, "Debian:12", "openssl", "1.1.0l-1~deb9u5", false, nil},
		{"debian: other package", dla, "Debian:9", "libssl", "1.1.0l-1~deb9u5", false, nil},
		{"alpine 3.20", alpine, "Alpine:v3.20", "musl", "1.2.5-r0", true, []string{"1.2.5-r1"}},
		{"alpine 3.22: r9 still affected", alpine, "Alpine:v3.22", "musl", "1.2.5-r9", true, []string{"1.2.5-r10"}},
		{"alpine 3.21: r9 fixed", alpine, "Alpine:v3.21", "musl", "1.2.5-r9", false, nil},
		{"go stdlib 1.18 branch", golang, "Go", "stdlib", "1.18.1", true, []string{"1.18.2"}},
		{"go stdlib 1.18 pre-release", golang, "Go", "stdlib", "1.18.0-rc.1", true, []string{"1.18.2"}},
		{"go stdlib 1.17 fixed", golang, "Go", "stdlib", "1.17.10", false, nil},
		{"go x/sys pseudo-version", golang, "Go", "golang.org/x/sys", "0.0.0-20220101000000-abcdefabcdef", true, []string{"0.0.0-20220412211240-33da011f77ad"}},
		{"withdrawn affects nothing", withdrawn, "npm", "p", "1.0.0", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.r.Evaluate(tt.eco, tt.pkg, tt.v)
			if err != nil {
				t.Fatalf("%s.Evaluate(%q, %q, %q): %v", tt.r.ID, tt.eco, tt.pkg, tt.v, err)
			}
			if got.Affected != tt.want || !slices.Equal(got.Fixed, tt.fixed) {
				t.Errorf("%s.Evaluate(%q, %q, %q) = %+v, want {Affected:%v Fixed:%q}", tt.r.ID, tt.eco, tt.pkg, tt.v, got, tt.want, tt.fixed)
			}
		})
	}
	if !withdrawn.IsWithdrawn() || dla.IsWithdrawn() {
		t.Errorf("IsWithdrawn: withdrawn %v, DLA-3008-1 %v; want true, false", withdrawn.IsWithdrawn(), dla.IsWithdrawn())
	}
	// A record-level error names the record.
	maven := load("testdata/osv-real/Maven/GHSA-269g-pwp5-87pp.json")
	if _, err := maven.Evaluate("Maven", "junit:junit", "4.99"); err == nil || !strings.Contains(err.Error(), `"GHSA-269g-pwp5-87pp"`) || !errors.Is(err, ErrUnsupportedEcosystem) {
		t.Errorf("Evaluate on Maven: error %v, want unsupported ecosystem naming the record", err)
	}
	if got, err := maven.Evaluate("Maven", "junit:junit", "4.12"); err != nil || !got.Affected {
		t.Errorf("Evaluate on Maven listed version 4.12 = %+v, %v; want affected", got, err)
	}
}

func TestEvaluateExplains(t *testing.T) {
	tests := []struct {
		name string
		a    Affected
		v    string
		want []string
	}{
		{"fixed above", eco("Debian:12", Range{Type: RangeEcosystem, Events: ev("introduced", "0", "fixed", "2.36-9+deb12u1")}), "2.36-9",
			[]string{"ranges[0] ECOSYSTEM: introduced 0 <= 2.36-9 < fixed 2.36-9+deb12u1"}},
		{"second interval", eco("PyPI", Range{Type: RangeEcosystem, Events: ev("introduced", "0", "fixed", "2.2.24", "introduced", "3.0", "fixed", "3.1.12")}), "3.1",
			[]string{"ranges[0] ECOSYSTEM: introduced 3.0 <= 3.1 < fixed 3.1.12"}},
		{"last_affected", eco("Debian", Range{Type: RangeEcosystem, Events: ev("introduced", "1.0-1", "last_affected", "1.0-3")}), "1.0-3",
			[]string{"ranges[0] ECOSYSTEM: introduced 1.0-1 <= 1.0-3 <= last_affected 1.0-3"}},
		{"limit", eco("npm", Range{Type: RangeSemVer, Events: ev("introduced", "0", "limit", "2.0.0")}), "1.5.0",
			[]string{"ranges[0] SEMVER: introduced 0 <= 1.5.0 < limit 2.0.0"}},
		{"open", eco("Debian:12", Range{Type: RangeEcosystem, Events: ev("introduced", "0")}), "1.0-1",
			[]string{"ranges[0] ECOSYSTEM: introduced 0 <= 1.0-1, no fix"}},
		{"GIT first, ECOSYSTEM second, and the versions list", func() Affected {
			a := eco("Debian:12",
				Range{Type: RangeGit, Repo: "https://example.org/r.git", Events: ev("introduced", "abc", "fixed", "def")},
				Range{Type: RangeEcosystem, Events: ev("introduced", "0", "fixed", "1.2-1")})
			a.Versions = []string{"1.1-1"}
			return a
		}(), "1.1-1", []string{"versions lists 1.1-1", "ranges[1] ECOSYSTEM: introduced 0 <= 1.1-1 < fixed 1.2-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := tt.a.Evaluate(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range res.Hits {
				got = append(got, h.Explain(tt.v))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("explanations of %s:\n got %q\nwant %q", tt.v, got, tt.want)
			}
		})
	}
}
