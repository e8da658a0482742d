package policy

import (
	"path"
	"time"

	"github.com/patchbay/patchbay/internal/risk"
	"github.com/patchbay/patchbay/internal/severity"
)

// Candidate is an available update on a host, as evaluation sees it. The
// caller drops the advisories that an active exception covers from Fixes
// (and from KEV and Severity) beforehand.
type Candidate struct {
	HostID      int64
	Ecosystem   string
	Name        string
	Arch        string
	FromVersion string
	ToVersion   string
	Class       risk.Class
	Fixes       []string  // advisory ids it fixes on the host
	KEV         bool      // fixes a known-exploited advisory
	Severity    string    // worst severity among Fixes ("" when none)
	FirstSeen   time.Time // when the host first offered it
	Risk        int
}

// rule is a compiled patchbay.UpdateRule.
type rule struct {
	classes uint8 // a bit per class (classBit); 0: every class
	min     severity.Level
	hasMin  bool
	kevOnly bool
	include []pattern
	exclude []pattern
}

// pattern is an include or exclude pattern; a literal one (no
// metacharacters) is compared, not matched.
type pattern struct {
	text    string
	literal bool
}

func (p pattern) match(name string) bool {
	if p.literal {
		return p.text == name
	}
	ok, _ := path.Match(p.text, name) // Compile checked the syntax
	return ok
}

func classBit(c risk.Class) uint8 {
	switch c {
	case risk.Critical:
		return 1
	case risk.Security:
		return 2
	case risk.Bugfix:
		return 4
	case risk.Feature:
		return 8
	}
	return 0
}

// matches reports whether every part of r that is set holds for u.
func (r *rule) matches(u *Candidate) bool {
	if r.classes != 0 && r.classes&classBit(u.Class) == 0 {
		return false
	}
	if r.kevOnly && !u.KEV {
		return false
	}
	if r.hasMin {
		// An update that fixes nothing has no severity to compare.
		if u.Severity == "" && len(u.Fixes) == 0 {
			return false
		}
		// "" among fixes, or a value that is not a level, ranks as unknown.
		if severity.Compare(severity.Level(u.Severity), r.min) < 0 {
			return false
		}
	}
	for _, p := range r.exclude {
		if p.match(u.Name) {
			return false
		}
	}
	if len(r.include) == 0 {
		return true
	}
	for _, p := range r.include {
		if p.match(u.Name) {
			return true
		}
	}
	return false
}

// Picks reports whether the policy's Updates rule takes u.
func (c *Compiled) Picks(u *Candidate) bool { return c.updates.matches(u) }

// AutoApproves reports whether the policy's AutoApprove rule takes u: u
// needs no approver. It is false when the policy has no AutoApprove rule.
func (c *Compiled) AutoApproves(u *Candidate) bool { return c.auto != nil && c.auto.matches(u) }

// Eligible reports whether u is past the policy's deferral at at: at or
// after FirstSeen plus DeferralDays days. An update that fixes a
// known-exploited advisory is never deferred.
func (c *Compiled) Eligible(u *Candidate, at time.Time) bool {
	if u.KEV || c.DeferralDays <= 0 {
		return true
	}
	return !at.Before(u.FirstSeen.Add(time.Duration(c.DeferralDays) * 24 * time.Hour))
}
