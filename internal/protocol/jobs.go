package protocol

import (
	"fmt"
	"time"

	"github.com/patchbay/patchbay"
)

// Paths of the job API (protocol version 2).
const (
	PathJobsPoll = "/agent/v1/jobs/poll"
	// PathJobResult is followed by the job's id: /agent/v1/jobs/ID/result.
	PathJobResult = "/agent/v1/jobs/{id}/result"
)

// JobResultPath returns the result path of job id.
func JobResultPath(id int64) string { return fmt.Sprintf("/agent/v1/jobs/%d/result", id) }

// Limits of the job API.
const (
	MaxPollWait    = 30 * time.Second // the longest a poll is held open
	MaxJobOutput   = 256 << 10        // bytes of command output a result carries
	MaxJobActions  = 10_000
	MaxJobsPerPoll = 16
	MaxJobReason   = 2000 // bytes of a result's reason: one line of text
	// MaxJobResultBody is the least body size the server accepts for a
	// result, whatever its --max-body-bytes: MaxJobOutput bytes of output
	// escaped as JSON (control bytes take six) and the versions.
	MaxJobResultBody = 6*MaxJobOutput + 2<<20
)

// JobKind is what a job asks of the agent: fetch (download the targets
// ahead of the window, keep the installed versions' files; nothing
// installed changes), install (the actions' exact versions), rollback
// (reinstall the versions from before, from the kept files).
type JobKind = patchbay.JobKind

// The kinds.
const (
	JobFetch    = patchbay.JobFetch
	JobInstall  = patchbay.JobInstall
	JobRollback = patchbay.JobRollback
)

// Action is one exact package version to install.
type Action = patchbay.JobAction

// Job is one host's work in a deployment, as the agent receives it. The
// pair (ID, Attempt) names it: a result for an older attempt is ignored,
// a result sent twice counts once.
type Job struct {
	ID           int64    `json:"id"`
	Attempt      int      `json:"attempt"`
	DeploymentID int64    `json:"deployment_id"`
	Kind         JobKind  `json:"kind"`
	Ecosystem    string   `json:"ecosystem"` // deb, rpm, apk
	Actions      []Action `json:"actions"`
	// StartBy is the end of the host's window: an install not begun by
	// then is not begun.
	StartBy time.Time `json:"start_by"`
	// Reboot is the policy's reboot behaviour (never, if-required,
	// always) with its delay.
	Reboot patchbay.RebootRule `json:"reboot"`
	// Services must be active after patching, and stay so for
	// MinHealthySeconds, for the host to count as healthy.
	Services          []string `json:"services,omitempty"`
	MinHealthySeconds int      `json:"min_healthy_seconds,omitempty"`
	// Hooks name executables in the agent's allow-listed hooks directory
	// to run before and after patching; never a command line.
	PreHooks  []string `json:"pre_hooks,omitempty"`
	PostHooks []string `json:"post_hooks,omitempty"`
}

// PollRequest asks for jobs; the server holds it open up to WaitSeconds
// (at most MaxPollWait) until a job is due for the host.
type PollRequest struct {
	WaitSeconds int `json:"wait_seconds"`
	// Holding lists the deployments whose package files the agent keeps
	// (fetched ahead, or kept for a rollback), at most MaxHolding; the
	// answer says which it may delete.
	Holding []int64 `json:"holding,omitempty"`
}

// MaxHolding bounds PollRequest.Holding.
const MaxHolding = 1000

// Validate checks a poll as the server receives it.
func (r PollRequest) Validate() error {
	if len(r.Holding) > MaxHolding {
		return patchbay.FieldError(patchbay.ETooLarge, "holding", "more than %d deployments", MaxHolding)
	}
	for i, id := range r.Holding {
		if id < 1 {
			return patchbay.FieldError(patchbay.EUnprocessable, fmt.Sprintf("holding[%d]", i), "not a deployment id: %d", id)
		}
	}
	return nil
}

// PollResponse carries the jobs due now, possibly none.
type PollResponse struct {
	Jobs []Job `json:"jobs"`
	// Release lists the deployments of the poll's Holding that no longer
	// need their files: ended, and past their retention (a completed
	// deployment may be rolled back for 14 days by default), or gone.
	Release []int64 `json:"release,omitempty"`
}

// JobStatus is where a job ended on the host.
type JobStatus string

// The statuses an agent reports.
const (
	JobSucceeded JobStatus = "succeeded" // every action installed; health is being watched
	JobHealthy   JobStatus = "healthy"   // and stayed healthy for the minimum healthy time
	JobFailed    JobStatus = "failed"    // an action failed, or the host turned unhealthy
	JobRefused   JobStatus = "refused"   // not attempted: outside the window, a held package, a lock held too long
)

// PackageVersion is one package's version on the host before or after a
// job, "" when it is not installed.
type PackageVersion = patchbay.PackageVersion

// JobResult reports a job's outcome. Before and After are read from the
// package database, not from the package manager's output; After is what a
// rollback restores Before over.
type JobResult struct {
	Attempt int              `json:"attempt"`
	Status  JobStatus        `json:"status"`
	Reason  string           `json:"reason,omitempty"` // why it failed or was refused, for a person
	Before  []PackageVersion `json:"before,omitempty"`
	After   []PackageVersion `json:"after,omitempty"`
	Output  string           `json:"output,omitempty"` // the package manager's and hooks' output, at most MaxJobOutput
	// Recovered is set when the agent restarted during the job and read
	// the outcome from the package database.
	Recovered bool       `json:"recovered,omitempty"`
	Rebooted  bool       `json:"rebooted,omitempty"`
	BootTime  *time.Time `json:"boot_time,omitempty"`
	Started   time.Time  `json:"started"`
	Finished  time.Time  `json:"finished"`
}

// Validate checks a result as the server receives it.
func (r JobResult) Validate() error {
	switch r.Status {
	case JobSucceeded, JobHealthy, JobFailed, JobRefused:
	default:
		return patchbay.FieldError(patchbay.EUnprocessable, "status", "unknown status %q (want succeeded, healthy, failed or refused)", r.Status)
	}
	if r.Attempt < 1 {
		return patchbay.FieldError(patchbay.EUnprocessable, "attempt", "must be 1 or more, got %d", r.Attempt)
	}
	if len(r.Output) > MaxJobOutput {
		return patchbay.FieldError(patchbay.ETooLarge, "output", "more than %d bytes", MaxJobOutput)
	}
	if err := patchbay.ValidateText("reason", r.Reason, MaxJobReason); err != nil {
		return err
	}
	for _, list := range [][]PackageVersion{r.Before, r.After} {
		if len(list) > MaxJobActions {
			return patchbay.FieldError(patchbay.ETooLarge, "before", "more than %d packages", MaxJobActions)
		}
		for i, p := range list {
			if err := patchbay.ValidatePackage(fmt.Sprintf("versions[%d]", i), patchbay.Package{Ecosystem: "deb", Name: p.Name, Version: orDash(p.Version), Arch: p.Arch}); err != nil {
				return err
			}
		}
	}
	return nil
}

func orDash(v string) string {
	if v == "" {
		return "-"
	}
	return v
}
