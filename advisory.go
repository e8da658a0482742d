package patchbay

import "time"

// Advisory is an imported advisory (an OSV record) as listings show it,
// enriched with KEV and EPSS through its CVE ids, and with what it means
// for the fleet.
type Advisory struct {
	ID        string     `json:"id"`
	Summary   string     `json:"summary"`
	Modified  time.Time  `json:"modified"`
	Published *time.Time `json:"published,omitempty"`
	Withdrawn *time.Time `json:"withdrawn,omitempty"`
	Source    string     `json:"source"` // the feed it was imported from
	// CVEs are the CVE ids linked through its id, aliases, upstream and
	// related fields.
	CVEs []string `json:"cves"`
	// Severity is the level by the fallback order of docs/matching.md
	// ("unknown" when the record and its links rate nothing); SeverityWhy
	// says which step and field decided it.
	Severity    string   `json:"severity"`
	SeverityWhy string   `json:"severity_why"`
	CVSS        *float64 `json:"cvss,omitempty"`
	// KEV is set when a linked CVE is in CISA's Known Exploited
	// Vulnerabilities catalog; KEVDue is its earliest due date.
	KEV    bool       `json:"kev"`
	KEVDue *time.Time `json:"kev_due,omitempty"`
	// EPSS is the highest exploitation probability of a linked CVE.
	EPSS *float64 `json:"epss,omitempty"`

	// HostsAffected counts hosts with an open finding of it; FixAvailable
	// is set when at least one of those findings has a fixed version.
	HostsAffected int  `json:"hosts_affected"`
	FixAvailable  bool `json:"fix_available"`
}

// FindingStatus is where a finding is in its life.
type FindingStatus string

// The statuses. A finding opens when a host's package is first seen
// affected, is fixed when the package moved past the fix or went away, and
// is withdrawn when its advisory is.
const (
	FindingOpen      FindingStatus = "open"
	FindingFixed     FindingStatus = "fixed"
	FindingWithdrawn FindingStatus = "withdrawn"
	// FindingExcepted is an open finding an active exception covers: out
	// of the work queue and SLA counting, still listed.
	FindingExcepted FindingStatus = "excepted"
)

// Finding is host × package × advisory: an installed package an advisory
// affects, with the explanation and its history.
type Finding struct {
	HostID   int64  `json:"host_id"`
	Hostname string `json:"hostname"`
	Advisory string `json:"advisory"`
	// Package is the installed package; for ecosystem "go", SourceName is
	// the binary that holds the module.
	Package Package `json:"package"`
	// Matched is what was compared: the advisory ecosystem, the package name
	// it uses and the version (the source's, for Debian, Ubuntu, Alpine).
	Matched string   `json:"matched"`
	Fixed   []string `json:"fixed"` // versions that fix it; empty when none is known
	Why     []string `json:"why"`   // which record entry, range and events hold the version

	Status    FindingStatus `json:"status"`
	FirstSeen time.Time     `json:"first_seen"`
	FixedAt   *time.Time    `json:"fixed_at,omitempty"`

	Severity string   `json:"severity"`
	CVSS     *float64 `json:"cvss,omitempty"`
	KEV      bool     `json:"kev"`
	EPSS     *float64 `json:"epss,omitempty"`

	// Of open and excepted findings: the risk score (docs/risk.md), the
	// SLA due date by the governing policy and whether it passed, and the
	// exception that covers it.
	Risk      int        `json:"risk,omitempty"`
	Due       *time.Time `json:"due,omitempty"`
	Overdue   bool       `json:"overdue,omitempty"`
	Exception int64      `json:"exception,omitempty"`
}

// FindingFilter selects findings: those of a host or of an advisory (one
// of the two is required) or both.
type FindingFilter struct {
	HostID   int64
	Advisory string
	Status   []FindingStatus // empty: open only
	Limit    int             // 0: all
}

// AdvisoryFilter selects advisories for a listing.
type AdvisoryFilter struct {
	// All lists every imported advisory; otherwise only those with open
	// findings.
	All         bool
	MinSeverity string // "": any
	KEV         bool   // only known exploited
	HostID      int64  // only advisories affecting this host
	Cursor      string // advisories after this id
	Limit       int
}
