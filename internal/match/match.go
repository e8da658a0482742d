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
	"github.com/patchbay/patchbay/internal/severity"
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
	rec   *osv.Record
	aff   *osv.Affected
	eco   osv.Ecosystem
	index int // of aff in rec.Affected
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
			ix.byName[k] = append(ix.byName[k], entry{rec: r, aff: a, eco: eco, index: i})
		}
	}
	return ix
}

// Len is the number of advisories indexed.
func (ix *Index) Len() int { return ix.count }

// Key is what an evaluation depends on, and so what is evaluated once
// however many hosts share it: the OSV ecosystem whose advisories apply
// ("Debian:12", or "Go" for Go modules), the package name those advisories
// use (the source package for Debian, Ubuntu and Alpine) and the version
// compared (the source version there).
type Key struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	Version   string `json:"version"`
}

// KeyOf returns the key of pkg installed on platform p; ok is false for a
// package no advisory ecosystem covers (an ecosystem patchbay does not
// match yet).
func KeyOf(p Platform, pkg patchbay.Package) (Key, bool) {
	switch pkg.Ecosystem {
	case "go":
		return Key{Ecosystem: "Go", Name: pkg.Name, Version: pkg.Version}, true
	case "deb", "rpm", "apk":
		if p.Name == "" {
			return Key{}, false
		}
		name, ver := pkg.Name, pkg.Version
		if p.bySource() {
			name, ver = pkg.Source()
		}
		return Key{Ecosystem: p.String(), Name: name, Version: ver}, true
	}
	return Key{}, false
}

// Hit is one advisory affecting a key.
type Hit struct {
	Record    *osv.Record
	Ecosystem string   // the ecosystem of the affected entry: "Debian:12", "Debian"
	Fixed     []string // versions that fix it; empty when none is known
	Why       []string // which range and events contain the version, one line each
}

// Evaluate returns the advisories affecting k, sorted by id, and the
// evaluation errors (a version that does not parse in its ecosystem, an
// unsupported ecosystem): those are reported, never taken as "not
// affected" silently.
func (ix *Index) Evaluate(k Key) ([]Hit, []error) {
	eco := osv.ParseEcosystem(k.Ecosystem)
	p := Platform{Name: eco.Name, Release: eco.Release}
	var hits []Hit
	var errs []error
	for _, e := range ix.byName[p.Name+"\x00"+k.Name] {
		if !p.covers(e.eco) {
			continue
		}
		res, err := e.aff.Evaluate(k.Version)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s %s: %w", e.rec.ID, k.Name, k.Version, err))
			continue
		}
		if !res.Affected {
			continue
		}
		why := make([]string, len(res.Hits))
		for i, h := range res.Hits {
			why[i] = fmt.Sprintf("%s affected[%d]: %s", e.eco, e.index, h.Explain(k.Version))
		}
		if i := slices.IndexFunc(hits, func(h Hit) bool { return h.Record == e.rec }); i >= 0 {
			hits[i].Why = append(hits[i].Why, why...)
			for _, f := range res.Fixed {
				if !slices.Contains(hits[i].Fixed, f) {
					hits[i].Fixed = append(hits[i].Fixed, f)
				}
			}
			continue
		}
		hits = append(hits, Hit{Record: e.rec, Ecosystem: e.eco.String(), Fixed: res.Fixed, Why: why})
	}
	slices.SortFunc(hits, func(a, b Hit) int { return cmp.Compare(a.Record.ID, b.Record.ID) })
	return hits, errs
}

// Finding is an installed package an advisory affects, with why.
type Finding struct {
	Package  patchbay.Package `json:"package"`
	Advisory string           `json:"advisory"`
	Aliases  []string         `json:"aliases,omitempty"` // CVE ids and other names, from aliases and upstream
	Summary  string           `json:"summary,omitempty"`
	Fixed    []string         `json:"fixed,omitempty"` // versions that fix it; empty when none is known
	// Severity is the advisory's severity by the fallback order of package
	// severity, and SeverityWhy where it came from.
	Severity    severity.Level `json:"severity"`
	SeverityWhy string         `json:"severity_why"`
	// Matched is what was compared: the advisory's ecosystem, the package
	// name it uses and the version (the source's, for source-matched
	// distributions).
	Matched Key      `json:"matched"`
	Why     []string `json:"why"`
}

// Options adjust Match.
type Options struct {
	// RunningKernel is the running kernel's release (uname -r). When set,
	// of the kernel image packages installed side by side only the running
	// one is matched (see KernelPackages); when empty, all are.
	RunningKernel string
}

// Match returns the findings for pkgs on platform p, sorted by package and
// advisory, and the evaluation errors. Each distinct key is evaluated once.
func (ix *Index) Match(p Platform, pkgs []patchbay.Package, opt Options) ([]Finding, []error) {
	var out []Finding
	var errs []error
	done := map[Key][]Hit{}
	sev := map[*osv.Record]severity.Assessment{}
	skip := KernelsNotRunning(pkgs, opt.RunningKernel)
	for i, pkg := range pkgs {
		if skip[i] {
			continue
		}
		k, ok := KeyOf(p, pkg)
		if !ok {
			continue
		}
		hits, seen := done[k]
		if !seen {
			var es []error
			hits, es = ix.Evaluate(k)
			errs = append(errs, es...)
			done[k] = hits
		}
		for _, h := range hits {
			a, ok := sev[h.Record]
			if !ok {
				a = severity.Of(h.Record, nil)
				sev[h.Record] = a
			}
			out = append(out, Finding{
				Package: pkg, Advisory: h.Record.ID, Aliases: aliases(h.Record), Summary: h.Record.Summary,
				Fixed: h.Fixed, Severity: a.Level, SeverityWhy: a.String(), Matched: k, Why: h.Why,
			})
		}
	}
	slices.SortFunc(out, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Package.Name, b.Package.Name), cmp.Compare(a.Package.Arch, b.Package.Arch),
			cmp.Compare(a.Package.Version, b.Package.Version), cmp.Compare(a.Package.SourceName, b.Package.SourceName), cmp.Compare(a.Advisory, b.Advisory))
	})
	return out, errs
}

// KernelsNotRunning marks the kernel packages of pkgs that are installed
// but not running, when running (uname -r) names one of them: Debian's
// versioned images linux-image-RELEASE, and the rpm kernel packages
// (kernel, kernel-core, kernel-modules…) whose version-release.arch is not
// running. A host keeps older kernels installed after an upgrade; what
// exposes it is the kernel it runs, so a fixed kernel installed but not yet
// booted still leaves a finding, and an old kernel left on disk does not.
// When running is empty or names no installed package, nothing is marked.
func KernelsNotRunning(pkgs []patchbay.Package, running string) map[int]bool {
	if running == "" {
		return nil
	}
	debRunning := "linux-image-" + running
	rpmRelease := func(p patchbay.Package) string {
		_, vr, ok := strings.Cut(p.Version, ":")
		if !ok {
			vr = p.Version
		}
		return vr + "." + p.Arch
	}
	isRunning := func(p patchbay.Package) bool {
		return p.Ecosystem == "deb" && p.Name == debRunning || p.Ecosystem == "rpm" && rpmRelease(p) == running
	}
	found := false
	for _, p := range pkgs {
		if IsKernel(p) && isRunning(p) {
			found = true
			break
		}
	}
	if !found {
		return nil
	}
	skip := map[int]bool{}
	for i, p := range pkgs {
		if IsKernel(p) && !isRunning(p) {
			skip[i] = true
		}
	}
	return skip
}

// IsKernel reports whether p is a kernel package that can be installed
// beside others of its kind: Debian's versioned images linux-image-RELEASE,
// and the rpm kernel, kernel-core and kernel-modules… packages.
func IsKernel(p patchbay.Package) bool {
	switch p.Ecosystem {
	case "deb":
		rest, ok := strings.CutPrefix(p.Name, "linux-image-")
		return ok && rest != "" && rest[0] >= '0' && rest[0] <= '9'
	case "rpm":
		return p.Name == "kernel" || strings.HasPrefix(p.Name, "kernel-core") || strings.HasPrefix(p.Name, "kernel-modules")
	}
	return false
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
