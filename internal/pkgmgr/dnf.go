package pkgmgr

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/version"
)

// Dnf drives dnf (4.x) on the RPM system under Root.
//
// Under a Root other than "/", dnf runs with --installroot=ROOT and
// --setopt=reposdir=ROOT/etc/yum.repos.d, so the root's repositories are
// used, never the machine's. dnf reads the rpm database at the root's
// %_dbpath, its cache and logs are the root's (var/cache/dnf, var/log),
// and its configuration is the root's /etc/dnf/dnf.conf when the root has
// one (else the machine's).
type Dnf struct {
	// Root is the root directory; "" means "/".
	Root string
	// Command is the dnf program; "" means dnf found on PATH.
	Command string
	// Releasever sets --releasever, which dnf otherwise reads from the
	// installed system-release package: needed for a root without one.
	Releasever string
}

// Name is the source name of dnf's updates in an inventory's errors
// (protocol.SourceError).
func (d *Dnf) Name() string { return "dnf-updates" }

// The queries' output format: one package a line, tab-separated. rpm tags
// cannot hold a tab or a newline.
const dnfQueryFormat = `%{name}\t%{epoch}\t%{version}\t%{release}\t%{arch}\t%{repoid}\t%{sourcerpm}`

// dnfLocked recognises dnf waiting for another dnf's lock ("Waiting for
// process with pid 1234 to finish."): dnf waits rather than fail, so a
// command that runs out of time while waiting is a lock held elsewhere.
func dnfLocked(stderr string) bool {
	return strings.Contains(stderr, "Waiting for process with pid")
}

func (d *Dnf) base() ([]string, error) {
	prog, err := lookProgram(d.Command, "dnf")
	if err != nil {
		return nil, err
	}
	root, err := cleanRoot(d.Root)
	if err != nil {
		return nil, err
	}
	// skip_if_unavailable=False: a repository that cannot be read is an
	// error, not a silently shorter list (Red Hat's default; Debian's
	// dnf.conf sets True).
	argv := []string{prog, "-q", "-y", "--setopt=skip_if_unavailable=False"}
	if root != "/" {
		argv = append(argv, "--installroot="+root, "--setopt=reposdir="+filepath.Join(root, "etc/yum.repos.d"))
	}
	if d.Releasever != "" {
		argv = append(argv, "--releasever="+d.Releasever)
	}
	return argv, nil
}

func dnfEnv() []string { return []string{"LC_ALL=C"} }

// Refresh downloads the repositories' metadata now: dnf makecache
// --refresh. It changes no installed package.
func (d *Dnf) Refresh(ctx context.Context) error {
	argv, err := d.base()
	if err != nil {
		return fmt.Errorf("dnf refresh: %w", err)
	}
	argv = append(argv, "makecache", "--refresh")
	if _, err := (command{argv: argv, env: dnfEnv(), isLocked: dnfLocked}).run(ctx); err != nil {
		return fmt.Errorf("dnf refresh: %w", err)
	}
	return nil
}

// Updates returns the available updates, sorted by name and architecture:
// for each installed package with a newer version in an enabled
// repository, the newest one, with its source rpm and the repository's id
// (in Archive: "baseos", "appstream", "epel"), and what updateinfo says of
// it. It reads the metadata as last refreshed (-C: an expired cache is
// used, a missing one is an error) and changes nothing. Four queries,
// whatever the number of packages:
//
//   - dnf repoquery --upgrades --latest-limit=1: the candidates;
//   - dnf repoquery --installed: the installed versions (FromVersion is the
//     newest installed one of the same name and architecture, or of the
//     same name when the architecture changes, noarch to x86_64 say);
//   - dnf updateinfo list --updates: the advisories of each update (those
//     of versions between the installed one and the candidate, since the
//     candidate includes their fixes);
//   - dnf updateinfo info --updates: each advisory's type and severity.
//
// AdvisoryIDs lists every advisory; AdvisoryType is the most important of
// their types (security, then bugfix, enhancement, newpackage); Severity
// the highest severity among advisories of that type (Critical,
// Important, Moderate, Low); Security is AdvisoryType "security". Versions
// are dnf's EVR: [epoch:]version-release, the epoch left out when it is 0.
func (d *Dnf) Updates(ctx context.Context) ([]protocol.Update, error) {
	argv, err := d.base()
	if err != nil {
		return nil, fmt.Errorf("dnf updates: %w", err)
	}
	argv = append(argv, "-C")
	run := func(args ...string) ([]byte, error) {
		c := command{argv: append(slices.Clone(argv), args...), env: dnfEnv(), isLocked: dnfLocked}
		return c.run(ctx)
	}
	out, err := run("repoquery", "--upgrades", "--latest-limit=1", "--qf", dnfQueryFormat)
	if err != nil {
		return nil, fmt.Errorf("dnf updates: %w", err)
	}
	candidates, err := parseDnfQuery(out)
	if err != nil {
		return nil, fmt.Errorf("dnf updates: dnf repoquery --upgrades output: %w", err)
	}
	if len(candidates) == 0 {
		return []protocol.Update{}, nil
	}
	out, err = run("repoquery", "--installed", "--qf", dnfQueryFormat)
	if err != nil {
		return nil, fmt.Errorf("dnf updates: %w", err)
	}
	installed, err := parseDnfQuery(out)
	if err != nil {
		return nil, fmt.Errorf("dnf updates: dnf repoquery --installed output: %w", err)
	}
	out, err = run("updateinfo", "list", "--updates")
	if err != nil {
		return nil, fmt.Errorf("dnf updates: %w", err)
	}
	refs, err := parseUpdateinfoList(out)
	if err != nil {
		return nil, fmt.Errorf("dnf updates: dnf updateinfo list output: %w", err)
	}
	var advisories map[string]dnfAdvisory
	if len(refs) > 0 {
		out, err = run("updateinfo", "info", "--updates")
		if err != nil {
			return nil, fmt.Errorf("dnf updates: %w", err)
		}
		if advisories, err = parseUpdateinfoInfo(out); err != nil {
			return nil, fmt.Errorf("dnf updates: dnf updateinfo info output: %w", err)
		}
	}
	return joinDnf(candidates, installed, refs, advisories)
}

// joinDnf combines the four queries into one Update per candidate.
func joinDnf(candidates, installed []dnfPackage, refs []dnfAdvisoryRef, advisories map[string]dnfAdvisory) ([]protocol.Update, error) {
	newest := map[string]dnfPackage{} // by name.arch, and by name
	for _, p := range installed {
		for _, k := range []string{p.name + "." + p.arch, p.name} {
			if old, ok := newest[k]; !ok || rpmCompare(p.evr(), old.evr()) > 0 {
				newest[k] = p
			}
		}
	}
	byPkg := map[string][]dnfAdvisoryRef{}
	for _, r := range refs {
		byPkg[r.name+"."+r.arch] = append(byPkg[r.name+"."+r.arch], r)
	}
	ups := make([]protocol.Update, 0, len(candidates))
	for _, c := range candidates {
		from, ok := newest[c.name+"."+c.arch]
		if !ok {
			if from, ok = newest[c.name]; !ok {
				return nil, fmt.Errorf("dnf updates: %s.%s %s is an upgrade of nothing installed", c.name, c.arch, c.evr())
			}
		}
		u := protocol.Update{
			Ecosystem: "rpm", Name: c.name, Arch: c.arch,
			FromVersion: from.evr(), ToVersion: c.evr(),
			SourceName: c.sourceName, SourceVersion: c.sourceVersion,
			Archive: c.repo,
		}
		var types []string
		sev := map[string][]string{} // type -> severities
		for _, r := range byPkg[c.name+"."+c.arch] {
			if rpmCompare(r.evr, c.evr()) > 0 {
				continue // newer than the candidate: not in this update
			}
			if slices.Contains(u.AdvisoryIDs, r.id) {
				continue
			}
			u.AdvisoryIDs = append(u.AdvisoryIDs, r.id)
			typ, s := r.typ, r.severity
			if a, ok := advisories[r.id]; ok {
				typ = a.typ
				if a.severity != "" {
					s = a.severity
				}
			}
			types = append(types, typ)
			if s != "" {
				sev[typ] = append(sev[typ], s)
			}
		}
		slices.Sort(u.AdvisoryIDs)
		if len(types) > 0 {
			u.AdvisoryType = slices.MaxFunc(types, func(a, b string) int { return cmp.Compare(typeRank(a), typeRank(b)) })
			if s := sev[u.AdvisoryType]; len(s) > 0 {
				u.Severity = slices.MaxFunc(s, func(a, b string) int { return cmp.Compare(severityRank(a), severityRank(b)) })
			}
			u.Security = u.AdvisoryType == "security"
		}
		ups = append(ups, u)
	}
	slices.SortFunc(ups, func(x, y protocol.Update) int {
		return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.Arch, y.Arch))
	})
	return ups, nil
}

// typeRank orders advisory types by importance for patching.
func typeRank(t string) int {
	return map[string]int{"security": 4, "bugfix": 3, "enhancement": 2, "newpackage": 1}[t]
}

// severityRank orders the severities Red Hat and its rebuilds use.
func severityRank(s string) int {
	return map[string]int{"Critical": 4, "Important": 3, "Moderate": 2, "Low": 1}[s]
}

// rpmCompare orders two EVRs as rpm does; a version rpm would refuse sorts
// as equal, which keeps the first seen.
func rpmCompare(a, b string) int {
	c, err := version.Compare(version.RPM, a, b)
	if err != nil {
		return 0
	}
	return c
}
