package patchbay

import (
	"encoding/json"
	"time"
)

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
	BootTime       *time.Time  `json:"boot_time,omitempty"`
	TimeZone       string      `json:"time_zone"`

	// PossibleDuplicateOf is set when the host enrolled with the machine id
	// of an existing host and without that host's token: a cloned VM, or a
	// reinstalled machine. An admin merges the two or keeps both.
	PossibleDuplicateOf *int64 `json:"possible_duplicate_of,omitempty"`
	// MergedInto is set on a host retired by merging it into another.
	MergedInto *int64 `json:"merged_into,omitempty"`

	// Facts are the last facts the agent reported, as it sent them.
	Facts json.RawMessage `json:"facts,omitempty"`
	// Inventory summarises the last complete inventory.
	Inventory *InventorySummary `json:"inventory,omitempty"`
}

// InventorySummary describes a host's stored inventory.
type InventorySummary struct {
	Hash       string          `json:"hash"`
	ReceivedAt time.Time       `json:"received_at"`
	Packages   int             `json:"packages"`
	Updates    int             `json:"updates"`
	Errors     json.RawMessage `json:"errors,omitempty"` // sources that could not be read
}

// Active reports whether h is enrolled and not retired.
func (h *Host) Active() bool { return h.RetiredAt == nil }

// HostFilter selects hosts in a listing. Zero fields do not filter.
type HostFilter struct {
	Label          string
	Group          string
	Owner          string
	OS             string    // matches os_name, os_release or "name release"
	SeenBefore     time.Time // stale: last seen before this (or never)
	SeenSince      time.Time // online: last seen at or after this
	RebootRequired *bool
	Duplicates     bool // only hosts flagged as possible duplicates
	Retired        bool // retired hosts instead of active ones
	Limit          int
	Cursor         int64 // list hosts with ID greater than Cursor
}
