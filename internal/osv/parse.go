package osv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/patchbay/patchbay/internal/version"
)

// Parse decodes one OSV record and checks it against the rules in the package
// documentation. Unknown fields are ignored. It returns an *InvalidError for a
// record that is valid JSON but cannot be used, and a wrapped JSON error for
// one that is not a JSON object of the OSV shape.
func Parse(data []byte) (*Record, error) {
	var w wireRecord
	if err := json.Unmarshal(data, &w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, fmt.Errorf("parse osv record: field %s: %w", te.Field, err)
		}
		return nil, fmt.Errorf("parse osv record: %w", err)
	}
	p := parser{id: w.ID}
	r := p.record(&w)
	if p.err != nil {
		return nil, p.err
	}
	return r, nil
}

// UnmarshalJSON decodes and checks a record as Parse does, so that a Record
// inside another JSON document is held to the same rules.
func (r *Record) UnmarshalJSON(data []byte) error {
	p, err := Parse(data)
	if err != nil {
		return err
	}
	*r = *p
	return nil
}

// UnmarshalJSON decodes a one-kind event object, as Parse checks it.
func (e *Event) UnmarshalJSON(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("decode osv event: %w", err)
	}
	ev, reason := event(m)
	if reason != "" {
		return fmt.Errorf("decode osv event: %s", reason)
	}
	*e = ev
	return nil
}

// parser collects the first problem found in a record, with its field path.
type parser struct {
	id  string
	err *InvalidError
}

func (p *parser) fail(field, format string, args ...any) {
	if p.err == nil {
		p.err = &InvalidError{ID: p.id, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
}

func (p *parser) record(w *wireRecord) *Record {
	r := &Record{
		SchemaVersion: w.SchemaVersion, ID: w.ID,
		Aliases: w.Aliases, Related: w.Related, Upstream: w.Upstream,
		Summary: w.Summary, Details: w.Details,
		References: w.References, Credits: w.Credits,
		DatabaseSpecific: w.DatabaseSpecific,
	}
	if strings.TrimSpace(w.ID) == "" {
		p.fail("id", "missing")
		return nil
	}
	if w.Modified == nil {
		r.Warnings = append(r.Warnings, "modified: missing")
	} else {
		r.Modified = p.time("modified", *w.Modified)
	}
	if w.Published != nil {
		r.Published = p.time("published", *w.Published)
	}
	if w.Withdrawn != nil {
		r.Withdrawn = p.time("withdrawn", *w.Withdrawn)
	}
	r.Severity = p.severity("severity", w.Severity)
	for i, c := range w.Credits {
		if c.Name == "" {
			p.fail(fmt.Sprintf("credits[%d].name", i), "missing")
		}
	}
	if len(w.Affected) == 0 {
		r.Warnings = append(r.Warnings, "affected: none: the record affects no package")
	}
	for i := range w.Affected {
		f := fmt.Sprintf("affected[%d]", i)
		a := p.affected(f, &w.Affected[i])
		if len(a.Severity) > 0 && len(r.Severity) > 0 {
			p.fail(f+".severity", "set as well as the top-level severity")
		}
		r.Affected = append(r.Affected, a)
	}
	return r
}

// time parses an RFC 3339 timestamp and keeps it in UTC.
func (p *parser) time(field, s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		p.fail(field, "not an RFC 3339 time: %q", s)
		return time.Time{}
	}
	return t.UTC()
}

func (p *parser) severity(field string, ss []Severity) []Severity {
	for i, s := range ss {
		if s.Type == "" {
			p.fail(fmt.Sprintf("%s[%d].type", field, i), "missing")
		}
		if s.Score == "" {
			p.fail(fmt.Sprintf("%s[%d].score", field, i), "missing")
		}
	}
	return ss
}

func (p *parser) affected(field string, w *wireAffected) Affected {
	a := Affected{
		Package:           w.Package,
		Severity:          p.severity(field+".severity", w.Severity),
		Versions:          w.Versions,
		EcosystemSpecific: w.EcosystemSpecific,
		DatabaseSpecific:  w.DatabaseSpecific,
	}
	if w.Package != nil {
		if w.Package.Ecosystem == "" {
			p.fail(field+".package.ecosystem", "missing")
		}
		if w.Package.Name == "" {
			p.fail(field+".package.name", "missing")
		}
	}
	if len(w.Ranges) == 0 && len(w.Versions) == 0 {
		p.fail(field, "neither ranges nor versions")
	}
	var eco Ecosystem
	if w.Package != nil {
		eco = ParseEcosystem(w.Package.Ecosystem)
	}
	for i := range w.Ranges {
		a.Ranges = append(a.Ranges, p.rangeOf(fmt.Sprintf("%s.ranges[%d]", field, i), &w.Ranges[i], w.Package != nil, eco))
	}
	return a
}

func (p *parser) rangeOf(field string, w *wireRange, hasPackage bool, eco Ecosystem) Range {
	r := Range{Type: w.Type, Repo: w.Repo, DatabaseSpecific: w.DatabaseSpecific}
	switch w.Type {
	case RangeEcosystem, RangeSemVer:
		if !hasPackage {
			p.fail(field+".type", "range of type %s without affected package", w.Type)
		}
	case RangeGit:
		if w.Repo == "" {
			p.fail(field+".repo", "missing for a GIT range")
		}
	case "":
		p.fail(field+".type", "missing")
	default:
		p.fail(field+".type", "unknown range type %q: want ECOSYSTEM, SEMVER or GIT", w.Type)
	}
	if len(w.Events) == 0 {
		p.fail(field+".events", "no events")
	}
	var seen [4]bool // introduced, fixed, last_affected, limit
	for i, m := range w.Events {
		e, reason := event(m)
		if reason != "" {
			p.fail(fmt.Sprintf("%s.events[%d]", field, i), "%s", reason)
			continue
		}
		seen[kindIndex(e.Kind)] = true
		r.Events = append(r.Events, e)
	}
	if len(w.Events) > 0 && !seen[0] {
		p.fail(field+".events", "no introduced event")
	}
	if seen[1] && seen[2] {
		p.fail(field+".events", "both fixed and last_affected events")
	}
	p.checkVersions(field, r, eco)
	return r
}

// checkVersions refuses an event version that the range's ordering cannot
// parse (an "impossible version"): such a range could never be evaluated,
// so the record is reported at import rather than at every evaluation.
// Ecosystems without a known ordering are not checked.
func (p *parser) checkVersions(field string, r Range, eco Ecosystem) {
	var cmp version.Ecosystem
	switch {
	case r.Type == RangeSemVer && eco.Comparator == version.Go:
		cmp = version.Go
	case r.Type == RangeSemVer:
		cmp = version.SemVer
	case r.Type == RangeEcosystem && eco.Supported:
		cmp = eco.Comparator
	default:
		return
	}
	for i, e := range r.Events {
		if (e.Kind == Introduced && e.Version == "0") || (e.Kind == Limit && strings.Contains(e.Version, "*")) {
			continue
		}
		if _, err := version.Parse(cmp, e.Version); err != nil {
			p.fail(fmt.Sprintf("%s.events[%d].%s", field, i, e.Kind), "%v", err)
		}
	}
}

var eventKinds = [...]EventKind{Introduced, Fixed, LastAffected, Limit}

func kindIndex(k EventKind) int {
	for i, kk := range eventKinds {
		if k == kk {
			return i
		}
	}
	return -1
}

// event reads one event object: exactly one known kind, with a non-empty
// string value. Unknown keys are ignored. The reason is empty if it is valid.
func event(m map[string]json.RawMessage) (Event, string) {
	var e Event
	n := 0
	for _, k := range eventKinds {
		raw, ok := m[string(k)]
		if !ok {
			continue
		}
		n++
		if n > 1 {
			return Event{}, fmt.Sprintf("two event kinds: %s and %s", e.Kind, k)
		}
		var v string
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) || json.Unmarshal(raw, &v) != nil {
			return Event{}, fmt.Sprintf("%s: not a string", k)
		}
		if v == "" {
			return Event{}, fmt.Sprintf("%s: empty version", k)
		}
		e = Event{Kind: k, Version: v}
	}
	if n == 0 {
		return Event{}, "no event kind: want one of introduced, fixed, last_affected, limit"
	}
	return e, ""
}
