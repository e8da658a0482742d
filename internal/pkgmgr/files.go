package pkgmgr

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// dpkgLocked recognises dpkg's messages for a lock held by another
// process: "dpkg frontend lock was locked by another process with pid
// 1234", "dpkg database lock was locked by another process" (dpkg 1.20 and
// later), "dpkg status database is locked by another process" (before).
func dpkgLocked(stderr string) bool {
	return strings.Contains(stderr, "lock was locked by another process") ||
		strings.Contains(stderr, "is locked by another process")
}

// dpkgRootOpts returns dpkg's options for a root other than "/": the
// files go under it (--instdir) and so does the database (--admindir).
// dpkg runs the maintainer scripts chrooted into the root.
func dpkgRootOpts(root string) []string {
	if root == "/" {
		return nil
	}
	return []string{"--instdir=" + root, "--admindir=" + filepath.Join(root, "var/lib/dpkg")}
}

// debInfo reads the package, architecture and version of a package file
// with dpkg-deb --show.
func (a *Apt) debInfo(ctx context.Context, path string) (Action, error) {
	prog, err := lookProgram(a.DpkgDeb, "dpkg-deb")
	if err != nil {
		return Action{}, err
	}
	argv := []string{prog, "--show", "--showformat=${Package}\t${Architecture}\t${Version}\n", "--", path}
	out, err := command{argv: argv, env: dpkgEnv()}.run(ctx)
	if err != nil {
		return Action{}, err
	}
	act, err := parseDebShow(out)
	if err != nil {
		return Action{}, fmt.Errorf("%s: dpkg-deb --show output: %w", path, err)
	}
	return act, nil
}

// InstallFiles installs package files with dpkg -i, the rollback path: it
// never needs the archive, so a version the archive no longer holds
// installs from the file kept before the upgrade (Keep), or downloaded
// before the deployment started (Download). Older versions replace newer
// ones (dpkg downgrades), and a package left half-configured by a failed
// upgrade is replaced too. Conffiles are handled as by Install (a local
// change is kept); dependencies are not resolved, so the files of every
// package to restore go in one call. A hold does not stop it (holds are
// apt's; dpkg installs the file it is given).
//
// It takes dpkg's frontend lock itself, as apt-get does, waiting for it
// and for the database lock up to LockTimeout (ErrLocked), and runs dpkg
// with DPKG_FRONTEND_LOCKED. Each file's package is recorded with its
// state before and after; once dpkg runs, ctx no longer stops it.
func (a *Apt) InstallFiles(ctx context.Context, debPaths []string) (*InstallResult, error) {
	const op = "dpkg install"
	if len(debPaths) == 0 {
		return nil, fmt.Errorf("%s: no files", op)
	}
	dpkg, err := lookProgram(a.Dpkg, "dpkg")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	root, err := cleanRoot(a.Root)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	paths := make([]string, len(debPaths))
	actions := make([]Action, len(debPaths))
	seen := map[string]string{}
	for i, p := range debPaths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		if fi, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		} else if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: %s is not a file", op, abs)
		}
		act, err := a.debInfo(ctx, abs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		key := act.Name + ":" + act.Arch
		if other, dup := seen[key]; dup {
			return nil, fmt.Errorf("%s: %s and %s both hold %s", op, other, abs, key)
		}
		seen[key] = abs
		paths[i], actions[i] = abs, act
	}
	env := dpkgEnv()
	before, err := a.packages(ctx, root, env)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	res := newResult(actions, before)

	start := time.Now()
	deadline := a.lockDeadline(start)
	admin := filepath.Join(root, "var/lib/dpkg")
	argv := append(append([]string{dpkg}, dpkgRootOpts(root)...), "--force-confdef", "--force-confold", "--install", "--")
	argv = append(argv, paths...)
	log := newOutputLog()
	var runErr error
	for {
		lock, err := lockFrontend(ctx, start, deadline, admin)
		if err != nil {
			for i := range res.Packages {
				res.Packages[i].Reason, res.Packages[i].After = ReasonLocked, res.Packages[i].Before
			}
			return res, res.failure(op, err)
		}
		_, runErr = command{argv: argv, env: append(env, "DPKG_FRONTEND_LOCKED=1"), isLocked: dpkgLocked, log: log}.run(context.WithoutCancel(ctx))
		lock.Close()
		// dpkg fails at once, having changed nothing, when another process
		// took the database lock between our look and its start: wait again.
		if !errors.Is(runErr, ErrLocked) || !time.Now().Before(deadline) {
			break
		}
	}
	res.Output = log.String()
	after, err := a.packages(context.WithoutCancel(ctx), root, env)
	if err != nil {
		return res, fmt.Errorf("%s: %w", op, errors.Join(runErr, err))
	}
	res.settle(before, after, runErr)
	return res, res.failure(op, runErr)
}

// Download fetches the files of exactly the actions' versions, with their
// dependencies that are not installed yet, without installing anything
// (apt-get install --download-only, with --reinstall so that a version
// installed already is fetched too), into dir: so that the target stays
// installable (with InstallFiles) after the archive drops it, as archives
// keep only the newest version. With dir "", the files stay in apt's
// archive cache under the root, where apt-get clean and autoclean (which
// removes precisely the files no longer downloadable) may delete them: a
// directory of one's own keeps them for as long as one needs.
//
// It checks the actions as Install does (held packages and versions no
// index holds fail, naming the package and the reason, before anything is
// fetched) and waits for dpkg's locks, which apt-get takes to download
// too. It returns one file per action, in order.
func (a *Apt) Download(ctx context.Context, actions []Action, dir string) ([]DebFile, error) {
	const op = "apt download"
	if err := validateActions(actions); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	aptGet, err := lookProgram(a.AptGet, "apt-get")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	root, aptOpts, env, cleanup, err := a.setup()
	if err != nil {
		return nil, err
	}
	defer cleanup()
	archives := filepath.Join(root, "var/cache/apt/archives")
	if dir != "" {
		if archives, err = filepath.Abs(dir); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		if strings.ContainsAny(archives, "\n\r") {
			return nil, fmt.Errorf("%s: directory %q: apt's configuration cannot hold its name", op, archives)
		}
		if err := os.MkdirAll(filepath.Join(archives, "partial"), 0o755); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		aptOpts = append(aptOpts, "-o", "Dir::Cache::Archives="+archives+"/")
	}
	before, err := a.packages(ctx, root, env)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	res := newResult(actions, before)
	if err := a.precheck(ctx, aptOpts, env, res, false, true); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if len(res.Failed()) > 0 {
		res.stopAll()
		return nil, res.failure(op, nil)
	}
	args := []string{"-q", "-y", "--download-only", "--reinstall", "--allow-downgrades", "install", "--"}
	for _, act := range actions {
		args = append(args, act.aptSpec())
	}
	if err := a.runAptLocked(ctx, aptGet, aptOpts, env, root, archives, args, newOutputLog()); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	files := make([]DebFile, len(actions))
	for i, act := range actions {
		f, err := a.findDownloaded(ctx, archives, act)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", op, act, err)
		}
		files[i] = f
	}
	return files, nil
}

// findDownloaded returns the file apt downloaded for act into dir, by the
// name apt gives it, checked against its control fields.
func (a *Apt) findDownloaded(ctx context.Context, dir string, act Action) (DebFile, error) {
	arch := act.Arch
	if arch == "" {
		arch = "*"
	}
	matches, err := filepath.Glob(filepath.Join(dir, debFileName(act.Name, act.Version, arch)))
	if err != nil {
		return DebFile{}, err
	}
	if len(matches) != 1 {
		return DebFile{}, fmt.Errorf("apt-get left %d files named %s in %s: %w", len(matches), debFileName(act.Name, act.Version, arch), dir, fs.ErrNotExist)
	}
	got, err := a.debInfo(ctx, matches[0])
	if err != nil {
		return DebFile{}, err
	}
	if !act.matches(got.Name, got.Arch) || !sameDebVersion(got.Version, act.Version) {
		return DebFile{}, fmt.Errorf("%s holds %s", matches[0], got)
	}
	return DebFile{Action: got, Path: matches[0]}, nil
}
