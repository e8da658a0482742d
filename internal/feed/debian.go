package feed

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/patchbay/patchbay/internal/osv"
	"github.com/patchbay/patchbay/internal/version"
)

// TrackerKind names one of the Debian security tracker's advisory lists.
type TrackerKind string

// The advisory lists of the Debian security tracker (data/DSA/list,
// data/DLA/list and data/DTSA/list in its git repository).
const (
	DSA  TrackerKind = "DSA"  // Debian Security Advisories
	DLA  TrackerKind = "DLA"  // Debian LTS Advisories
	DTSA TrackerKind = "DTSA" // Debian Testing Security Advisories
)

// trackerSchemaVersion is the OSV schema version of the records produced.
const trackerSchemaVersion = "1.7.0"

// maxTrackerLine bounds one line of a tracker list; real lines are under 4 KB.
const maxTrackerLine = 1 << 20

// DebianReleases returns the Debian release codenames and their version
// numbers as OSV ecosystems use them ("Debian:11"), from distro-info-data's
// debian.csv, which osv.dev's converter reads. It returns a new map each
// time, so callers may change it.
func DebianReleases() map[string]string {
	return maps.Clone(debianReleases)
}

var debianReleases = map[string]string{
	"buzz": "1.1", "rex": "1.2", "bo": "1.3", "hamm": "2.0", "slink": "2.1",
	"potato": "2.2", "woody": "3.0", "sarge": "3.1", "etch": "4.0",
	"lenny": "5.0", "squeeze": "6.0", "wheezy": "7", "jessie": "8",
	"stretch": "9", "buster": "10", "bullseye": "11", "bookworm": "12",
	"trixie": "13", "forky": "14", "duke": "15",
}

// ParseTrackerList reads one of the Debian security tracker's advisory lists
// and returns one OSV record per usable advisory, in file order. name is how
// Problems refer to the input ("DSA/list"); kind says which list it is, and
// advisories of another kind in it are Problems.
//
// The format is an unindented header per advisory, "[05 Mar 2023]
// DSA-5365-1 curl - security update" (DTSA uses "[August 26th, 2005]"),
// then indented lines: "{CVE-… CVE-…}", "[bullseye] - curl 7.74.0-1.3+deb11u7"
// (release, source package, first fixed version or a <marker>, optional
// trailing remarks) and "NOTE: …". Each record has the advisory as id, the
// date as published, the bracketed ids as upstream, the header text after
// the id as summary, and per release line an ECOSYSTEM range from "0" to the
// fixed version in "Debian:<version>".
//
// Lines and advisories that cannot be used are returned as Problems. The
// error is for input that cannot be read or is not a tracker list at all.
func ParseTrackerList(r io.Reader, name string, kind TrackerKind) ([]*osv.Record, []Problem, error) {
	switch kind {
	case DSA, DLA, DTSA:
	default:
		return nil, nil, fmt.Errorf("parse tracker list %s: unknown kind %q (want DSA, DLA or DTSA)", name, kind)
	}
	p := &trackerParser{name: name, kind: kind, seen: make(map[string]int)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxTrackerLine)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if !utf8.ValidString(line) || strings.ContainsRune(line, 0) {
			return nil, nil, fmt.Errorf("parse tracker list %s: line %d: not UTF-8 text", name, lineNo)
		}
		p.line(lineNo, line)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, nil, fmt.Errorf("parse tracker list %s: line %d: longer than %d bytes", name, lineNo+1, maxTrackerLine)
		}
		return nil, nil, fmt.Errorf("parse tracker list %s: %w", name, err)
	}
	p.finish()
	if p.headers == 0 && p.nonBlank > 0 {
		return nil, nil, fmt.Errorf("parse tracker list %s: no advisory header such as \"[05 Mar 2023] %s-5365-1 curl - security update\" in %d non-blank lines", name, kind, p.nonBlank)
	}
	return p.records, p.problems, nil
}

// trackerParser holds the state of one ParseTrackerList call.
type trackerParser struct {
	name     string
	kind     TrackerKind
	records  []*osv.Record
	problems []Problem
	seen     map[string]int // advisory id → header line

	cur      *osv.Record // the advisory being read; nil between advisories
	notAff   int         // its <not-affected> release lines
	curLine  int         // its header line
	skipping bool        // inside an advisory whose header was refused
	headers  int
	nonBlank int
}

func (p *trackerParser) problem(line int, id, format string, args ...any) {
	p.problems = append(p.problems, Problem{File: p.name, Line: line, ID: id, Reason: fmt.Sprintf(format, args...)})
}

func (p *trackerParser) line(n int, line string) {
	line = strings.TrimRight(line, " \t\r")
	if line == "" {
		return
	}
	p.nonBlank++
	if line[0] != ' ' && line[0] != '\t' {
		if strings.HasPrefix(line, "NOTE:") {
			return // a note outside any advisory, as osv.dev skips them
		}
		p.finish()
		p.header(n, line)
		return
	}
	if p.skipping {
		return // the refused header was reported once
	}
	if p.cur == nil {
		p.problem(n, "", "indented line outside any advisory: %q", line)
		return
	}
	body := strings.TrimSpace(line)
	switch {
	case strings.HasPrefix(body, "NOTE:"):
	case strings.HasPrefix(body, "{"):
		p.ids(n, body)
	case strings.HasPrefix(body, "["):
		p.release(n, body)
	default:
		p.problem(n, p.cur.ID, "unrecognised line %q (want {CVE ids}, [release] - package version, or NOTE:)", body)
	}
}

// header starts a new advisory from "[date] ID summary".
func (p *trackerParser) header(n int, line string) {
	p.skipping = true
	date, rest, ok := strings.Cut(strings.TrimPrefix(line, "["), "]")
	if !strings.HasPrefix(line, "[") || !ok {
		p.problem(n, "", "unrecognised line %q (want an advisory header \"[date] %s-N-N summary\")", line, p.kind)
		return
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		p.problem(n, "", "advisory header without id: %q", line)
		return
	}
	p.headers++ // it has the shape of one, whatever is wrong inside
	id := fields[0]
	if !validAdvisoryID(id, p.kind) {
		p.problem(n, "", "advisory id %q is not of the form %s-N-N", id, p.kind)
		return
	}
	published, err := parseTrackerDate(date)
	if err != nil {
		p.problem(n, id, "%v", err)
		return
	}
	if first, dup := p.seen[id]; dup {
		p.problem(n, id, "advisory listed again (first at line %d); this one is ignored", first)
		return
	}
	p.seen[id] = n
	p.skipping = false
	p.curLine = n
	p.cur = &osv.Record{
		SchemaVersion: trackerSchemaVersion,
		ID:            id,
		Published:     published,
		Modified:      published,
		Summary:       strings.Join(fields[1:], " "),
		References: []osv.Reference{{
			Type: "ADVISORY",
			URL:  "https://security-tracker.debian.org/tracker/" + id,
		}},
	}
}

// ids adds the ids of a "{CVE-… CVE-…}" line to upstream.
func (p *trackerParser) ids(n int, body string) {
	inner, ok := strings.CutSuffix(strings.TrimPrefix(body, "{"), "}")
	if !ok {
		p.problem(n, p.cur.ID, "id list without closing brace: %q", body)
		return
	}
	for _, id := range strings.Fields(inner) {
		if c, ok := NormalizeCVE(id); ok {
			id = c
		} else if strings.ContainsAny(id, "{}[]<>") {
			p.problem(n, p.cur.ID, "malformed id %q in id list", id)
			continue
		}
		if !slices.Contains(p.cur.Upstream, id) {
			p.cur.Upstream = append(p.cur.Upstream, id)
		}
	}
}

// release adds the affected entry of a "[release] - package version" line.
func (p *trackerParser) release(n int, body string) {
	rel, rest, ok := strings.Cut(strings.TrimPrefix(body, "["), "]")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 3 || fields[0] != "-" {
		p.problem(n, p.cur.ID, "malformed release line %q (want \"[release] - package version\")", body)
		return
	}
	pkg, fixed := fields[1], fields[2]
	ver, known := debianReleases[rel]
	if !known {
		p.problem(n, p.cur.ID, "unknown release %q (no Debian version number for it)", rel)
		return
	}
	if !validSourceName(pkg) {
		p.problem(n, p.cur.ID, "invalid source package name %q", pkg)
		return
	}
	switch fixed {
	case "<not-affected>":
		p.notAff++
		return
	case "<unfixed>", "<end-of-life>":
		fixed = ""
	default:
		if strings.HasPrefix(fixed, "<") {
			p.problem(n, p.cur.ID, "unknown marker %s for %s in %s", fixed, pkg, rel)
			return
		}
		if _, err := version.ParseDeb(fixed); err != nil {
			p.problem(n, p.cur.ID, "fixed version %q of %s in %s: %v", fixed, pkg, rel, err)
			return
		}
	}
	eco := "Debian:" + ver
	for _, a := range p.cur.Affected {
		if a.Package.Ecosystem == eco && a.Package.Name == pkg {
			p.problem(n, p.cur.ID, "%s in %s listed twice; this line is ignored", pkg, rel)
			return
		}
	}
	events := []osv.Event{{Kind: osv.Introduced, Version: "0"}}
	if fixed != "" {
		events = append(events, osv.Event{Kind: osv.Fixed, Version: fixed})
	}
	p.cur.Affected = append(p.cur.Affected, osv.Affected{
		Package: &osv.Package{Ecosystem: eco, Name: pkg, Purl: "pkg:deb/debian/" + pkg + "?arch=source"},
		Ranges:  []osv.Range{{Type: osv.RangeEcosystem, Events: events}},
	})
}

// finish closes the current advisory, keeping it if it affects something.
func (p *trackerParser) finish() {
	if p.cur == nil {
		return
	}
	switch {
	case len(p.cur.Affected) > 0:
		p.records = append(p.records, p.cur)
	case p.notAff > 0:
		p.problem(p.curLine, p.cur.ID, "every release line is <not-affected>; no record made")
	default:
		p.problem(p.curLine, p.cur.ID, "no usable release line; no record made")
	}
	p.cur, p.notAff = nil, 0
}

// parseTrackerDate reads "05 Mar 2023" (DSA, DLA) or "August 26th, 2005"
// (DTSA) as midnight UTC.
func parseTrackerDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse("02 Jan 2006", s); err == nil {
		return t, nil
	}
	if month, rest, ok := strings.Cut(s, " "); ok {
		if day, year, ok := strings.Cut(rest, ", "); ok {
			for _, suffix := range []string{"st", "nd", "rd", "th"} {
				if d, ok := strings.CutSuffix(day, suffix); ok {
					if t, err := time.Parse("January 2, 2006", month+" "+d+", "+year); err == nil {
						return t, nil
					}
				}
			}
		}
	}
	return time.Time{}, fmt.Errorf("date %q is neither like \"05 Mar 2023\" nor like \"August 26th, 2005\"", s)
}

// validAdvisoryID reports whether id is KIND-N or KIND-N-N.
func validAdvisoryID(id string, kind TrackerKind) bool {
	rest, ok := strings.CutPrefix(id, string(kind)+"-")
	if !ok {
		return false
	}
	num, ext, hasExt := strings.Cut(rest, "-")
	return allDigits(num) && (!hasExt || allDigits(ext))
}

// validSourceName reports whether s is a Debian source package name
// (Policy 5.6.1: lower-case letters, digits, "+", "-", "."; starting with
// a letter or digit).
func validSourceName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}
