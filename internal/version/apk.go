package version

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// apk3Major and apk3Minor name the first Alpine release with apk-tools 3:
// Alpine 3.23.0, released 2025-12-03, ships apk-tools v3 (still reading the
// v2 index and package formats). Alpine 3.22 and older ship apk-tools 2.x.
// Source: the Alpine 3.23.0 release notes ("Alpine 3.23.0 released",
// alpinelinux.org, 2025-12-03) and the press that reported them. Edge moved
// to apk-tools 3 before 3.23 branched from it.
const apk3Major, apk3Minor = 3, 23

// APKForRelease returns the apk ordering of an Alpine release: APK2 for
// Alpine 3.22 and older, APK3 for 3.23, later releases and edge. release is
// "3.20", "v3.21", "3.20.3", "edge" or an OSV ecosystem suffix such as
// "Alpine:v3.20". The orderings differ on a few versions, such as leading
// zeros after a dot (apk-tools 2 puts 10.00 before 10.0, apk-tools 3 after)
// and ~commit-hash suffixes (valid only in apk-tools 3), so a scan must order
// by the apk of the release being scanned.
func APKForRelease(release string) (Ecosystem, error) {
	r := release
	if len(r) > len("alpine:") && strings.EqualFold(r[:len("alpine:")], "alpine:") {
		r = r[len("alpine:"):]
	}
	if strings.EqualFold(r, "edge") {
		return APK3, nil
	}
	r = strings.TrimPrefix(r, "v")
	parts := strings.Split(r, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return "", fmt.Errorf("unknown Alpine release %q: want 3.N, v3.N, 3.N.P or edge", release)
	}
	var num [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || !allDigits(p) {
			return "", fmt.Errorf("unknown Alpine release %q: want 3.N, v3.N, 3.N.P or edge", release)
		}
		num[i] = n
	}
	if num[0] < apk3Major || num[0] == apk3Major && num[1] < apk3Minor {
		return APK2, nil
	}
	return APK3, nil
}

// APKVersion is an Alpine package version, checked to be valid for one
// apk-tools generation (APK2 or APK3).
type APKVersion struct {
	eco Ecosystem
	s   string
}

// ParseAPK checks that s is a valid version for eco (APK2 or APK3) as
// apk-tools' apk_version_validate does: digit{.digit}...{letter}
// {_suffix{number}}...{~hash}{-r#}, where apk-tools 3 adds the ~hash (lower
// case hex) and is stricter about where letters and dots may follow. Unlike
// apk-tools 2, it rejects the empty string.
func ParseAPK(eco Ecosystem, s string) (APKVersion, error) {
	var bad int
	switch eco {
	case APK2:
		bad = apk2Invalid(s)
	case APK3:
		bad = apk3Invalid(s)
	default:
		return APKVersion{}, fmt.Errorf("parse apk version %q: ecosystem %q is not apk2 or apk3", s, eco)
	}
	switch {
	case s == "":
		return APKVersion{}, parseError(eco, s, "empty version")
	case strings.IndexByte(s, 0) >= 0:
		return APKVersion{}, parseError(eco, s, "NUL byte")
	case bad >= 0:
		return APKVersion{}, parseError(eco, s, fmt.Sprintf("invalid at %q", s[bad:]))
	}
	return APKVersion{eco: eco, s: s}, nil
}

// String returns the version as parsed.
func (v APKVersion) String() string { return v.s }

// Compare returns -1, 0 or 1 as v sorts before, the same as or after w in the
// order of v's apk-tools generation (apk_version_compare). Both should come
// from ParseAPK with the same ecosystem.
func (v APKVersion) Compare(w APKVersion) int {
	if v.eco == APK3 {
		return compareAPK3(v.s, w.s, false)
	}
	return compareAPK2(v.s, w.s, false)
}

// apkCompareEmpty orders the empty string, which apk-tools treats as a null
// version, before every other; ok is false when neither is empty.
func apkCompareEmpty(a, b string) (c int, ok bool) {
	if a != "" && b != "" {
		return 0, false
	}
	return cmp.Compare(len(a), len(b)), true
}
