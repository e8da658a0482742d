package risk

import (
	"errors"
	"fmt"

	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/version"
)

// ComparedVersion returns the version of u that is compared with an
// advisory's fixed versions, the same one the matcher compares for an
// installed package (see docs/matching.md):
//
//   - deb and apk: the source version (SourceVersion), falling back to the
//     candidate version (ToVersion) when the source is the package itself.
//     Debian, Ubuntu and Alpine advisories give source versions: a binNMU
//     bash 5.2.15-2+b8 is at source 5.2.15-2, and bsdutils
//     1:2.38.1-5+deb12u3 is at util-linux 2.38.1-5+deb12u3, whose advisory
//     versions carry no epoch.
//   - rpm and go: the candidate version. RPM distributions' advisories name
//     binary packages with their epoch (openssl 1:3.0.7-27.el9), while the
//     source version dnf reports comes from the source rpm's file name,
//     which has no epoch (3.0.7-27.el9) and would compare below every fixed
//     version of an epoch-1 package. A Go module has no source version.
func ComparedVersion(u protocol.Update) string {
	switch u.Ecosystem {
	case "deb", "apk":
		if u.SourceVersion != "" {
			return u.SourceVersion
		}
	}
	return u.ToVersion
}

// Fixes reports whether installing u fixes a finding whose Fixed list is
// fixed (patchbay.Finding.Fixed, the matcher's "smallest fixed version
// above the installed one" of each affected range that contains it),
// comparing in ord, the ordering of the advisory's ecosystem (deb, rpm,
// apk2 or apk3 for an Alpine release, go).
//
// u fixes the finding when its ComparedVersion is at or past every version
// in fixed. Each entry closes one range that holds the installed version,
// and a version inside any range is affected, so clearing the smallest
// alone would claim a fix the matcher goes on reporting open. An empty
// fixed (no fix known) is never fixed.
//
// A version that does not parse in ord, the update's or a fixed one, is an
// error and not a "no": a wrong answer either way would hide a finding or
// invent a fix.
//
// Fixes looks only at the fixed versions, not at the advisory's ranges, so
// it cannot see a range that opens again above a fix: Go's stdlib records
// close 1.20 at 1.20.5 and open 1.21.0 until 1.21.1, and a host at 1.20.3
// offered 1.21.0 is told it is fixed. Evaluating the advisory at the
// compared version (match.Index.Evaluate) is exact where that matters.
func Fixes(u protocol.Update, fixed []string, ord version.Ecosystem) (bool, error) {
	v := ComparedVersion(u)
	if v == "" {
		return false, fmt.Errorf("update %s %s: no version to compare", u.Ecosystem, u.Name)
	}
	if len(fixed) == 0 {
		return false, nil
	}
	all := true
	for _, f := range fixed {
		c, err := version.Compare(ord, v, f)
		if err != nil {
			var pe *version.ParseError
			if errors.As(err, &pe) && pe.Version == f && f != v {
				return false, fmt.Errorf("update %s %s: fixed version: %w", u.Ecosystem, u.Name, err)
			}
			return false, fmt.Errorf("update %s %s to %s: %w", u.Ecosystem, u.Name, v, err)
		}
		if c < 0 {
			all = false // keep going: a later fixed version may not parse
		}
	}
	return all, nil
}
