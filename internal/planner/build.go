// Package planner turns findings and available updates into the work
// queue and the policies' deployments. Build is a pure function from the
// store's planning data, the policies, the exceptions and the time to the
// queue (every host's updates with their class, the findings they fix and
// a risk score) and each host's SLA state; Schedule asks each policy's
// windows what is due and proposes deployments; Planner runs both on one
// server at a time (a lease) and stores the result in one transaction
// each.
package planner

import (
	"cmp"
	"slices"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/osv"
	"github.com/patchbay/patchbay/internal/policy"
	"github.com/patchbay/patchbay/internal/risk"
	"github.com/patchbay/patchbay/internal/severity"
	"github.com/patchbay/patchbay/internal/store"
)

// dueSoon is how far ahead a finding's due date counts as "due soon".
const dueSoon = 7 * 24 * time.Hour

// Queue is what Build computes.
type Queue struct {
	Rows []store.QueueRow
	SLA  []store.HostSLA
	// Candidates are the rows as policy evaluation reads them, by host.
	Candidates map[int64][]policy.Candidate
	// Problems lists fixed versions that could not be compared, once per
	// advisory and update, for the log.
	Problems []string
}

// Build computes the work queue and the SLA state of every host in d at
// now. A finding an active exception covers drops out of the update's
// fixes, class and score and out of SLA counting, and is listed as
// excepted. The SLA days are those of the policy governing the host, or
// patchbay.DefaultSLA() when none does.
func Build(d *store.PlanData, policies []*policy.Compiled, exceptions []patchbay.Exception, now time.Time) *Queue {
	total := 0
	for _, us := range d.Updates {
		total += len(us)
	}
	q := &Queue{Rows: make([]store.QueueRow, 0, total), SLA: make([]store.HostSLA, 0, len(d.Hosts)),
		Candidates: make(map[int64][]policy.Candidate, len(d.Hosts))}
	seen := map[string]bool{}
	for i := range d.Hosts {
		h := &d.Hosts[i]
		sla := patchbay.DefaultSLA()
		if c, _ := policy.Govern(policies, h); c != nil {
			sla = c.SLA
		}
		b := hostBuild{host: h, d: d, now: now, exceptions: exceptions}
		b.findings()
		q.SLA = append(q.SLA, b.sla(sla))
		cands := make([]policy.Candidate, 0, len(d.Updates[h.ID]))
		for _, u := range d.Updates[h.ID] {
			row, cand, problems := b.update(u)
			q.Rows = append(q.Rows, row)
			cands = append(cands, cand)
			for _, p := range problems {
				if !seen[p] {
					seen[p] = true
					q.Problems = append(q.Problems, p)
				}
			}
		}
		q.Candidates[h.ID] = cands
	}
	return q
}

// hostBuild computes one host's part of the queue.
type hostBuild struct {
	host       *patchbay.Host
	d          *store.PlanData
	now        time.Time
	exceptions []patchbay.Exception

	scored []scoredFinding
	byPkg  map[pkgKey][]int // indexes into scored
}

type pkgKey struct{ ecosystem, name, arch string }

type scoredFinding struct {
	store.PlanFinding
	adv      store.PlanAdvisory
	level    severity.Level
	value    int
	excepted bool
}

// findings scores the host's open findings and marks the excepted ones.
func (b *hostBuild) findings() {
	fs := b.d.Findings[b.host.ID]
	b.scored = make([]scoredFinding, len(fs))
	b.byPkg = make(map[pkgKey][]int, len(fs))
	for i, f := range fs {
		adv := b.d.Advisories[f.Advisory]
		level, err := severity.ParseLevel(adv.Severity)
		if err != nil {
			level = severity.Unknown
		}
		sf := scoredFinding{PlanFinding: f, adv: adv, level: level}
		sf.value = risk.FindingValue(risk.FindingInput{Severity: level, CVSS: adv.CVSS, KEV: adv.KEV, EPSS: adv.EPSS,
			Criticality: b.host.Criticality, Labels: b.host.Labels, AgeDays: risk.AgeDays(f.FirstSeen, b.now)})
		sf.excepted = b.excepted(f)
		b.scored[i] = sf
		k := pkgKey{f.Package.Ecosystem, f.Package.Name, f.Package.Arch}
		b.byPkg[k] = append(b.byPkg[k], i)
	}
}

// excepted reports whether an active exception covers f on the host.
func (b *hostBuild) excepted(f store.PlanFinding) bool {
	for i := range b.exceptions {
		e := &b.exceptions[i]
		if e.StateAt(b.now) != patchbay.ExceptionActive {
			continue
		}
		src, _ := f.Package.Source()
		if e.Covers(f.Advisory, f.Package.Name, b.host.Groups) || (src != f.Package.Name && e.Covers(f.Advisory, src, b.host.Groups)) {
			return true
		}
	}
	return false
}

// sla counts the host's findings against the SLA days.
func (b *hostBuild) sla(days patchbay.SLADays) store.HostSLA {
	s := store.HostSLA{HostID: b.host.ID}
	for _, f := range b.scored {
		if f.excepted {
			s.Excepted++
			continue
		}
		s.Open++
		due := policy.DueDate(f.FirstSeen, string(f.level), days)
		switch {
		case policy.Overdue(due, b.now):
			s.Overdue++
			if s.OldestDue == nil || due.Before(*s.OldestDue) {
				s.OldestDue = &due
			}
		case due.Sub(b.now) <= dueSoon:
			s.DueSoon++
		}
	}
	return s
}

// update computes one update's queue row and candidate.
func (b *hostBuild) update(u store.PlanUpdate) (store.QueueRow, policy.Candidate, []string) {
	var problems []string
	var fixed []risk.FixedFinding
	var scores []risk.FindingScore
	var fixes, excepted []string
	kev, worst := false, severity.Level("")
	for _, i := range b.byPkg[pkgKey{u.Ecosystem, u.Name, u.Arch}] {
		f := &b.scored[i]
		ord := osv.ParseEcosystem(f.Ecosystem).Comparator
		ok, err := risk.Fixes(u.Update, f.Fixed, ord)
		if err != nil {
			problems = append(problems, f.Advisory+": "+err.Error())
			continue
		}
		if !ok {
			continue
		}
		if f.excepted {
			excepted = append(excepted, f.Advisory)
			continue
		}
		fixes = append(fixes, f.Advisory)
		fixed = append(fixed, risk.FixedFinding{Advisory: f.Advisory, KEV: f.adv.KEV, CVSS: f.adv.CVSS, Severity: f.level})
		scores = append(scores, risk.FindingScore{Advisory: f.Advisory, Value: f.value})
		kev = kev || f.adv.KEV
		if worst == "" || severity.Compare(f.level, worst) > 0 {
			worst = f.level
		}
	}
	slices.SortFunc(fixed, func(a, b risk.FixedFinding) int { return cmp.Compare(a.Advisory, b.Advisory) })
	slices.Sort(fixes)
	fixes = slices.Compact(fixes)
	slices.Sort(excepted)
	excepted = slices.Compact(excepted)
	class := risk.Classify(u.Update, fixed)
	value := risk.UpdateValue(risk.UpdateInput{Class: class.Class, Findings: scores})
	first, ok := b.d.FirstSeen[[2]int64{b.host.ID, u.ID}]
	if !ok {
		first = b.now.UTC().Truncate(time.Microsecond)
	}
	row := store.QueueRow{HostID: b.host.ID, UpdateID: u.ID, Class: string(class.Class), ClassReason: class.Reason, Risk: value,
		Fixes: fixes, Excepted: excepted, KEV: kev, Severity: string(worst), FirstSeen: first}
	cand := policy.Candidate{HostID: b.host.ID, Ecosystem: u.Ecosystem, Name: u.Name, Arch: u.Arch, FromVersion: u.FromVersion,
		ToVersion: u.ToVersion, Class: class.Class, Fixes: fixes, KEV: kev, Severity: string(worst), FirstSeen: first, Risk: value}
	return row, cand, problems
}
