package version

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Ecosystem names one version ordering. Its values are the names the CLI
// accepts (patchbay vercmp --ecosystem NAME).
type Ecosystem string

// The ecosystems. APK2 and APK3 are the orderings of apk-tools 2.x and 3.x;
// APKForRelease picks one for an Alpine release.
const (
	Deb    Ecosystem = "deb"    // dpkg
	RPM    Ecosystem = "rpm"    // rpm: [epoch:]version[-release]
	APK2   Ecosystem = "apk2"   // apk-tools 2.x (Alpine up to 3.22)
	APK3   Ecosystem = "apk3"   // apk-tools 3.x (Alpine 3.23 and edge)
	SemVer Ecosystem = "semver" // Semantic Versioning 2.0.0
	Go     Ecosystem = "go"     // Go module versions
	PyPI   Ecosystem = "pypi"   // PEP 440
)

// ecosystems lists every Ecosystem in the order error messages name them.
var ecosystems = [...]Ecosystem{Deb, RPM, APK2, APK3, SemVer, Go, PyPI}

// Ecosystems returns every Ecosystem, in a fixed order.
func Ecosystems() []Ecosystem {
	return slices.Clone(ecosystems[:])
}

// ParseEcosystem returns the Ecosystem named s (one of deb, rpm, apk2, apk3,
// semver, go, pypi), or an error that lists the valid names.
func ParseEcosystem(s string) (Ecosystem, error) {
	for _, e := range ecosystems {
		if s == string(e) {
			return e, nil
		}
	}
	names := make([]string, len(ecosystems))
	for i, e := range ecosystems {
		names[i] = string(e)
	}
	return "", fmt.Errorf("unknown version ecosystem %q: want one of %s", s, strings.Join(names, ", "))
}

// ParseError reports a version string that is not valid in its ecosystem.
type ParseError struct {
	Ecosystem Ecosystem
	Version   string
	Reason    string // what is wrong, in lower case: "empty upstream version"
}

// Error returns `ECOSYSTEM version "VERSION": REASON`.
func (e *ParseError) Error() string {
	return fmt.Sprintf("%s version %q: %s", e.Ecosystem, e.Version, e.Reason)
}

func parseError(eco Ecosystem, v, reason string) *ParseError {
	return &ParseError{Ecosystem: eco, Version: v, Reason: reason}
}

// Compare parses a and b as versions of eco and returns -1, 0 or 1 as a sorts
// before, the same as or after b. It returns a *ParseError if either is not a
// valid version of eco, and an error for an unknown eco. It does not allocate
// unless it returns an error.
func Compare(eco Ecosystem, a, b string) (int, error) {
	switch eco {
	case Deb:
		va, err := ParseDeb(a)
		if err != nil {
			return 0, err
		}
		vb, err := ParseDeb(b)
		if err != nil {
			return 0, err
		}
		return va.Compare(vb), nil
	case RPM:
		va, err := ParseRPM(a)
		if err != nil {
			return 0, err
		}
		vb, err := ParseRPM(b)
		if err != nil {
			return 0, err
		}
		return va.Compare(vb), nil
	case APK2, APK3:
		va, err := ParseAPK(eco, a)
		if err != nil {
			return 0, err
		}
		vb, err := ParseAPK(eco, b)
		if err != nil {
			return 0, err
		}
		return va.Compare(vb), nil
	case SemVer, Go:
		parse := ParseSemVer
		if eco == Go {
			parse = ParseGo
		}
		va, err := parse(a)
		if err != nil {
			return 0, err
		}
		vb, err := parse(b)
		if err != nil {
			return 0, err
		}
		return va.Compare(vb), nil
	case PyPI:
		va, err := ParsePyPI(a)
		if err != nil {
			return 0, err
		}
		vb, err := ParsePyPI(b)
		if err != nil {
			return 0, err
		}
		return va.Compare(vb), nil
	}
	_, err := ParseEcosystem(string(eco))
	return 0, err
}

// Version is a version parsed once for its ecosystem and compared many times,
// as matching does with one installed version against many advisory ranges.
// The zero Version is not a version of any ecosystem.
type Version struct {
	eco Ecosystem
	v   parsed
}

// parsed is the per-ecosystem value a Version holds.
type parsed interface {
	String() string
}

// Parse parses s as a version of eco. It returns a *ParseError if s is not a
// valid version of eco, and an error for an unknown eco. Parse allocates once;
// Version.Compare does not allocate.
func Parse(eco Ecosystem, s string) (Version, error) {
	var (
		p   parsed
		err error
	)
	switch eco {
	case Deb:
		p, err = ParseDeb(s)
	case RPM:
		p, err = ParseRPM(s)
	case APK2, APK3:
		p, err = ParseAPK(eco, s)
	case SemVer:
		p, err = ParseSemVer(s)
	case Go:
		p, err = ParseGo(s)
	case PyPI:
		p, err = ParsePyPI(s)
	default:
		_, err = ParseEcosystem(string(eco))
	}
	if err != nil {
		return Version{}, err
	}
	return Version{eco: eco, v: p}, nil
}

// Ecosystem returns the ecosystem v was parsed for.
func (v Version) Ecosystem() Ecosystem { return v.eco }

// String returns the version as it was parsed.
func (v Version) String() string {
	if v.v == nil {
		return ""
	}
	return v.v.String()
}

// Compare returns -1, 0 or 1 as v sorts before, the same as or after w. It
// returns an error if v and w were parsed for different ecosystems, or either
// is the zero Version.
func (v Version) Compare(w Version) (int, error) {
	if v.v == nil || w.v == nil {
		return 0, fmt.Errorf("compare versions: zero Version")
	}
	if v.eco != w.eco {
		return 0, fmt.Errorf("compare versions: %s version %q against %s version %q", v.eco, v.v, w.eco, w.v)
	}
	switch a := v.v.(type) {
	case DebVersion:
		return a.Compare(w.v.(DebVersion)), nil
	case RPMVersion:
		return a.Compare(w.v.(RPMVersion)), nil
	case APKVersion:
		return a.Compare(w.v.(APKVersion)), nil
	case SemVersion:
		return a.Compare(w.v.(SemVersion)), nil
	case PyPIVersion:
		return a.Compare(w.v.(PyPIVersion)), nil
	}
	panic(fmt.Sprintf("version: unhandled %T", v.v)) // unreachable: Parse makes only the types above
}

// cmpDigits compares two runs of ASCII digits as the numbers they spell,
// whatever their length: leading zeros are ignored.
func cmpDigits(a, b string) int {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return cmp.Compare(len(a), len(b))
	}
	return strings.Compare(a, b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isAlpha(c byte) bool { return isLower(c) || isUpper(c) }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }
