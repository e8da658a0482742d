// Package match finds which installed packages advisories affect. An Index
// holds advisories by (ecosystem, package name); Match evaluates a host's
// packages against it, once per distinct package, naming the source package
// where the ecosystem's advisories do (Debian, Ubuntu and Alpine advisories
// name source packages).
package match

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/osv"
)

// Platform is the OSV ecosystem of a host's packages: the name and the
// release its advisories carry ("Debian" and "12").
type Platform struct {
	Name    string
	Release string
}

// PlatformOf derives the platform from os-release fields; ok is false for a
// distribution patchbay does not match yet.
func PlatformOf(osRelease map[string]string) (Platform, bool) {
	id, ver := osRelease["ID"], osRelease["VERSION_ID"]
	switch id {
	case "debian":
		major, _, _ := strings.Cut(ver, ".")
		return Platform{"Debian", major}, major != ""
	case "ubuntu":
		return Platform{"Ubuntu", ver}, ver != ""
	case "alpine":
		parts := strings.SplitN(ver, ".", 3)
		if len(parts) < 2 {
			return Platform{}, false
		}
		return Platform{"Alpine", "v" + parts[0] + "." + parts[1]}, true
	case "rocky":
		major, _, _ := strings.Cut(ver, ".")
		return Platform{"Rocky Linux", major}, major != ""
	case "almalinux":
		major, _, _ := strings.Cut(ver, ".")
		return Platform{"AlmaLinux", major}, major != ""
	}
	return Platform{}, false
}

// String returns the platform as an OSV ecosystem string.
func (p Platform) String() string { return p.Name + ":" + p.Release }

// bySource reports whether advisories of a platform name source packages.
func (p Platform) bySource() bool {
	return p.Name == "Debian" || p.Name == "Ubuntu" || p.Name == "Alpine"
}

// covers reports whether an advisory's ecosystem applies to p: the same
// name and release ("Ubuntu:22.04:LTS" covers release "22.04"); an
// ecosystem without a release covers every release.
func (p Platform) covers(e osv.Ecosystem) bool {
	if e.Name != p.Name {
		return false
	}
	return e.Release == "" || e.Release == p.Release || strings.HasPrefix(e.Release, p.Release+":")
}

// Index holds advisories by OSV ecosystem name and package name.
type Index struct {
	byName map[string][]entry // "Debian\x00openssl"
	count  int
}

type entry struct {
	rec *osv.Record
	aff *osv.Affected
	eco osv.Ecosystem
}

// NewIndex indexes records; withdrawn ones are left out.
func NewIndex(records []*osv.Record) *Index {
	ix := &Index{byName: map[string][]entry{}}
	for _, r := range records {
		if r.IsWithdrawn() {
			continue
		}
		ix.count++
		for i := range r.Affected {
			a := &r.Affected[i]
			if a.Package == nil {
				continue
			}
			eco := osv.ParseEcosystem(a.Package.Ecosystem)
			k := eco.Name + "\x00" + a.Package.Name
			ix.byName[k] = append(ix.byName[k], entry{rec: r, aff: a, eco: eco})
		}
	}
	return ix
}

// Len is the number of advisories indexed.
func (ix *Index) Len() int { return ix.count }

// Finding is an installed package an advisory affects.
type Finding struct {
	Package  patchbay.Package `json:"package"`
	Advisory string           `json:"advisory"`
	Aliases  []string         `json:"aliases,omitempty"` // CVE ids and other names, from aliases and upstream
	Summary  string           `json:"summary,omitempty"`
	Fixed    []string         `json:"fixed,omitempty"` // versions that fix it; empty when none is known
}

// Match returns the findings for pkgs on platform p, sorted by package and
// advisory, and the evaluation errors (a version that does not parse in its
// ecosystem, an unsupported ecosystem): those are reported, never taken as
// "not affected" silently.
func (ix *Index) Match(p Platform, pkgs []patchbay.Package) ([]Finding, []error) {
	var out []Finding
	var errs []error
	seen := map[string]bool{}
	for _, pkg := range pkgs {
		name, ver := pkg.Name, pkg.Version
		if p.bySource() {
			name, ver = pkg.Source()
		}
		for _, e := range ix.byName[p.Name+"\x00"+name] {
			if !p.covers(e.eco) {
				continue
			}
			res, err := e.aff.Evaluate(ver)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s %s: %w", e.rec.ID, name, ver, err))
				continue
			}
			if !res.Affected {
				continue
			}
			key := e.rec.ID + "\x00" + pkg.Name + "\x00" + pkg.Arch
			if seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, Finding{Package: pkg, Advisory: e.rec.ID, Aliases: aliases(e.rec), Summary: e.rec.Summary, Fixed: res.Fixed})
		}
	}
	slices.SortFunc(out, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Package.Name, b.Package.Name), cmp.Compare(a.Package.Arch, b.Package.Arch), cmp.Compare(a.Advisory, b.Advisory))
	})
	return out, errs
}

// aliases collects a record's other names: aliases and upstream (where
// most Debian records keep their CVEs), without duplicates.
func aliases(r *osv.Record) []string {
	var out []string
	for _, a := range slices.Concat(r.Aliases, r.Upstream) {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}
