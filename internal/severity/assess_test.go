package severity

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/internal/osv"
)

// realDir holds package osv's real records, read here in place.
const realDir = "../osv/testdata/osv-real"

// loadReal parses one real record, named relative to realDir.
func loadReal(t *testing.T, name string) *osv.Record {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(realDir, name))
	if err != nil {
		t.Fatal(err)
	}
	r, err := osv.Parse(data)
	if err != nil {
		t.Fatalf("osv.Parse(%s): %v", name, err)
	}
	return r
}

func TestOfRealRecords(t *testing.T) {
	// Every real record; those not listed must come out Unknown with no
	// lookup given: Debian, Go, PyPI and Drupal records carry no rating.
	want := map[string]struct {
		level Level
		step  Step
		field string
		base  float64
	}{
		"Alpine/ALPINE-CVE-2025-26519.json":  {High, StepCVSS, "severity[0]", 7.0},
		"GIT/CVE-2024-51757.json":            {Critical, StepCVSS, "severity[0]", 9.3},
		"GIT/CVE-2025-11187.json":            {Medium, StepCVSS, "severity[0]", 6.1},
		"GIT/OSV-2018-389.json":              {Medium, StepEcosystem, "affected[0].ecosystem_specific.severity", 0},
		"GIT/OSV-2023-1161.json":             {Medium, StepEcosystem, "affected[0].ecosystem_specific.severity", 0},
		"Maven/GHSA-269g-pwp5-87pp.json":     {Medium, StepCVSS, "severity[0]", 4.4},
		"Maven/GHSA-3pxv-7cmr-fjr4.json":     {Medium, StepCVSS, "severity[0]", 6.9},
		"Maven/GHSA-cm6r-892j-jv2g.json":     {Medium, StepCVSS, "severity[0]", 6.1},
		"Packagist/GHSA-9f46-5r25-5wfm.json": {Critical, StepCVSS, "severity[0]", 9.8},
		"npm/GHSA-whgm-jr23-g3j9.json":       {High, StepCVSS, "severity[0]", 7.5},
	}
	files, err := filepath.Glob(filepath.Join(realDir, "*", "*.json"))
	if err != nil || len(files) < 30 {
		t.Fatalf("glob %s: %d files, %v", realDir, len(files), err)
	}
	for _, f := range files {
		name, _ := filepath.Rel(realDir, f)
		name = filepath.ToSlash(name)
		t.Run(name, func(t *testing.T) {
			got := Of(loadReal(t, name), nil)
			w, ok := want[name]
			if !ok {
				w.level, w.step = Unknown, StepNone
			}
			if got.Level != w.level || got.Step != w.step || got.Field != w.field {
				t.Fatalf("Of(%s) = %s; want %s from %s %s", name, got, w.level, w.step, w.field)
			}
			if w.step == StepCVSS && (got.CVSS == nil || got.CVSS.Base != w.base) {
				t.Errorf("Of(%s).CVSS = %v, want base %.1f", name, got.CVSS, w.base)
			}
			if w.step == StepEcosystem && (got.CVSS != nil || got.Value != "MEDIUM") {
				t.Errorf("Of(%s) = CVSS %v, Value %q; want no CVSS, Value MEDIUM", name, got.CVSS, got.Value)
			}
		})
	}
}

// cveRecord builds a linked CVE record with one top-level CVSS vector, or
// none if vector is empty.
func cveRecord(id, typ, vector string) *osv.Record {
	r := &osv.Record{ID: id}
	if vector != "" {
		r.Severity = []osv.Severity{{Type: typ, Score: vector}}
	}
	return r
}

func TestOfRealDebianLinked(t *testing.T) {
	// DSA-1543-1 fixes eight CVEs; two are imported with CVSS, one without,
	// the rest not at all. The highest level wins.
	imported := map[string]*osv.Record{
		"CVE-2007-6681": cveRecord("CVE-2007-6681", osv.SeverityCVSSv2, "AV:N/AC:M/Au:N/C:P/I:P/A:P"),
		"CVE-2008-0073": cveRecord("CVE-2008-0073", osv.SeverityCVSSv3, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
		"CVE-2008-1489": cveRecord("CVE-2008-1489", "", ""),
	}
	var asked []string
	lookup := func(id string) *osv.Record {
		asked = append(asked, id)
		return imported[id]
	}
	got := Of(loadReal(t, "Debian/DSA-1543-1.json"), lookup)
	if got.Level != Critical || got.Step != StepLinked || got.Linked != "CVE-2008-0073" ||
		got.Field != "severity[0]" || got.CVSS == nil || got.CVSS.Base != 9.8 {
		t.Fatalf("Of(DSA-1543-1) = %s; want critical from linked CVE-2008-0073 severity[0] 9.8", got)
	}
	if len(asked) != 8 || slices.ContainsFunc(asked, func(id string) bool { return !strings.HasPrefix(id, "CVE-") }) {
		t.Errorf("Of(DSA-1543-1) looked up %v; want the 8 CVE ids, not the DEBIAN-CVE ones", asked)
	}
	if !hasNote(got.Notes, "linked: not imported: CVE-2007-6682") || !hasNote(got.Notes, "linked: no CVSS: CVE-2008-1489") {
		t.Errorf("Of(DSA-1543-1).Notes = %q; want the missing and unrated CVEs listed", got.Notes)
	}

	// DSA-3029-1 names its CVE as an alias.
	got = Of(loadReal(t, "Debian/DSA-3029-1.json"), func(id string) *osv.Record {
		return cveRecord(id, osv.SeverityCVSSv3, "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N")
	})
	if got.Level != Low || got.Linked != "CVE-2014-3616" {
		t.Errorf("Of(DSA-3029-1) = %s; want low from linked CVE-2014-3616", got)
	}
}

// hasNote reports whether a note starts with prefix.
func hasNote(notes []string, prefix string) bool {
	return slices.ContainsFunc(notes, func(n string) bool { return strings.HasPrefix(n, prefix) })
}

// raw turns a JSON literal into a raw block.
func raw(s string) json.RawMessage { return json.RawMessage(s) }

// debian builds a Debian affected entry with an ecosystem_specific block.
func debian(release, ecosystemSpecific string) osv.Affected {
	return osv.Affected{
		Package:           &osv.Package{Ecosystem: "Debian:" + release, Name: "openssl"},
		EcosystemSpecific: raw(ecosystemSpecific),
	}
}

func TestOfSteps(t *testing.T) {
	const (
		v2   = "AV:N/AC:L/Au:N/C:C/I:C/A:C"                                      // 10.0 high
		v30  = "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"                    // 7.5 high
		v31  = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"                    // 6.1 medium
		v31b = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"                    // 9.8 critical
		v4   = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:L/SA:N" // 6.9 medium
		v4lo = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N" // 0.0 none
		bad  = "CVSS:3.1/AV:N/AC:L"
	)
	sev := func(pairs ...string) []osv.Severity {
		var ss []osv.Severity
		for i := 0; i < len(pairs); i += 2 {
			ss = append(ss, osv.Severity{Type: pairs[i], Score: pairs[i+1]})
		}
		return ss
	}
	linkedHigh := func(id string) *osv.Record {
		if id == "CVE-2024-1" {
			return cveRecord(id, osv.SeverityCVSSv3, v30)
		}
		return nil
	}
	tests := []struct {
		name      string
		rec       *osv.Record
		linked    func(string) *osv.Record
		level     Level
		step      Step
		field     string
		value     string
		linkedID  string
		wantNotes []string // prefixes
	}{
		{
			name:  "v4 preferred over a higher v3.1",
			rec:   &osv.Record{Severity: sev(osv.SeverityCVSSv3, v31b, osv.SeverityCVSSv4, v4)},
			level: Medium, step: StepCVSS, field: "severity[1]", value: v4,
		},
		{
			name:  "v3.1 preferred over v3.0 and v2",
			rec:   &osv.Record{Severity: sev(osv.SeverityCVSSv2, v2, osv.SeverityCVSSv3, v30, osv.SeverityCVSSv3, v31)},
			level: Medium, step: StepCVSS, field: "severity[2]", value: v31,
		},
		{
			name:  "v4 None is a rating, not a fallback",
			rec:   &osv.Record{Severity: sev(osv.SeverityCVSSv4, v4lo), DatabaseSpecific: raw(`{"severity":"HIGH"}`)},
			level: None, step: StepCVSS, field: "severity[0]", value: v4lo,
		},
		{
			name: "highest score of one version across affected entries",
			rec: &osv.Record{Affected: []osv.Affected{
				{Severity: sev(osv.SeverityCVSSv3, v31)},
				{Severity: sev(osv.SeverityCVSSv3, v31b)},
			}},
			level: Critical, step: StepCVSS, field: "affected[1].severity[0]", value: v31b,
		},
		{
			name:  "bad vector skipped and noted",
			rec:   &osv.Record{Severity: sev(osv.SeverityCVSSv3, bad, osv.SeverityCVSSv2, v2)},
			level: High, step: StepCVSS, field: "severity[1]", value: v2,
			wantNotes: []string{"severity[0]: invalid cvss vector"},
		},
		{
			name:  "type and vector version disagree",
			rec:   &osv.Record{Severity: sev(osv.SeverityCVSSv3, v4)},
			level: Medium, step: StepCVSS, field: "severity[0]", value: v4,
			wantNotes: []string{"severity[0]: type CVSS_V3 holds a CVSS 4.0 vector"},
		},
		{
			name:  "only bad vectors: GitHub severity",
			rec:   &osv.Record{Severity: sev(osv.SeverityCVSSv3, bad), DatabaseSpecific: raw(`{"severity":"MODERATE","cwe_ids":[]}`)},
			level: Medium, step: StepEcosystem, field: "database_specific.severity", value: "MODERATE",
			wantNotes: []string{"severity[0]: invalid cvss vector"},
		},
		{
			name: "Debian urgency: highest across releases",
			rec: &osv.Record{ID: "DEBIAN-CVE-2024-1", Upstream: []string{"CVE-2024-1"}, Affected: []osv.Affected{
				debian("11", `{"urgency":"unimportant"}`),
				debian("12", `{"urgency":"medium"}`),
				debian("13", `{"urgency":"low"}`),
			}},
			linked: linkedHigh,
			level:  Medium, step: StepEcosystem, field: "affected[1].ecosystem_specific.urgency", value: "medium",
		},
		{
			name:  "Debian unimportant is low, not none",
			rec:   &osv.Record{Affected: []osv.Affected{debian("12", `{"urgency":"unimportant"}`)}},
			level: Low, step: StepEcosystem, field: "affected[0].ecosystem_specific.urgency", value: "unimportant",
		},
		{
			name: "Debian not yet assigned falls through to the linked CVE",
			rec: &osv.Record{ID: "DEBIAN-CVE-2024-1", Upstream: []string{"DEBIAN-CVE-2024-1", "CVE-2024-1"}, Affected: []osv.Affected{
				debian("12", `{"urgency":"not yet assigned"}`),
				debian("7", `{"urgency":"end-of-life"}`),
			}},
			linked: linkedHigh,
			level:  High, step: StepLinked, field: "severity[0]", value: v30, linkedID: "CVE-2024-1",
			wantNotes: []string{
				`affected[0].ecosystem_specific.urgency: "not yet assigned" is not a rating`,
				`affected[1].ecosystem_specific.urgency: "end-of-life" is not a rating`,
			},
		},
		{
			name:  "Ubuntu priority",
			rec:   &osv.Record{Severity: sev("Ubuntu", "negligible"), Affected: []osv.Affected{{Severity: nil}}},
			level: Low, step: StepEcosystem, field: "severity[0]", value: "negligible",
		},
		{
			name:  "unknown severity type noted",
			rec:   &osv.Record{Severity: sev("CVSS_V5", "x"), DatabaseSpecific: raw(`{"severity":"critical"}`)},
			level: Critical, step: StepEcosystem, field: "database_specific.severity", value: "critical",
			wantNotes: []string{`severity[0]: type "CVSS_V5" not known`},
		},
		{
			name:  "malformed blocks noted, not fatal",
			rec:   &osv.Record{DatabaseSpecific: raw(`["x"]`), Affected: []osv.Affected{debian("12", `{"urgency":3}`)}},
			level: Unknown, step: StepNone,
			wantNotes: []string{"database_specific: not a JSON object", "affected[0].ecosystem_specific.urgency: not a string"},
		},
		{
			name: "linked through an alias; related ids not followed",
			rec:  &osv.Record{ID: "GO-2024-1", Aliases: []string{"GHSA-xxxx", "CVE-2024-1"}, Related: []string{"CVE-2024-2"}},
			linked: func(id string) *osv.Record {
				return cveRecord(id, osv.SeverityCVSSv3, map[string]string{"CVE-2024-1": v31, "CVE-2024-2": v31b}[id])
			},
			level: Medium, step: StepLinked, field: "severity[0]", value: v31, linkedID: "CVE-2024-1",
		},
		{
			name: "linked: highest level across CVEs",
			rec:  &osv.Record{ID: "DSA-1", Upstream: []string{"CVE-2024-1", "CVE-2024-2", "CVE-2024-3"}},
			linked: func(id string) *osv.Record {
				return cveRecord(id, osv.SeverityCVSSv3, map[string]string{"CVE-2024-1": v31, "CVE-2024-2": v31b}[id])
			},
			level: Critical, step: StepLinked, field: "severity[0]", value: v31b, linkedID: "CVE-2024-2",
			wantNotes: []string{"linked: no CVSS: CVE-2024-3"},
		},
		{
			name:   "a CVE record does not look itself up",
			rec:    &osv.Record{ID: "CVE-2024-1", Aliases: []string{"CVE-2024-1"}},
			linked: func(id string) *osv.Record { panic("looked up " + id) },
			level:  Unknown, step: StepNone,
		},
		{
			name:  "nothing at all",
			rec:   &osv.Record{ID: "DLA-1"},
			level: Unknown, step: StepNone,
		},
		{
			name:  "CVE ids but no lookup",
			rec:   &osv.Record{ID: "DLA-1", Upstream: []string{"CVE-2024-1"}},
			level: Unknown, step: StepNone,
			wantNotes: []string{"linked: no lookup for 1 CVE id(s)"},
		},
		{
			name:  "nil record",
			level: Unknown, step: StepNone,
			wantNotes: []string{"no record"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Of(tc.rec, tc.linked)
			if got.Level != tc.level || got.Step != tc.step || got.Field != tc.field ||
				got.Value != tc.value || got.Linked != tc.linkedID {
				t.Errorf("Of() = %+v; want level %s step %s field %q value %q linked %q",
					got, tc.level, tc.step, tc.field, tc.value, tc.linkedID)
			}
			if (got.CVSS != nil) != (tc.step == StepCVSS || tc.step == StepLinked) {
				t.Errorf("Of().CVSS = %v for step %s", got.CVSS, tc.step)
			}
			if got.CVSS != nil && got.CVSS.Level != got.Level {
				t.Errorf("Of().CVSS.Level = %s, Level = %s", got.CVSS.Level, got.Level)
			}
			for _, n := range tc.wantNotes {
				if !hasNote(got.Notes, n) {
					t.Errorf("Of().Notes = %q; want one starting %q", got.Notes, n)
				}
			}
			if len(tc.wantNotes) == 0 && len(got.Notes) > 0 {
				t.Errorf("Of().Notes = %q; want none", got.Notes)
			}
		})
	}
}

func TestAssessmentString(t *testing.T) {
	c, err := Score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		a    Assessment
		want string
	}{
		{Assessment{Level: High, Step: StepCVSS, CVSS: &c, Field: "severity[0]", Value: c.Vector},
			"high from cvss severity[0]: 7.5 high (CVSS 3.1 CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H)"},
		{Assessment{Level: High, Step: StepLinked, CVSS: &c, Field: "severity[0]", Value: c.Vector, Linked: "CVE-2024-1"},
			"high from linked CVE-2024-1 severity[0]: 7.5 high (CVSS 3.1 CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H)"},
		{Assessment{Level: Medium, Step: StepEcosystem, Field: "database_specific.severity", Value: "MODERATE"},
			`medium from ecosystem database_specific.severity: "MODERATE"`},
		{Assessment{Level: Unknown, Step: StepNone}, "unknown: no rating found"},
	} {
		if got := tc.a.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.a, got, tc.want)
		}
	}
}
