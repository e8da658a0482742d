package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/protocol"
)

// executor opens the job journal under the state directory.
func (a *runner) executor() (*Executor, error) {
	j, err := OpenJournal(filepath.Join(a.cfg.StateDir, "jobs"))
	if err != nil {
		return nil, err
	}
	return &Executor{Journal: j, PM: a.cfg.Packages, Host: a.cfg.Host, Log: a.log}, nil
}

// runJobs first delivers what an earlier run left in the journal, then
// waits for jobs by long poll and runs them one at a time, until ctx ends.
// A result the server did not acknowledge stays journalled and is sent
// again; the server counts it once.
func (a *runner) runJobs(ctx context.Context, api *client.Client, x *Executor) {
	wait := a.cfg.PollWait
	if wait <= 0 {
		wait = 25 * time.Second
	}
	held := a.held()
	fails := 0
	for ctx.Err() == nil {
		results, jobs, err := x.Recover(ctx)
		if err != nil {
			a.log.Error("job journal", "err", err)
		}
		for i, r := range results {
			a.hold(held, jobs[i], r.Before)
			a.deliver(ctx, api, x, jobs[i], r)
		}
		var holding []int64
		if held != nil {
			holding = held.IDs()
		}
		res, err := api.PollJobsHolding(ctx, wait, holding)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			fails++
			a.log.Warn("job poll failed", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(min(time.Duration(fails)*2*time.Second, time.Minute)):
			}
			continue
		}
		fails = 0
		a.release(ctx, held, x.PM, res.Release)
		pause := false
		for _, job := range res.Jobs {
			a.log.Info("job received", "job", job.ID, "attempt", job.Attempt, "kind", job.Kind, "actions", len(job.Actions))
			// Recorded before the package manager fetches anything: files
			// no record names are never deleted, and would stay forever.
			a.hold(held, job, nil)
			r, err := x.Run(ctx, job)
			if errors.Is(err, ErrRebooting) {
				a.log.Warn("rebooting to finish a job; its result follows the reboot", "job", job.ID)
				pause = true
				continue
			}
			if err != nil {
				a.log.Error("job could not be run", "job", job.ID, "err", err)
				pause = true
				continue
			}
			a.hold(held, job, r.Before)
			a.deliver(ctx, api, x, job, r)
		}
		if pause {
			// The server offers a job again until it has its result, so
			// the next poll answers at once with the job still waiting
			// for its reboot (or that could not run): wait as long as a
			// poll would rather than ask in a busy loop.
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// deliver reports r and, once the server has it, forgets the job.
func (a *runner) deliver(ctx context.Context, api *client.Client, x *Executor, job protocol.Job, r protocol.JobResult) {
	// Fit for the server: a result it refused is dropped below while the
	// server still has the job running and offers it again, to be run twice.
	r.Reason, r.Output = oneLine(r.Reason, protocol.MaxJobReason), bound(r.Output)
	_, err := api.ReportJob(ctx, job.ID, r)
	var ce *client.Error
	if errors.As(err, &ce) && (ce.Status == http.StatusRequestEntityTooLarge || ce.Status == http.StatusUnprocessableEntity) && r.Output != "" {
		// Too large for this server, or refused for a detail of its
		// output: the outcome matters more than the log, so it goes again
		// with only the output's end. Dropped, the job would run again.
		a.log.Warn("job result refused with its output; sending it with the output's end only", "job", job.ID, "err", err)
		r.Output = shortOutput(r.Output, ce.Status)
		_, err = api.ReportJob(ctx, job.ID, r)
	}
	if err != nil {
		if !errors.As(err, &ce) || ce.Status >= 500 || ce.Status == http.StatusTooManyRequests || ce.Status == http.StatusUnauthorized {
			a.log.Warn("job result not delivered; will send again", "job", job.ID, "err", err)
			return
		}
		// The server refuses it for good (the job is gone, the result is
		// malformed): sending it again would fail forever.
		a.log.Error("job result refused by the server; dropped", "job", job.ID, "err", err)
	} else {
		a.log.Info("job reported", "job", job.ID, "attempt", job.Attempt, "status", r.Status, "reason", r.Reason)
	}
	if err := x.Journal.Remove(job.ID, job.Attempt); err != nil {
		a.log.Error("job journal", "err", err)
	}
}

// shortOutputBytes is how much of a refused result's output is sent again.
const shortOutputBytes = 8 << 10

// shortOutput keeps out's last lines, saying why the rest is gone.
func shortOutput(out string, status int) string {
	note := fmt.Sprintf("…(output cut: the server refused the whole result with HTTP %d)\n", status)
	if len(out) > shortOutputBytes {
		i := len(out) - shortOutputBytes
		for i < len(out) && !utf8.RuneStart(out[i]) {
			i++
		}
		out = out[i:]
	}
	return note + strings.Map(func(r rune) rune {
		if r < ' ' && r != '\n' && r != '\t' {
			return ' ' // control bytes would grow six-fold escaped
		}
		return r
	}, out)
}

// held opens the record of the package files deployments need, under the
// state directory; nil (nothing recorded, nothing deleted) without one or
// when it cannot be read.
func (a *runner) held() *Held {
	if a.cfg.StateDir == "" {
		return nil
	}
	h, err := OpenHeld(filepath.Join(a.cfg.StateDir, "held.json"))
	if err != nil {
		a.log.Error("package files of deployments will not be deleted", "err", err)
		return nil
	}
	return h
}

// hold records the package files job's deployment needs: the targets a
// fetch or an install downloads, and the versions installed before it
// (before), kept for a rollback.
func (a *runner) hold(held *Held, job protocol.Job, before []protocol.PackageVersion) {
	if held == nil || job.Kind == protocol.JobRollback {
		return
	}
	targets := make([]protocol.PackageVersion, len(job.Actions))
	for i, t := range job.Actions {
		targets[i] = protocol.PackageVersion{Name: t.Name, Arch: t.Arch, Version: t.Version}
	}
	if err := held.Add(job.DeploymentID, targets, before); err != nil {
		a.log.Error("held package files", "err", err)
	}
}
