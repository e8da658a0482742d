package patchbay

import "time"

// Criticality is how much a host matters to the business; it weighs risk.
type Criticality string

// The criticalities, least first.
const (
	CriticalityLow      Criticality = "low"
	CriticalityMedium   Criticality = "medium"
	CriticalityHigh     Criticality = "high"
	CriticalityCritical Criticality = "critical"
)

// Host is an enrolled machine.
type Host struct {
	ID             int64       `json:"id"`
	Hostname       string      `json:"hostname"`
	MachineID      string      `json:"machine_id"`
	OSFamily       string      `json:"os_family"`
	OSName         string      `json:"os_name"`
	OSRelease      string      `json:"os_release"`
	OSCodename     string      `json:"os_codename"`
	Kernel         string      `json:"kernel"`
	Arch           string      `json:"arch"`
	Labels         []string    `json:"labels"`
	Groups         []string    `json:"groups"`
	Criticality    Criticality `json:"criticality"`
	Owner          string      `json:"owner"`
	AgentVersion   string      `json:"agent_version"`
	RebootRequired bool        `json:"reboot_required"`
	CreatedAt      time.Time   `json:"created_at"`
	LastSeenAt     *time.Time  `json:"last_seen_at,omitempty"`
	RetiredAt      *time.Time  `json:"retired_at,omitempty"`
}

// HostFilter selects hosts in a listing.
type HostFilter struct {
	Label  string
	Group  string
	Owner  string
	Limit  int
	Cursor int64 // list hosts with ID greater than Cursor
}
