// Package apiv1 holds the JSON bodies of patchbay's user API, version 1:
// what internal/web answers and internal/client sends and reads. It
// depends only on the domain, so the client (and through it the CLI and
// the agent) never imports the server.
package apiv1

import (
	"encoding/json"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
)

// List is the shape of every listing: a page of items and, when there may
// be more, the cursor that fetches the next page.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// Problem is an RFC 9457 problem details body, with patchbay's error code
// and, for input errors, the field at fault.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Instance string `json:"instance,omitempty"`
	Code     string `json:"code"`
	Field    string `json:"field,omitempty"`
}

// WhoAmI is the answer of GET /api/v1/whoami.
type WhoAmI struct {
	User        patchbay.User         `json:"user"`
	Token       patchbay.Token        `json:"token"`
	Permissions []patchbay.Permission `json:"permissions"`
}

// RoleInfo is one row of GET /api/v1/roles.
type RoleInfo struct {
	Role        patchbay.Role         `json:"role"`
	Permissions []patchbay.Permission `json:"permissions"`
}

// CreateUserRequest is the body of POST /api/v1/users.
type CreateUserRequest struct {
	Name string        `json:"name"`
	Role patchbay.Role `json:"role"`
}

// UpdateUserRequest is the body of PATCH /api/v1/users/{name}; absent
// fields stay as they are.
type UpdateUserRequest struct {
	Role     *patchbay.Role `json:"role,omitempty"`
	Disabled *bool          `json:"disabled,omitempty"`
}

// CreateTokenRequest is the body of POST /api/v1/tokens. User defaults to
// the caller; naming another user needs tokens:all. ExpiresIn is a Go
// duration such as "720h"; ExpiresAt an RFC 3339 time; give at most one.
type CreateTokenRequest struct {
	Name      string `json:"name"`
	User      string `json:"user,omitempty"`
	ExpiresAt string `json:"expires_at,omitempty"`
	ExpiresIn string `json:"expires_in,omitempty"`
}

// CreatedToken is the answer of POST /api/v1/tokens: the only time the
// secret is shown.
type CreatedToken struct {
	patchbay.Token
	Secret string `json:"secret"`
}

// AuditVerification is the answer of GET /api/v1/audit/verify.
type AuditVerification struct {
	OK      bool                 `json:"ok"`
	Checked int64                `json:"checked"`
	Break   *patchbay.ChainBreak `json:"break,omitempty"`
}

// Health is the answer of /healthz and /readyz.
type Health struct {
	Status  string `json:"status"`
	Version string `json:"version,omitempty"`
	Store   string `json:"store,omitempty"`
}

// CreateEnrollSecretRequest is the body of POST /api/v1/enroll-secrets.
type CreateEnrollSecretRequest struct {
	Name      string   `json:"name"`
	ExpiresAt string   `json:"expires_at,omitempty"` // RFC 3339
	ExpiresIn string   `json:"expires_in,omitempty"` // Go duration, e.g. 720h
	MaxUses   *int     `json:"max_uses,omitempty"`
	Labels    []string `json:"labels,omitempty"`
	Groups    []string `json:"groups,omitempty"`
}

// CreatedEnrollSecret is the answer of POST /api/v1/enroll-secrets: the only
// time the secret is shown.
type CreatedEnrollSecret struct {
	patchbay.EnrollSecret
	Secret string `json:"secret"`
}

// UpdateHostRequest is the body of PATCH /api/v1/hosts/{id}; absent fields
// stay as they are.
type UpdateHostRequest struct {
	Labels      *[]string             `json:"labels,omitempty"`
	Groups      *[]string             `json:"groups,omitempty"`
	Criticality *patchbay.Criticality `json:"criticality,omitempty"`
	Owner       *string               `json:"owner,omitempty"`
}

// ResolveDuplicateRequest is the body of POST
// /api/v1/hosts/{id}/resolve-duplicate: "merge" (the same machine
// re-enrolled: the original host takes over) or "keep" (different machines).
type ResolveDuplicateRequest struct {
	Action string `json:"action"`
}

// HostPackages is the answer of GET /api/v1/hosts/{id}/packages.
type HostPackages struct {
	Packages []patchbay.Package `json:"packages"`
	Updates  []protocol.Update  `json:"updates"`
}

// PackageHost is one answer of GET /api/v1/packages/{name}/hosts.
type PackageHost struct {
	HostID   int64            `json:"host_id"`
	Hostname string           `json:"hostname"`
	Package  patchbay.Package `json:"package"`
}

// FeedProblem is a record or line of a feed that could not be used, and why.
type FeedProblem struct {
	File   string `json:"file"`
	Reason string `json:"reason"`
}

// FeedImportResult is the answer of POST /api/v1/feeds/import and
// POST /api/v1/feeds/fetch: what the import did, and every record it could
// not use (bounded; ProblemsTotal counts them all).
type FeedImportResult struct {
	Name          string        `json:"name"`
	Kind          string        `json:"kind"`
	Records       int           `json:"records"` // usable records in the feed
	Added         int           `json:"added"`
	Replaced      int           `json:"replaced"`
	Unchanged     int           `json:"unchanged"`
	Older         int           `json:"older"`
	KEV           int           `json:"kev"`
	EPSS          int           `json:"epss"`
	NotModified   bool          `json:"not_modified,omitempty"` // a fetch the server answered 304
	ProblemsTotal int           `json:"problems_total"`
	Problems      []FeedProblem `json:"problems"`
}

// FeedFetch is the body of POST /api/v1/feeds/fetch.
type FeedFetch struct {
	URL string `json:"url"`
}

// FeedSource is a feed URL the server syncs on a schedule, and how its
// last sync went.
type FeedSource struct {
	URL          string     `json:"url"`
	Interval     string     `json:"interval"`
	ETag         string     `json:"etag,omitempty"`
	LastModified string     `json:"last_modified,omitempty"`
	LastAttempt  *time.Time `json:"last_attempt,omitempty"`
	LastSuccess  *time.Time `json:"last_success,omitempty"`
	LastError    string     `json:"last_error,omitempty"`
	LastSummary  string     `json:"last_summary,omitempty"`
}

// FeedImport is one past import.
type FeedImport struct {
	ID        int64     `json:"id"`
	Source    string    `json:"source"`
	Kind      string    `json:"kind"`
	Actor     string    `json:"actor"`
	At        time.Time `json:"at"`
	Added     int       `json:"added"`
	Replaced  int       `json:"replaced"`
	Unchanged int       `json:"unchanged"`
	Older     int       `json:"older"`
	Problems  int       `json:"problems"`
	KEV       int       `json:"kev"`
	EPSS      int       `json:"epss"`
}

// Feeds is the answer of GET /api/v1/feeds.
type Feeds struct {
	Sources    []FeedSource `json:"sources"`
	Imports    []FeedImport `json:"imports"` // the newest first
	Advisories int          `json:"advisories"`
	KEV        int          `json:"kev"`
	EPSS       int          `json:"epss"`
}

// AdvisoryDetail is the answer of GET /api/v1/vulns/{id}: the advisory,
// its OSV record, and every open finding with the installed and fixed
// versions.
type AdvisoryDetail struct {
	patchbay.Advisory
	Record   json.RawMessage    `json:"record"`
	Findings []patchbay.Finding `json:"findings"`
}

// PolicyResult answers a policy's creation or change: the stored version
// and warnings that did not stop it (a selector that selects no host).
type PolicyResult struct {
	Policy   patchbay.Policy `json:"policy"`
	Warnings []string        `json:"warnings,omitempty"`
}

// DecisionRequest approves or rejects a deployment or an exception.
type DecisionRequest struct {
	Decision patchbay.Decision `json:"decision"` // approve or reject
	Comment  string            `json:"comment"`
}

// CreateExceptionRequest asks to accept the risk of some findings.
type CreateExceptionRequest struct {
	Advisory  string    `json:"advisory,omitempty"`
	Package   string    `json:"package,omitempty"`
	Group     string    `json:"group,omitempty"`
	Reason    string    `json:"reason"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Simulation answers GET /api/v1/policies/{id}/simulate: what the policy
// would deploy in each of its windows over the days asked.
type Simulation struct {
	Policy  patchbay.Policy   `json:"policy"`
	From    time.Time         `json:"from"`
	Days    int               `json:"days"`
	Hosts   int               `json:"hosts"` // hosts the policy governs
	Windows []SimulatedWindow `json:"windows"`
}

// SimulatedWindow is one window of a simulation and what it would deploy.
type SimulatedWindow struct {
	Zone        string                `json:"zone,omitempty"`
	Start       time.Time             `json:"start"`
	End         time.Time             `json:"end"`
	Hosts       int                   `json:"hosts"` // governed hosts in its zone
	Deployments []patchbay.Deployment `json:"deployments"`
}

// Approvals lists what waits for an approver.
type Approvals struct {
	Deployments []patchbay.Deployment `json:"deployments"`
	Exceptions  []patchbay.Exception  `json:"exceptions"`
}

// UpdateExplanation answers GET /api/v1/updates/{id}: the queue entry, its
// score's parts, and the parts of each finding it fixes.
type UpdateExplanation struct {
	Update   patchbay.HostUpdate `json:"update"`
	Score    ScoreParts          `json:"score"`
	Findings []FindingScore      `json:"findings"`
	Policy   patchbay.Governance `json:"policy"`
}

// ScoreParts is a score and the parts it sums.
type ScoreParts struct {
	Value int         `json:"value"`
	Parts []ScorePart `json:"parts"`
}

// ScorePart is one addend of a score.
type ScorePart struct {
	Name  string `json:"name"`
	Value int    `json:"value"`
	Why   string `json:"why"`
}

// FindingScore is one fixed finding's score with its parts.
type FindingScore struct {
	Advisory  string     `json:"advisory"`
	Package   string     `json:"package"`
	Severity  string     `json:"severity"`
	FirstSeen time.Time  `json:"first_seen"`
	Due       time.Time  `json:"due"`
	Excepted  bool       `json:"excepted,omitempty"`
	Score     ScoreParts `json:"score"`
}

// CreateDeploymentRequest asks for a deployment made by a person: the
// hosts, which of their available updates (by package name and/or class;
// all when neither is given), the rings, the windows and the reboot rule.
// An emergency deployment ("patch now") skips windows and deferral; like
// every deployment a person makes, it needs an approver.
type CreateDeploymentRequest struct {
	Name             string                `json:"name"`
	Hosts            []int64               `json:"hosts"`
	Packages         []string              `json:"packages,omitempty"`
	Classes          []string              `json:"classes,omitempty"`
	Rings            []patchbay.RingSpec   `json:"rings,omitempty"`
	Windows          []patchbay.WindowSpec `json:"windows,omitempty"`
	Reboot           patchbay.RebootRule   `json:"reboot"`
	Emergency        bool                  `json:"emergency,omitempty"`
	AutoRollback     *bool                 `json:"auto_rollback,omitempty"`
	ProgressDeadline string                `json:"progress_deadline,omitempty"` // "2h"; default 2h, "0" none
	Checks           patchbay.HostChecks   `json:"checks"`
	// Deadline skips the hosts that have not taken their jobs by then
	// (offline through their windows); none waits for them.
	Deadline *time.Time `json:"deadline,omitempty"`
	// ManualStart holds it, once approved and fetched ahead, until a
	// person starts it (action start).
	ManualStart bool `json:"manual_start,omitempty"`
	// OfflineGrace ("72h") skips, once a ring has been open that long, the
	// jobs its hosts have not taken; each ring gets its own.
	OfflineGrace string `json:"offline_grace,omitempty"`
}

// DeploymentActionRequest takes an action on a deployment: submit, start,
// pause, resume, retry, promote, cancel or rollback.
type DeploymentActionRequest struct {
	Action string `json:"action"`
}

// DeploymentActionResult says where the action left the deployment.
type DeploymentActionResult struct {
	State  patchbay.DeploymentState `json:"state"`
	Reason patchbay.StateReason     `json:"reason"`
	Detail string                   `json:"detail"`
}
