package pkgmgr

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patchbay/patchbay/internal/version"
)

// InstallOptions are the choices of one Install.
type InstallOptions struct {
	// OnlyUpgrade changes only packages that are installed already
	// (apt-get --only-upgrade): an action for a package the host no
	// longer has fails with ReasonNotInstalled instead of installing it.
	OnlyUpgrade bool
	// AllowDowngrades lets apt install a version older than the installed
	// one (--allow-downgrades), for a rollback from the archive.
	AllowDowngrades bool
	// AllowRemovals lets apt remove packages to satisfy the actions;
	// without it apt-get gives up instead (--no-remove).
	AllowRemovals bool
}

// Reason says why one package of a run failed. It is an error, so that
// errors.Is(err, ReasonHeld) tells a run's error apart.
type Reason string

const (
	// ReasonHeld: the package is held (dpkg --set-selections hold,
	// apt-mark hold), and apt would not change it.
	ReasonHeld Reason = "held"
	// ReasonNotInstalled: an upgrade (OnlyUpgrade) of a package the host
	// does not have, or no longer has.
	ReasonNotInstalled Reason = "not installed"
	// ReasonUnavailable: no package index holds the version (any more;
	// archives keep only the newest), or apt knows no such package.
	ReasonUnavailable Reason = "version not available"
	// ReasonLocked: another process held dpkg's lock past the timeout.
	ReasonLocked Reason = "package manager locked"
	// ReasonFailed: apt-get or dpkg failed; After says where the package
	// was left (half-configured when its postinst failed, say).
	ReasonFailed Reason = "failed"
	// ReasonNotApplied: the run succeeded, yet the package is not
	// installed at the version asked.
	ReasonNotApplied Reason = "not applied"
	// ReasonNotAttempted: another package's failure before the run
	// stopped it from starting (a run is all or nothing).
	ReasonNotAttempted Reason = "not attempted"
)

func (r Reason) Error() string { return string(r) }

// PackageChange is what happened to one package in a run, its states
// before and after read from dpkg's database (not from apt's output).
type PackageChange struct {
	Action        // the version asked (Install), or the file's (InstallFiles)
	Before, After PackageState
	Reason        Reason // "" when the package is at Version, installed
	Detail        string // what went wrong, in words, when Reason is set
}

// InstallResult is the outcome of one Install or InstallFiles.
type InstallResult struct {
	// Packages are the actions' packages, in the order asked.
	Packages []PackageChange
	// Others are the other packages whose state the run changed:
	// dependencies upgraded or newly installed, packages removed. A
	// rollback must undo these too.
	Others []PackageChange
	// Output is what apt-get or dpkg printed, stdout and stderr
	// interleaved, cut in the middle past 64 KiB.
	Output string
}

// Failed returns the packages that did not end at the version asked.
func (r *InstallResult) Failed() []PackageChange {
	var out []PackageChange
	for _, p := range r.Packages {
		if p.Reason != "" {
			out = append(out, p)
		}
	}
	return out
}

// newResult starts the result of a run of actions on a host whose
// packages are before.
func newResult(actions []Action, before snapshot) *InstallResult {
	r := &InstallResult{Packages: make([]PackageChange, len(actions))}
	for i, a := range actions {
		r.Packages[i] = PackageChange{Action: a, Before: before.find(a.Name, a.Arch)}
	}
	return r
}

// stopAll marks every package not failed yet as not attempted, after the
// failure of others before the run.
func (r *InstallResult) stopAll() {
	for i := range r.Packages {
		if r.Packages[i].Reason == "" {
			r.Packages[i].Reason = ReasonNotAttempted
		}
		r.Packages[i].After = r.Packages[i].Before
	}
}

// settle records the packages' states after a run whose command returned
// runErr, and the reason of each that is not at its version.
func (r *InstallResult) settle(before, after snapshot, runErr error) {
	for i := range r.Packages {
		p := &r.Packages[i]
		arch := p.Arch
		if arch == "" {
			arch = p.Before.Arch
		}
		p.After = after.find(p.Name, arch)
		switch {
		case p.After.Installed() && sameDebVersion(p.After.Version, p.Version):
			p.Reason, p.Detail = "", ""
		case errors.Is(runErr, context.Canceled) || errors.Is(runErr, context.DeadlineExceeded):
			// Only the wait for the lock heeds ctx: nothing ran.
			p.Reason, p.Detail = ReasonNotAttempted, "stopped while waiting for the lock: still "+p.After.String()
		case errors.Is(runErr, ErrLocked):
			p.Reason, p.Detail = ReasonLocked, "still "+p.After.String()
		case runErr != nil:
			p.Reason, p.Detail = ReasonFailed, "left "+p.After.String()
			problems := aptProblems(r.Output, p.Name)
			if len(problems) > 0 {
				p.Detail += ": " + strings.Join(problems, "; ")
			}
			if held := heldIn(before, append(problems, aptHeldChanged(r.Output)...)); len(held) > 0 {
				p.Reason, p.Detail = ReasonHeld, strings.Join(held, ", ")+" held; "+p.Detail
			}
		default:
			p.Reason, p.Detail = ReasonNotApplied, "the run succeeded but left "+p.After.String()
		}
	}
	for _, c := range changes(before, after) {
		ours := slices.ContainsFunc(r.Packages, func(p PackageChange) bool {
			return p.Name == c[1].Name && (p.After.Arch == c[1].Arch || p.Before.Arch == c[1].Arch)
		})
		if ours {
			continue
		}
		now := c[1]
		if now.Version == "" {
			now = c[0]
		}
		r.Others = append(r.Others, PackageChange{Action: Action{Name: now.Name, Arch: now.Arch, Version: now.Version}, Before: c[0], After: c[1]})
	}
}

// aptProblems returns what apt-get said about name's unmet dependencies,
// the lines
//
//	story-pb : Depends: storylib-pb (>= 1.1) but 1.0 is to be installed
//	           Depends: other-pb but it is not installable
//
// of its "The following packages have unmet dependencies" list, trimmed.
func aptProblems(output, name string) []string {
	var out []string
	in := false
	for _, line := range strings.Split(output, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, " ") && strings.HasPrefix(t, name+" : "):
			in = true
			out = append(out, t)
		case in && strings.HasPrefix(line, "   ") && t != "" && !strings.Contains(t, " : "):
			out = append(out, t)
		default:
			in = false
		}
	}
	return out
}

// aptHeldChanged returns the lines of apt-get's list "The following held
// packages will be changed:", which it prints before refusing to change
// them without --allow-change-held-packages.
func aptHeldChanged(output string) []string {
	var out []string
	in := false
	for _, line := range strings.Split(output, "\n") {
		switch {
		case line == "The following held packages will be changed:":
			in = true
		case in && strings.HasPrefix(line, "  ") && strings.TrimSpace(line) != "":
			out = append(out, strings.TrimSpace(line))
		default:
			in = false
		}
	}
	return out
}

// heldIn returns the held packages of before that lines name: a held
// dependency is why apt-get could not install a package.
func heldIn(before snapshot, lines []string) []string {
	words := map[string]bool{}
	for _, l := range lines {
		for _, w := range strings.Fields(l) {
			name, _, _ := strings.Cut(w, ":")
			words[name] = true
		}
	}
	var held []string
	for _, p := range before {
		if p.Held() && words[p.Name] && !slices.Contains(held, p.Name) {
			held = append(held, p.Name)
		}
	}
	return held
}

// failure returns the error of a run: nil when every package is at its
// version, else one naming each failed package and its reason, wrapping
// the reasons and the command's error (ErrLocked among them).
func (r *InstallResult) failure(op string, cmdErr error) error {
	var fails []failedPackage
	for _, p := range r.Failed() {
		fails = append(fails, failedPackage{what: p.Action.String(), reason: p.Reason, detail: p.Detail})
	}
	return runFailure(op, fails, nil, cmdErr)
}

// failedPackage is one package a run could not bring to its version.
type failedPackage struct {
	what   string // the package and version, as the tool names it
	reason Reason
	detail string
}

// runFailure returns the error of a run of op: nil when nothing failed,
// else one naming each failed package with its reason (and detail), then
// the extra problems (which count as ReasonFailed when no package failed)
// and the command's error, wrapping the reasons and the command's error
// (ErrLocked among them).
func runFailure(op string, fails []failedPackage, extra []string, cmdErr error) error {
	var parts []string
	var errs []error
	for _, f := range fails {
		s := f.what + ": " + f.reason.Error()
		if f.detail != "" {
			s += " (" + f.detail + ")"
		}
		parts = append(parts, s)
		if !slices.Contains(errs, error(f.reason)) {
			errs = append(errs, f.reason)
		}
	}
	parts = append(parts, extra...)
	if len(extra) > 0 && len(fails) == 0 {
		errs = append(errs, ReasonFailed)
	}
	if cmdErr != nil {
		parts = append(parts, cmdErr.Error())
		errs = append(errs, cmdErr)
	}
	if len(parts) == 0 {
		return nil
	}
	return &runError{msg: op + ": " + strings.Join(parts, "; "), errs: errs}
}

// runError is the error of a run, wrapping each reason and the command's
// error.
type runError struct {
	msg  string
	errs []error
}

func (e *runError) Error() string   { return e.msg }
func (e *runError) Unwrap() []error { return e.errs }

// sameDebVersion reports whether two versions are equal as dpkg compares
// them ("1.0" and "0:1.0" are).
func sameDebVersion(a, b string) bool {
	if a == b {
		return true
	}
	c, err := version.Compare(version.Deb, a, b)
	return err == nil && c == 0
}

// Install installs exactly the actions' versions with apt-get install
// NAME=VERSION..., non-interactively (DEBIAN_FRONTEND=noninteractive,
// dpkg's --force-confdef and --force-confold: a locally changed conffile
// is kept), without removing packages unless asked, and records every
// package's state before and after from dpkg's database.
//
// Before anything changes it checks each action: a held package fails
// with ReasonHeld, an upgrade (OnlyUpgrade) of a package that is not
// installed with ReasonNotInstalled, a version no package index holds with
// ReasonUnavailable; one such failure stops the whole run (the others are
// ReasonNotAttempted), so that a job's packages change together or not at
// all. It then waits for dpkg's locks up to LockTimeout (ErrLocked).
//
// Once apt-get runs, ctx no longer stops it: a dpkg run killed halfway
// leaves the host worse off than a late one. The result is returned with
// any error; the error is nil only when every package ended installed at
// its version.
func (a *Apt) Install(ctx context.Context, actions []Action, opts InstallOptions) (*InstallResult, error) {
	const op = "apt install"
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
	before, err := a.packages(ctx, root, env)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	res := newResult(actions, before)
	if err := a.precheck(ctx, aptOpts, env, res, opts.OnlyUpgrade, false); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if len(res.Failed()) > 0 {
		res.stopAll()
		return res, res.failure(op, nil)
	}

	args := []string{"-q", "-y", "-o", "Dpkg::Use-Pty=0",
		"-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"}
	if opts.OnlyUpgrade {
		args = append(args, "--only-upgrade")
	}
	if opts.AllowDowngrades {
		args = append(args, "--allow-downgrades")
	}
	if !opts.AllowRemovals {
		args = append(args, "--no-remove")
	}
	args = append(args, "install", "--")
	specs := make([]string, len(actions))
	for i, act := range actions {
		specs[i] = act.aptSpec()
	}
	log := newOutputLog()
	runErr := a.runAptLocked(ctx, aptGet, aptOpts, env, root, filepath.Join(root, "var/cache/apt/archives"), append(args, specs...), log)
	res.Output = log.String()
	after, err := a.packages(context.WithoutCancel(ctx), root, env)
	if err != nil {
		return res, fmt.Errorf("%s: %w", op, errors.Join(runErr, err))
	}
	res.settle(before, after, runErr)
	return res, res.failure(op, runErr)
}

// noStatusCache makes apt read dpkg's status file afresh, instead of from
// its binary cache (pkgcache.bin), which it trusts as long as the status
// file's modification time, to the second, and size are unchanged: two
// selection changes within a second that leave the size as it was (hold
// one package, unhold another) go unseen, and apt acts on the old
// selections. The cache of the package indexes (srcpkgcache.bin) stays.
var noStatusCache = []string{"-o", "Dir::Cache::pkgcache="}

// runAptLocked runs apt-get with args, its output going to log, once
// dpkg's locks (and the lock of the archive cache, archives) are free, or
// fails with ErrLocked after LockTimeout. Once apt-get runs, ctx no longer
// stops it.
func (a *Apt) runAptLocked(ctx context.Context, aptGet string, aptOpts, env []string, root, archives string, args []string, log *outputLog) error {
	start := time.Now()
	deadline := a.lockDeadline(start)
	admin := filepath.Join(root, "var/lib/dpkg")
	if err := waitUnlocked(ctx, start, deadline, filepath.Join(admin, frontendLock), filepath.Join(admin, databaseLock), filepath.Join(archives, databaseLock)); err != nil {
		return err
	}
	// apt-get waits for dpkg's locks too, for the rest of the time: another
	// frontend can take them between our look and apt-get's.
	wait := int(math.Ceil(time.Until(deadline).Seconds()))
	argv := append(append(append([]string{aptGet}, aptOpts...), noStatusCache...), "-o", "DPkg::Lock::Timeout="+strconv.Itoa(max(wait, 0)))
	argv = append(argv, args...)
	_, err := command{argv: argv, env: env, isLocked: aptLocked, log: log}.run(context.WithoutCancel(ctx))
	return err
}

// precheck sets the reason of each action that cannot succeed: held,
// not installed (for an upgrade), or a version no package index holds
// (from apt-cache policy). An action whose package is installed at its
// version already passes: there is nothing to do.
//
// For a download (fetch), an installed version is no excuse: its file
// must be downloadable too.
func (a *Apt) precheck(ctx context.Context, aptOpts, env []string, res *InstallResult, onlyUpgrade, fetch bool) error {
	aptCache, err := lookProgram(a.AptCache, "apt-cache")
	if err != nil {
		return err
	}
	var names []string
	for _, p := range res.Packages {
		names = append(names, policyName(p.Action))
	}
	argv := append(append(append(append([]string{aptCache}, aptOpts...), noStatusCache...), "policy", "--"), names...)
	out, err := command{argv: argv, env: env, isLocked: aptLocked}.run(ctx)
	if err != nil {
		return err
	}
	pols, err := parseAptPolicyPackages(out)
	if err != nil {
		return fmt.Errorf("apt-cache policy output: %w", err)
	}
	for i := range res.Packages {
		p := &res.Packages[i]
		done := !fetch && p.Before.Installed() && sameDebVersion(p.Before.Version, p.Version)
		switch {
		case done:
		case p.Before.Held():
			p.Reason, p.Detail = ReasonHeld, fmt.Sprintf("dpkg selection hold, at %s %s", p.Before.Version, p.Before.Status)
		case onlyUpgrade && (p.Before.Status == "not-installed" || p.Before.Status == "config-files"):
			p.Reason, p.Detail = ReasonNotInstalled, "only upgrades were asked"
		default:
			p.Reason, p.Detail = availability(pols, p.Action)
		}
	}
	return nil
}

// policyName is the name apt-cache policy is asked about for a.
func policyName(a Action) string {
	if a.Arch == "" || a.Arch == "all" {
		return a.Name
	}
	return a.Name + ":" + a.Arch
}

// availability says whether some package index (not just dpkg's status
// file) holds a's version, by apt-cache policy's version table.
func availability(pols map[string]aptPolicy, a Action) (Reason, string) {
	pol, ok := pols[policyName(a)]
	if !ok {
		// apt-cache policy prints a native package without its
		// architecture, however it was asked.
		pol, ok = pols[a.Name]
	}
	if !ok {
		return ReasonUnavailable, "no package index has the package"
	}
	var have []string
	for v, indexes := range pol.versions {
		inIndex := slices.ContainsFunc(indexes, func(idx string) bool { return !strings.HasPrefix(idx, "/") })
		if !inIndex {
			continue
		}
		if sameDebVersion(v, a.Version) {
			return "", ""
		}
		have = append(have, v)
	}
	slices.Sort(have)
	if len(have) == 0 {
		return ReasonUnavailable, "no package index has any version of it"
	}
	return ReasonUnavailable, "the package indexes have " + strings.Join(have, ", ")
}
