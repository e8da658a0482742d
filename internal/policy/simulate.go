package policy

import (
	"cmp"
	"slices"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/window"
)

// MaxSimulateDays bounds Simulate's range: its cost grows with the windows
// in it.
const MaxSimulateDays = 92

// MaxSimulatedUpdates bounds the planned updates a simulation holds in all
// its windows: a policy opening every few minutes over a large fleet would
// otherwise plan millions. Past it Simulate stops with ETooLarge, asking
// for fewer days.
const MaxSimulatedUpdates = 500_000

// SimulatedWindow is one window a simulated policy opens, and what it
// would propose at the window's start.
type SimulatedWindow struct {
	Zone      string
	Window    window.Interval
	Proposals []Proposal
	Hosts     int // the policy governs in the group
}

// Simulate lists, for policy id, every window that opens in [from,
// from+days×24h) and what Propose would make at its start, for the hosts
// the policy governs among all policies ps. Nothing is stored or changed.
//
// A disabled policy is simulated as if it were enabled: the what-if view is
// how a person previews a policy before enabling it. A policy whose windows
// are all in named zones lists its windows even when it governs no host.
// Windows are in order of their start, then zone. Errors: id not in ps
// (ENotFound), days not from 1 to MaxSimulateDays (EUnprocessable).
func Simulate(ps []*Compiled, id int64, hosts []*patchbay.Host, updates map[int64][]Candidate, from time.Time, days int) ([]SimulatedWindow, error) {
	if days < 1 || days > MaxSimulateDays {
		return nil, invalid("days", "must be from 1 to %d, got %d", MaxSimulateDays, days)
	}
	i := slices.IndexFunc(ps, func(p *Compiled) bool { return p != nil && p.ID == id })
	if i < 0 {
		return nil, patchbay.Errorf(patchbay.ENotFound, "policy %d not found", id)
	}
	target := ps[i]
	if !target.Enabled {
		enabled := *target
		enabled.Enabled = true
		target = &enabled
		ps = slices.Clone(ps)
		ps[i] = target
	}
	var groups []Group
	for _, g := range Groups(ps, hosts) {
		if g.Policy == target {
			groups = append(groups, g)
		}
	}
	if len(groups) == 0 && !target.hostLocal {
		groups = []Group{{Policy: target, Loc: time.UTC}}
	}
	to := from.Add(time.Duration(days) * 24 * time.Hour)
	var out []SimulatedWindow
	planned := 0
	for _, g := range groups {
		for _, iv := range target.Windows.Occurrences(from, to, g.Loc) {
			if iv.Start.Before(from) {
				continue // opened before the range
			}
			props := Propose(g, updates, iv)
			for _, p := range props {
				for _, h := range p.Hosts {
					planned += len(h.Updates)
				}
			}
			if planned > MaxSimulatedUpdates {
				return nil, patchbay.FieldError(patchbay.ETooLarge, "days", "the policy's windows over %d days plan more than %d updates; simulate fewer days",
					days, MaxSimulatedUpdates)
			}
			out = append(out, SimulatedWindow{Zone: g.Zone, Window: iv, Proposals: props, Hosts: len(g.Hosts)})
		}
	}
	slices.SortStableFunc(out, func(a, b SimulatedWindow) int {
		return cmp.Or(a.Window.Start.Compare(b.Window.Start), cmp.Compare(a.Zone, b.Zone))
	})
	return out, nil
}
