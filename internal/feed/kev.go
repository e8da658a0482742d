package feed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// KEVCatalog is CISA's Known Exploited Vulnerabilities catalog
// (https://www.cisa.gov/known-exploited-vulnerabilities-catalog), keeping the
// fields patchbay uses.
type KEVCatalog struct {
	Version  string     // catalogVersion: "2025.08.25"
	Released time.Time  // dateReleased
	Entries  []KEVEntry // in catalog order
}

// KEVEntry is one known exploited vulnerability.
type KEVEntry struct {
	CVE               string    // cveID, canonical: "CVE-2025-48384"
	VendorProject     string    // "Git"
	Product           string    // "Git"
	VulnerabilityName string    // "Git Link Following Vulnerability"
	DateAdded         time.Time // midnight UTC of the day it was added
	DueDate           time.Time // midnight UTC of the day remediation is due
	// KnownRansomwareUse is true when knownRansomwareCampaignUse is "Known";
	// "Unknown" (or absent) means CISA has no confirmation, not "no".
	KnownRansomwareUse bool
}

// ByCVE returns the catalog's entries keyed by CVE id. Should an id appear
// twice, the first entry wins.
func (c KEVCatalog) ByCVE() map[string]KEVEntry {
	m := make(map[string]KEVEntry, len(c.Entries))
	for _, e := range c.Entries {
		if _, ok := m[e.CVE]; !ok {
			m[e.CVE] = e
		}
	}
	return m
}

type kevJSON struct {
	CatalogVersion  *string           `json:"catalogVersion"`
	DateReleased    *string           `json:"dateReleased"`
	Count           *int              `json:"count"`
	Vulnerabilities []json.RawMessage `json:"vulnerabilities"`
}

type kevEntryJSON struct {
	CVEID                      string `json:"cveID"`
	VendorProject              string `json:"vendorProject"`
	Product                    string `json:"product"`
	VulnerabilityName          string `json:"vulnerabilityName"`
	DateAdded                  string `json:"dateAdded"`
	DueDate                    string `json:"dueDate"`
	KnownRansomwareCampaignUse string `json:"knownRansomwareCampaignUse"`
}

// ParseKEV decodes the catalog's JSON form
// (known_exploited_vulnerabilities.json) strictly: catalogVersion,
// dateReleased and vulnerabilities are required; each entry needs a valid
// cveID and YYYY-MM-DD dateAdded and dueDate; knownRansomwareCampaignUse must
// be "Known", "Unknown" or absent; count, when present, must match. Errors
// name the entry by index and cveID, and the field. Unknown fields are
// ignored.
func ParseKEV(r io.Reader) (KEVCatalog, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return KEVCatalog{}, fmt.Errorf("parse kev: %w", err)
	}
	var raw kevJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return KEVCatalog{}, fmt.Errorf("parse kev: not a KEV catalog JSON object: %w", err)
	}
	if dec.More() {
		return KEVCatalog{}, fmt.Errorf("parse kev: data after the catalog object")
	}
	if raw.CatalogVersion == nil || *raw.CatalogVersion == "" {
		return KEVCatalog{}, fmt.Errorf("parse kev: catalogVersion: missing")
	}
	if raw.DateReleased == nil {
		return KEVCatalog{}, fmt.Errorf("parse kev: dateReleased: missing")
	}
	released, err := time.Parse(time.RFC3339Nano, *raw.DateReleased)
	if err != nil {
		return KEVCatalog{}, fmt.Errorf("parse kev: dateReleased %q: not an RFC 3339 date-time", *raw.DateReleased)
	}
	if raw.Vulnerabilities == nil {
		return KEVCatalog{}, fmt.Errorf("parse kev: vulnerabilities: missing")
	}
	if raw.Count != nil && *raw.Count != len(raw.Vulnerabilities) {
		return KEVCatalog{}, fmt.Errorf("parse kev: count is %d but vulnerabilities has %d entries", *raw.Count, len(raw.Vulnerabilities))
	}
	cat := KEVCatalog{Version: *raw.CatalogVersion, Released: released.UTC(), Entries: make([]KEVEntry, 0, len(raw.Vulnerabilities))}
	for i, msg := range raw.Vulnerabilities {
		e, err := parseKEVEntry(msg)
		if err != nil {
			return KEVCatalog{}, fmt.Errorf("parse kev: vulnerabilities[%d]%w", i, err)
		}
		cat.Entries = append(cat.Entries, e)
	}
	return cat, nil
}

// parseKEVEntry decodes one entry; its errors start with the entry's cveID
// in parentheses, if known, and the field.
func parseKEVEntry(msg json.RawMessage) (KEVEntry, error) {
	var v kevEntryJSON
	if err := json.Unmarshal(msg, &v); err != nil {
		return KEVEntry{}, fmt.Errorf(": not an entry object: %w", err)
	}
	if v.CVEID == "" {
		return KEVEntry{}, fmt.Errorf(": cveID: missing")
	}
	cve, ok := NormalizeCVE(v.CVEID)
	if !ok || cve != v.CVEID {
		return KEVEntry{}, fmt.Errorf(": cveID %q: not of the form CVE-YYYY-NNNN", v.CVEID)
	}
	at := " (" + cve + ")"
	e := KEVEntry{
		CVE:               cve,
		VendorProject:     v.VendorProject,
		Product:           v.Product,
		VulnerabilityName: v.VulnerabilityName,
	}
	var err error
	if e.DateAdded, err = parseKEVDate(v.DateAdded); err != nil {
		return KEVEntry{}, fmt.Errorf("%s: dateAdded: %w", at, err)
	}
	if e.DueDate, err = parseKEVDate(v.DueDate); err != nil {
		return KEVEntry{}, fmt.Errorf("%s: dueDate: %w", at, err)
	}
	switch v.KnownRansomwareCampaignUse {
	case "Known":
		e.KnownRansomwareUse = true
	case "Unknown", "":
	default:
		return KEVEntry{}, fmt.Errorf("%s: knownRansomwareCampaignUse %q: want \"Known\" or \"Unknown\"", at, v.KnownRansomwareCampaignUse)
	}
	return e, nil
}

func parseKEVDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("missing")
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a YYYY-MM-DD date", s)
	}
	return t, nil
}
