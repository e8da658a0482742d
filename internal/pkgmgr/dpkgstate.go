package pkgmgr

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/patchbay/patchbay/internal/version"
)

// PackageState is one package as dpkg's database has it.
type PackageState struct {
	Name    string // without the architecture
	Arch    string
	Version string // "" when not installed
	// Want is the selection: "install", "hold", "deinstall", "purge" or
	// "unknown". A held package is one apt-get will not change.
	Want string
	// Status is dpkg's: "installed", "not-installed", "config-files",
	// "half-installed", "unpacked", "half-configured", "triggers-awaited"
	// or "triggers-pending".
	Status string
	// ReinstReq is dpkg's "reinst-required" flag: a failed removal or
	// unpack left the package needing reinstallation.
	ReinstReq bool

	ref string // the name dpkg knows it by: "name", or "name:arch" for a Multi-Arch: same package
}

// Installed reports whether the package is fully installed.
func (p PackageState) Installed() bool { return p.Status == "installed" && !p.ReinstReq }

// Held reports whether the package's selection is hold (dpkg
// --set-selections, apt-mark hold).
func (p PackageState) Held() bool { return p.Want == "hold" }

// Broken reports whether dpkg left the package between states: half
// installed, unpacked but not configured, half configured, waiting for
// triggers, or needing reinstallation. A database with a broken package is
// not consistent (see Apt.Consistent).
func (p PackageState) Broken() bool {
	switch p.Status {
	case "installed", "not-installed", "config-files":
		return p.ReinstReq
	}
	return true
}

// String describes the state as dpkg -l would in words: "1.1 installed",
// "1.2 half-configured, held".
func (p PackageState) String() string {
	if p.Status == "" || p.Status == "not-installed" {
		return "not installed"
	}
	s := p.Version + " " + p.Status
	if p.ReinstReq {
		s += ", reinstallation required"
	}
	if p.Held() {
		s += ", held"
	}
	return s
}

// dpkgQueryFormat is what packages asks dpkg-query -W to print, one line a
// package.
const dpkgQueryFormat = "${db:Status-Abbrev}\t${binary:Package}\t${Architecture}\t${Version}\n"

// The letters of ${db:Status-Abbrev}: the selection, the status and the
// error flag (lib/dpkg/pkg-namevalue.c in dpkg).
var (
	abbrevWant   = map[byte]string{'u': "unknown", 'i': "install", 'h': "hold", 'r': "deinstall", 'p': "purge"}
	abbrevStatus = map[byte]string{'n': "not-installed", 'c': "config-files", 'H': "half-installed", 'U': "unpacked",
		'F': "half-configured", 'W': "triggers-awaited", 't': "triggers-pending", 'i': "installed"}
)

// parseDpkgQuery parses dpkg-query -W -f dpkgQueryFormat: per line the
// three status letters ("ii ", "iF ", "hi ", "iUR"), the package as dpkg
// names it, its architecture and its version. Packages that are not
// installed (selected, or known from the available file) have no version.
// The result is sorted by name and architecture.
func parseDpkgQuery(out []byte) ([]PackageState, error) {
	var pkgs []PackageState
	seen := map[string]int{}
	for n, line := range strings.Split(string(out), "\n") {
		if line == "" {
			continue
		}
		if err := checkLine(line); err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		p, err := parseDpkgQueryLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w: %s", n+1, err, quote(line))
		}
		if first, dup := seen[p.ref]; dup {
			return nil, fmt.Errorf("line %d: %s twice (first on line %d)", n+1, p.ref, first)
		}
		seen[p.ref] = n + 1
		pkgs = append(pkgs, p)
	}
	slices.SortFunc(pkgs, func(x, y PackageState) int {
		return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.Arch, y.Arch))
	})
	return pkgs, nil
}

func parseDpkgQueryLine(line string) (PackageState, error) {
	f := strings.Split(line, "\t")
	if len(f) != 4 {
		return PackageState{}, fmt.Errorf("%d fields, want 4", len(f))
	}
	abbrev := f[0]
	if len(abbrev) != 3 {
		return PackageState{}, fmt.Errorf("status %s is not three letters", quote(abbrev))
	}
	p := PackageState{ref: f[1], Arch: f[2], Version: f[3]}
	var ok bool
	if p.Want, ok = abbrevWant[abbrev[0]]; !ok {
		return p, fmt.Errorf("unknown selection %q", abbrev[0])
	}
	if p.Status, ok = abbrevStatus[abbrev[1]]; !ok {
		return p, fmt.Errorf("unknown status %q", abbrev[1])
	}
	switch abbrev[2] {
	case ' ':
	case 'R':
		p.ReinstReq = true
	default:
		return p, fmt.Errorf("unknown error flag %q", abbrev[2])
	}
	name, qual, hasQual := strings.Cut(p.ref, ":")
	p.Name = name
	if err := validDebName(name); err != nil {
		return p, fmt.Errorf("package %w", err)
	}
	if p.Arch != "" {
		if err := validDebArch(p.Arch); err != nil {
			return p, err
		}
	}
	if hasQual && qual != p.Arch {
		return p, fmt.Errorf("package %s, architecture %s", quote(p.ref), quote(p.Arch))
	}
	if p.Version == "" {
		if p.Status != "not-installed" {
			return p, fmt.Errorf("%s package without a version", p.Status)
		}
		return p, nil
	}
	if _, err := version.ParseDeb(p.Version); err != nil || strings.TrimSpace(p.Version) != p.Version {
		return p, fmt.Errorf("version %s: not a version", quote(p.Version))
	}
	return p, nil
}

// packages returns every package dpkg's database under root knows, from
// dpkg-query -W. It takes no lock: dpkg-query reads the database as it
// is, and so sees a running dpkg's last committed state.
func (a *Apt) packages(ctx context.Context, root string, env []string) ([]PackageState, error) {
	prog, err := lookProgram(a.DpkgQuery, "dpkg-query")
	if err != nil {
		return nil, err
	}
	argv := append(append([]string{prog}, a.admindirOpt(root)...), "-W", "-f", dpkgQueryFormat)
	out, err := command{argv: argv, env: env}.run(ctx)
	if err != nil {
		return nil, err
	}
	pkgs, err := parseDpkgQuery(out)
	if err != nil {
		return nil, fmt.Errorf("dpkg-query -W output: %w", err)
	}
	return pkgs, nil
}

// admindirOpt returns dpkg's --admindir option for a root other than "/".
func (a *Apt) admindirOpt(root string) []string {
	if root == "/" {
		return nil
	}
	return []string{"--admindir=" + filepath.Join(root, "var/lib/dpkg")}
}

// Consistent checks that dpkg's database is consistent: no package is
// half installed, unpacked but not configured, half configured, waiting
// for triggers, or needing reinstallation — what a failed or interrupted
// dpkg run leaves (dpkg --audit reports the same states). It returns the
// packages that are not, sorted by name; none means consistent.
func (a *Apt) Consistent(ctx context.Context) ([]PackageState, error) {
	root, err := cleanRoot(a.Root)
	if err != nil {
		return nil, fmt.Errorf("dpkg audit: %w", err)
	}
	pkgs, err := a.packages(ctx, root, dpkgEnv())
	if err != nil {
		return nil, fmt.Errorf("dpkg audit: %w", err)
	}
	broken := []PackageState{}
	for _, p := range pkgs {
		if p.Broken() {
			broken = append(broken, p)
		}
	}
	return broken, nil
}

// dpkgEnv is the environment of dpkg's own programs.
func dpkgEnv() []string { return []string{"LC_ALL=C", "DEBIAN_FRONTEND=noninteractive"} }

// snapshot is every package dpkg knows, as it was at one moment.
type snapshot []PackageState

// find returns the state of the package an action names: the one of its
// architecture, or, when the action has none, the only one of that name
// installed (or any, if none is). The zero state means not installed.
func (s snapshot) find(name, arch string) PackageState {
	var found []PackageState
	for _, p := range s {
		if p.Name == name && (arch == "" || p.Arch == arch || p.Version == "" && p.Arch == "") {
			found = append(found, p)
		}
	}
	for _, p := range found {
		if p.Status != "not-installed" {
			return p
		}
	}
	if len(found) > 0 {
		return found[0]
	}
	return PackageState{Name: name, Arch: arch, Status: "not-installed"}
}

// changes returns the packages whose state differs between before and
// after, as pairs (the zero state on the side where one is missing).
func changes(before, after snapshot) [][2]PackageState {
	key := func(p PackageState) string { return p.Name + ":" + p.Arch }
	b := map[string]PackageState{}
	for _, p := range before {
		b[key(p)] = p
	}
	var out [][2]PackageState
	seen := map[string]bool{}
	for _, p := range after {
		seen[key(p)] = true
		old, ok := b[key(p)]
		if !ok {
			old = PackageState{Name: p.Name, Arch: p.Arch, Status: "not-installed"}
		}
		if !sameState(old, p) {
			out = append(out, [2]PackageState{old, p})
		}
	}
	for _, p := range before {
		if !seen[key(p)] && p.Status != "not-installed" {
			out = append(out, [2]PackageState{p, {Name: p.Name, Arch: p.Arch, Status: "not-installed"}})
		}
	}
	return out
}

func sameState(x, y PackageState) bool {
	if x.Status == "not-installed" && y.Status == "not-installed" {
		return true
	}
	return x.Version == y.Version && x.Status == y.Status && x.Want == y.Want && x.ReinstReq == y.ReinstReq
}
