package pkgmgr

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/patchbay/patchbay/internal/protocol"
)

// Apt drives apt-get and apt-cache on the Debian or Ubuntu system under
// Root.
//
// Under a Root other than "/", every command gets the -o options that
// point apt at the root (Dir, Dir::State::status, Dir::Etc::SourceList,
// Dir::Etc::SourceParts, Dir::Etc::Parts, and dpkg's --instdir and
// --admindir), and APT_CONFIG names a temporary file setting Dir, so that
// apt reads the root's apt.conf.d instead of the machine's: otherwise the
// machine's hooks (APT::Update::Post-Invoke-Success, DPkg::Post-Invoke)
// would run for the root.
type Apt struct {
	// Root is the root directory; "" means "/".
	Root string
	// AptGet and AptCache are the programs; "" means apt-get and
	// apt-cache found on PATH.
	AptGet, AptCache string
	// Dpkg, DpkgQuery and DpkgDeb are dpkg's programs, which Install,
	// InstallFiles, Keep and Consistent run besides apt-get; "" means
	// those found on PATH.
	Dpkg, DpkgQuery, DpkgDeb string
	// NoLocking sets Debug::NoLocking=1: apt takes none of its locks. For
	// tests on a throwaway root no other apt touches; never on a host.
	// dpkg run on its own (InstallFiles) still locks.
	NoLocking bool
	// LockTimeout is how long the commands that change packages (Install,
	// InstallFiles, Download) wait for another process to release dpkg's
	// locks before failing with ErrLocked: 0 means DefaultLockTimeout, a
	// negative value not at all.
	LockTimeout time.Duration
	// SandboxUser sets APT::Sandbox::User, the user apt downloads as
	// (_apt by default): "root" for a test whose repository _apt cannot
	// read.
	SandboxUser string
}

// Name is the source name of apt's updates in an inventory's errors
// (protocol.SourceError).
func (a *Apt) Name() string { return "apt-updates" }

// AptUpdate is an available update with everything apt says about the
// release it comes from. Update is what the agent reports; Releases are
// all the package files the candidate version is in, in apt's order of
// priority; Update's Origin and Archive are those of the first security
// release among them, else of the first.
type AptUpdate struct {
	protocol.Update
	Releases []AptRelease
}

// AptRelease describes one package index, as apt-cache policy prints it:
// the fields of its Release file.
type AptRelease struct {
	Index     string // e.g. "http://deb.debian.org/debian bookworm/main amd64 Packages"
	Origin    string // o=
	Label     string // l=
	Archive   string // a=, the suite: stable, bookworm-security
	Codename  string // n=
	Version   string // v=
	Component string // c=
	Site      string // the "origin" line: the host it comes from
}

// Security reports whether r is a security pocket: its archive (suite) or
// codename ends in "-security" (Debian's bookworm-security and
// stable-security, Ubuntu's jammy-security, Ubuntu Pro's
// jammy-apps-security), or its label or origin names security
// (Debian-Security). Ubuntu publishes security fixes to -updates too: the
// candidate is then in both, and is a security update.
func (r AptRelease) Security() bool {
	has := func(s string) bool { return strings.Contains(strings.ToLower(s), "security") }
	return strings.HasSuffix(r.Archive, "-security") || strings.HasSuffix(r.Codename, "-security") ||
		has(r.Label) || has(r.Origin)
}

// setup returns the root, the options and the environment of every apt
// command, and a function removing the APT_CONFIG file afterwards.
func (a *Apt) setup() (root string, opts, env []string, cleanup func(), err error) {
	root, err = cleanRoot(a.Root)
	if err != nil {
		return "", nil, nil, nil, fmt.Errorf("apt: %w", err)
	}
	env = []string{"LC_ALL=C", "DEBIAN_FRONTEND=noninteractive"}
	cleanup = func() {}
	if root != "/" {
		if strings.ContainsAny(root, "\"\\\n\r") {
			return "", nil, nil, nil, fmt.Errorf("apt: root %q: apt's configuration cannot hold its name", root)
		}
		f, err := os.CreateTemp("", "patchbay-apt-*.conf")
		if err != nil {
			return "", nil, nil, nil, fmt.Errorf("apt: configuration for root %s: %w", root, err)
		}
		_, err = fmt.Fprintf(f, "Dir \"%s/\";\n", root)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(f.Name())
			return "", nil, nil, nil, fmt.Errorf("apt: configuration for root %s: %w", root, err)
		}
		cleanup = func() { os.Remove(f.Name()) }
		env = append(env, "APT_CONFIG="+f.Name())
		opts = append(opts,
			"-o", "Dir="+root,
			"-o", "Dir::State::status="+filepath.Join(root, "var/lib/dpkg/status"),
			"-o", "Dir::Etc::SourceList="+filepath.Join(root, "etc/apt/sources.list"),
			"-o", "Dir::Etc::SourceParts="+filepath.Join(root, "etc/apt/sources.list.d"),
			"-o", "Dir::Etc::Parts="+filepath.Join(root, "etc/apt/apt.conf.d"),
			"-o", "DPkg::Options::=--instdir="+root,
			"-o", "DPkg::Options::=--admindir="+filepath.Join(root, "var/lib/dpkg"))
	}
	if a.NoLocking {
		opts = append(opts, "-o", "Debug::NoLocking=1")
	}
	if a.SandboxUser != "" {
		opts = append(opts, "-o", "APT::Sandbox::User="+a.SandboxUser)
	}
	return root, opts, env, cleanup, nil
}

// aptLocked recognises apt's messages for a lock held by another process:
// "Could not get lock /var/lib/apt/lists/lock. It is held by process 1234
// (apt-get)", "Unable to lock directory /var/lib/apt/lists/".
func aptLocked(stderr string) bool {
	return strings.Contains(stderr, "Could not get lock") || strings.Contains(stderr, "Unable to lock") ||
		strings.Contains(stderr, "Unable to acquire the dpkg frontend lock")
}

// Refresh downloads the package indexes: apt-get update. It changes no
// installed package.
func (a *Apt) Refresh(ctx context.Context) error {
	prog, err := lookProgram(a.AptGet, "apt-get")
	if err != nil {
		return fmt.Errorf("apt refresh: %w", err)
	}
	_, opts, env, cleanup, err := a.setup()
	if err != nil {
		return err
	}
	defer cleanup()
	argv := append(append([]string{prog}, opts...), "-q", "update")
	if _, err := (command{argv: argv, env: env, isLocked: aptLocked}).run(ctx); err != nil {
		return fmt.Errorf("apt refresh: %w", err)
	}
	return nil
}

// Updates returns the available updates: the packages apt-get
// dist-upgrade would upgrade, with the candidate version, the source
// package it is built from, and the origin and archive of the release it
// comes from, sorted by name and architecture. Security is set when the
// candidate is in a security pocket (see AptRelease.Security). It reads the
// indexes as last refreshed and changes nothing; see UpdateDetails.
func (a *Apt) Updates(ctx context.Context) ([]protocol.Update, error) {
	details, err := a.UpdateDetails(ctx)
	if err != nil {
		return nil, err
	}
	ups := make([]protocol.Update, len(details))
	for i, d := range details {
		ups[i] = d.Update
	}
	return ups, nil
}

// UpdateDetails is Updates with every release each candidate is in. It
// runs four read-only commands, whatever the number of packages:
//
//   - apt-get -s dist-upgrade: the upgrades apt would make ("Inst" lines),
//     resolved as a real run would (held and phased packages stay back;
//     packages newly pulled in or removed are not updates and are left
//     out);
//   - apt-cache policy: every package index and its release's fields;
//   - apt-cache policy NAME...: the indexes each candidate version is in;
//   - apt-cache show NAME=VERSION...: the candidates' Source fields.
//
// None takes a lock or writes to the dpkg database.
func (a *Apt) UpdateDetails(ctx context.Context) ([]AptUpdate, error) {
	aptGet, err := lookProgram(a.AptGet, "apt-get")
	if err != nil {
		return nil, fmt.Errorf("apt updates: %w", err)
	}
	aptCache, err := lookProgram(a.AptCache, "apt-cache")
	if err != nil {
		return nil, fmt.Errorf("apt updates: %w", err)
	}
	_, opts, env, cleanup, err := a.setup()
	if err != nil {
		return nil, err
	}
	defer cleanup()
	run := func(prog string, args ...string) ([]byte, error) {
		argv := append(append([]string{prog}, opts...), args...)
		return command{argv: argv, env: env, isLocked: aptLocked}.run(ctx)
	}

	out, err := run(aptGet, "-q", "-s", "dist-upgrade")
	if err != nil {
		return nil, fmt.Errorf("apt updates: %w", err)
	}
	sim, err := parseAptSimulation(out)
	if err != nil {
		return nil, fmt.Errorf("apt updates: apt-get -s dist-upgrade output: %w", err)
	}
	if len(sim) == 0 {
		return []AptUpdate{}, nil
	}

	out, err = run(aptCache, "policy")
	if err != nil {
		return nil, fmt.Errorf("apt updates: %w", err)
	}
	files, err := parseAptPolicyFiles(out)
	if err != nil {
		return nil, fmt.Errorf("apt updates: apt-cache policy output: %w", err)
	}

	names := make([]string, len(sim))
	specs := make([]string, len(sim))
	for i, s := range sim {
		names[i] = s.name
		specs[i] = s.name + "=" + s.to
	}
	out, err = run(aptCache, append([]string{"policy", "--"}, names...)...)
	if err != nil {
		return nil, fmt.Errorf("apt updates: %w", err)
	}
	policies, err := parseAptPolicyPackages(out)
	if err != nil {
		return nil, fmt.Errorf("apt updates: apt-cache policy output: %w", err)
	}

	out, err = run(aptCache, append([]string{"show", "--no-all-versions", "--"}, specs...)...)
	if err != nil {
		return nil, fmt.Errorf("apt updates: %w", err)
	}
	sources, err := parseAptShow(out)
	if err != nil {
		return nil, fmt.Errorf("apt updates: apt-cache show output: %w", err)
	}
	return joinApt(sim, files, policies, sources)
}

// joinApt combines what the four commands said into one AptUpdate per
// simulated upgrade; a candidate missing from any of them is an error.
func joinApt(sim []aptInst, files map[string]AptRelease, policies map[string]aptPolicy, sources map[aptShowKey]aptSource) ([]AptUpdate, error) {
	ups := make([]AptUpdate, 0, len(sim))
	for _, s := range sim {
		base, _, _ := strings.Cut(s.name, ":")
		u := AptUpdate{Update: protocol.Update{
			Ecosystem: "deb", Name: base, Arch: s.arch, FromVersion: s.from, ToVersion: s.to,
		}}
		src, ok := sources[aptShowKey{base, s.arch, s.to}]
		if !ok {
			return nil, fmt.Errorf("apt updates: apt-cache show printed no record for %s %s (%s)", s.name, s.to, s.arch)
		}
		u.SourceName, u.SourceVersion = src.name, src.version
		pol, ok := policies[s.name]
		if !ok {
			// apt-cache policy prints a native package without its
			// architecture, however it was asked.
			pol, ok = policies[base]
		}
		if !ok {
			return nil, fmt.Errorf("apt updates: apt-cache policy printed nothing for %s", s.name)
		}
		if pol.candidate != s.to {
			return nil, fmt.Errorf("apt updates: %s: apt-get would install %s, apt-cache policy says the candidate is %s", s.name, s.to, pol.candidate)
		}
		for _, idx := range pol.versions[s.to] {
			rel, ok := files[idx]
			if !ok {
				if strings.HasPrefix(idx, "/") {
					continue // the dpkg status file
				}
				return nil, fmt.Errorf("apt updates: %s %s is in %q, which apt-cache policy does not list", s.name, s.to, idx)
			}
			u.Releases = append(u.Releases, rel)
		}
		if len(u.Releases) == 0 {
			return nil, fmt.Errorf("apt updates: %s %s is in no package index", s.name, s.to)
		}
		chosen := u.Releases[0]
		for _, r := range u.Releases {
			if r.Security() {
				chosen = r
				u.Security = true
				break
			}
		}
		u.Origin, u.Archive = chosen.Origin, chosen.Archive
		ups = append(ups, u)
	}
	slices.SortFunc(ups, func(x, y AptUpdate) int {
		return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.Arch, y.Arch))
	})
	return ups, nil
}
