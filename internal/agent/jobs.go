package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/patchbay/patchbay/internal/protocol"
)

// PackageManager is what running jobs needs of the host's package manager
// (internal/pkgmgr's drivers, or the simulated fleet's). Versions are read
// from the package database, never taken from a tool's output.
type PackageManager interface {
	// Versions returns the installed version of each action's package,
	// "" for one that is not installed.
	Versions(ctx context.Context, actions []protocol.Action) ([]protocol.PackageVersion, error)
	// Fetch downloads the actions' packages, and keeps the files of the
	// versions installed now (before) for a rollback; it changes nothing
	// installed.
	Fetch(ctx context.Context, actions []protocol.Action, before []protocol.PackageVersion) (output string, err error)
	// Install installs the actions' exact versions.
	Install(ctx context.Context, actions []protocol.Action) (output string, err error)
	// Restore reinstalls the actions' exact versions from the files Fetch
	// kept, never from the archive.
	Restore(ctx context.Context, actions []protocol.Action) (output string, err error)
	// Broken lists packages the database holds half-installed or
	// half-configured.
	Broken(ctx context.Context) ([]string, error)
	// WaitIdle waits until no other process holds the package manager's
	// lock (a killed agent's dpkg may still be running), or ctx ends.
	WaitIdle(ctx context.Context) error
}

// Executor runs jobs on the host, journalling each step first.
type Executor struct {
	Journal *Journal
	PM      PackageManager
	// Host runs hooks, checks health and reboots; nil runs no hook and
	// cannot check services (a job naming some then fails).
	Host HostOps
	Now  func() time.Time
	Log  *slog.Logger
	// Sleep waits between health checks (tests shorten it); nil sleeps.
	Sleep func(ctx context.Context, d time.Duration) error
}

// ErrRebooting is returned by Run and Recover for a job whose host is
// rebooting to finish it: there is no result yet; the agent reports it
// after the reboot.
var ErrRebooting = errors.New("the host is rebooting to finish the job")

// healthEvery is how often services are checked while a job's host must
// stay healthy.
const healthEvery = 5 * time.Second

// rebootGrace is how long after its delay a reboot may take before the
// job fails for a host that did not reboot.
const rebootGrace = 15 * time.Minute

func (x *Executor) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}

func (x *Executor) log() *slog.Logger {
	if x.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return x.Log
}

// Run executes job and returns its result, journalled as done: the caller
// delivers it and then calls Journal.Remove. A job already journalled is
// not run again: its recorded result, or the outcome the package database
// shows, is returned instead.
func (x *Executor) Run(ctx context.Context, job protocol.Job) (protocol.JobResult, error) {
	e, ok, err := x.Journal.Get(job.ID, job.Attempt)
	if err != nil {
		return protocol.JobResult{}, err
	}
	if ok {
		return x.recover(ctx, e)
	}
	e = Entry{Job: job, Phase: PhaseReceived, At: x.now()}
	if err := x.Journal.Put(e); err != nil {
		return protocol.JobResult{}, err
	}
	return x.execute(ctx, e)
}

// Recover turns what an earlier run left in the journal into results to
// deliver: done jobs keep their result; started ones are judged from the
// package database (a fetch, which changes nothing installed, runs
// again); received ones not begun by their StartBy are refused,
// and the others run now.
func (x *Executor) Recover(ctx context.Context) ([]protocol.JobResult, []protocol.Job, error) {
	entries, err := x.Journal.Entries()
	if err != nil {
		return nil, nil, err
	}
	var results []protocol.JobResult
	var jobs []protocol.Job
	for _, e := range entries {
		r, err := x.recover(ctx, e)
		if errors.Is(err, ErrRebooting) {
			continue // its result comes after the reboot
		}
		if err != nil {
			return nil, nil, err
		}
		results = append(results, r)
		jobs = append(jobs, e.Job)
	}
	return results, jobs, nil
}

// recover decides the result of a journalled job.
func (x *Executor) recover(ctx context.Context, e Entry) (protocol.JobResult, error) {
	switch e.Phase {
	case PhaseDone:
		return *e.Result, nil
	case PhaseStarted:
		x.log().Warn("the agent stopped during a job; reading its outcome from the package database", "job", e.Job.ID, "attempt", e.Job.Attempt)
		if err := x.PM.WaitIdle(ctx); err != nil {
			return protocol.JobResult{}, fmt.Errorf("job %d: wait for the package manager: %w", e.Job.ID, err)
		}
		if e.Job.Kind == protocol.JobFetch {
			// Nothing installed tells whether a fetch finished keeping the
			// previous packages, and it changes nothing installed: it runs
			// again.
			out, err := x.PM.Fetch(ctx, e.Job.Actions, e.Before)
			r := x.judge(ctx, e, out, err)
			r.Recovered = true
			return r, x.done(e, r)
		}
		r := x.judge(ctx, e, "", nil)
		r.Recovered = true
		if r.Status != protocol.JobFailed && e.Job.Kind != protocol.JobFetch {
			return x.finish(ctx, e, r)
		}
		return r, x.done(e, r)
	case PhaseRebooting:
		return x.afterReboot(ctx, e)
	case PhaseWatching:
		return x.watch(ctx, e, *e.Result)
	}
	return x.execute(ctx, e)
}

// execute runs a job journalled as received.
func (x *Executor) execute(ctx context.Context, e Entry) (protocol.JobResult, error) {
	job := e.Job
	now := x.now()
	if job.Kind != protocol.JobFetch && !job.StartBy.IsZero() && now.After(job.StartBy) {
		r := protocol.JobResult{Attempt: job.Attempt, Status: protocol.JobRefused, Started: now, Finished: now,
			Reason: fmt.Sprintf("not begun: its window ended at %s", job.StartBy.UTC().Format(time.RFC3339))}
		return r, x.done(e, r)
	}
	if err := x.PM.WaitIdle(ctx); err != nil {
		r := protocol.JobResult{Attempt: job.Attempt, Status: protocol.JobRefused, Started: now, Finished: x.now(),
			Reason: "the package manager stayed locked by another process: " + err.Error()}
		return r, x.done(e, r)
	}
	before, err := x.PM.Versions(ctx, job.Actions)
	if err != nil {
		r := protocol.JobResult{Attempt: job.Attempt, Status: protocol.JobFailed, Started: now, Finished: x.now(),
			Reason: "cannot read the package database: " + err.Error()}
		return r, x.done(e, r)
	}
	var hookOut string
	if job.Kind == protocol.JobInstall {
		for _, hook := range job.PreHooks {
			out, err := x.hook(ctx, hook)
			hookOut += out
			if err != nil {
				r := protocol.JobResult{Attempt: job.Attempt, Status: protocol.JobFailed, Before: before, Started: now, Finished: x.now(),
					Reason: "pre-check failed, nothing changed: " + err.Error(), Output: bound(hookOut)}
				return r, x.done(e, r)
			}
		}
	}
	e.Phase, e.Before, e.Started, e.At = PhaseStarted, before, now, x.now()
	if err := x.Journal.Put(e); err != nil {
		return protocol.JobResult{}, err
	}
	var out string
	switch job.Kind {
	case protocol.JobFetch:
		out, err = x.PM.Fetch(ctx, job.Actions, before)
	case protocol.JobInstall:
		out, err = x.PM.Install(ctx, job.Actions)
	case protocol.JobRollback:
		out, err = x.PM.Restore(ctx, job.Actions)
	default:
		err = fmt.Errorf("unknown job kind %q", job.Kind)
	}
	r := x.judge(ctx, e, hookOut+out, err)
	if r.Status == protocol.JobFailed || job.Kind == protocol.JobFetch {
		return r, x.done(e, r)
	}
	return x.finish(ctx, e, r)
}

// finish takes a job whose packages are in place through its post hooks,
// its reboot and its health watch.
func (x *Executor) finish(ctx context.Context, e Entry, r protocol.JobResult) (protocol.JobResult, error) {
	job := e.Job
	for _, hook := range job.PostHooks {
		out, err := x.hook(ctx, hook)
		r.Output = bound(r.Output + out)
		if err != nil {
			r.Status, r.Reason = protocol.JobFailed, "post-check failed: "+err.Error()
			return r, x.done(e, r)
		}
	}
	reboot := job.Reboot.Mode == "always" || (job.Reboot.Mode == "if-required" && x.Host != nil && x.Host.RebootRequired(ctx))
	if reboot {
		if x.Host == nil {
			r.Status, r.Reason = protocol.JobFailed, "the job asks for a reboot and this agent cannot reboot the host"
			return r, x.done(e, r)
		}
		boot, err := x.Host.BootTime(ctx)
		if err != nil {
			r.Status, r.Reason = protocol.JobFailed, "cannot tell the boot time before rebooting: "+err.Error()
			return r, x.done(e, r)
		}
		delay, _ := time.ParseDuration(job.Reboot.Delay)
		e.Phase, e.Result, e.BootBefore, e.RebootAt, e.At = PhaseRebooting, &r, boot, x.now().Add(delay), x.now()
		if err := x.Journal.Put(e); err != nil {
			return protocol.JobResult{}, err
		}
		x.log().Warn("rebooting to finish a deployment job", "job", job.ID, "delay", delay)
		if err := x.Host.Reboot(ctx, delay); err != nil {
			r.Status, r.Reason = protocol.JobFailed, "reboot: "+err.Error()
			return r, x.done(e, r)
		}
		return protocol.JobResult{}, ErrRebooting
	}
	return x.watch(ctx, e, r)
}

// afterReboot continues a job whose host was to reboot: once the boot
// time moved, its health is watched; a host that did not reboot within
// the grace after the delay fails the job.
func (x *Executor) afterReboot(ctx context.Context, e Entry) (protocol.JobResult, error) {
	r := *e.Result
	boot, err := x.Host.BootTime(ctx)
	switch {
	case err != nil:
		r.Status, r.Reason = protocol.JobFailed, "cannot tell whether the host rebooted: "+err.Error()
		return r, x.done(e, r)
	case boot.After(e.BootBefore):
		r.Rebooted, r.BootTime = true, &boot
		return x.watch(ctx, e, r)
	case x.now().After(e.RebootAt.Add(rebootGrace)):
		r.Status, r.Reason = protocol.JobFailed, fmt.Sprintf("the host did not reboot (still booted at %s)", e.BootBefore.UTC().Format(time.RFC3339))
		return r, x.done(e, r)
	}
	return protocol.JobResult{}, ErrRebooting
}

// watch checks the job's services until they stayed active for its
// minimum healthy time: healthy, or failed naming the first inactive one.
func (x *Executor) watch(ctx context.Context, e Entry, r protocol.JobResult) (protocol.JobResult, error) {
	job := e.Job
	if len(job.Services) == 0 && job.MinHealthySeconds == 0 {
		r.Status = protocol.JobHealthy
		return r, x.done(e, r)
	}
	if len(job.Services) > 0 && x.Host == nil {
		r.Status, r.Reason = protocol.JobFailed, "the job lists services and this agent cannot check them"
		return r, x.done(e, r)
	}
	e.Phase, e.Result, e.At = PhaseWatching, &r, x.now()
	if err := x.Journal.Put(e); err != nil {
		return protocol.JobResult{}, err
	}
	until := x.now().Add(time.Duration(job.MinHealthySeconds) * time.Second)
	for {
		for _, unit := range job.Services {
			ok, err := x.Host.ServiceActive(ctx, unit)
			if err != nil || !ok {
				r.Status, r.Reason = protocol.JobFailed, "unhealthy: service "+unit+" is not active"
				if err != nil {
					r.Reason += ": " + err.Error()
				}
				r.Finished = x.now()
				return r, x.done(e, r)
			}
		}
		if !x.now().Before(until) {
			r.Status, r.Finished = protocol.JobHealthy, x.now()
			return r, x.done(e, r)
		}
		if err := x.sleep(ctx, min(healthEvery, until.Sub(x.now()))); err != nil {
			return protocol.JobResult{}, err
		}
	}
}

func (x *Executor) sleep(ctx context.Context, d time.Duration) error {
	if x.Sleep != nil {
		return x.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// hook runs a named hook, refusing when the agent has no HostOps.
func (x *Executor) hook(ctx context.Context, name string) (string, error) {
	if x.Host == nil {
		return "", fmt.Errorf("hook %s: this agent runs no hooks", name)
	}
	out, err := x.Host.RunHook(ctx, name)
	return fmt.Sprintf("== hook %s\n%s", name, out), err
}

// judge reads the outcome of a job from the package database: every
// action's package at its version and nothing half-installed is success,
// whatever the tool said; anything else is a failure saying what is off.
func (x *Executor) judge(ctx context.Context, e Entry, out string, runErr error) protocol.JobResult {
	r := protocol.JobResult{Attempt: e.Job.Attempt, Before: e.Before, Started: e.Started, Finished: x.now(), Output: bound(out)}
	if e.Job.Kind == protocol.JobFetch {
		r.Status = protocol.JobSucceeded
		if runErr != nil {
			r.Status, r.Reason = protocol.JobFailed, "fetch: "+runErr.Error()
		}
		return r
	}
	after, err := x.PM.Versions(ctx, e.Job.Actions)
	if err != nil {
		r.Status, r.Reason = protocol.JobFailed, "cannot read the package database: "+err.Error()
		return r
	}
	r.After = after
	var off []string
	for i, a := range e.Job.Actions {
		if i < len(after) && after[i].Version != a.Version {
			got := after[i].Version
			if got == "" {
				got = "not installed"
			}
			off = append(off, fmt.Sprintf("%s is %s, not %s", a.Name, got, a.Version))
		}
	}
	broken, err := x.PM.Broken(ctx)
	if err != nil {
		off = append(off, "cannot check the package database: "+err.Error())
	}
	if len(broken) > 0 {
		off = append(off, "left broken: "+strings.Join(broken, ", "))
	}
	switch {
	case len(off) == 0:
		r.Status = protocol.JobSucceeded // finish takes it to healthy
	case runErr != nil:
		r.Status, r.Reason = protocol.JobFailed, runErr.Error()+"; "+strings.Join(off, "; ")
	default:
		r.Status, r.Reason = protocol.JobFailed, strings.Join(off, "; ")
	}
	return r
}

// done journals r as e's result.
func (x *Executor) done(e Entry, r protocol.JobResult) error {
	e.Phase, e.Result, e.At = PhaseDone, &r, x.now()
	return x.Journal.Put(e)
}

// oneLine makes s valid UTF-8 on one line (control characters become
// spaces) of at most max bytes, cut at a character's start.
func oneLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) <= max {
		return s
	}
	const more = "…"
	i := max - len(more)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + more
}

// bound keeps the end of out within protocol.MaxJobOutput, as valid UTF-8
// (the server's JSON decoding would grow invalid bytes past the bound): a
// failure's cause is usually in the last lines.
func bound(out string) string {
	out = strings.ToValidUTF8(out, "\uFFFD")
	if len(out) <= protocol.MaxJobOutput {
		return out
	}
	const cut = "…(earlier output cut)\n"
	i := len(out) - protocol.MaxJobOutput + len(cut)
	for i < len(out) && !utf8.RuneStart(out[i]) {
		i++
	}
	return cut + out[i:]
}
