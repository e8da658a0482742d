package patchbay

import "time"

// Policy decides, by rules a team writes once, which updates go to which
// hosts, when, and who signs off. A host is governed by the enabled policy
// of highest Priority whose Selector selects it (ties: the lower ID).
//
// Policies are versioned: every change stores a new Version, and a
// deployment keeps the version it was made under. internal/policy
// validates a Policy and evaluates it; docs/policies.md describes every
// field.
type Policy struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Version     int    `json:"version"`
	Enabled     bool   `json:"enabled"`
	// Priority orders policies that select the same host: the highest
	// governs it.
	Priority int      `json:"priority"`
	Selector Selector `json:"selector"`
	// Updates says which updates the policy deploys.
	Updates UpdateRule `json:"updates"`
	// AutoApprove, when set, says which of those updates are approved
	// without a person: a proposed deployment holding only such updates
	// starts approved; the rest go to approvers. nil: every deployment
	// needs an approver.
	AutoApprove *UpdateRule `json:"auto_approve,omitempty"`
	// DeferralDays delays an update until it has been available on the
	// host for that many days; updates that fix a known-exploited (KEV)
	// advisory are never deferred.
	DeferralDays int `json:"deferral_days"`
	// DeadlineDays, when set, is how long the policy's deployments wait
	// for hosts offline through their window: that many days after their
	// ring opened, the jobs they have not taken are skipped and the rollout
	// goes on (the deployment's offline grace). 0: they wait for the
	// policy's later windows (each deployment's progress deadline still
	// halts one that stalls).
	DeadlineDays int          `json:"deadline_days,omitempty"`
	Windows      []WindowSpec `json:"windows"`
	Rings        []RingSpec   `json:"rings"`
	Reboot       RebootRule   `json:"reboot"`
	// Checks are what each host of its deployments runs and watches.
	Checks HostChecks `json:"checks"`
	SLA    SLADays    `json:"sla"`

	CreatedBy int64     `json:"created_by"`
	CreatedAt time.Time `json:"created_at"` // of this version
}

// Selector picks hosts. Every field that is set must hold; within a list,
// any entry may match, except Labels, which a host must all carry. The
// zero Selector selects every host.
type Selector struct {
	Labels      []string      `json:"labels,omitempty"`
	Groups      []string      `json:"groups,omitempty"`
	OS          []string      `json:"os,omitempty"` // "debian", "debian 12", "rocky 9": family or name, optionally with a release
	Criticality []Criticality `json:"criticality,omitempty"`
	Owners      []string      `json:"owners,omitempty"`
}

// UpdateRule picks updates. Every field that is set must hold. Include and
// Exclude are shell patterns (path.Match) on the package name; an update
// whose name matches any Exclude pattern is never picked.
type UpdateRule struct {
	Classes     []string `json:"classes,omitempty"`      // critical, security, bugfix, feature; empty: all
	MinSeverity string   `json:"min_severity,omitempty"` // of the advisories it fixes; "unknown" ranks highest
	KEVOnly     bool     `json:"kev_only,omitempty"`     // only updates fixing a known-exploited advisory
	Include     []string `json:"include,omitempty"`
	Exclude     []string `json:"exclude,omitempty"`
}

// WindowSpec is a maintenance window as a person writes it: each start as
// a five-field cron expression, how long it stays open ("3h", "1h30m"), and
// the IANA time zone the expression is read in, or "host" for each host's
// own zone. internal/window computes with it.
type WindowSpec struct {
	Cron     string `json:"cron"`
	Duration string `json:"duration"`
	Zone     string `json:"zone"`
}

// RebootMode says when a host reboots after patching.
type RebootMode string

// The reboot modes.
const (
	RebootNever      RebootMode = "never"
	RebootIfRequired RebootMode = "if-required"
	RebootAlways     RebootMode = "always"
)

// RebootRule is a policy's reboot behaviour: the mode and how long after
// the notice the reboot happens ("5m"; "" for at once).
type RebootRule struct {
	Mode  RebootMode `json:"mode"`
	Delay string     `json:"delay,omitempty"`
}

// SLADays gives, per severity of a finding, the days from its first
// sighting to its due date. Every one must be positive; Unknown covers
// advisories that rate nothing.
type SLADays struct {
	Critical int `json:"critical"`
	High     int `json:"high"`
	Medium   int `json:"medium"`
	Low      int `json:"low"`
	Unknown  int `json:"unknown"`
}

// DefaultSLA returns the SLA a policy gets when it names none, and that
// hosts no policy governs are held to.
func DefaultSLA() SLADays { return SLADays{Critical: 7, High: 14, Medium: 30, Low: 90, Unknown: 30} }

// Days returns the SLA days for a severity level ("critical", "high",
// "medium", "low"; anything else is unknown).
func (s SLADays) Days(severity string) int {
	switch severity {
	case "critical":
		return s.Critical
	case "high":
		return s.High
	case "medium":
		return s.Medium
	case "low":
		return s.Low
	}
	return s.Unknown
}

// RingSpec is one ring of a policy's ring template, in order (pilot
// first). Exactly one of Label, Group, Percent and Count says which hosts
// it takes, or none for "the rest"; only the last ring may take the rest.
type RingSpec struct {
	Name    string `json:"name"`
	Label   string `json:"label,omitempty"`   // hosts with this label
	Group   string `json:"group,omitempty"`   // hosts in this group
	Percent int    `json:"percent,omitempty"` // this share of the deployment's hosts, rounded up
	Count   int    `json:"count,omitempty"`   // this many hosts
	// MaxParallel bounds the hosts of the ring patching at once; 0: no bound.
	MaxParallel int `json:"max_parallel,omitempty"`
	// FailureThreshold halts the deployment when the ring's failures
	// exceed it: "2" hosts or "5%" of the ring. "" halts at the first
	// failure.
	FailureThreshold string `json:"failure_threshold,omitempty"`
	// SoakTime is how long the ring stays healthy before the next starts.
	SoakTime string `json:"soak_time,omitempty"`
	// MinHealthy ("10m"), when set, is how long each host of the ring must
	// stay healthy after patching to count as done, instead of the
	// deployment's checks' min_healthy_seconds (a pilot watched longer).
	MinHealthy string `json:"min_healthy,omitempty"`
	// ManualPromotion makes a person start the next ring.
	ManualPromotion bool `json:"manual_promotion,omitempty"`
}

// PolicyFilter selects policies in a listing.
type PolicyFilter struct {
	All bool // disabled ones too
}

// Governance says which policy governs a host, and why.
type Governance struct {
	PolicyID int64  `json:"policy_id,omitempty"`
	Policy   string `json:"policy,omitempty"`
	Version  int    `json:"version,omitempty"`
	Why      string `json:"why"`
	// Also lists other enabled policies that select the host, which its
	// governing policy outranks.
	Also []string `json:"also,omitempty"`
}
