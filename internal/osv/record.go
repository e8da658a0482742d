package osv

import (
	"encoding/json"
	"fmt"
	"time"
)

// Record is one OSV advisory. Fields keep the schema's names and meaning;
// timestamps are parsed, ecosystem_specific and database_specific blocks are
// kept as raw JSON.
type Record struct {
	SchemaVersion    string          // "1.6.0"; empty means 1.0.0
	ID               string          // "DSA-5380-1", "GHSA-…", "GO-2022-0274"
	Modified         time.Time       // zero if the record had none (see Warnings)
	Published        time.Time       // zero if absent
	Withdrawn        time.Time       // zero unless the record was withdrawn
	Aliases          []string        // other ids for the same vulnerability
	Related          []string        // ids of related, not identical, vulnerabilities
	Upstream         []string        // ids this record was derived from
	Summary          string          // one line
	Details          string          // Markdown
	Severity         []Severity      // top-level severity, if any
	Affected         []Affected      // affected packages
	References       []Reference     // links
	Credits          []Credit        // people and tools credited
	DatabaseSpecific json.RawMessage // the database's own block, as is

	// Warnings lists what Parse accepted although it is not as the schema
	// wants it ("modified: missing"). It is not part of the JSON form.
	Warnings []string
}

// Severity is one severity rating: a scoring system and its score. For the
// CVSS types the score is the vector string, kept as is.
type Severity struct {
	Type  string `json:"type"`  // SeverityCVSSv2, SeverityCVSSv3, SeverityCVSSv4, "Ubuntu", …
	Score string `json:"score"` // "CVSS:3.1/AV:N/AC:L/…"
}

// The severity types the schema defines for CVSS vectors.
const (
	SeverityCVSSv2 = "CVSS_V2"
	SeverityCVSSv3 = "CVSS_V3"
	SeverityCVSSv4 = "CVSS_V4"
)

// Package names an affected package in its ecosystem.
type Package struct {
	Ecosystem string `json:"ecosystem"`      // "Debian:12", "PyPI", "Alpine:v3.20"
	Name      string `json:"name"`           // source package name for distributions
	Purl      string `json:"purl,omitempty"` // package URL, if given
}

// Affected is one affected package and the versions of it that are affected.
type Affected struct {
	Package           *Package        `json:"package,omitempty"` // nil for GIT-only entries
	Severity          []Severity      `json:"severity,omitempty"`
	Ranges            []Range         `json:"ranges,omitempty"`
	Versions          []string        `json:"versions,omitempty"` // explicit affected versions
	EcosystemSpecific json.RawMessage `json:"ecosystem_specific,omitempty"`
	DatabaseSpecific  json.RawMessage `json:"database_specific,omitempty"`
}

// RangeType says how a range's event versions are ordered.
type RangeType string

// The range types of the schema.
const (
	RangeEcosystem RangeType = "ECOSYSTEM" // the ecosystem's own ordering
	RangeSemVer    RangeType = "SEMVER"    // SemVer 2.0.0 precedence
	RangeGit       RangeType = "GIT"       // commits of Repo; ignored by evaluation
)

// Range is a timeline of events over versions of one ordering.
type Range struct {
	Type             RangeType       `json:"type"`
	Repo             string          `json:"repo,omitempty"` // required for GIT
	Events           []Event         `json:"events"`
	DatabaseSpecific json.RawMessage `json:"database_specific,omitempty"`
}

// EventKind is what an event does to the affected state.
type EventKind string

// The event kinds of the schema.
const (
	Introduced   EventKind = "introduced"    // affected from this version on; "0" is before all
	Fixed        EventKind = "fixed"         // not affected from this version on
	LastAffected EventKind = "last_affected" // not affected after this version
	Limit        EventKind = "limit"         // nothing at or after this version; "*" is infinity
)

// Event is one entry of a range's timeline.
type Event struct {
	Kind    EventKind
	Version string
}

// MarshalJSON writes the event as the schema's one-key object.
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[EventKind]string{e.Kind: e.Version})
}

// Reference is a link about the vulnerability.
type Reference struct {
	Type string `json:"type"` // ADVISORY, ARTICLE, FIX, PACKAGE, REPORT, WEB, …
	URL  string `json:"url"`
}

// Credit names someone credited for the advisory.
type Credit struct {
	Name    string   `json:"name"`
	Contact []string `json:"contact,omitempty"`
	Type    string   `json:"type,omitempty"` // FINDER, REPORTER, …
}

// IsWithdrawn reports whether the record has been withdrawn: a withdrawn
// record affects nothing.
func (r *Record) IsWithdrawn() bool { return !r.Withdrawn.IsZero() }

// InvalidError reports a record that cannot be used: which record, which
// field and why. Parse returns it for every violation of the rules in the
// package documentation.
type InvalidError struct {
	ID     string // the record's id; empty if it had none
	Field  string // JSON path: "affected[0].ranges[1].events[2]"
	Reason string // lower case: "two event kinds: introduced and fixed"
}

// Error returns `osv record "ID": FIELD: REASON`.
func (e *InvalidError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("osv record %q: %s", e.ID, e.Reason)
	}
	return fmt.Sprintf("osv record %q: %s: %s", e.ID, e.Field, e.Reason)
}

// wireRecord is a Record as JSON, before checking.
type wireRecord struct {
	SchemaVersion    string          `json:"schema_version,omitempty"`
	ID               string          `json:"id"`
	Modified         *string         `json:"modified,omitempty"`
	Published        *string         `json:"published,omitempty"`
	Withdrawn        *string         `json:"withdrawn,omitempty"`
	Aliases          []string        `json:"aliases,omitempty"`
	Related          []string        `json:"related,omitempty"`
	Upstream         []string        `json:"upstream,omitempty"`
	Summary          string          `json:"summary,omitempty"`
	Details          string          `json:"details,omitempty"`
	Severity         []Severity      `json:"severity,omitempty"`
	Affected         []wireAffected  `json:"affected"`
	References       []Reference     `json:"references,omitempty"`
	Credits          []Credit        `json:"credits,omitempty"`
	DatabaseSpecific json.RawMessage `json:"database_specific,omitempty"`
}

// wireAffected is an Affected as JSON, before checking.
type wireAffected struct {
	Package           *Package        `json:"package"`
	Severity          []Severity      `json:"severity"`
	Ranges            []wireRange     `json:"ranges"`
	Versions          []string        `json:"versions"`
	EcosystemSpecific json.RawMessage `json:"ecosystem_specific"`
	DatabaseSpecific  json.RawMessage `json:"database_specific"`
}

// wireRange is a Range as JSON: events stay raw so that Parse can count their
// keys.
type wireRange struct {
	Type             RangeType                    `json:"type"`
	Repo             string                       `json:"repo"`
	Events           []map[string]json.RawMessage `json:"events"`
	DatabaseSpecific json.RawMessage              `json:"database_specific"`
}

// MarshalJSON writes the record in the OSV format (a value method, so that a
// Record inside another value marshals the same): timestamps in RFC 3339
// UTC with the precision they had, zero times left out, Warnings left out.
func (r Record) MarshalJSON() ([]byte, error) {
	w := struct {
		SchemaVersion    string          `json:"schema_version,omitempty"`
		ID               string          `json:"id"`
		Modified         string          `json:"modified,omitempty"`
		Published        string          `json:"published,omitempty"`
		Withdrawn        string          `json:"withdrawn,omitempty"`
		Aliases          []string        `json:"aliases,omitempty"`
		Related          []string        `json:"related,omitempty"`
		Upstream         []string        `json:"upstream,omitempty"`
		Summary          string          `json:"summary,omitempty"`
		Details          string          `json:"details,omitempty"`
		Severity         []Severity      `json:"severity,omitempty"`
		Affected         []Affected      `json:"affected"`
		References       []Reference     `json:"references,omitempty"`
		Credits          []Credit        `json:"credits,omitempty"`
		DatabaseSpecific json.RawMessage `json:"database_specific,omitempty"`
	}{
		SchemaVersion: r.SchemaVersion, ID: r.ID,
		Modified: formatTime(r.Modified), Published: formatTime(r.Published), Withdrawn: formatTime(r.Withdrawn),
		Aliases: r.Aliases, Related: r.Related, Upstream: r.Upstream,
		Summary: r.Summary, Details: r.Details, Severity: r.Severity,
		Affected: r.Affected, References: r.References, Credits: r.Credits,
		DatabaseSpecific: r.DatabaseSpecific,
	}
	if w.Affected == nil {
		w.Affected = []Affected{}
	}
	return json.Marshal(w)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
