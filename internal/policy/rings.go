package policy

import (
	"cmp"
	"slices"

	"github.com/patchbay/patchbay"
)

// AssignRings places a deployment's hosts into the rings of specs, taking
// hosts in ID order:
//
//  1. rings with a label or group take the hosts that carry it, in ring
//     order, each host only once;
//  2. then rings with a percent take ceil(percent × all hosts / 100), and
//     rings with a count that many, of the hosts left, in ring order;
//  3. a ring with none of those (the last) takes the rest;
//  4. hosts still left go to the last ring.
//
// It returns each host's ring index, in the order of hosts, and the rings
// with their host counts. With no specs every host is in one ring, "all".
func AssignRings(specs []patchbay.RingSpec, hosts []*patchbay.Host) ([]int, []patchbay.Ring) {
	if len(specs) == 0 {
		specs = []patchbay.RingSpec{{Name: "all"}}
	}
	n := len(hosts)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(hosts[a].ID, hosts[b].ID) })
	ring := make([]int, n)
	for i := range ring {
		ring[i] = -1
	}
	left := n
	take := func(r, k int, want func(h *patchbay.Host) bool) {
		for _, i := range order {
			if k == 0 {
				return
			}
			if ring[i] < 0 && (want == nil || want(hosts[i])) {
				ring[i] = r
				left--
				k--
			}
		}
	}
	for r, s := range specs {
		switch {
		case s.Label != "":
			take(r, n, func(h *patchbay.Host) bool { return slices.Contains(h.Labels, s.Label) })
		case s.Group != "":
			take(r, n, func(h *patchbay.Host) bool { return slices.Contains(h.Groups, s.Group) })
		}
	}
	for r, s := range specs {
		switch {
		case s.Label != "" || s.Group != "":
		case s.Percent > 0:
			take(r, min(left, (s.Percent*n+99)/100), nil)
		case s.Count > 0:
			take(r, min(left, s.Count), nil)
		}
	}
	rest := len(specs) - 1
	for r, s := range specs {
		if s.Label == "" && s.Group == "" && s.Percent <= 0 && s.Count <= 0 {
			rest = r
			break
		}
	}
	rings := make([]patchbay.Ring, len(specs))
	for r, s := range specs {
		rings[r].RingSpec = s
	}
	for i := range ring {
		if ring[i] < 0 {
			ring[i] = rest
		}
		rings[ring[i]].Hosts++
	}
	return ring, rings
}
