package pkgmgr

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/patchbay/patchbay/internal/protocol"
)

// DnfJobs runs deployment jobs with dnf and rpm: the agent's package
// manager (internal/agent.PackageManager) on RPM hosts (Red Hat
// Enterprise Linux and its rebuilds, Fedora).
//
// Dir holds what jobs keep between them, as AptJobs' does: fetched/ the
// target packages a fetch job downloaded ahead with their dependencies,
// so that a pinned version stays installable when the repositories drop
// it; kept/ the files of the versions installed before, so that a
// rollback never depends on the repositories. Each has an index.json of
// "name=version" to files.
//
// Versions are read from the rpm database (rpm -qa), never from dnf's
// output. Packages change through dnf install of exact NEVRAs
// (name-[epoch:]version-release.arch), upgrading or downgrading as
// needed, non-interactively; each run is one dnf transaction, whose id in
// dnf's history the output names ("dnf transaction 7"). rpm has no way to
// rebuild a package from its installed files, so a fetch that can find
// no copy of an installed version (in a repository, dnf's cache, or this
// agent's files) fails: a host that could not be rolled back is not
// upgraded.
//
// Locks: rpm holds an fcntl lock on %{_rpmlock_path} for a transaction,
// and dnf writes its process id into var/lib/dnf/rpmdb_lock.pid (and the
// metadata and download locks in var/cache/dnf) under the root. Package
// changes wait for them up to LockTimeout; dnf runs with exit_on_lock, so
// that one taking a lock between our look and its start fails at once and
// is waited for again, instead of waiting without bound; past the
// timeout the error wraps ErrLocked. Once dnf runs a transaction, ctx no
// longer stops it.
type DnfJobs struct {
	Dnf *Dnf
	// Rpm is the rpm program; "" means rpm found on PATH.
	Rpm string
	Dir string
	// LockTimeout bounds the wait for another process's rpm or dnf lock:
	// 0 means DefaultLockTimeout, a negative value not to wait.
	LockTimeout time.Duration
}

func (j *DnfJobs) dir(sub string) string { return filepath.Join(j.Dir, sub) }

func (j *DnfJobs) lockDeadline(start time.Time) time.Time {
	return (&Apt{LockTimeout: j.LockTimeout}).lockDeadline(start)
}

// Versions returns each action's package's installed version from the
// rpm database, as [epoch:]version-release without a zero epoch (the form
// of Dnf.Updates' versions), "" when it is not installed. Of several
// installed versions (an install-only package such as the kernel, or the
// duplicates an interrupted transaction leaves) it returns the newest.
func (j *DnfJobs) Versions(ctx context.Context, actions []protocol.Action) ([]protocol.PackageVersion, error) {
	root, err := cleanRoot(j.Dnf.Root)
	if err != nil {
		return nil, err
	}
	db, err := j.installed(ctx, root)
	if err != nil {
		return nil, err
	}
	out := make([]protocol.PackageVersion, len(actions))
	for i, a := range actions {
		out[i] = protocol.PackageVersion{Name: a.Name, Arch: a.Arch}
		if evr, arch := db.version(a); evr != "" {
			out[i].Version, out[i].Arch = evr, arch
		}
	}
	return out, nil
}

// Install installs the actions' exact versions, upgrading or downgrading
// as needed, from the repositories or, when they no longer have a
// version, from the files Fetch downloaded.
//
// Installed versions that no kept file covers (the host changed between
// the fetch and the install) are kept first, as Fetch keeps them: a host
// that cannot be rolled back is not changed.
func (j *DnfJobs) Install(ctx context.Context, actions []protocol.Action) (string, error) {
	kept, err := j.keepChanged(ctx, actions)
	if err != nil {
		return kept, fmt.Errorf("dnf install: before installing: %w", err)
	}
	out, err := j.InstallWith(ctx, actions, InstallOptions{AllowDowngrades: true})
	return kept + out, err
}

// InstallWith is Install with the choices of opts: OnlyUpgrade fails an
// action whose package is not installed (ReasonNotInstalled);
// AllowDowngrades lets dnf install a version older than the installed
// one; AllowRemovals lets dnf remove packages to resolve the transaction
// (--allowerasing).
//
// Before anything changes it checks each action: a package that dnf
// excludes (excludepkgs, the versionlock plugin) fails with ReasonHeld;
// one that is not installed, with OnlyUpgrade, with ReasonNotInstalled; a
// downgrade that is not allowed with ReasonFailed; a version no
// repository holds and Fetch did not download with ReasonUnavailable. One
// such failure stops the whole run, so that a job's packages change
// together or not at all. The run then waits for the locks (ErrLocked).
//
// The error is nil only when every action's package ended at its version
// with no scriptlet of the transaction failing: rpm installs a package
// whose %post fails, and dnf calls that success; here it is ReasonFailed,
// and Broken reports the package until another version replaces it.
func (j *DnfJobs) InstallWith(ctx context.Context, actions []protocol.Action, opts InstallOptions) (string, error) {
	const op = "dnf install"
	if err := validateRPMActions(actions); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	r, err := j.newRun()
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	before, err := j.installed(ctx, r.root)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	var need []protocol.Action
	for _, a := range actions {
		if !before.at(a) {
			need = append(need, a)
		}
	}
	if len(need) == 0 {
		return "nothing to do: every package is at its version\n", nil
	}
	fails, unavailable, err := r.check(ctx, need, before, opts)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	if len(fails) > 0 {
		return "", dnfFailure(op+" (nothing changed)", fails, nil, nil)
	}
	var args []string
	for _, a := range need {
		if !slices.Contains(unavailable, a) {
			args = append(args, dnfSpec(a))
		}
	}
	var note string
	if len(unavailable) > 0 {
		files, missing, err := j.fetchedFiles(ctx, unavailable, before)
		if err != nil {
			return "", fmt.Errorf("%s: %w", op, err)
		}
		if len(missing) > 0 {
			for _, a := range unavailable {
				if slices.Contains(missing, indexKey(a.Name, a.Version)) {
					fails = append(fails, dnfFail{a, ReasonUnavailable, "no repository holds it, and no fetch job downloaded it ahead"})
				}
			}
			return "", dnfFailure(op+" (nothing changed)", fails, nil, nil)
		}
		args = append(args, files...)
		note = fmt.Sprintf("no repository holds %s any more: installing the files fetched ahead\n", dnfSpecList(unavailable))
	}
	out, changed, err := r.transact(ctx, op, need, args, opts, before)
	if err != nil && !changed && len(unavailable) == 0 {
		// The repositories failed before anything changed (metadata
		// listing a file the mirror no longer has, say): the files
		// fetched ahead are the same versions.
		files, missing, ferr := j.fetchedFiles(ctx, need, before)
		if ferr == nil && len(missing) == 0 && !errors.Is(err, ErrLocked) && !errors.Is(err, ReasonHeld) {
			note = fmt.Sprintf("%s\nthe repositories failed; installing the files fetched ahead instead\n", out)
			out, _, err = r.transact(ctx, op, need, files, opts, before)
		}
	}
	return note + out, err
}

// Restore reinstalls the actions' exact versions from the files Fetch
// kept, never from the repositories (which may hold other builds of them,
// or none): dnf install of the files, downgrading as needed, with the
// dependencies they need from the repositories.
func (j *DnfJobs) Restore(ctx context.Context, actions []protocol.Action) (string, error) {
	const op = "dnf restore"
	if err := validateRPMActions(actions); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	paths, missing := lookup(j.dir("kept"), actions)
	if len(missing) > 0 {
		return "", fmt.Errorf("%s: no kept file for %s: the host cannot be rolled back from this deployment's files", op, strings.Join(missing, ", "))
	}
	r, err := j.newRun()
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	before, err := j.installed(ctx, r.root)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	if !slices.ContainsFunc(actions, func(a protocol.Action) bool { return !before.at(a) }) {
		return "nothing to do: every package is at its version\n", nil
	}
	out, _, err := r.transact(ctx, op, actions, paths, InstallOptions{AllowDowngrades: true}, before)
	return out, err
}

// Broken lists what is inconsistent in the rpm database: the problems dnf
// check finds (a package installed twice, which is what a transaction
// killed between installing the new version and erasing the old leaves;
// missing dependencies; obsoleted packages still installed), and, from
// dnf's history of the last transaction, the packages still installed
// whose scriptlet failed, or whose step the transaction did not finish.
//
// rpm has no half-installed state: a package is in its database or not.
// What "half-installed" means for rpm is those three: a duplicate, a
// package whose %post (or %posttrans, ...) failed, and a package of an
// interrupted transaction. rpm keeps no record of a failed scriptlet, and
// dnf's history tells of its transactions only, so a failure is seen
// until another dnf transaction follows it.
func (j *DnfJobs) Broken(ctx context.Context) ([]string, error) {
	const op = "dnf check"
	r, err := j.newRun()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	out, err := r.dnf(ctx, false, nil, []int{1}, "check", "--disablerepo=*")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	problems, err := parseDnfCheck(out)
	if err != nil {
		return nil, fmt.Errorf("%s: dnf check output: %w", op, err)
	}
	db, err := j.installed(ctx, r.root)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	tx, err := r.lastTransaction(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if tx != nil {
		problems = append(problems, transactionProblems(*tx, db)...)
	}
	slices.Sort(problems)
	return slices.Compact(problems), nil
}

// transactionProblems returns what transaction tx left wrong in db: its
// packages still installed whose scriptlets failed, and, when it did not
// succeed, those it was putting in whose step it did not finish.
func transactionProblems(tx dnfTransaction, db rpmDB) []string {
	var out []string
	for nevra, scripts := range scriptletFailures(tx.output) {
		if _, ok := db.has(nevra); ok {
			out = append(out, fmt.Sprintf("%s: its %s scriptlet failed in dnf transaction %d", nevra, strings.Join(scripts, " and "), tx.id))
		}
	}
	if !tx.succeeded() {
		for _, p := range tx.packages {
			if _, ok := db.has(p.nevra); ok && p.incoming() && !p.done {
				out = append(out, fmt.Sprintf("%s: dnf transaction %d did not finish installing it (Return-Code: %s)", p.nevra, tx.id, tx.returnCode))
			}
		}
	}
	slices.Sort(out)
	return out
}

// WaitIdle waits until no other process holds rpm's transaction lock or
// dnf's rpmdb lock under the root (a dnf run, or one a killed agent left
// running), up to the lock timeout; the error then wraps ErrLocked and
// names the holder.
func (j *DnfJobs) WaitIdle(ctx context.Context) error {
	r, err := j.newRun()
	if err != nil {
		return err
	}
	return r.waitIdle(ctx)
}

// dnfRun is one job's calls of dnf, sharing one lock deadline.
type dnfRun struct {
	j               *DnfJobs
	root            string
	start, deadline time.Time
	rpmLock         string // computed once: rpm --eval
}

func (j *DnfJobs) newRun() (*dnfRun, error) {
	if j.Dnf == nil {
		return nil, errors.New("no dnf configured")
	}
	root, err := cleanRoot(j.Dnf.Root)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	return &dnfRun{j: j, root: root, start: start, deadline: j.lockDeadline(start)}, nil
}

// waitIdle waits until rpm's and dnf's transaction locks are free, or
// fails with ErrLocked at the deadline.
func (r *dnfRun) waitIdle(ctx context.Context) error {
	if r.rpmLock == "" {
		p, err := r.j.rpmLockPath(ctx, r.root)
		if err != nil {
			return fmt.Errorf("rpm's lock: %w", err)
		}
		r.rpmLock = p
	}
	for {
		path, pid, held, err := r.j.busy(r.rpmLock, r.root)
		if err != nil || !held {
			return err
		}
		if err := pause(ctx, r.deadline); err != nil {
			return waitError(err, path, pid, r.start)
		}
	}
}

// dnfLockError recognises dnf failing on a lock another process holds
// (with exit_on_lock: "RPMDB already locked by 1234", exit status 200), or
// waiting for one.
func dnfLockError(stderr string) bool {
	return strings.Contains(stderr, " already locked by ") || dnfLocked(stderr)
}

// dnf runs dnf with args, its output going to log when set. For a
// transaction (change), it first waits for the rpm database to be free,
// and ctx no longer stops dnf once it runs. dnf runs with exit_on_lock:
// when another dnf holds a lock, it fails at once, and is run again
// after a pause until the deadline.
func (r *dnfRun) dnf(ctx context.Context, change bool, log *outputLog, okStatus []int, args ...string) ([]byte, error) {
	argv, err := r.j.Dnf.base()
	if err != nil {
		return nil, err
	}
	argv = append(append(argv, "--setopt=exit_on_lock=True"), args...)
	for {
		runCtx := ctx
		if change {
			if err := r.waitIdle(ctx); err != nil {
				return nil, err
			}
			runCtx = context.WithoutCancel(ctx)
		}
		out, err := command{argv: argv, env: dnfEnv(), isLocked: dnfLockError, log: log}.run(runCtx, okStatus...)
		if !errors.Is(err, ErrLocked) {
			return out, err
		}
		if perr := pause(ctx, r.deadline); perr != nil {
			if perr == errDeadline {
				return nil, fmt.Errorf("%w (waited %v)", err, time.Since(r.start).Round(time.Millisecond))
			}
			return nil, fmt.Errorf("%w: %w", err, perr)
		}
	}
}

// lastTransaction reads the last transaction of dnf's history under the
// root (dnf history info); nil when there is none.
func (r *dnfRun) lastTransaction(ctx context.Context) (*dnfTransaction, error) {
	out, err := r.dnf(ctx, false, nil, nil, "history", "info")
	if err != nil {
		if strings.Contains(err.Error(), "No transactions") {
			return nil, nil
		}
		return nil, err
	}
	tx, err := parseHistoryInfo(out)
	if err != nil {
		return nil, fmt.Errorf("dnf history info output: %w", err)
	}
	return &tx, nil
}

// available returns which of actions some enabled repository holds, by
// dnf repoquery --available. With noExcludes, packages dnf excludes
// (excludepkgs, the versionlock plugin) count too.
func (r *dnfRun) available(ctx context.Context, actions []protocol.Action, noExcludes bool) ([]bool, error) {
	args := []string{"repoquery", "--available", "--qf", dnfQueryFormat}
	if noExcludes {
		args = append(args, "--disableexcludes=all", "--disableplugin=versionlock")
	}
	args = append(args, "--")
	for _, a := range actions {
		args = append(args, dnfSpec(a))
	}
	out, err := r.dnf(ctx, false, nil, nil, args...)
	if err != nil {
		return nil, err
	}
	pkgs, err := parseDnfQuery(out)
	if err != nil {
		return nil, fmt.Errorf("dnf repoquery output: %w", err)
	}
	found := make([]bool, len(actions))
	for i, a := range actions {
		found[i] = slices.ContainsFunc(pkgs, func(p dnfPackage) bool {
			return p.name == a.Name && (a.Arch == "" || p.arch == a.Arch) && sameRPMVersion(p.evr(), a.Version)
		})
	}
	return found, nil
}

// dnfFail is why one action cannot be, or was not, carried out.
type dnfFail struct {
	action protocol.Action
	reason Reason
	detail string
}

// check returns the actions that cannot succeed, with their reasons
// (held, not installed for an upgrade, a downgrade not allowed), and
// those no repository holds.
func (r *dnfRun) check(ctx context.Context, actions []protocol.Action, db rpmDB, opts InstallOptions) (fails []dnfFail, unavailable []protocol.Action, err error) {
	for _, a := range actions {
		have, _ := db.version(a)
		switch {
		case have == "" && opts.OnlyUpgrade:
			fails = append(fails, dnfFail{a, ReasonNotInstalled, "only upgrades were asked, and no version of it is installed"})
		case have != "" && !opts.AllowDowngrades && rpmCompare(have, a.Version) > 0:
			fails = append(fails, dnfFail{a, ReasonFailed, fmt.Sprintf("a downgrade from %s, and downgrades were not allowed", have)})
		}
	}
	found, err := r.available(ctx, actions, false)
	if err != nil {
		return nil, nil, err
	}
	var missing []protocol.Action
	for i, a := range actions {
		if !found[i] {
			missing = append(missing, a)
		}
	}
	if len(missing) == 0 {
		return fails, nil, nil
	}
	excluded, err := r.available(ctx, missing, true)
	if err != nil {
		return nil, nil, err
	}
	for i, a := range missing {
		if excluded[i] {
			fails = append(fails, dnfFail{a, ReasonHeld, "dnf excludes it (excludepkgs or versionlock), and will not install it"})
		} else {
			unavailable = append(unavailable, a)
		}
	}
	return fails, unavailable, nil
}

// transact runs dnf install with args (specs and package files) as one
// transaction, tagged with a comment of its own so that its id is read
// back from dnf's history, and judges it from the rpm database: every
// action's package at its version, no scriptlet of the transaction
// failed. changed reports whether the rpm database changed.
func (r *dnfRun) transact(ctx context.Context, op string, actions []protocol.Action, args []string, opts InstallOptions, before rpmDB) (output string, changed bool, err error) {
	nonce := make([]byte, 8)
	rand.Read(nonce)
	comment := "patchbay " + hex.EncodeToString(nonce)
	argv := []string{"install", "--comment=" + comment}
	if opts.AllowRemovals {
		argv = append(argv, "--allowerasing")
	}
	argv = append(append(argv, "--"), args...)
	log := newOutputLog()
	_, runErr := r.dnf(ctx, true, log, nil, argv...)
	bg := context.WithoutCancel(ctx)
	after, err := r.j.installed(bg, r.root)
	if err != nil {
		return log.String(), true, fmt.Errorf("%s: %w", op, errors.Join(runErr, err))
	}
	changed = !slices.Equal(before, after)
	tx, err := r.lastTransaction(bg)
	if err != nil {
		return log.String(), changed, fmt.Errorf("%s: %w", op, errors.Join(runErr, err))
	}
	var out strings.Builder
	out.WriteString(log.String())
	var extra []string
	var scripts map[string][]string
	if tx != nil && tx.comment == comment {
		fmt.Fprintf(&out, "dnf transaction %d\n", tx.id)
		scripts = scriptletFailures(tx.output)
		if !tx.succeeded() {
			extra = append(extra, fmt.Sprintf("dnf transaction %d ended with Return-Code %s", tx.id, tx.returnCode))
		}
	} else {
		out.WriteString("no dnf transaction\n")
	}
	failedNames := map[string][]string{}
	for _, m := range dnfScriptError.FindAllStringSubmatch(log.String(), -1) {
		failedNames[m[2]] = append(failedNames[m[2]], m[1])
	}
	var fails []dnfFail
	for _, a := range actions {
		have, _ := after.version(a)
		left := "not installed"
		if have != "" {
			left = have
		}
		switch {
		case !after.at(a) && errors.Is(runErr, ErrLocked):
			fails = append(fails, dnfFail{a, ReasonLocked, "still " + left})
		case !after.at(a) && runErr != nil:
			fails = append(fails, dnfFail{a, ReasonFailed, "left at " + left})
		case !after.at(a):
			fails = append(fails, dnfFail{a, ReasonNotApplied, "dnf succeeded but left it at " + left})
		default:
			var failed []string
			for _, h := range after.find(a.Name, a.Arch) {
				if sameRPMVersion(h.evr(), a.Version) {
					failed = append(failed, scripts[h.nevra()]...)
					delete(scripts, h.nevra())
				}
			}
			// Without the history, dnf's own line, which names no version.
			if len(failed) == 0 && scripts == nil && len(failedNames[a.Name]) > 0 {
				failed = failedNames[a.Name]
			}
			delete(failedNames, a.Name)
			if len(failed) > 0 {
				fails = append(fails, dnfFail{a, ReasonFailed, fmt.Sprintf("installed, but its %s scriptlet failed", strings.Join(failed, " and "))})
			}
		}
	}
	for nevra, s := range scripts {
		if _, ok := after.has(nevra); ok {
			extra = append(extra, fmt.Sprintf("%s: its %s scriptlet failed", nevra, strings.Join(s, " and ")))
		}
	}
	return out.String(), changed, dnfFailure(op, fails, extra, runErr)
}

// dnfFailure returns the error of a run: nil when nothing failed, else one
// naming each failed action and its reason, and other problems, wrapping
// the reasons and the command's error (ErrLocked among them).
func dnfFailure(op string, fails []dnfFail, extra []string, cmdErr error) error {
	fs := make([]failedPackage, len(fails))
	for i, f := range fails {
		fs[i] = failedPackage{what: dnfSpec(f.action), reason: f.reason, detail: f.detail}
	}
	slices.Sort(extra)
	return runFailure(op, fs, extra, cmdErr)
}

func dnfSpecList(actions []protocol.Action) string {
	s := make([]string, len(actions))
	for i, a := range actions {
		s[i] = dnfSpec(a)
	}
	return strings.Join(s, ", ")
}

// Prune forgets the fetched targets and the kept versions given, whose
// deployments ended, and deletes the files no remaining entry names.
func (j *DnfJobs) Prune(ctx context.Context, fetched, kept []protocol.PackageVersion) error {
	return pruneJobFiles(j.Dir, fetched, kept)
}
