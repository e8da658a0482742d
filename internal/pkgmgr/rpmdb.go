package pkgmgr

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/version"
)

// rpmHeader is one package as rpm knows it: installed (in the database
// under a root) or in a package file.
type rpmHeader struct {
	name, epoch, version, release, arch string
	// sha1 is the header's SHA1HEADER digest, which a package file and
	// the database record made from it share: two builds of one NEVRA
	// differ in it. "" when the package has none.
	sha1 string
	path string // the file's, for a package file
}

// evr returns [epoch:]version-release, without a zero epoch, as dnf and
// Dnf.Updates print it.
func (h rpmHeader) evr() string {
	return dnfPackage{epoch: h.epoch, version: h.version, release: h.release}.evr()
}

// nevra returns name-[epoch:]version-release.arch, as dnf names a package.
func (h rpmHeader) nevra() string { return h.name + "-" + h.evr() + "." + h.arch }

// rpmQueryFormat is what rpm -q and -qp print of a package, one line each:
// name, epoch (empty when it has none), version, release, architecture and
// header digest, tab-separated (rpm tags hold no tab or newline).
const rpmQueryFormat = `%{NAME}\t%|EPOCH?{%{EPOCH}}:{}|\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%|SHA1HEADER?{%{SHA1HEADER}}:{}|\n`

// parseRPMQuery parses rpm's output in rpmQueryFormat. The gpg-pubkey
// pseudo-packages (public keys, which have no architecture) are left out.
func parseRPMQuery(out []byte) ([]rpmHeader, error) {
	var hs []rpmHeader
	err := eachRPMLine(out, 6, func(f []string) error {
		h := rpmHeader{name: f[0], epoch: f[1], version: f[2], release: f[3], arch: f[4], sha1: f[5]}
		if err := validRPMPackage(dnfPackage{name: h.name, epoch: h.epoch, version: h.version, release: h.release, arch: h.arch, repo: "@System"}); err != nil {
			return err
		}
		if strings.ContainsAny(h.sha1, " ") || len(h.sha1) > 128 {
			return fmt.Errorf("bad header digest %s", quote(h.sha1))
		}
		hs = append(hs, h)
		return nil
	})
	return hs, err
}

// rpmDB is the installed packages of a root, as read at one moment.
type rpmDB []rpmHeader

// find returns the installed packages named name of architecture arch, or
// of any architecture when arch is "" or none is of arch (a package that
// moved from noarch to x86_64 between versions), newest first.
func (db rpmDB) find(name, arch string) []rpmHeader {
	var same, any []rpmHeader
	for _, h := range db {
		if h.name != name {
			continue
		}
		any = append(any, h)
		if h.arch == arch {
			same = append(same, h)
		}
	}
	out := any
	if arch != "" && len(same) > 0 {
		out = same
	}
	slices.SortStableFunc(out, func(x, y rpmHeader) int { return -rpmCompare(x.evr(), y.evr()) })
	return out
}

// version returns the newest installed version of a's package and its
// architecture, "" when none is installed.
func (db rpmDB) version(a protocol.Action) (evr, arch string) {
	if hs := db.find(a.Name, a.Arch); len(hs) > 0 {
		return hs[0].evr(), hs[0].arch
	}
	return "", ""
}

// at reports whether a's package is installed at exactly a's version (of
// a's architecture, when it names one).
func (db rpmDB) at(a protocol.Action) bool {
	for _, h := range db {
		if h.name == a.Name && (a.Arch == "" || h.arch == a.Arch) && sameRPMVersion(h.evr(), a.Version) {
			return true
		}
	}
	return false
}

// has reports whether the database holds the package nevra.
func (db rpmDB) has(nevra string) (rpmHeader, bool) {
	for _, h := range db {
		if h.nevra() == nevra {
			return h, true
		}
	}
	return rpmHeader{}, false
}

// sameRPMVersion reports whether two EVRs are equal as rpm compares them
// ("1.0-1" and "0:1.0-1" are).
func sameRPMVersion(a, b string) bool {
	if a == b {
		return true
	}
	c, err := version.Compare(version.RPM, a, b)
	return err == nil && c == 0
}

// validRPMAction checks an action for an rpm host before any of it
// reaches a command line: a package name of ASCII letters, digits and
// . _ + - starting with a letter, a digit or _; an architecture of letters,
// digits and _ (or none); and an exact [epoch:]version-release, with
// its release, as rpm allows them. Nothing that passes starts with "-".
func validRPMAction(a protocol.Action) error {
	s := a.Name + "-" + a.Version
	if a.Arch != "" {
		s += "." + a.Arch
	}
	if a.Name == "" || len(a.Name) > 256 {
		return fmt.Errorf("action %s: package name empty or too long", quote(s))
	}
	for i := 0; i < len(a.Name); i++ {
		c := a.Name[i]
		if !(rpmAlnum(c) || c == '_' || i > 0 && strings.IndexByte(".+-", c) >= 0) {
			return fmt.Errorf("action %s: character %q not allowed in a package name", quote(s), c)
		}
	}
	if len(a.Arch) > 64 {
		return fmt.Errorf("action %s: architecture too long", quote(s))
	}
	for i := 0; i < len(a.Arch); i++ {
		if c := a.Arch[i]; !rpmAlnum(c) && c != '_' {
			return fmt.Errorf("action %s: character %q not allowed in an architecture", quote(s), c)
		}
	}
	if len(a.Version) > 256 {
		return fmt.Errorf("action %s: version too long", quote(s))
	}
	v, err := version.ParseRPM(a.Version)
	if err != nil {
		return fmt.Errorf("action %s: %w", quote(s), err)
	}
	if !v.HasRelease {
		return fmt.Errorf("action %s: version %s has no release: an exact version is [epoch:]version-release", quote(s), quote(a.Version))
	}
	if len(v.Epoch) > 10 {
		return fmt.Errorf("action %s: epoch too long", quote(s))
	}
	return nil
}

func rpmAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// validateRPMActions validates every action and refuses an empty list and
// a package named twice.
func validateRPMActions(actions []protocol.Action) error {
	if len(actions) == 0 {
		return errors.New("no actions")
	}
	seen := map[string]bool{}
	for _, a := range actions {
		if err := validRPMAction(a); err != nil {
			return err
		}
		key := a.Name + "." + a.Arch
		if seen[key] {
			return fmt.Errorf("action %s-%s: package %s named twice", a.Name, a.Version, a.Name)
		}
		seen[key] = true
	}
	return nil
}

// dnfSpec is the argument dnf takes for exactly a's package version:
// name-[epoch:]version-release, and .arch when a names it.
func dnfSpec(a protocol.Action) string {
	if a.Arch == "" {
		return a.Name + "-" + a.Version
	}
	return a.Name + "-" + a.Version + "." + a.Arch
}

// rpmProgram returns the rpm program and its options for root.
func (j *DnfJobs) rpmArgv(root string) ([]string, error) {
	prog, err := lookProgram(j.Rpm, "rpm")
	if err != nil {
		return nil, err
	}
	argv := []string{prog}
	if root != "/" {
		argv = append(argv, "--root", root)
	}
	return argv, nil
}

// installed reads every installed package from the rpm database under
// root (rpm -qa: it reads the last committed state and takes no lock).
func (j *DnfJobs) installed(ctx context.Context, root string) (rpmDB, error) {
	argv, err := j.rpmArgv(root)
	if err != nil {
		return nil, fmt.Errorf("read the rpm database: %w", err)
	}
	out, err := command{argv: append(argv, "-qa", "--queryformat", rpmQueryFormat), env: dnfEnv()}.run(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the rpm database: %w", err)
	}
	hs, err := parseRPMQuery(out)
	if err != nil {
		return nil, fmt.Errorf("read the rpm database: rpm -qa output: %w", err)
	}
	slices.SortFunc(hs, func(x, y rpmHeader) int {
		return cmp.Or(cmp.Compare(x.name, y.name), cmp.Compare(x.arch, y.arch), rpmCompare(x.evr(), y.evr()))
	})
	return hs, nil
}

// readFiles reads the headers of package files (rpm -qp), in order.
func (j *DnfJobs) readFiles(ctx context.Context, paths []string) ([]rpmHeader, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	argv, err := j.rpmArgv("/")
	if err != nil {
		return nil, err
	}
	out := make([]rpmHeader, 0, len(paths))
	for _, p := range paths {
		// One file a call: rpm prints nothing for a file it cannot read,
		// and its lines would no longer follow the files.
		b, err := command{argv: append(slices.Clone(argv), "-qp", "--queryformat", rpmQueryFormat, "--", p), env: dnfEnv()}.run(ctx)
		if err != nil {
			return nil, err
		}
		hs, err := parseRPMQuery(b)
		if err != nil || len(hs) != 1 {
			return nil, fmt.Errorf("%s: rpm -qp printed %d packages (%v)", p, len(hs), err)
		}
		hs[0].path = p
		out = append(out, hs[0])
	}
	return out, nil
}

// rpmLockPath returns the file of rpm's transaction lock under root:
// %{_rpmlock_path}, which is %{_dbpath}/.rpm.lock (/var/lib/rpm/.rpm.lock
// on Red Hat systems, ~/.rpmdb/.rpm.lock with Debian's rpm). rpm holds an
// fcntl write lock on it for a whole transaction.
func (j *DnfJobs) rpmLockPath(ctx context.Context, root string) (string, error) {
	argv, err := j.rpmArgv("/")
	if err != nil {
		return "", err
	}
	out, err := command{argv: append(argv, "--eval", "%{_rpmlock_path}"), env: dnfEnv()}.run(ctx)
	if err != nil {
		return "", err
	}
	p := strings.TrimSpace(string(out))
	if !filepath.IsAbs(p) || strings.ContainsAny(p, "\n%") {
		return "", fmt.Errorf("rpm's lock path %s: not a path", quote(p))
	}
	return filepath.Join(root, p), nil
}

// dnf's locks (dnf/lock.py) are files holding the process id of the dnf
// that has them, taken while no live process's id is in them (dnf writes
// its own under a short flock). dnf takes rpmdb_lock.pid in its persistdir
// for a whole transaction (and metadata_lock.pid and download_lock.pid in
// its cachedir while it reads metadata or downloads), under the root with
// --installroot.
const dnfRPMDBLock = "var/lib/dnf/rpmdb_lock.pid"

// dnfLockPID returns the live process whose id a dnf lock file holds,
// or 0 when there is none (no file, an empty one, or a dead process's id,
// which dnf takes over too).
func dnfLockPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return 0, nil // dnf stops on a malformed file; its own error says so
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/stat", pid)); err != nil {
		return 0, nil
	}
	return pid, nil
}

// busy returns the first lock of rpm and dnf under root that another
// process holds: rpm's transaction lock (at rpmLock) or dnf's rpmdb lock.
// dnf's metadata and download locks are not waited for here: dnf fails on
// them at once with exit_on_lock, and is run again.
func (j *DnfJobs) busy(rpmLock, root string) (path string, pid int, held bool, err error) {
	if held, pid, err := lockHolder(rpmLock); err != nil || held {
		return rpmLock, pid, held, err
	}
	p := filepath.Join(root, dnfRPMDBLock)
	pid, err = dnfLockPID(p)
	return p, pid, pid > 0, err
}
