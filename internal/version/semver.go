package version

import (
	"cmp"
	"strconv"
	"strings"
)

// SemVersion is a Semantic Versioning 2.0.0 version, also the form of a Go
// module version (ParseGo).
type SemVersion struct {
	major, minor, patch string // digits without leading zeros
	pre                 string // dot-separated identifiers, without the '-'
	build               string // without the '+'; ignored by Compare
	raw                 string
}

// ParseSemVer parses s as a SemVer 2.0.0 version:
// MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], numbers without leading zeros,
// identifiers of ASCII letters, digits and hyphens. A leading "v" is not part
// of SemVer and is an error; ParseGo takes it.
func ParseSemVer(s string) (SemVersion, error) {
	v, reason := parseSemVer(s)
	if reason != "" {
		return SemVersion{}, parseError(SemVer, s, reason)
	}
	return v, nil
}

// ParseGo parses s as a Go module version: "v" and a SemVer 2.0.0 version
// whose only build metadata may be "+incompatible", on major version 2 or
// later. The "v" may be left out, as OSV's Go ecosystem writes versions.
// Pseudo-versions (v0.0.0-20191109021931-daa7c04131f5) are pre-releases and
// order as SemVer orders them. Unlike golang.org/x/mod/semver it does not
// take the shorthands v1 and v1.2, which are not module versions.
func ParseGo(s string) (SemVersion, error) {
	v, reason := parseSemVer(strings.TrimPrefix(s, "v"))
	switch {
	case reason != "":
	case v.build == "incompatible" && (v.major == "0" || v.major == "1"):
		reason = "+incompatible on major version " + v.major
	case v.build != "" && v.build != "incompatible":
		reason = "build metadata other than +incompatible"
	}
	if reason != "" {
		return SemVersion{}, parseError(Go, s, reason)
	}
	v.raw = s
	return v, nil
}

func parseSemVer(s string) (v SemVersion, reason string) {
	v.raw = s
	if s == "" {
		return v, "empty version"
	}
	if s[0] == 'v' || s[0] == 'V' {
		return v, `leading "v" is not part of a semantic version`
	}
	rest := s
	if core, build, ok := strings.Cut(rest, "+"); ok {
		if r := semverIdents(build, false); r != "" {
			return v, "build metadata: " + r
		}
		rest, v.build = core, build
	}
	if core, pre, ok := strings.Cut(rest, "-"); ok {
		if r := semverIdents(pre, true); r != "" {
			return v, "pre-release: " + r
		}
		rest, v.pre = core, pre
	}
	nums := [3]*string{&v.major, &v.minor, &v.patch}
	for i, p := range nums {
		var n string
		if i < 2 {
			var ok bool
			n, rest, ok = strings.Cut(rest, ".")
			if !ok {
				return v, "want MAJOR.MINOR.PATCH"
			}
		} else {
			n = rest
		}
		if r := semverNumber(n); r != "" {
			return v, r
		}
		*p = n
	}
	return v, ""
}

// semverNumber checks one of MAJOR, MINOR and PATCH.
func semverNumber(n string) string {
	switch {
	case n == "":
		return "want MAJOR.MINOR.PATCH"
	case !allDigits(n):
		return "want MAJOR.MINOR.PATCH, got non-digits in " + strconv.Quote(n)
	case len(n) > 1 && n[0] == '0':
		return "leading zero in " + strconv.Quote(n)
	}
	return ""
}

// semverIdents checks dot-separated identifiers; pre-release numeric
// identifiers may not have leading zeros.
func semverIdents(s string, pre bool) string {
	for {
		id, rest, more := strings.Cut(s, ".")
		if id == "" {
			return "empty identifier"
		}
		for i := 0; i < len(id); i++ {
			if !isAlnum(id[i]) && id[i] != '-' {
				return "invalid character in " + strconv.Quote(id)
			}
		}
		if pre && len(id) > 1 && id[0] == '0' && allDigits(id) {
			return "leading zero in " + strconv.Quote(id)
		}
		if !more {
			return ""
		}
		s = rest
	}
}

// String returns the version as parsed.
func (v SemVersion) String() string { return v.raw }

// Compare returns -1, 0 or 1 as v has lower, the same or higher precedence
// than w: MAJOR, MINOR and PATCH numerically, then a version with a
// pre-release before the same version without, pre-release identifiers
// compared in turn (numbers numerically and before words, words in ASCII
// order, fewer identifiers first). Build metadata is ignored.
func (v SemVersion) Compare(w SemVersion) int {
	if c := cmpDigits(v.major, w.major); c != 0 {
		return c
	}
	if c := cmpDigits(v.minor, w.minor); c != 0 {
		return c
	}
	if c := cmpDigits(v.patch, w.patch); c != 0 {
		return c
	}
	switch {
	case v.pre == w.pre:
		return 0
	case v.pre == "":
		return 1
	case w.pre == "":
		return -1
	}
	a, b := v.pre, w.pre
	for a != "" && b != "" {
		var ia, ib string
		ia, a, _ = strings.Cut(a, ".")
		ib, b, _ = strings.Cut(b, ".")
		if c := cmpSemverIdent(ia, ib); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b)) // only the one with identifiers left is non-empty
}

func cmpSemverIdent(a, b string) int {
	na, nb := allDigits(a), allDigits(b)
	switch {
	case na && nb:
		return cmpDigits(a, b)
	case na:
		return -1
	case nb:
		return 1
	}
	return strings.Compare(a, b)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}
