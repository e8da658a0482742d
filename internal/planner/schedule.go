package planner

import (
	"fmt"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/policy"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/window"
)

// Schedule decides what the policies' windows ask for at now, given the
// marks stored by the last pass (internal/window.Due): for every group of
// hosts a policy governs, a window that is open and was not acted on yields
// its proposals (policy.Propose) as deployments; windows that opened and
// closed unseen are listed as missed, never run late; the marks move past
// both. A group without a mark (a new policy, or hosts in a new zone), or
// with a mark older than its policy's current version, acts on a window
// open now, and has missed nothing.
//
// Proposals carry a key per policy version, zone and window, so storing
// the same pass twice (a crash between commit and the next pass, or two
// servers) creates each deployment once.
func Schedule(policies []*policy.Compiled, hosts []*patchbay.Host, cands map[int64][]policy.Candidate, marks []store.ScheduleMark, now time.Time) store.Schedule {
	type markKey struct {
		policy int64
		zone   string
	}
	stored := map[markKey]time.Time{}
	for _, m := range marks {
		stored[markKey{m.PolicyID, m.Zone}] = m.Mark
	}
	var sc store.Schedule
	for _, g := range policy.Groups(policies, hosts) {
		k := markKey{g.Policy.ID, g.Zone}
		mark, ok := stored[k]
		if ok && mark.Before(g.Policy.CreatedAt) {
			// The policy changed (or was enabled again) since: windows
			// before its current version were not this version's to
			// act on, so none is reported missed, and one open now is
			// due. A window acted on leaves a mark at its end, after any
			// change made while it was open: it is not acted on twice.
			mark = time.Time{}
		}
		c := window.Due(g.Policy.Windows, mark, now, g.Loc)
		for _, iv := range c.Missed {
			sc.Missed = append(sc.Missed, fmt.Sprintf("policy %d (%s) zone %q window %s", g.Policy.ID, g.Policy.Name, zoneName(g), iv))
		}
		if c.Due {
			for _, p := range policy.Propose(g, cands, c.Window) {
				sc.Deployments = append(sc.Deployments, Deployment(g.Policy, p))
			}
		}
		if !ok || !c.Mark.Equal(mark) {
			sc.Marks = append(sc.Marks, store.ScheduleMark{PolicyID: g.Policy.ID, Zone: g.Zone, Mark: c.Mark})
		}
	}
	return sc
}

func zoneName(g policy.Group) string {
	if g.Zone == "" {
		return "policy zones"
	}
	return g.Zone
}

// defaultProgressDeadline is the progress deadline of the deployments
// policies propose.
const defaultProgressDeadline = 2 * time.Hour

// Deployment turns a proposal of policy c into a deployment to store.
func Deployment(c *policy.Compiled, p policy.Proposal) *patchbay.Deployment {
	id := c.ID
	start, end := p.Window.Start.UTC(), p.Window.End.UTC()
	d := &patchbay.Deployment{
		Name:          fmt.Sprintf("%s, window %s", c.Name, start.Format("2006-01-02 15:04 MST")),
		Key:           p.Key,
		State:         patchbay.DeploymentApproved,
		Reason:        patchbay.ReasonAutoApproved,
		Detail:        "every update matches the policy's auto-approval rules",
		PolicyID:      &id,
		PolicyVersion: p.PolicyVersion,
		WindowStart:   &start,
		WindowEnd:     &end,
		Windows:       c.Policy.Windows,
		Rings:         p.Rings,
		Reboot:        c.Reboot,
		Checks:        c.Checks,
		Hosts:         p.Hosts,
		HostCount:     len(p.Hosts),
		AutoRollback:  true,
		// A window is hours long: no host finishing within one of them
		// halts the deployment rather than leaving it open forever.
		ProgressDeadline: int(defaultProgressDeadline / time.Second),
	}
	if c.DeadlineDays > 0 {
		// Per ring, from its opening: a ring that opens days after the
		// first (soak times, a person's promotion) gets its own wait.
		d.OfflineGrace = c.DeadlineDays * 24 * 60 * 60
	}
	if p.NeedsApproval {
		d.State, d.Reason = patchbay.DeploymentAwaitingApproval, patchbay.ReasonNeedsApprove
		d.Detail = "the policy requires an approver for these updates"
		d.Name += " (needs approval)"
	}
	if p.Zone != "" {
		d.Name += ", " + p.Zone
	}
	return d
}
