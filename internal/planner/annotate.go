package planner

import (
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/policy"
	"github.com/patchbay/patchbay/internal/risk"
	"github.com/patchbay/patchbay/internal/severity"
)

// Annotate gives each open finding in fs, as of now, its risk score, its
// SLA due date by the policy governing its host (patchbay.DefaultSLA() when
// none does) and whether that passed, and marks those an active exception
// covers as excepted, naming the exception. hosts holds the findings'
// hosts by id; a finding whose host is missing is left as it is.
func Annotate(fs []patchbay.Finding, hosts map[int64]*patchbay.Host, policies []*policy.Compiled, exceptions []patchbay.Exception, now time.Time) {
	slas := map[int64]patchbay.SLADays{}
	for i := range fs {
		f := &fs[i]
		h, ok := hosts[f.HostID]
		if f.Status != patchbay.FindingOpen || !ok {
			continue
		}
		sla, ok := slas[h.ID]
		if !ok {
			sla = patchbay.DefaultSLA()
			if c, _ := policy.Govern(policies, h); c != nil {
				sla = c.SLA
			}
			slas[h.ID] = sla
		}
		level, err := severity.ParseLevel(f.Severity)
		if err != nil {
			level = severity.Unknown
		}
		f.Risk = risk.FindingValue(risk.FindingInput{Severity: level, CVSS: f.CVSS, KEV: f.KEV, EPSS: f.EPSS,
			Criticality: h.Criticality, Labels: h.Labels, AgeDays: risk.AgeDays(f.FirstSeen, now)})
		src, _ := f.Package.Source()
		for j := range exceptions {
			e := &exceptions[j]
			if e.StateAt(now) == patchbay.ExceptionActive &&
				(e.Covers(f.Advisory, f.Package.Name, h.Groups) || e.Covers(f.Advisory, src, h.Groups)) {
				f.Status, f.Exception = patchbay.FindingExcepted, e.ID
				break
			}
		}
		if f.Status == patchbay.FindingOpen {
			due := policy.DueDate(f.FirstSeen, string(level), sla)
			f.Due, f.Overdue = &due, policy.Overdue(due, now)
		}
	}
}
