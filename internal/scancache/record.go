package scancache

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/patchbay/patchbay/internal/osv"
)

// A record is stored as its fields in the order of osv.Record, without
// names: strings and raw JSON as a uvarint length and the bytes, times as a
// flag byte and Unix seconds and nanoseconds, lists as a uvarint count.
// Lists and raw JSON that may be nil write their count plus one, 0 meaning
// nil, so a decoded record is the parsed one field for field (the tests
// compare them with reflect.DeepEqual). Decoding it costs a small fraction
// of osv.Parse: no JSON is scanned, and every string is a slice of one
// string per record.

// appendRecord appends the encoding of r to b.
func appendRecord(b []byte, r *osv.Record) []byte {
	e := encoder{b}
	e.str(r.SchemaVersion)
	e.str(r.ID)
	e.time(r.Modified)
	e.time(r.Published)
	e.time(r.Withdrawn)
	e.strs(r.Aliases)
	e.strs(r.Related)
	e.strs(r.Upstream)
	e.str(r.Summary)
	e.str(r.Details)
	e.severities(r.Severity)
	e.count(len(r.Affected), r.Affected == nil)
	for i := range r.Affected {
		e.affected(&r.Affected[i])
	}
	e.count(len(r.References), r.References == nil)
	for _, ref := range r.References {
		e.str(ref.Type)
		e.str(ref.URL)
	}
	e.count(len(r.Credits), r.Credits == nil)
	for _, c := range r.Credits {
		e.str(c.Name)
		e.strs(c.Contact)
		e.str(c.Type)
	}
	e.raw(r.DatabaseSpecific)
	e.strs(r.Warnings)
	return e.b
}

type encoder struct{ b []byte }

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }

func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}

// count writes the length of a list that may be nil.
func (e *encoder) count(n int, isNil bool) {
	if isNil {
		e.uvarint(0)
		return
	}
	e.uvarint(uint64(n) + 1)
}

func (e *encoder) strs(ss []string) {
	e.count(len(ss), ss == nil)
	for _, s := range ss {
		e.str(s)
	}
}

func (e *encoder) raw(m json.RawMessage) {
	e.count(len(m), m == nil)
	e.b = append(e.b, m...)
}

func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.b = append(e.b, 0)
		return
	}
	e.b = append(e.b, 1)
	e.b = binary.AppendVarint(e.b, t.Unix())
	e.uvarint(uint64(t.Nanosecond()))
}

func (e *encoder) severities(ss []osv.Severity) {
	e.count(len(ss), ss == nil)
	for _, s := range ss {
		e.str(s.Type)
		e.str(s.Score)
	}
}

func (e *encoder) affected(a *osv.Affected) {
	if a.Package == nil {
		e.b = append(e.b, 0)
	} else {
		e.b = append(e.b, 1)
		e.str(a.Package.Ecosystem)
		e.str(a.Package.Name)
		e.str(a.Package.Purl)
	}
	e.severities(a.Severity)
	e.count(len(a.Ranges), a.Ranges == nil)
	for _, r := range a.Ranges {
		e.str(string(r.Type))
		e.str(r.Repo)
		e.count(len(r.Events), r.Events == nil)
		for _, ev := range r.Events {
			e.str(string(ev.Kind))
			e.str(ev.Version)
		}
		e.raw(r.DatabaseSpecific)
	}
	e.strs(a.Versions)
	e.raw(a.EcosystemSpecific)
	e.raw(a.DatabaseSpecific)
}

// errCorrupt is what every malformed cache content decodes to.
var errCorrupt = errors.New("corrupt")

// decodeRecord decodes one record encoded by appendRecord. Its strings
// share s. Whatever s holds, it returns a record or an error, never
// panics: every length is checked against what is left, and the record
// must hold what osv.Parse guarantees for the parts matching relies on (an
// id, known range types and event kinds, events with versions).
func decodeRecord(s string) (*osv.Record, error) {
	d := decoder{s: s}
	r := &osv.Record{}
	r.SchemaVersion = d.str()
	r.ID = d.str()
	r.Modified = d.time()
	r.Published = d.time()
	r.Withdrawn = d.time()
	r.Aliases = d.strs()
	r.Related = d.strs()
	r.Upstream = d.strs()
	r.Summary = d.str()
	r.Details = d.str()
	r.Severity = d.severities()
	if n, ok := d.count(); ok {
		r.Affected = make([]osv.Affected, n)
		for i := range r.Affected {
			d.affected(&r.Affected[i])
		}
	}
	if n, ok := d.count(); ok {
		r.References = make([]osv.Reference, n)
		for i := range r.References {
			r.References[i] = osv.Reference{Type: d.str(), URL: d.str()}
		}
	}
	if n, ok := d.count(); ok {
		r.Credits = make([]osv.Credit, n)
		for i := range r.Credits {
			r.Credits[i] = osv.Credit{Name: d.str(), Contact: d.strs(), Type: d.str()}
		}
	}
	r.DatabaseSpecific = d.raw()
	r.Warnings = d.strs()
	if d.err == nil && d.off != len(d.s) {
		d.fail("%d bytes after the record", len(d.s)-d.off)
	}
	if d.err == nil && r.ID == "" {
		d.fail("record without id")
	}
	if d.err != nil {
		return nil, d.err
	}
	return r, nil
}

// decoder reads s from off; the first problem sticks in err, and every
// read after it returns zero values.
type decoder struct {
	s   string
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: at byte %d: %s", errCorrupt, d.off, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.s) {
		d.fail("unexpected end")
		return 0
	}
	d.off++
	return d.s[d.off-1]
}

func (d *decoder) uvarint() uint64 {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		c := d.byte()
		if d.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
	d.fail("varint too long")
	return 0
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

// length reads a length of at most what is left.
func (d *decoder) length() int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.s)-d.off) {
		d.fail("length %d past the end", n)
		return 0
	}
	return int(n)
}

func (d *decoder) str() string {
	n := d.length()
	if d.err != nil {
		return ""
	}
	d.off += n
	return d.s[d.off-n : d.off]
}

// count reads the length of a list that may be nil: ok is false for nil.
// Every element takes at least one byte, so a count is at most what is
// left, and a garbage count cannot make a huge allocation.
func (d *decoder) count() (n int, ok bool) {
	c := d.uvarint()
	if d.err != nil || c == 0 {
		return 0, false
	}
	if c-1 > uint64(len(d.s)-d.off) {
		d.fail("count %d past the end", c-1)
		return 0, false
	}
	return int(c - 1), true
}

func (d *decoder) strs() []string {
	n, ok := d.count()
	if !ok {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.str()
	}
	return ss
}

func (d *decoder) raw() json.RawMessage {
	n, ok := d.count()
	if !ok {
		return nil
	}
	d.off += n
	return json.RawMessage(d.s[d.off-n : d.off])
}

func (d *decoder) time() time.Time {
	switch d.byte() {
	case 0:
		return time.Time{}
	case 1:
		sec, nsec := d.varint(), d.uvarint()
		if nsec >= 1e9 {
			d.fail("nanoseconds %d", nsec)
			return time.Time{}
		}
		return time.Unix(sec, int64(nsec)).UTC()
	}
	d.fail("bad time flag")
	return time.Time{}
}

func (d *decoder) severities() []osv.Severity {
	n, ok := d.count()
	if !ok {
		return nil
	}
	ss := make([]osv.Severity, n)
	for i := range ss {
		ss[i] = osv.Severity{Type: d.str(), Score: d.str()}
	}
	return ss
}

func (d *decoder) affected(a *osv.Affected) {
	switch d.byte() {
	case 0:
	case 1:
		a.Package = &osv.Package{Ecosystem: d.str(), Name: d.str(), Purl: d.str()}
	default:
		d.fail("bad package flag")
	}
	a.Severity = d.severities()
	if n, ok := d.count(); ok {
		a.Ranges = make([]osv.Range, n)
		for i := range a.Ranges {
			r := &a.Ranges[i]
			r.Type = osv.RangeType(d.str())
			switch r.Type {
			case osv.RangeEcosystem, osv.RangeSemVer, osv.RangeGit:
			default:
				d.fail("range type %q", r.Type)
			}
			r.Repo = d.str()
			if m, ok := d.count(); ok {
				r.Events = make([]osv.Event, m)
				for j := range r.Events {
					r.Events[j] = osv.Event{Kind: osv.EventKind(d.str()), Version: d.str()}
					switch r.Events[j].Kind {
					case osv.Introduced, osv.Fixed, osv.LastAffected, osv.Limit:
					default:
						d.fail("event kind %q", r.Events[j].Kind)
					}
					if r.Events[j].Version == "" {
						d.fail("event without version")
					}
				}
			}
			r.DatabaseSpecific = d.raw()
		}
	}
	a.Versions = d.strs()
	a.EcosystemSpecific = d.raw()
	a.DatabaseSpecific = d.raw()
}
