package pkgmgr

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/version"
)

// ApkJobs runs deployment jobs with apk-tools 2.x (Alpine 3.22 and older
// ship 2.14): the agent's package manager (internal/agent.PackageManager)
// on Alpine hosts. It drives the apk program through argv, never a shell,
// with --no-interactive and --no-progress, under Root with --root when
// Root is not "/" (apk then reads the root's etc/apk/repositories, keys and
// world, never the machine's).
//
// Versions, Broken and the checks before a change read apk's database
// under Root (lib/apk/db/installed, etc/apk/world), never apk's output.
//
// apk takes its database lock (a flock on lib/apk/db/lock) for every
// change and, unless told to wait, fails at once when another apk holds
// it. ApkJobs waits for the lock itself up to LockTimeout, then gives apk
// the rest of the time with --wait; a lock still held then is an error
// wrapping ErrLocked.
//
// Dir holds what jobs keep between them, as for AptJobs: fetched/ the
// target packages a fetch downloaded ahead, kept/ the files of the
// versions installed before, each with an index.json.
//
// How apk-tools 2 shapes the jobs (see each method):
//   - apk fetch takes package names, not versions: it downloads the newest
//     version the repositories have, so Fetch checks that it got the target
//     version and fails when the repositories moved past it.
//   - apk add NAME=VERSION pins the version in the world file for good;
//     Install and Restore instead pin through a virtual package
//     (apk add --virtual .patchbay-deploy ...) and delete it afterwards
//     (apk del .patchbay-deploy), which leaves the world file as it was
//     and the packages where they are.
//   - apk keeps no half-installed state: a package whose maintainer script
//     failed stays installed at the new version, marked f:s in the
//     database (what apk fix repairs); Broken lists those.
type ApkJobs struct {
	// Root is the root directory; "" means "/".
	Root string
	// Command is the apk program; "" means apk found on PATH.
	Command string
	// Dir holds fetched/ and kept/.
	Dir string
	// LockTimeout is how long a change waits for another apk to release
	// the database lock: 0 means DefaultLockTimeout, a negative value not
	// at all (apk then fails at once when the lock is held).
	LockTimeout time.Duration
}

// apk's database, world file, lock and cache under a root (database.c:
// apk_db_layer_name, apk_world_file, apk_lock_file, and the cache
// directory, a link the administrator makes, usually to var/cache/apk).
const (
	apkInstalledFile = "lib/apk/db/installed"
	apkWorldFile     = "etc/apk/world"
	apkLockFile      = "lib/apk/db/lock"
	apkCacheLink     = "etc/apk/cache"
)

// apkVirtual is the virtual package Install and Restore pin the actions'
// versions through: apk add --virtual .patchbay-deploy NAME=VERSION...,
// then apk del .patchbay-deploy. A name starting with a dot is apk's
// convention for a local virtual package (it skips the check for
// non-repository packages).
const apkVirtual = ".patchbay-deploy"

func (j *ApkJobs) dir(sub string) string { return filepath.Join(j.Dir, sub) }

// lockDeadline returns when waiting for apk's lock ends.
func (j *ApkJobs) lockDeadline(start time.Time) time.Time {
	switch {
	case j.LockTimeout < 0:
		return start
	case j.LockTimeout == 0:
		return start.Add(DefaultLockTimeout)
	}
	return start.Add(j.LockTimeout)
}

// setup returns the root and the start of every apk command line: the
// program, --root when the root is not "/", --no-interactive (apk asks
// before removing or downgrading when /etc/apk/interactive exists and it
// runs on a terminal) and --no-progress.
func (j *ApkJobs) setup() (root string, argv []string, err error) {
	prog, err := lookProgram(j.Command, "apk")
	if err != nil {
		return "", nil, err
	}
	root, err = cleanRoot(j.Root)
	if err != nil {
		return "", nil, err
	}
	argv = []string{prog}
	if root != "/" {
		argv = append(argv, "--root="+root)
	}
	return root, append(argv, "--no-interactive", "--no-progress"), nil
}

// apkEnv is apk's environment: its messages are English whatever the
// locale; LC_ALL=C keeps its progress character and any script's output
// plain.
func apkEnv() []string { return []string{"LC_ALL=C"} }

// apkLocked recognises apk's messages for its database lock held by
// another process: "ERROR: Unable to lock database: temporary error (try
// again later)" (flock failed with EAGAIN, no --wait), or "...: Interrupted
// system call" (--wait ran out). "Unable to lock database: Read-only file
// system" and the like are no lock held elsewhere.
func apkLocked(output string) bool {
	return strings.Contains(output, "Unable to lock database: temporary error (try again later)") ||
		strings.Contains(output, "Unable to lock database: Interrupted system call")
}

// waitApkLock waits until nobody holds apk's lock under root, or until
// deadline, when the error names the file and its holder and wraps
// ErrLocked.
func waitApkLock(ctx context.Context, root string, start, deadline time.Time) error {
	path := filepath.Join(root, apkLockFile)
	for {
		held, pid, err := flockHeld(path)
		if err != nil {
			return fmt.Errorf("apk lock: %w", err)
		}
		if !held {
			return nil
		}
		if err := pause(ctx, deadline); err != nil {
			return waitError(err, path, pid, start)
		}
	}
}

// WaitIdle waits until no other process holds apk's database lock (an
// apk run, or one a killed agent left running), up to the lock timeout;
// the error then wraps ErrLocked and names the holder.
func (j *ApkJobs) WaitIdle(ctx context.Context) error {
	root, err := cleanRoot(j.Root)
	if err != nil {
		return err
	}
	start := time.Now()
	return waitApkLock(ctx, root, start, j.lockDeadline(start))
}

// runChange runs one apk command that changes packages (args after the
// common options), its output going to log: once apk's lock is free, with
// --wait for the rest of the lock timeout (another apk can take the lock
// between our look and apk's). Once apk runs, ctx no longer stops it: an
// apk killed halfway leaves packages half written.
func (j *ApkJobs) runChange(ctx context.Context, root string, base []string, args []string, log *outputLog) error {
	start := time.Now()
	deadline := j.lockDeadline(start)
	if err := waitApkLock(ctx, root, start, deadline); err != nil {
		return err
	}
	argv := append([]string(nil), base...)
	if wait := waitSeconds(time.Until(deadline)); wait > 0 {
		argv = append(argv, "--wait="+strconv.Itoa(wait))
	}
	argv = append(argv, args...)
	fmt.Fprintf(log, "$ %s\n", strings.Join(append([]string{filepath.Base(argv[0])}, argv[1:]...), " "))
	_, err := command{argv: argv, env: apkEnv(), isLocked: apkLocked, log: log}.run(context.WithoutCancel(ctx))
	return err
}

// waitSeconds is apk's --wait for the time left: whole seconds, rounded
// up; 0 (no waiting) when none is left.
func waitSeconds(left time.Duration) int {
	if left <= 0 {
		return 0
	}
	return int(math.Ceil(left.Seconds()))
}

// apkState is what ApkJobs reads of apk's database under a root.
type apkState struct {
	installed map[string]apkInstalled
	world     []apkDep
}

// readApkState reads the installed database and the world file under
// root. A missing world file is an empty world (apk creates it on its
// first change).
func readApkState(root string) (apkState, error) {
	path := filepath.Join(root, apkInstalledFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return apkState{}, fmt.Errorf("read apk database: %w", err)
	}
	pkgs, err := parseApkInstalled(data)
	if err != nil {
		return apkState{}, fmt.Errorf("read apk database %s: %w", path, err)
	}
	st := apkState{installed: make(map[string]apkInstalled, len(pkgs))}
	for _, p := range pkgs {
		st.installed[p.Name] = p
	}
	path = filepath.Join(root, apkWorldFile)
	data, err = os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return apkState{}, fmt.Errorf("read apk world: %w", err)
	}
	if st.world, err = parseApkWorld(data); err != nil {
		return apkState{}, fmt.Errorf("read apk world %s: %w", path, err)
	}
	return st, nil
}

// pin returns the world's version constraint on name that version v does
// not meet: apk's way of holding a package ("name=1.0-r0" in the world
// file, set by apk add name=1.0-r0).
func (st apkState) pin(name, v string) (apkDep, bool) {
	for _, d := range st.world {
		if d.Name == name && !d.Conflict && d.Op != "" && !d.satisfiedBy(v) {
			return d, true
		}
	}
	return apkDep{}, false
}

// hasVirtual reports whether the world holds Install's virtual package
// (between its apk add and apk del, or left by an interrupted job).
func (st apkState) hasVirtual() bool {
	for _, d := range st.world {
		if d.Name == apkVirtual {
			return true
		}
	}
	return false
}

// Versions returns each action's package's installed version from apk's
// database ("" when not installed). apk installs one architecture of a
// name, so the name alone finds it.
func (j *ApkJobs) Versions(ctx context.Context, actions []protocol.Action) ([]protocol.PackageVersion, error) {
	root, err := cleanRoot(j.Root)
	if err != nil {
		return nil, err
	}
	st, err := readApkState(root)
	if err != nil {
		return nil, err
	}
	out := make([]protocol.PackageVersion, len(actions))
	for i, a := range actions {
		out[i] = protocol.PackageVersion{Name: a.Name, Arch: a.Arch}
		if p, ok := st.installed[a.Name]; ok {
			out[i].Version, out[i].Arch = p.Version, p.Arch
		}
	}
	return out, nil
}

// Broken lists the packages apk's database marks unfinished (f: with f, s
// or x): a maintainer script that failed, files not written, extended
// attributes not applied. apk keeps no half-installed or half-configured
// state: such a package is installed at its new version, and apk fix
// reinstalls it.
func (j *ApkJobs) Broken(ctx context.Context) ([]string, error) {
	root, err := cleanRoot(j.Root)
	if err != nil {
		return nil, err
	}
	st, err := readApkState(root)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range st.installed {
		if why := p.broken(); why != "" {
			out = append(out, fmt.Sprintf("%s %s (%s; apk fix reinstalls it)", p.Name, p.Version, why))
		}
	}
	slices.Sort(out)
	return out, nil
}

// validateApkActions checks actions before any of them reaches apk's
// command line: an Alpine package name (a letter or digit, then letters,
// digits and "+-._"; nothing apk add would take for a file, ".apk"), an
// apk-tools 2 version, an architecture of letters, digits and "_", and
// no name twice.
func validateApkActions(actions []protocol.Action) error {
	if len(actions) == 0 {
		return errors.New("no actions")
	}
	seen := map[string]bool{}
	for _, a := range actions {
		spec := a.Name + "=" + a.Version
		if err := validApkName(a.Name); err != nil {
			return fmt.Errorf("action %s: %w", quote(spec), err)
		}
		if _, err := version.ParseAPK(version.APK2, a.Version); err != nil {
			return fmt.Errorf("action %s: %w", quote(spec), err)
		}
		if !apkWord(a.Version, "._+~-") {
			return fmt.Errorf("action %s: version %s: character not allowed", quote(spec), quote(a.Version))
		}
		if a.Arch != "" && !apkWord(a.Arch, "_") {
			return fmt.Errorf("action %s: architecture %s: character not allowed", quote(spec), quote(a.Arch))
		}
		if seen[a.Name] {
			return fmt.Errorf("action %s: package %s named twice", quote(spec), a.Name)
		}
		seen[a.Name] = true
	}
	return nil
}

// validApkName accepts a package name as abuild does.
func validApkName(s string) error {
	switch {
	case s == "" || len(s) > 256:
		return fmt.Errorf("package name %s: empty or too long", quote(s))
	case !apkWord(s[:1], ""):
		return fmt.Errorf("package name %s: must start with a letter or a digit", quote(s))
	case !apkWord(s, "+-._"):
		return fmt.Errorf("package name %s: character not allowed", quote(s))
	case strings.Contains(s, ".apk"):
		return fmt.Errorf("package name %s: apk add would take it for a file", quote(s))
	}
	return nil
}

// apkWord reports whether s has only ASCII letters, digits and the bytes
// of extra.
func apkWord(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return s != ""
}

// apkFileName is the name apk fetch gives a package's file, and that
// apk add recognises as a file: NAME-VERSION.apk (PKG_FILE_FMT).
func apkFileName(name, ver string) string { return name + "-" + ver + ".apk" }

// Prune forgets the fetched targets and the kept versions given, whose
// deployments ended, and deletes the files no remaining entry names.
func (j *ApkJobs) Prune(ctx context.Context, fetched, kept []protocol.PackageVersion) error {
	return pruneJobFiles(j.Dir, fetched, kept)
}
