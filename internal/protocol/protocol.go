// Package protocol is the wire between agent and server: the messages under
// /agent/v1/ and the protocol version. The agent and the server both import
// it; it imports only the domain. Add a
// capability by adding fields (never changing one) and bumping Version.
package protocol

import (
	"time"

	"github.com/patchbay/patchbay"
)

// Version is the agent protocol's version. 1: enrollment, check-in with
// facts and an inventory hash, compressed inventory upload. 2: jobs by long
// poll, and their results. 3: polls name the deployments whose package
// files the agent holds, and the answer releases those that ended.
const Version = 3

// Paths of the agent API.
const (
	PathEnroll    = "/agent/v1/enroll"
	PathCheckIn   = "/agent/v1/checkin"
	PathInventory = "/agent/v1/inventory"
)

// Secret prefixes, so a leaked secret is recognisable.
const (
	EnrollSecretPrefix = "pbe_"
	HostTokenPrefix    = "pbh_"
)

// Limits the server enforces on what agents send; the agent checks them too
// so it fails with a clear local error instead of a 4xx.
const (
	MaxPackages       = 100_000
	MaxUpdates        = 100_000
	MaxInventoryBytes = 64 << 20 // uncompressed JSON
	MaxFactBytes      = 64 << 10
	MaxSourceErrors   = 16
)

// Facts describe a host as its agent sees it at a check-in.
type Facts struct {
	Hostname        string            `json:"hostname"`
	MachineID       string            `json:"machine_id"`
	OSRelease       map[string]string `json:"os_release"` // the fields of /etc/os-release
	Kernel          string            `json:"kernel"`
	Arch            string            `json:"arch"`
	CPUs            int               `json:"cpus"`
	MemoryBytes     uint64            `json:"memory_bytes"`
	UptimeSeconds   int64             `json:"uptime_seconds"`
	BootTime        time.Time         `json:"boot_time"`
	RebootRequired  bool              `json:"reboot_required"`
	RebootPackages  []string          `json:"reboot_packages,omitempty"` // Debian: /var/run/reboot-required.pkgs
	TimeZone        string            `json:"time_zone"`                 // IANA name when known, else the abbreviation
	AgentVersion    string            `json:"agent_version"`
	ProtocolVersion int               `json:"protocol_version"`
}

// EnrollRequest exchanges an enroll secret for a host token. HostToken is
// the agent's previous token, when it has one: presenting it keeps the host
// record (re-enrollment); without it a known machine id makes a new record
// flagged as a possible duplicate.
type EnrollRequest struct {
	EnrollSecret string `json:"enroll_secret"`
	HostToken    string `json:"host_token,omitempty"`
	Facts        Facts  `json:"facts"`
}

// EnrollResponse carries the host's token, shown once.
type EnrollResponse struct {
	HostID    int64  `json:"host_id"`
	HostToken string `json:"host_token"`
	// PossibleDuplicateOf names an existing host with the same machine id.
	PossibleDuplicateOf int64 `json:"possible_duplicate_of,omitempty"`
}

// CheckInRequest is the agent's periodic report: its facts and the content
// hash of its inventory (installed packages and available updates).
type CheckInRequest struct {
	Facts         Facts  `json:"facts"`
	InventoryHash string `json:"inventory_hash"`
}

// CheckInResponse tells the agent what to do next.
type CheckInResponse struct {
	// InventoryNeeded asks for a full upload: the server does not hold an
	// inventory with the hash the agent sent.
	InventoryNeeded bool `json:"inventory_needed"`
	// CheckInInterval is when to check in next (the agent adds jitter).
	CheckInIntervalSeconds int `json:"checkin_interval_seconds"`
	// ServerTime lets the agent notice a skewed clock.
	ServerTime time.Time `json:"server_time"`
}

// Package is one installed package, as the domain defines it.
type Package = patchbay.Package

// Update is one available update as the host's package manager sees it.
type Update struct {
	Ecosystem     string   `json:"ecosystem"`
	Name          string   `json:"name"`
	Arch          string   `json:"arch"`
	FromVersion   string   `json:"from_version"`
	ToVersion     string   `json:"to_version"`
	SourceName    string   `json:"source_name,omitempty"`
	SourceVersion string   `json:"source_version,omitempty"` // of ToVersion
	Origin        string   `json:"origin,omitempty"`         // apt: Origin, e.g. Debian
	Archive       string   `json:"archive,omitempty"`        // apt: a=, e.g. bookworm-security
	Security      bool     `json:"security,omitempty"`       // from a security pocket, or updateinfo type security
	AdvisoryType  string   `json:"advisory_type,omitempty"`  // dnf updateinfo: security, bugfix, enhancement
	Severity      string   `json:"severity,omitempty"`       // dnf updateinfo severity
	AdvisoryIDs   []string `json:"advisory_ids,omitempty"`   // dnf updateinfo ids, e.g. RLSA-2024:1234
}

// SourceError says that one package source could not be read. An
// inventory with errors is incomplete: the server keeps the last complete
// one for that source and shows the error.
type SourceError struct {
	Source  string `json:"source"` // "dpkg", "rpm", "apk", "apt-updates", ...
	Message string `json:"message"`
}

// Inventory is the full upload, sent gzip-compressed (Content-Encoding:
// gzip) when the server asks for it. Hash is the content hash the agent
// computed with InventoryHash; the server recomputes and compares it.
type Inventory struct {
	Hash     string        `json:"hash"`
	Packages []Package     `json:"packages"`
	Updates  []Update      `json:"updates"`
	Errors   []SourceError `json:"errors,omitempty"`
}
