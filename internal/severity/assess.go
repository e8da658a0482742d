package severity

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/patchbay/patchbay/internal/osv"
)

// Step names the step of Of's fallback order that decided an Assessment.
type Step string

// The steps, in the order Of tries them.
const (
	StepCVSS      Step = "cvss"      // the record's own CVSS vector
	StepEcosystem Step = "ecosystem" // the record's ecosystem rating
	StepLinked    Step = "linked"    // the CVSS of a linked CVE record
	StepNone      Step = "none"      // nothing usable: the level is Unknown
)

// Assessment is the severity of an advisory and why.
type Assessment struct {
	Level Level
	Step  Step

	// CVSS is the scored vector for StepCVSS and StepLinked, nil otherwise.
	CVSS *CVSS
	// Field is where the rating was found, in the record that held it:
	// "severity[0]", "affected[2].ecosystem_specific.urgency",
	// "database_specific.severity". Empty for StepNone.
	Field string
	// Value is the rating as the record wrote it: the vector, "MODERATE",
	// "not yet assigned". Empty for StepNone.
	Value string
	// Linked is the id of the linked record for StepLinked.
	Linked string
	// Notes lists what was passed over and why: vectors that did not parse,
	// ratings that are not levels, linked records not imported.
	Notes []string
}

// String explains the assessment in one line, as
// "high from cvss severity[0]: 7.5 high (CVSS 3.1 CVSS:3.1/…)".
func (a Assessment) String() string {
	switch {
	case a.Step == StepNone:
		return string(a.Level) + ": no rating found"
	case a.CVSS != nil && a.Linked != "":
		return fmt.Sprintf("%s from %s %s %s: %s", a.Level, a.Step, a.Linked, a.Field, a.CVSS)
	case a.CVSS != nil:
		return fmt.Sprintf("%s from %s %s: %s", a.Level, a.Step, a.Field, a.CVSS)
	}
	return fmt.Sprintf("%s from %s %s: %q", a.Level, a.Step, a.Field, a.Value)
}

// Of returns the severity of rec by the fallback order of the package
// documentation: its own CVSS, its ecosystem rating, the CVSS of a linked CVE
// record, else Unknown. linked returns the imported record with a CVE id, or
// nil if there is none; linked may itself be nil. Of never fails: what it
// cannot use is listed in Assessment.Notes.
func Of(rec *osv.Record, linked func(cve string) *osv.Record) Assessment {
	if rec == nil {
		return Assessment{Level: Unknown, Step: StepNone, Notes: []string{"no record"}}
	}
	var notes []string
	if a, ok := ownCVSS(rec, &notes); ok {
		a.Notes = notes
		return a
	}
	if a, ok := ecosystemRating(rec, &notes); ok {
		a.Notes = notes
		return a
	}
	if a, ok := linkedCVSS(rec, linked, &notes); ok {
		a.Notes = notes
		return a
	}
	return Assessment{Level: Unknown, Step: StepNone, Notes: notes}
}

// cvssTypes maps the OSV CVSS severity types to the version their vectors
// should have; "CVSS_V3" covers 3.0 and 3.1.
var cvssTypes = map[string][]string{
	osv.SeverityCVSSv2: {CVSSv20},
	osv.SeverityCVSSv3: {CVSSv30, CVSSv31},
	osv.SeverityCVSSv4: {CVSSv40},
}

// ownCVSS is step 1: the best CVSS vector of rec, the newest version first,
// then the highest base score, then the first in the record.
func ownCVSS(rec *osv.Record, notes *[]string) (Assessment, bool) {
	var best *Assessment
	consider := func(field string, s osv.Severity) {
		versions, ok := cvssTypes[s.Type]
		if !ok {
			if s.Type != "Ubuntu" { // step 2 reads Ubuntu ratings
				*notes = append(*notes, fmt.Sprintf("%s: type %q not known", field, s.Type))
			}
			return
		}
		c, err := Score(s.Score)
		if err != nil {
			*notes = append(*notes, fmt.Sprintf("%s: %v", field, err))
			return
		}
		if !slices.Contains(versions, c.Version) {
			*notes = append(*notes, fmt.Sprintf("%s: type %s holds a CVSS %s vector; scored as %s", field, s.Type, c.Version, c.Version))
		}
		if best == nil || betterCVSS(c, *best.CVSS) {
			best = &Assessment{Level: c.Level, Step: StepCVSS, CVSS: &c, Field: field, Value: s.Score}
		}
	}
	for i, s := range rec.Severity {
		consider(fmt.Sprintf("severity[%d]", i), s)
	}
	for j, a := range rec.Affected {
		for i, s := range a.Severity {
			consider(fmt.Sprintf("affected[%d].severity[%d]", j, i), s)
		}
	}
	if best == nil {
		return Assessment{}, false
	}
	return *best, true
}

// betterCVSS reports whether c should replace best within one record: a
// newer version, or the same version and a higher base score.
func betterCVSS(c, best CVSS) bool {
	if rc, rb := versionRank(c.Version), versionRank(best.Version); rc != rb {
		return rc > rb
	}
	return c.Base > best.Base
}

// ecosystemRating is step 2: the highest ecosystem rating of rec that maps
// to a level; the first in the record on a tie.
func ecosystemRating(rec *osv.Record, notes *[]string) (Assessment, bool) {
	var best *Assessment
	consider := func(field, value string, table map[string]Level) {
		l, ok := table[strings.ToLower(strings.TrimSpace(value))]
		if !ok {
			*notes = append(*notes, fmt.Sprintf("%s: %q is not a rating", field, value))
			return
		}
		if best == nil || Compare(l, best.Level) > 0 {
			best = &Assessment{Level: l, Step: StepEcosystem, Field: field, Value: value}
		}
	}
	severityTypes := func(prefix string, ss []osv.Severity) {
		for i, s := range ss {
			if s.Type == "Ubuntu" {
				consider(fmt.Sprintf("%sseverity[%d]", prefix, i), s.Score, ubuntuPriorities)
			}
		}
	}
	severityTypes("", rec.Severity)
	if v, ok := stringField(rec.DatabaseSpecific, "severity", "database_specific", notes); ok {
		consider("database_specific.severity", v, advisoryRatings)
	}
	for j, a := range rec.Affected {
		prefix := fmt.Sprintf("affected[%d].", j)
		severityTypes(prefix, a.Severity)
		if v, ok := stringField(a.EcosystemSpecific, "urgency", prefix+"ecosystem_specific", notes); ok {
			consider(prefix+"ecosystem_specific.urgency", v, debianUrgencies)
		}
		if v, ok := stringField(a.EcosystemSpecific, "severity", prefix+"ecosystem_specific", notes); ok {
			consider(prefix+"ecosystem_specific.severity", v, advisoryRatings)
		}
	}
	if best == nil {
		return Assessment{}, false
	}
	return *best, true
}

// Ecosystem ratings by lower-cased value. Values that say "not rated yet"
// are absent, so they are noted and the next step is tried.
var (
	// debianUrgencies are the Debian security tracker's urgencies.
	// "not yet assigned" and "end-of-life" are not ratings.
	debianUrgencies = map[string]Level{
		"unimportant": Low,
		"low":         Low,
		"medium":      Medium,
		"high":        High,
	}
	// ubuntuPriorities are the Ubuntu CVE tracker's priorities, the OSV
	// "Ubuntu" severity type. "untriaged" is not a rating.
	ubuntuPriorities = map[string]Level{
		"negligible": Low,
		"low":        Low,
		"medium":     Medium,
		"high":       High,
		"critical":   Critical,
	}
	// advisoryRatings are GitHub's database_specific.severity and
	// OSS-Fuzz's ecosystem_specific.severity.
	advisoryRatings = map[string]Level{
		"low":      Low,
		"moderate": Medium,
		"medium":   Medium,
		"high":     High,
		"critical": Critical,
	}
)

// stringField returns the string value of key in the JSON object raw. A
// missing block or key is not found; a block that is not an object, or a
// value that is not a string, is noted under field and not found.
func stringField(raw json.RawMessage, key, field string, notes *[]string) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		*notes = append(*notes, fmt.Sprintf("%s: not a JSON object", field))
		return "", false
	}
	v, ok := obj[key]
	if !ok {
		return "", false
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		*notes = append(*notes, fmt.Sprintf("%s.%s: not a string", field, key))
		return "", false
	}
	return s, true
}

// linkedCVSS is step 3: the own CVSS of the records linked to rec by a CVE
// id in its aliases or upstream ids; the highest level, then the highest
// score, then the first.
func linkedCVSS(rec *osv.Record, linked func(string) *osv.Record, notes *[]string) (Assessment, bool) {
	ids := linkedCVEs(rec)
	if len(ids) == 0 {
		return Assessment{}, false
	}
	if linked == nil {
		*notes = append(*notes, fmt.Sprintf("linked: no lookup for %d CVE id(s)", len(ids)))
		return Assessment{}, false
	}
	var best *Assessment
	var missing, unrated []string
	for _, id := range ids {
		lr := linked(id)
		if lr == nil {
			missing = append(missing, id)
			continue
		}
		var lnotes []string
		a, ok := ownCVSS(lr, &lnotes)
		for _, n := range lnotes {
			*notes = append(*notes, id+" "+n)
		}
		if !ok {
			unrated = append(unrated, id)
			continue
		}
		a.Step, a.Linked = StepLinked, id
		if best == nil || betterLinked(a, *best) {
			best = &a
		}
	}
	if len(missing) > 0 {
		*notes = append(*notes, "linked: not imported: "+strings.Join(missing, ", "))
	}
	if len(unrated) > 0 {
		*notes = append(*notes, "linked: no CVSS: "+strings.Join(unrated, ", "))
	}
	if best == nil {
		return Assessment{}, false
	}
	return *best, true
}

// betterLinked reports whether a should replace best across linked records:
// a higher level, or the same level and a higher score.
func betterLinked(a, best Assessment) bool {
	if c := Compare(a.Level, best.Level); c != 0 {
		return c > 0
	}
	return a.CVSS.Base > best.CVSS.Base
}

// linkedCVEs returns the CVE ids among rec's aliases and upstream ids, in
// that order, without duplicates and without rec's own id. Related ids are
// left out: the schema defines them as different vulnerabilities.
func linkedCVEs(rec *osv.Record) []string {
	var ids []string
	seen := map[string]bool{rec.ID: true}
	for _, list := range [][]string{rec.Aliases, rec.Upstream} {
		for _, id := range list {
			if strings.HasPrefix(id, "CVE-") && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids
}
