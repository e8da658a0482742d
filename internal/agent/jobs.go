package agent

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

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
	Now     func() time.Time
	Log     *slog.Logger
}

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
// package database; received ones not begun by their StartBy are refused,
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
		r := x.judge(ctx, e, "", nil)
		r.Recovered = true
		return r, x.done(e, r)
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
	r := x.judge(ctx, e, out, err)
	return r, x.done(e, r)
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
		off = append(off, "half-installed: "+strings.Join(broken, ", "))
	}
	switch {
	case len(off) == 0:
		r.Status = protocol.JobSucceeded
		if len(e.Job.Services) == 0 && e.Job.MinHealthySeconds == 0 {
			r.Status = protocol.JobHealthy // nothing to watch
		}
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

// bound keeps the end of out within protocol.MaxJobOutput: a failure's
// cause is usually in the last lines.
func bound(out string) string {
	if len(out) <= protocol.MaxJobOutput {
		return out
	}
	const cut = "…(earlier output cut)\n"
	return cut + out[len(out)-protocol.MaxJobOutput+len(cut):]
}
