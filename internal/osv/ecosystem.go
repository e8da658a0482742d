package osv

import (
	"errors"
	"fmt"
	"strings"

	"github.com/patchbay/patchbay/internal/version"
)

// ErrUnsupportedEcosystem is wrapped by evaluation errors for ECOSYSTEM
// ranges of an ecosystem whose version ordering patchbay does not implement.
var ErrUnsupportedEcosystem = errors.New("unsupported ecosystem")

// Ecosystem is an OSV ecosystem string taken apart: "Debian:12" is Name
// "Debian", Release "12"; "Ubuntu:22.04:LTS" is Name "Ubuntu", Release
// "22.04:LTS" (everything after the first colon).
type Ecosystem struct {
	Name       string            // "Debian", "Alpine", "PyPI"
	Release    string            // "12", "v3.20", "22.04:LTS", "" if none
	Comparator version.Ecosystem // the ordering of its versions; "" if unsupported
	Supported  bool              // whether Comparator is set
}

// String returns the OSV ecosystem string.
func (e Ecosystem) String() string {
	if e.Release == "" {
		return e.Name
	}
	return e.Name + ":" + e.Release
}

// ecosystemOrderings maps OSV ecosystem names (case-sensitive, as the schema
// defines them) to version orderings. Alpine is not here: its ordering
// depends on the release. Not yet supported, and so answered with
// ErrUnsupportedEcosystem: Maven, Packagist, RubyGems, NuGet, Hex, Pub,
// OSS-Fuzz, and distributions whose ordering the schema does not state.
var ecosystemOrderings = map[string]version.Ecosystem{
	"Debian":      version.Deb,
	"Ubuntu":      version.Deb,
	"Red Hat":     version.RPM,
	"Rocky Linux": version.RPM,
	"AlmaLinux":   version.RPM,
	"SUSE":        version.RPM, // the schema: "RPM versioncompare ordering"
	"openSUSE":    version.RPM,
	"Go":          version.Go,
	"PyPI":        version.PyPI,
	"npm":         version.SemVer,
	"crates.io":   version.SemVer,
}

// ParseEcosystem takes an OSV ecosystem string apart and finds the version
// ordering of its ECOSYSTEM ranges. Alpine uses apk-tools 2 or 3 ordering by
// release (version.APKForRelease); an Alpine ecosystem without a release it
// knows is unsupported, since the two orderings disagree. An unknown or
// unsupported ecosystem is returned with Supported false, never an error.
func ParseEcosystem(s string) Ecosystem {
	name, release, _ := strings.Cut(s, ":")
	e := Ecosystem{Name: name, Release: release}
	if name == "Alpine" {
		if cmp, err := version.APKForRelease(release); err == nil {
			e.Comparator, e.Supported = cmp, true
		}
		return e
	}
	if cmp, ok := ecosystemOrderings[name]; ok {
		e.Comparator, e.Supported = cmp, true
	}
	return e
}

// unsupported returns the error for an ECOSYSTEM range of e.
func (e Ecosystem) unsupported() error {
	if e.Name == "Alpine" {
		return fmt.Errorf("%w %q: unknown Alpine release", ErrUnsupportedEcosystem, e.String())
	}
	return fmt.Errorf("%w %q", ErrUnsupportedEcosystem, e.String())
}
