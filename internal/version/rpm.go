package version

import (
	"fmt"
	"strings"
)

// RPMVersion is an rpm EVR, [epoch:]version[-release], split as rpm's
// rpmverParse splits it: the epoch is a run of digits before a colon, and the
// release starts after the last hyphen.
type RPMVersion struct {
	Epoch      string // digits; "" when absent, which compares as "0"
	Version    string
	Release    string
	HasRelease bool // a version without a release sorts before the same version with any release
	raw        string
}

// ParseRPM parses s as an rpm [epoch:]version[-release]. The epoch, when
// present, must be digits; the version and the release must be non-empty and
// made of the characters rpmbuild accepts in them: ASCII letters and digits
// and . _ + ~ ^ (rpmvercmp itself would compare anything, treating other
// characters as separators).
func ParseRPM(s string) (RPMVersion, error) {
	v := RPMVersion{raw: s}
	if s == "" {
		return v, parseError(RPM, s, "empty version")
	}
	rest := s
	if colon := strings.IndexByte(s, ':'); colon >= 0 {
		v.Epoch, rest = s[:colon], s[colon+1:]
		if v.Epoch == "" {
			return RPMVersion{}, parseError(RPM, s, "empty epoch")
		}
		for i := 0; i < len(v.Epoch); i++ {
			if !isDigit(v.Epoch[i]) {
				return RPMVersion{}, parseError(RPM, s, "epoch is not a number")
			}
		}
	}
	v.Version = rest
	if hyphen := strings.LastIndexByte(rest, '-'); hyphen >= 0 {
		v.Version, v.Release, v.HasRelease = rest[:hyphen], rest[hyphen+1:], true
		if v.Release == "" {
			return RPMVersion{}, parseError(RPM, s, "empty release")
		}
	}
	if v.Version == "" {
		return RPMVersion{}, parseError(RPM, s, "empty version")
	}
	if c, ok := rpmBadChar(v.Version); ok {
		return RPMVersion{}, parseError(RPM, s, fmt.Sprintf("invalid character %q in version", c))
	}
	if c, ok := rpmBadChar(v.Release); ok {
		return RPMVersion{}, parseError(RPM, s, fmt.Sprintf("invalid character %q in release", c))
	}
	return v, nil
}

// rpmBadChar returns the first character of s that rpmbuild refuses in a
// version or release.
func rpmBadChar(s string) (byte, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && strings.IndexByte("._+~^", c) < 0 {
			return c, true
		}
	}
	return 0, false
}

// String returns the version as parsed.
func (v RPMVersion) String() string { return v.raw }

// Compare returns -1, 0 or 1 as v sorts before, the same as or after w, as
// rpm's rpmverCmp (and so rpm.vercmp in rpm's Lua) orders them: epochs (absent is 0), then versions, then
// releases, each with RPMVerCmp. A missing release sorts before any release,
// so 1.0 < 1.0-1; rpm's dependency matching (rpmverOverlap) instead lets a
// missing release match any, which is a range question, not an order.
func (v RPMVersion) Compare(w RPMVersion) int {
	ea, eb := v.Epoch, w.Epoch
	if ea == "" {
		ea = "0"
	}
	if eb == "" {
		eb = "0"
	}
	if c := RPMVerCmp(ea, eb); c != 0 {
		return c
	}
	if c := RPMVerCmp(v.Version, w.Version); c != 0 {
		return c
	}
	switch {
	case v.HasRelease && w.HasRelease:
		return RPMVerCmp(v.Release, w.Release)
	case v.HasRelease:
		return 1
	case w.HasRelease:
		return -1
	}
	return 0
}

// RPMVerCmp is rpm's rpmvercmp, which compares one field (an epoch, a version
// or a release; rpm's Lua rpm.vercmp compares whole EVRs, as
// RPMVersion.Compare does): the strings are split into
// runs of ASCII digits and runs of ASCII letters, everything else separating
// them; digits compare as numbers and sort after letters; '~' sorts before
// anything, even the end of the string (1.0~rc1 < 1.0), and '^' sorts after
// the end of the string but before anything else (1.0 < 1.0^git1 < 1.0.1).
// It accepts any strings and returns -1, 0 or 1.
func RPMVerCmp(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isAlnum(a[i]) && a[i] != '~' && a[i] != '^' {
			i++
		}
		for j < len(b) && !isAlnum(b[j]) && b[j] != '~' && b[j] != '^' {
			j++
		}
		ac, bc := byteAt(a, i), byteAt(b, j)
		if ac == '~' || bc == '~' {
			if ac != '~' {
				return 1
			}
			if bc != '~' {
				return -1
			}
			i++
			j++
			continue
		}
		if ac == '^' || bc == '^' {
			switch {
			case i == len(a):
				return -1
			case j == len(b):
				return 1
			case ac != '^':
				return 1
			case bc != '^':
				return -1
			}
			i++
			j++
			continue
		}
		if i == len(a) || j == len(b) {
			break
		}
		ei, ej := i, j
		isNum := isDigit(a[i])
		if isNum {
			for ei < len(a) && isDigit(a[ei]) {
				ei++
			}
			for ej < len(b) && isDigit(b[ej]) {
				ej++
			}
		} else {
			for ei < len(a) && isAlpha(a[ei]) {
				ei++
			}
			for ej < len(b) && isAlpha(b[ej]) {
				ej++
			}
		}
		if ej == j {
			// One segment is numeric, the other alphabetic: numbers are newer.
			if isNum {
				return 1
			}
			return -1
		}
		var c int
		if isNum {
			c = cmpDigits(a[i:ei], b[j:ej])
		} else {
			c = strings.Compare(a[i:ei], b[j:ej])
		}
		if c != 0 {
			return c
		}
		i, j = ei, ej
	}
	switch {
	case i == len(a) && j == len(b):
		return 0
	case i == len(a):
		return -1
	}
	return 1
}

// byteAt returns s[i], or 0 past the end of s.
func byteAt(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}
