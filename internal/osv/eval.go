package osv

import (
	"fmt"
	"slices"
	"strings"

	"github.com/patchbay/patchbay/internal/version"
)

// Result is the answer for one installed version.
type Result struct {
	Affected bool
	// Fixed lists, for each range that contains the version, the smallest
	// fixed version above it: the "fixed in" to report. It has no duplicates
	// and keeps range order; it is empty if the version is not affected or no
	// fix is known (the range is open, or closed by last_affected or limit).
	Fixed []string
	// Hits explains the answer: for an affected version, the versions list
	// entry or each range that contains it, with the events that bound it.
	Hits []Hit
}

// Hit is one reason a version is affected: it is listed in the entry's
// versions (Range -1), or it lies inside the range Ranges[Range], at or
// above the introduced event Introduced and below the closing event (Closed
// at ClosedAt; Closed is empty when the range is open above it).
type Hit struct {
	Range      int       `json:"range"`
	Type       RangeType `json:"type,omitempty"`
	Introduced string    `json:"introduced,omitempty"`
	Closed     EventKind `json:"closed,omitempty"`
	ClosedAt   string    `json:"closed_at,omitempty"`
}

// Explain says in one line why version v is affected by h, as
// "ranges[1] ECOSYSTEM: introduced 0 <= 2.36-9 < fixed 2.36-9+deb12u1".
func (h Hit) Explain(v string) string {
	if h.Range < 0 {
		return fmt.Sprintf("versions lists %s", v)
	}
	s := fmt.Sprintf("ranges[%d] %s: introduced %s <= %s", h.Range, h.Type, h.Introduced, v)
	switch h.Closed {
	case Fixed, Limit:
		s += fmt.Sprintf(" < %s %s", h.Closed, h.ClosedAt)
	case LastAffected:
		s += fmt.Sprintf(" <= %s %s", h.Closed, h.ClosedAt)
	default:
		s += ", no fix"
	}
	return s
}

// Ecosystem returns the parsed ecosystem of a's package; the zero Ecosystem
// (unsupported) if a has no package.
func (a *Affected) Ecosystem() Ecosystem {
	if a.Package == nil {
		return Ecosystem{}
	}
	return ParseEcosystem(a.Package.Ecosystem)
}

// Affects reports whether version v of a's package is affected. See Evaluate.
func (a *Affected) Affects(v string) (bool, error) {
	res, err := a.Evaluate(v)
	return res.Affected, err
}

// Evaluate decides whether version v of a's package is affected, by the
// schema's algorithm: v is affected if it is in Versions (exact string
// match) or inside any ECOSYSTEM or SEMVER range. GIT ranges are skipped.
//
// It returns an error wrapping ErrUnsupportedEcosystem if an ECOSYSTEM range
// has to be evaluated for an ecosystem without a known ordering, and a
// *version.ParseError (wrapped) if v or an event version is not valid in the
// range's ordering. A version found in Versions is affected whatever the
// ranges say, and range errors are then ignored.
func (a *Affected) Evaluate(v string) (Result, error) {
	eco := a.Ecosystem()
	inList := slices.Contains(a.Versions, v)
	res := Result{Affected: inList}
	if inList {
		res.Hits = append(res.Hits, Hit{Range: -1})
	}
	for i := range a.Ranges {
		rg := &a.Ranges[i]
		var cmp version.Ecosystem
		switch rg.Type {
		case RangeSemVer:
			cmp = version.SemVer
			if eco.Comparator == version.Go {
				cmp = version.Go
			}
		case RangeEcosystem:
			if !eco.Supported {
				if inList {
					continue
				}
				return Result{}, a.errorf(v, i, eco.unsupported())
			}
			cmp = eco.Comparator
		default: // GIT: a package version is not a commit
			continue
		}
		in, hit, fixed, err := rg.evaluate(cmp, v)
		if err != nil {
			if inList {
				continue
			}
			return Result{}, a.errorf(v, i, err)
		}
		if in {
			res.Affected = true
			hit.Range, hit.Type = i, rg.Type
			res.Hits = append(res.Hits, hit)
			if fixed != "" && !slices.Contains(res.Fixed, fixed) {
				res.Fixed = append(res.Fixed, fixed)
			}
		}
	}
	return res, nil
}

func (a *Affected) errorf(v string, i int, err error) error {
	pkg := "<no package>"
	if a.Package != nil {
		pkg = a.Package.Ecosystem + "/" + a.Package.Name
	}
	return fmt.Errorf("evaluate %s version %q: ranges[%d]: %w", pkg, v, i, err)
}

// Evaluate decides whether version v of the package name in the OSV
// ecosystem string ecosystem ("Debian:12") is affected by r: the Results of
// every affected entry whose package has exactly that ecosystem and name,
// merged. A withdrawn record affects nothing. Matching names is exact: the
// caller normalises names (PyPI) and picks the ecosystem release.
func (r *Record) Evaluate(ecosystem, name, v string) (Result, error) {
	var res Result
	if r.IsWithdrawn() {
		return res, nil
	}
	for i := range r.Affected {
		a := &r.Affected[i]
		if a.Package == nil || a.Package.Ecosystem != ecosystem || a.Package.Name != name {
			continue
		}
		ar, err := a.Evaluate(v)
		if err != nil {
			return Result{}, fmt.Errorf("osv record %q: affected[%d]: %w", r.ID, i, err)
		}
		res.Affected = res.Affected || ar.Affected
		for _, f := range ar.Fixed {
			if !slices.Contains(res.Fixed, f) {
				res.Fixed = append(res.Fixed, f)
			}
		}
		res.Hits = append(res.Hits, ar.Hits...)
	}
	return res, nil
}

// point is an event with its version parsed; lowest is introduced "0",
// infinite is a limit containing "*".
type point struct {
	kind     EventKind
	raw      string
	v        version.Version
	lowest   bool
	infinite bool
}

// cmpPoints orders events by version, "0" first and "*" last; on equal
// versions introduced comes first, so that introduced X, fixed X is empty and
// introduced X, last_affected X is exactly X.
func cmpPoints(a, b point) int {
	switch {
	case a.lowest != b.lowest:
		return boolOrder(b.lowest)
	case a.infinite != b.infinite:
		return boolOrder(a.infinite)
	}
	if !a.lowest && !a.infinite {
		if c := mustCompare(a.v, b.v); c != 0 {
			return c
		}
	}
	return kindIndex(a.kind) - kindIndex(b.kind)
}

// boolOrder returns 1 if after, else -1.
func boolOrder(after bool) int {
	if after {
		return 1
	}
	return -1
}

// mustCompare compares two versions parsed for the same ordering, for which
// Version.Compare cannot fail.
func mustCompare(a, b version.Version) int {
	c, err := a.Compare(b)
	if err != nil {
		panic("osv: " + err.Error()) // unreachable: both parsed with one ordering
	}
	return c
}

// evaluate runs the schema's IncludedInRanges for one range and v. When v
// is inside, the Hit names the introduced event that opened the interval
// holding v and the nearest event above v that closes it: the smallest
// fixed version above v is the "fixed in" to report.
func (rg *Range) evaluate(cmp version.Ecosystem, s string) (in bool, hit Hit, fixed string, err error) {
	v, err := version.Parse(cmp, s)
	if err != nil {
		return false, Hit{}, "", err
	}
	points := make([]point, 0, len(rg.Events))
	hasLimit, beforeLimit := false, false
	for i, e := range rg.Events {
		p := point{kind: e.Kind, raw: e.Version}
		switch {
		case e.Kind == Introduced && e.Version == "0":
			p.lowest = true
		case e.Kind == Limit && strings.Contains(e.Version, "*"):
			p.infinite = true
		default:
			if p.v, err = version.Parse(cmp, e.Version); err != nil {
				return false, Hit{}, "", fmt.Errorf("events[%d]: %w", i, err)
			}
		}
		if e.Kind == Limit {
			hasLimit = true
			if p.infinite || mustCompare(v, p.v) < 0 {
				beforeLimit = true
			}
		}
		points = append(points, p)
	}
	if hasLimit && !beforeLimit {
		return false, Hit{}, "", nil
	}
	slices.SortStableFunc(points, cmpPoints)
	for _, p := range points {
		switch p.kind {
		case Introduced:
			if p.lowest || mustCompare(v, p.v) >= 0 {
				in = true
				hit.Introduced = p.raw
			}
		case Fixed:
			if mustCompare(v, p.v) >= 0 {
				in = false
			}
		case LastAffected:
			if mustCompare(v, p.v) > 0 {
				in = false
			}
		}
	}
	if !in {
		return false, Hit{}, "", nil
	}
	for _, p := range points {
		above := p.infinite || (!p.lowest && mustCompare(p.v, v) > 0)
		if p.kind == Fixed && above && fixed == "" {
			fixed = p.raw
		}
		if hit.Closed != "" {
			continue
		}
		if (p.kind == Fixed || p.kind == Limit) && above || p.kind == LastAffected && !p.lowest && mustCompare(p.v, v) >= 0 {
			hit.Closed, hit.ClosedAt = p.kind, p.raw
		}
	}
	return true, hit, fixed, nil
}
