package patchbay

import (
	"fmt"
	"regexp"
	"time"
)

// DeploymentState is where a deployment is in its life: draft → awaiting
// approval → approved → scheduled → running → (paused | halted) →
// completed | rolled back | cancelled.
type DeploymentState string

// The states.
const (
	DeploymentDraft            DeploymentState = "draft"
	DeploymentAwaitingApproval DeploymentState = "awaiting_approval"
	DeploymentApproved         DeploymentState = "approved"
	DeploymentScheduled        DeploymentState = "scheduled"
	DeploymentRunning          DeploymentState = "running"
	DeploymentPaused           DeploymentState = "paused"
	DeploymentHalted           DeploymentState = "halted"
	DeploymentCompleted        DeploymentState = "completed"
	DeploymentRolledBack       DeploymentState = "rolled_back"
	DeploymentCancelled        DeploymentState = "cancelled"
)

// DeploymentStates lists every state in life order.
var DeploymentStates = []DeploymentState{
	DeploymentDraft, DeploymentAwaitingApproval, DeploymentApproved, DeploymentScheduled, DeploymentRunning,
	DeploymentPaused, DeploymentHalted, DeploymentCompleted, DeploymentRolledBack, DeploymentCancelled,
}

// Active reports whether a deployment in state s may still change hosts.
func (s DeploymentState) Active() bool {
	switch s {
	case DeploymentCompleted, DeploymentRolledBack, DeploymentCancelled:
		return false
	}
	return true
}

// StateReason says why a deployment is in its state, as a closed set a
// program can act on; Deployment.Detail adds words for a person.
type StateReason string

// The reasons.
const (
	ReasonProposed     StateReason = "proposed"       // made by a policy's scheduler or a person
	ReasonNeedsApprove StateReason = "needs_approval" // its policy requires an approver
	ReasonAutoApproved StateReason = "auto_approved"  // every update matched the policy's auto-approval rules
	ReasonApproved     StateReason = "approved"       // an approver approved it
	ReasonRejected     StateReason = "rejected"       // an approver rejected it
	ReasonCancelled    StateReason = "cancelled"      // a person cancelled it

	// The rollout's own reasons (internal/rollout decides them).
	ReasonAwaitingStart     StateReason = "awaiting_start"     // its hosts fetch ahead; a person starts it (manual start)
	ReasonStartOrdered      StateReason = "start_ordered"      // a person started it: it runs when its window opens
	ReasonStarted           StateReason = "started"            // its window opened, or a person started it
	ReasonRingOpen          StateReason = "ring_open"          // hosts of the current ring are patching
	ReasonSoaking           StateReason = "soaking"            // the ring finished and must stay healthy for its soak time
	ReasonAwaitingPromotion StateReason = "awaiting_promotion" // the ring soaked; a person promotes the next
	ReasonPromoted          StateReason = "promoted"           // the next ring started
	ReasonPausedByUser      StateReason = "paused"             // a person paused it
	ReasonResumed           StateReason = "resumed"            // a person resumed it
	ReasonThreshold         StateReason = "failure_threshold"  // a ring failed more than it may
	ReasonProgressDeadline  StateReason = "progress_deadline"  // no host finished within the progress deadline
	ReasonRollingBack       StateReason = "rolling_back"       // failed hosts are reinstalling their previous versions
	ReasonCompleted         StateReason = "completed"          // every ring finished within its threshold
	ReasonRolledBack        StateReason = "rolled_back"        // the rollback finished
)

// Deployment is chosen updates × chosen hosts, delivered in rings inside
// the hosts' maintenance windows. A policy's scheduler proposes one per
// policy window (Key makes that idempotent); a person may propose one too.
type Deployment struct {
	ID    int64           `json:"id"`
	Name  string          `json:"name"`
	Key   string          `json:"key,omitempty"` // scheduler proposals: policy:ID:v:VERSION:ZONE:START:auto|approval (docs/policies.md)
	State DeploymentState `json:"state"`
	// Reason is why it is in State; Detail says it in words.
	Reason StateReason `json:"reason"`
	Detail string      `json:"detail,omitempty"`

	PolicyID      *int64 `json:"policy_id,omitempty"`
	PolicyVersion int    `json:"policy_version,omitempty"`
	RequestedBy   int64  `json:"requested_by,omitempty"` // 0: a policy's scheduler
	Emergency     bool   `json:"emergency,omitempty"`

	// Window is the window the scheduler proposed it for; Windows are the
	// rules its jobs keep (each host patches only inside them).
	WindowStart *time.Time   `json:"window_start,omitempty"`
	WindowEnd   *time.Time   `json:"window_end,omitempty"`
	Windows     []WindowSpec `json:"windows"`
	Rings       []Ring       `json:"rings"`
	Reboot      RebootRule   `json:"reboot"`

	// AutoRollback rolls the failed hosts of a ring that crossed its
	// threshold back; ProgressDeadline (seconds, 0: none) halts a
	// deployment in which no host finished for that long inside a window.
	AutoRollback     bool `json:"auto_rollback"`
	ProgressDeadline int  `json:"progress_deadline_seconds,omitempty"`
	// Deadline, when set, ends the wait for hosts that stayed offline
	// through their windows: their jobs not taken by then are skipped, and
	// the rollout goes on without them.
	Deadline *time.Time `json:"deadline,omitempty"`
	// OfflineGrace (seconds, 0: none) skips, once a ring has been open
	// that long, the jobs its hosts have not taken (offline through their
	// windows), and the rollout goes on; each ring gets its own. Policies
	// set it from deadline_days.
	OfflineGrace int `json:"offline_grace_seconds,omitempty"`
	// ManualStart holds an approved deployment, its hosts having fetched
	// ahead, until a person starts it; then its first ring opens with its
	// window. Without it the first ring opens with the first window.
	ManualStart bool `json:"manual_start,omitempty"`
	// CurrentRing is the ring in progress, from 0.
	CurrentRing int `json:"current_ring"`
	// Checks are what each host runs and watches around its packages.
	Checks HostChecks `json:"checks"`

	Hosts     []DeploymentHost `json:"hosts,omitempty"`
	HostCount int              `json:"host_count"`
	Approvals []Approval       `json:"approvals,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// HostChecks are a deployment's checks on each host: hooks (executables
// already on the host, in the agent's allow-listed hooks directory, named
// here, never sent) before and after patching, and the systemd services
// that must be active and stay so for MinHealthySeconds for the host to
// count as healthy.
type HostChecks struct {
	PreHooks          []string `json:"pre_hooks,omitempty"`
	PostHooks         []string `json:"post_hooks,omitempty"`
	Services          []string `json:"services,omitempty"`
	MinHealthySeconds int      `json:"min_healthy_seconds,omitempty"`
}

// unitRE and hookRE are what agents accept as a systemd unit and a hook's
// file name; refusing others up front says so before any host does.
var (
	unitRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9:_.@\\-]{0,255}$`)
	hookRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)
)

// Validate checks c; errors name field.pre_hooks[i] and so on.
func (c HostChecks) Validate(field string) error {
	lists := []struct {
		sub   string
		names []string
		re    *regexp.Regexp
		what  string
	}{{".pre_hooks", c.PreHooks, hookRE, "a file name in the agents' hooks directory"},
		{".post_hooks", c.PostHooks, hookRE, "a file name in the agents' hooks directory"},
		{".services", c.Services, unitRE, "a systemd unit name such as nginx.service"}}
	for _, l := range lists {
		if len(l.names) > 32 {
			return FieldError(EUnprocessable, field+l.sub, "at most 32 entries")
		}
		for i, n := range l.names {
			if !l.re.MatchString(n) {
				return FieldError(EUnprocessable, fmt.Sprintf("%s%s[%d]", field, l.sub, i), "%q is not %s", truncate(n, 80), l.what)
			}
		}
	}
	if c.MinHealthySeconds < 0 || c.MinHealthySeconds > 24*3600 {
		return FieldError(EUnprocessable, field+".min_healthy_seconds", "from 0 to 86400, got %d", c.MinHealthySeconds)
	}
	return nil
}

// Ring is one ring of a deployment: its spec and the hosts it holds.
type Ring struct {
	RingSpec
	Hosts int `json:"hosts"`
}

// DeploymentHost is one host's part of a deployment: its ring and the
// updates it installs.
type DeploymentHost struct {
	HostID   int64           `json:"host_id"`
	Hostname string          `json:"hostname,omitempty"`
	Ring     int             `json:"ring"`
	Updates  []PlannedUpdate `json:"updates"`
}

// PlannedUpdate is one package change a deployment makes on a host: an
// exact version to install, and the version it replaces.
type PlannedUpdate struct {
	Ecosystem   string   `json:"ecosystem"`
	Name        string   `json:"name"`
	Arch        string   `json:"arch"`
	FromVersion string   `json:"from_version"`
	ToVersion   string   `json:"to_version"`
	Class       string   `json:"class"`
	Fixes       []string `json:"fixes,omitempty"`
}

// DeploymentFilter selects deployments in a listing.
type DeploymentFilter struct {
	States   []DeploymentState
	PolicyID int64
	Limit    int
	Cursor   int64 // ids below this, newest first
}

// JobFilter selects a page of a deployment's jobs, by id.
type JobFilter struct {
	Kind   JobKind
	State  JobState
	HostID int64
	// Output includes each job's output (up to 256 KiB a job): off, the
	// list is the jobs' states and versions.
	Output bool
	Limit  int
	Cursor int64 // ids above this
}

// Decision is an approver's verdict.
type Decision string

// The decisions.
const (
	Approve Decision = "approve"
	Reject  Decision = "reject"
)

// Approval is one approver's decision on a deployment or an exception.
type Approval struct {
	ID       int64     `json:"id"`
	Decision Decision  `json:"decision"`
	By       int64     `json:"by"`
	ByName   string    `json:"by_name,omitempty"`
	Comment  string    `json:"comment"`
	At       time.Time `json:"at"`
}

// ExceptionState is where an exception (accepted risk) is.
type ExceptionState string

// The states. An active exception past its expiry reads as expired.
const (
	ExceptionPending  ExceptionState = "pending"
	ExceptionActive   ExceptionState = "active"
	ExceptionRejected ExceptionState = "rejected"
	ExceptionRevoked  ExceptionState = "revoked"
	ExceptionExpired  ExceptionState = "expired"
)

// Exception accepts the risk of findings: those of an advisory, of a
// package (by name), or of the hosts of a group, or any combination of the
// three (all that are set must hold). A person requests it with a reason
// and an expiry; another person with approval rights approves it. Excepted
// findings leave the work queue and SLA counting but stay visible; when the
// exception expires or is revoked they count again.
type Exception struct {
	ID          int64          `json:"id"`
	Advisory    string         `json:"advisory,omitempty"`
	Package     string         `json:"package,omitempty"`
	Group       string         `json:"group,omitempty"`
	Reason      string         `json:"reason"`
	State       ExceptionState `json:"state"`
	ExpiresAt   time.Time      `json:"expires_at"`
	RequestedBy int64          `json:"requested_by"`
	Approval    *Approval      `json:"approval,omitempty"`
	CreatedAt   time.Time      `json:"created_at"`
}

// Covers reports whether e, when active, excepts a finding of advisory on
// package name on a host in groups.
func (e *Exception) Covers(advisory, name string, groups []string) bool {
	if e.Advisory != "" && e.Advisory != advisory {
		return false
	}
	if e.Package != "" && e.Package != name {
		return false
	}
	if e.Group != "" {
		for _, g := range groups {
			if g == e.Group {
				return true
			}
		}
		return false
	}
	return true
}

// StateAt returns e's state at now: an active exception past its expiry is
// expired.
func (e *Exception) StateAt(now time.Time) ExceptionState {
	if e.State == ExceptionActive && !now.Before(e.ExpiresAt) {
		return ExceptionExpired
	}
	return e.State
}

// HostUpdate is an available update on a host as the work queue lists it:
// its class and why, the open findings it fixes, and its risk score (see
// docs/risk.md). ID is "HOST-UPDATE", stable while the host is offered
// that update.
type HostUpdate struct {
	ID            string    `json:"id"`
	HostID        int64     `json:"host_id"`
	Hostname      string    `json:"hostname"`
	Owner         string    `json:"owner,omitempty"`
	Ecosystem     string    `json:"ecosystem"`
	Name          string    `json:"name"`
	Arch          string    `json:"arch"`
	FromVersion   string    `json:"from_version"`
	ToVersion     string    `json:"to_version"`
	SourceVersion string    `json:"source_version,omitempty"`
	Origin        string    `json:"origin,omitempty"`
	Archive       string    `json:"archive,omitempty"`
	Class         string    `json:"class"`
	ClassReason   string    `json:"class_reason"`
	Risk          int       `json:"risk"`
	Fixes         []string  `json:"fixes"`              // advisories whose open findings it fixes on the host
	Excepted      []string  `json:"excepted,omitempty"` // those of them an active exception covers
	KEV           bool      `json:"kev"`
	Severity      string    `json:"severity,omitempty"` // the worst of Fixes
	FirstSeen     time.Time `json:"first_seen"`         // when the host first offered it
}

// UpdateFilter selects the work queue's entries.
type UpdateFilter struct {
	Classes []string
	HostID  int64
	Owner   string
	Sort    string // "risk" (default: highest first) or "host"
	Limit   int
	Cursor  string // opaque, from the previous page
}

// SLAReport is one owner's findings against their SLA due dates.
type SLAReport struct {
	Owner    string `json:"owner"`
	Hosts    int    `json:"hosts"`
	Open     int    `json:"open"`
	Overdue  int    `json:"overdue"`
	DueSoon  int    `json:"due_soon"` // due within 7 days, not yet overdue
	Excepted int    `json:"excepted"`
	// OldestDue is the earliest due date of an overdue finding.
	OldestDue *time.Time `json:"oldest_due,omitempty"`
}

// JobKind is what a job asks of a host.
type JobKind string

// The kinds.
const (
	JobFetch    JobKind = "fetch"    // download the targets ahead, keep the installed versions' files
	JobInstall  JobKind = "install"  // install the exact target versions
	JobRollback JobKind = "rollback" // reinstall the versions from before, from the kept files
)

// JobState is where a job is.
type JobState string

// The states. Pending jobs wait for their ring, their host's window and a
// free parallel slot; running ones were handed to the agent.
const (
	JobPending   JobState = "pending"
	JobRunning   JobState = "running"
	JobSucceeded JobState = "succeeded" // installed; health still watched
	JobHealthy   JobState = "healthy"   // installed and stayed healthy
	JobFailed    JobState = "failed"
	JobRefused   JobState = "refused" // not attempted by the agent: window ended, lock held, package held
	JobSkipped   JobState = "skipped" // never handed out: cancelled, or the host stayed away
)

// JobStates lists the states.
var JobStates = []JobState{JobPending, JobRunning, JobSucceeded, JobHealthy, JobFailed, JobRefused, JobSkipped}

// Final reports whether a job in state s is finished (health aside).
func (s JobState) Final() bool {
	switch s {
	case JobPending, JobRunning:
		return false
	}
	return true
}

// JobAction is one exact package version a job installs.
type JobAction struct {
	// Ecosystem is the package's (deb, rpm, apk), from the update planned.
	Ecosystem string `json:"ecosystem,omitempty"`
	Name      string `json:"name"`
	Arch      string `json:"arch,omitempty"`
	Version   string `json:"version"`
}

// PackageVersion is one package's version on a host, "" when it is not
// installed.
type PackageVersion struct {
	Name    string `json:"name"`
	Arch    string `json:"arch,omitempty"`
	Version string `json:"version"`
}

// Job is one host's work within a deployment: its exact actions, its
// attempts, and the versions before and after (what a rollback restores).
type Job struct {
	ID           int64            `json:"id"`
	DeploymentID int64            `json:"deployment_id"`
	HostID       int64            `json:"host_id"`
	Hostname     string           `json:"hostname,omitempty"`
	Ring         int              `json:"ring"`
	Kind         JobKind          `json:"kind"`
	Attempt      int              `json:"attempt"`
	State        JobState         `json:"state"`
	Actions      []JobAction      `json:"actions"`
	Before       []PackageVersion `json:"before,omitempty"`
	After        []PackageVersion `json:"after,omitempty"`
	Reason       string           `json:"reason,omitempty"`
	Output       string           `json:"output,omitempty"`
	Recovered    bool             `json:"recovered,omitempty"`
	HandedAt     *time.Time       `json:"handed_at,omitempty"`
	FinishedAt   *time.Time       `json:"finished_at,omitempty"`
	// HostLastSeen is when the host last checked in: a pending job's host
	// long gone is offline, not waiting for its window.
	HostLastSeen *time.Time `json:"host_last_seen,omitempty"`
}
