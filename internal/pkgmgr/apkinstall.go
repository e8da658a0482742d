package pkgmgr

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/version"
)

// reasonNewerInstalled: an install of a version older than the one
// installed. apk would downgrade without a word; an install job only goes
// forward (a rollback goes back, from the kept files).
const reasonNewerInstalled Reason = "newer version installed"

// apkChange is the outcome of one action of an Install or Restore: its
// package's version before and after, read from apk's database.
type apkChange struct {
	protocol.Action
	before, after string // "" when not installed
	reason        Reason // "" when the package ended at the action's version, whole
	detail        string
	todo          bool // apk must change it
}

// Install installs the actions' exact versions with apk add, from the
// repositories or, for a version they no longer have, from the files
// Fetch downloaded (apk checks their signatures against the root's
// etc/apk/keys, as for any package).
//
// Install upgrades installed packages only. Before anything changes it
// checks each action against apk's database: a package not installed
// fails with ReasonNotInstalled, one the world file pins to another
// version (name=1.0-r0, apk's way of holding a package) with ReasonHeld,
// one installed at a newer version with "newer version installed", a
// version neither a repository (without a tag) nor Fetch has with
// ReasonUnavailable; one such failure stops the whole run, so that a
// job's packages change together or not at all.
//
// The versions are pinned through a virtual package: apk add
// --virtual=.patchbay-deploy NAME=VERSION|FILE..., then apk del
// .patchbay-deploy, so that the world file ends as it was (apk add
// NAME=VERSION would pin the version there for good, and every later
// deployment would find the package held). A virtual package an
// interrupted job left is replaced and deleted the same way.
//
// A maintainer script that fails leaves its package installed at the new
// version, marked unfinished (ReasonFailed, and Broken lists it). The
// output is apk's, both commands', stdout and stderr interleaved.
func (j *ApkJobs) Install(ctx context.Context, actions []protocol.Action) (string, error) {
	const op = "apk install"
	root, base, st, err := j.prepare(op, actions)
	if err != nil {
		return "", err
	}
	changes := make([]apkChange, len(actions))
	for i, a := range actions {
		c := &changes[i]
		c.Action = a
		p, ok := st.installed[a.Name]
		c.before, c.after = p.Version, p.Version
		switch {
		case !ok:
			c.reason, c.detail = ReasonNotInstalled, "apk jobs upgrade installed packages only"
		case p.Version == a.Version && p.broken() != "":
			c.reason, c.detail = ReasonFailed, fmt.Sprintf("installed at %s, but apk marks it unfinished (%s): apk fix %s reinstalls it", p.Version, p.broken(), a.Name)
		case p.Version == a.Version:
			// nothing to do
		case pinned(st, a, &c.detail):
			c.reason = ReasonHeld
		case apkNewer(p.Version, a.Version):
			c.reason, c.detail = reasonNewerInstalled, fmt.Sprintf("%s is installed; an install does not downgrade", p.Version)
		default:
			c.todo = true
		}
	}
	if failed(changes) {
		return "", apkFailure(op, stopAll(changes), nil)
	}
	if !slices.ContainsFunc(changes, func(c apkChange) bool { return c.todo }) {
		return "every package is at its version already; apk was not run\n", nil
	}
	specs, err := j.installSpecs(ctx, base, st, changes)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	if failed(changes) {
		return "", apkFailure(op, stopAll(changes), nil)
	}
	return j.change(ctx, op, root, base, changes, specs)
}

// prepare checks actions and reads apk's state under the root, for op.
func (j *ApkJobs) prepare(op string, actions []protocol.Action) (root string, base []string, st apkState, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("%s: %w", op, err)
		}
	}()
	if err := validateApkActions(actions); err != nil {
		return "", nil, st, err
	}
	if root, base, err = j.setup(); err != nil {
		return "", nil, st, err
	}
	st, err = readApkState(root)
	return root, base, st, err
}

// Restore reinstalls the actions' exact versions from the files Fetch
// kept, never from the repositories, pinned through the same virtual
// package as Install (apk downgrades as asked). A package not installed
// any more, or pinned in the world file to another version, fails before
// anything changes; so does one without a kept file.
func (j *ApkJobs) Restore(ctx context.Context, actions []protocol.Action) (string, error) {
	const op = "apk restore"
	root, base, st, err := j.prepare(op, actions)
	if err != nil {
		return "", err
	}
	if _, missing := lookup(j.dir("kept"), actions); len(missing) > 0 {
		return "", fmt.Errorf("%s: no kept file for %s: the host cannot be rolled back from this deployment's files", op, strings.Join(missing, ", "))
	}
	changes := make([]apkChange, len(actions))
	var specs []string
	for i, a := range actions {
		c := &changes[i]
		c.Action = a
		p, ok := st.installed[a.Name]
		c.before, c.after = p.Version, p.Version
		switch {
		case !ok:
			// apk del of the virtual package would remove it again.
			c.reason, c.detail = ReasonNotInstalled, "no longer installed; a rollback reinstalls installed packages only"
		case p.Version == a.Version && p.broken() == "":
		case pinned(st, a, &c.detail):
			c.reason = ReasonHeld
		default:
			c.todo = true
			specs = append(specs, j.keptPath(a))
		}
	}
	if failed(changes) {
		return "", apkFailure(op, stopAll(changes), nil)
	}
	if len(specs) == 0 {
		return "every package is at its version already; apk was not run\n", nil
	}
	return j.change(ctx, op, root, base, changes, specs)
}

// keptPath returns the file Fetch kept of a's version.
func (j *ApkJobs) keptPath(a protocol.Action) string {
	paths, _ := lookup(j.dir("kept"), []protocol.Action{a})
	return paths[0] // Restore checked that it is there
}

// pinned reports whether the world file pins a's package to versions
// a's is not among, setting detail.
func pinned(st apkState, a protocol.Action, detail *string) bool {
	d, ok := st.pin(a.Name, a.Version)
	if ok {
		*detail = fmt.Sprintf("pinned in /%s as %s", apkWorldFile, d)
	}
	return ok
}

// apkNewer reports whether installed is newer than target, as apk-tools 2
// orders them; false when either does not parse (apk then decides).
func apkNewer(installed, target string) bool {
	a, err := version.ParseAPK(version.APK2, installed)
	if err != nil {
		return false
	}
	b, err := version.ParseAPK(version.APK2, target)
	return err == nil && a.Compare(b) > 0
}

// installSpecs returns apk add's arguments for the changes to make:
// NAME=VERSION for a version a repository without a tag has (by apk
// policy), else the file Fetch downloaded, with the files of the
// dependencies it fetched that the host does not have (a new dependency
// at the same exact version, say). A version neither has fails with
// ReasonUnavailable.
func (j *ApkJobs) installSpecs(ctx context.Context, base []string, st apkState, changes []apkChange) ([]string, error) {
	var names []string
	for _, c := range changes {
		if c.todo {
			names = append(names, c.Name)
		}
	}
	argv := append(append(append([]string(nil), base...), "policy"), names...)
	out, err := command{argv: argv, env: apkEnv(), isLocked: apkLocked}.run(ctx)
	if err != nil {
		return nil, err
	}
	pols, err := parseApkPolicy(out)
	if err != nil {
		return nil, fmt.Errorf("apk policy output: %w", err)
	}
	var specs, files []string
	for i := range changes {
		c := &changes[i]
		if !c.todo {
			continue
		}
		var have []string
		inRepo := false
		for _, v := range pols[c.Name] {
			if !v.inRepository() {
				continue
			}
			if v.Version == c.Version {
				inRepo = true
			}
			have = append(have, v.Version)
		}
		if inRepo {
			specs = append(specs, c.Name+"="+c.Version)
			continue
		}
		paths, missing := lookup(j.dir("fetched"), []protocol.Action{c.Action})
		if len(missing) > 0 {
			c.reason = ReasonUnavailable
			c.detail = "no repository has it"
			if len(have) > 0 {
				c.detail = "the repositories have " + strings.Join(have, ", ")
			}
			c.detail += ", and it was not fetched ahead"
			continue
		}
		want := apkFileName(c.Name, c.Version)
		for _, p := range paths {
			n, _, ok := splitApkNameVersion(strings.TrimSuffix(filepath.Base(p), ".apk"))
			_, installed := st.installed[n]
			if filepath.Base(p) == want || ok && !installed && !isTarget(changes, n) {
				if !slices.Contains(files, p) {
					files = append(files, p)
				}
			}
		}
	}
	return append(specs, files...), nil
}

func isTarget(changes []apkChange, name string) bool {
	return slices.ContainsFunc(changes, func(c apkChange) bool { return c.Name == name })
}

// change runs apk add --virtual .patchbay-deploy specs..., then apk del
// .patchbay-deploy when the world holds it, and settles each change from
// apk's database afterwards.
func (j *ApkJobs) change(ctx context.Context, op, root string, base []string, changes []apkChange, specs []string) (string, error) {
	log := newOutputLog()
	runErr := j.runChange(ctx, root, base, append([]string{"add", "--virtual=" + apkVirtual}, specs...), log)
	after, err := readApkState(root)
	if err != nil {
		return log.String(), fmt.Errorf("%s: %w", op, errors.Join(runErr, err))
	}
	var delErr error
	if after.hasVirtual() {
		// The pin must go even when the job's context has ended.
		if delErr = j.runChange(context.WithoutCancel(ctx), root, base, []string{"del", apkVirtual}, log); delErr != nil {
			delErr = fmt.Errorf("%w; the world file still pins the versions through %s (apk del %s removes it)", delErr, apkVirtual, apkVirtual)
		}
		if after, err = readApkState(root); err != nil {
			return log.String(), fmt.Errorf("%s: %w", op, errors.Join(runErr, delErr, err))
		}
	}
	output := log.String()
	settleApk(changes, after, output, runErr)
	return output, apkFailure(op, changes, errors.Join(runErr, delErr))
}

// settleApk records each change's version after a run whose add command
// returned runErr, and the reason of each that is not at its version,
// whole.
func settleApk(changes []apkChange, after apkState, output string, runErr error) {
	probs := parseApkProblems(output)
	scripts := parseApkScriptErrors(output)
	for i := range changes {
		c := &changes[i]
		if !c.todo {
			continue
		}
		p, ok := after.installed[c.Name]
		c.after = p.Version
		left := "left at " + p.Version
		if !ok {
			left = "left not installed"
		}
		switch {
		case ok && p.Version == c.Version && p.broken() == "":
			c.reason, c.detail = "", ""
		case errors.Is(runErr, context.Canceled) || errors.Is(runErr, context.DeadlineExceeded):
			// Only the wait for the lock heeds ctx: apk did not run.
			c.reason, c.detail = ReasonNotAttempted, "stopped while waiting for apk's lock: still "+p.Version
		case errors.Is(runErr, ErrLocked):
			c.reason, c.detail = ReasonLocked, "still "+p.Version
		case ok && p.Version == c.Version:
			c.reason, c.detail = ReasonFailed, fmt.Sprintf("installed at %s, but apk marks it unfinished (%s)", p.Version, p.broken())
			for _, s := range scripts {
				if s.Name == c.Name {
					c.detail += fmt.Sprintf("; its %s script (%s) exited with error %d", s.Script, s.Version, s.Status)
				}
			}
			c.detail += "; apk fix " + c.Name + " reinstalls it"
		case runErr != nil:
			c.reason, c.detail = ReasonFailed, left
			if pin, ok := worldPin(probs, c.Name); ok {
				c.reason, c.detail = ReasonHeld, fmt.Sprintf("pinned in /%s as %s; %s", apkWorldFile, pin, left)
			}
			for _, pr := range probs {
				if pr.name() == c.Name {
					c.detail += "; " + pr.String()
				}
			}
			for _, e := range apkErrorLines(output) {
				if strings.Contains(e, c.Name+"-") && !strings.Contains(e, "script exited") {
					c.detail += "; " + e
				}
			}
		default:
			c.reason, c.detail = ReasonNotApplied, "apk succeeded but "+left
		}
	}
}

// worldPin returns the world file's versioned constraint on name that
// the solver's report says a package breaks or is required by.
func worldPin(probs []apkProblem, name string) (apkDep, bool) {
	for _, p := range probs {
		for _, k := range []string{"breaks", "required by", "conflicts"} {
			for _, item := range p.Items[k] {
				if d, ok := worldConstraint(item); ok && d.Name == name && d.Op != "" && !d.Conflict {
					return d, true
				}
			}
		}
	}
	return apkDep{}, false
}

func failed(changes []apkChange) bool {
	return slices.ContainsFunc(changes, func(c apkChange) bool { return c.reason != "" })
}

// stopAll marks every change not failed yet as not attempted, after the
// failure of others before the run.
func stopAll(changes []apkChange) []apkChange {
	for i := range changes {
		if changes[i].reason == "" && changes[i].todo {
			changes[i].reason = ReasonNotAttempted
			changes[i].detail = "another package of the job cannot be changed"
		}
	}
	return changes
}

// apkFailure returns the error of a run: nil when every package is at its
// version, else one naming each failed package and its reason, wrapping
// the reasons and the commands' error (ErrLocked among them).
func apkFailure(op string, changes []apkChange, cmdErr error) error {
	var fs []failedPackage
	for _, c := range changes {
		if c.reason != "" {
			fs = append(fs, failedPackage{what: c.Name + "=" + c.Version, reason: c.reason, detail: c.detail})
		}
	}
	return runFailure(op, fs, nil, cmdErr)
}
