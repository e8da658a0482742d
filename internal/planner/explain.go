package planner

import (
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/policy"
	"github.com/patchbay/patchbay/internal/risk"
	"github.com/patchbay/patchbay/internal/store"
)

// Explain recomputes the queue entry of update on host from d (the host's
// planning data) and returns it with every part of its score, the parts of
// each finding it fixes, and the policy governing the host. The entry's
// stored values are those of the planner's last pass; Explain shows them
// as of now.
func Explain(d *store.PlanData, policies []*policy.Compiled, exceptions []patchbay.Exception, now time.Time, host, update int64) (*apiv1.UpdateExplanation, error) {
	var h *patchbay.Host
	for i := range d.Hosts {
		if d.Hosts[i].ID == host {
			h = &d.Hosts[i]
		}
	}
	if h == nil {
		return nil, patchbay.Errorf(patchbay.ENotFound, "no host %d", host)
	}
	var u *store.PlanUpdate
	for i, pu := range d.Updates[host] {
		if pu.ID == update {
			u = &d.Updates[host][i]
		}
	}
	if u == nil {
		return nil, patchbay.Errorf(patchbay.ENotFound, "host %d is not offered update %d", host, update)
	}
	c, gov := policy.Govern(policies, h)
	sla := patchbay.DefaultSLA()
	if c != nil {
		sla = c.SLA
	}
	b := hostBuild{host: h, d: d, now: now, exceptions: exceptions}
	b.findings()
	row, _, _ := b.update(*u)
	out := &apiv1.UpdateExplanation{Policy: gov, Findings: []apiv1.FindingScore{}}
	out.Update = patchbay.HostUpdate{HostID: host, Hostname: h.Hostname, Owner: h.Owner, Ecosystem: u.Ecosystem, Name: u.Name,
		Arch: u.Arch, FromVersion: u.FromVersion, ToVersion: u.ToVersion, SourceVersion: u.SourceVersion, Origin: u.Origin,
		Archive: u.Archive, Class: row.Class, ClassReason: row.ClassReason, Risk: row.Risk, Fixes: row.Fixes, Excepted: row.Excepted,
		KEV: row.KEV, Severity: row.Severity, FirstSeen: row.FirstSeen}
	out.Update.ID = store.QueueID(host, update)
	fixes := map[string]bool{}
	for _, a := range row.Fixes {
		fixes[a] = true
	}
	for _, a := range row.Excepted {
		fixes[a] = true
	}
	var scores []risk.FindingScore
	for _, i := range b.byPkg[pkgKey{u.Ecosystem, u.Name, u.Arch}] {
		f := &b.scored[i]
		if !fixes[f.Advisory] {
			continue
		}
		s := risk.ScoreFinding(risk.FindingInput{Severity: f.level, CVSS: f.adv.CVSS, KEV: f.adv.KEV, EPSS: f.adv.EPSS,
			Criticality: h.Criticality, Labels: h.Labels, AgeDays: risk.AgeDays(f.FirstSeen, now)})
		out.Findings = append(out.Findings, apiv1.FindingScore{Advisory: f.Advisory, Package: f.Package.Name + " " + f.Package.Version,
			Severity: string(f.level), FirstSeen: f.FirstSeen, Due: policy.DueDate(f.FirstSeen, string(f.level), sla),
			Excepted: f.excepted, Score: scoreParts(s)})
		if !f.excepted {
			scores = append(scores, risk.FindingScore{Advisory: f.Advisory, Value: f.value})
		}
	}
	out.Score = scoreParts(risk.ScoreUpdate(risk.UpdateInput{Class: risk.Class(row.Class), Findings: scores}))
	return out, nil
}

func scoreParts(s risk.Score) apiv1.ScoreParts {
	out := apiv1.ScoreParts{Value: s.Value, Parts: make([]apiv1.ScorePart, len(s.Parts))}
	for i, p := range s.Parts {
		out.Parts[i] = apiv1.ScorePart{Name: p.Name, Value: p.Value, Why: p.Why}
	}
	return out
}
