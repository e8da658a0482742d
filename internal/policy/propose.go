package policy

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/window"
)

// Group is the hosts one policy governs that share one window clock: all
// of them when every window of the policy is in a named zone, else those in
// one host time zone.
type Group struct {
	Policy *Compiled
	// Zone is "" when no window is host-local, else the hosts' IANA zone
	// name; hosts whose zone is unset or unknown are in "UTC".
	Zone string
	// Loc is the zone for window computations: Zone's location, UTC for
	// "".
	Loc   *time.Location
	Hosts []*patchbay.Host // sorted by ID
}

// hostZone returns the zone a host-local window is computed in for a host
// whose time zone is name, and its name: UTC for an unset or unknown name,
// which is what a Linux host without /etc/localtime runs on, and for
// "Local", which would be the server's zone. locs caches the locations.
func hostZone(name string, locs map[string]*time.Location) (string, *time.Location) {
	if loc, ok := locs[name]; ok {
		return loc.String(), loc
	}
	loc := time.UTC
	if name != "" && name != "Local" {
		if l, err := time.LoadLocation(name); err == nil {
			loc = l
		}
	}
	locs[name] = loc
	return loc.String(), loc
}

// Groups finds the policy governing each host (see Govern) and groups the
// hosts by policy and, for a policy with a host-local window, by the host's
// time zone. Hosts that no policy governs, and retired hosts, are left out.
// Groups come in the order the policies rank (priority, highest first, then
// ID), then by zone.
func Groups(ps []*Compiled, hosts []*patchbay.Host) []Group {
	order := governing(ps)
	live := make([]*patchbay.Host, 0, len(hosts))
	for _, h := range hosts {
		if h != nil && h.RetiredAt == nil {
			live = append(live, h)
		}
	}
	slices.SortStableFunc(live, byID)
	type key struct {
		policy int
		zone   string
	}
	index := map[key]int{}
	locs := map[string]*time.Location{}
	var groups []Group
	var ranks []int // the policy's rank, per group
	for _, h := range live {
		pi := slices.IndexFunc(order, func(p *Compiled) bool { return p.sel.selects(h) })
		if pi < 0 {
			continue
		}
		k := key{policy: pi}
		loc := time.UTC
		if order[pi].hostLocal {
			k.zone, loc = hostZone(h.TimeZone, locs)
		}
		gi, ok := index[k]
		if !ok {
			gi = len(groups)
			index[k] = gi
			groups = append(groups, Group{Policy: order[pi], Zone: k.zone, Loc: loc})
			ranks = append(ranks, pi)
		}
		groups[gi].Hosts = append(groups[gi].Hosts, h)
	}
	idx := make([]int, len(groups))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := cmp.Compare(ranks[a], ranks[b]); c != 0 {
			return c
		}
		return cmp.Compare(groups[a].Zone, groups[b].Zone)
	})
	out := make([]Group, len(groups))
	for i, j := range idx {
		out[i] = groups[j]
	}
	return out
}

func byID(a, b *patchbay.Host) int { return cmp.Compare(a.ID, b.ID) }

// Proposal is a deployment a policy would make for one window.
type Proposal struct {
	PolicyID      int64
	PolicyVersion int
	Zone          string
	Window        window.Interval
	// Key identifies the proposal for idempotence:
	// "policy:ID:v:VERSION:ZONE:START:auto|approval", START being the
	// window's start in UTC, RFC 3339. A scheduler that evaluates the same
	// window twice makes the same keys.
	Key           string
	NeedsApproval bool
	Hosts         []patchbay.DeploymentHost // with their ring and updates
	Rings         []patchbay.Ring
}

// ProposalKey returns the key of a proposal: see Proposal.Key.
func ProposalKey(policyID int64, version int, zone string, start time.Time, needsApproval bool) string {
	kind := "auto"
	if needsApproval {
		kind = "approval"
	}
	b := make([]byte, 0, 64)
	b = append(b, "policy:"...)
	b = strconv.AppendInt(b, policyID, 10)
	b = append(b, ":v:"...)
	b = strconv.AppendInt(b, int64(version), 10)
	b = append(b, ':')
	b = append(b, zone...)
	b = append(b, ':')
	b = start.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, ':')
	b = append(b, kind...)
	return string(b)
}

// Propose returns what g's policy deploys in window iv: for each host, the
// candidates the policy picks and that are eligible at iv.Start, split into
// at most two proposals: the updates AutoApproves accepts (NeedsApproval
// false), then the rest (NeedsApproval true). A host may be in both. Hosts
// with nothing are left out; there is no proposal without hosts. updates
// maps a host's ID to its candidates. A host's updates are sorted by
// ecosystem, name and architecture, so the result does not depend on the
// order of the candidates; their Fixes share the candidates' slices.
func Propose(g Group, updates map[int64][]Candidate, iv window.Interval) []Proposal {
	c := g.Policy
	var auto, manual side
	var marks []uint8 // per candidate of a host: 0 not taken, 1 auto-approved, 2 needs approval
	for _, h := range g.Hosts {
		cands := updates[h.ID]
		marks = slices.Grow(marks[:0], len(cands))[:len(cands)]
		na, nm := 0, 0
		for i := range cands {
			u := &cands[i]
			switch {
			case !c.Picks(u) || !c.Eligible(u, iv.Start):
				marks[i] = 0
			case c.AutoApproves(u):
				marks[i] = 1
				na++
			default:
				marks[i] = 2
				nm++
			}
		}
		auto.add(h, cands, marks, 1, na)
		manual.add(h, cands, marks, 2, nm)
	}
	var out []Proposal
	for _, s := range []struct {
		side          *side
		needsApproval bool
	}{{&auto, false}, {&manual, true}} {
		if len(s.side.hosts) == 0 {
			continue
		}
		ring, rings := AssignRings(c.Policy.Rings, s.side.hosts)
		for i := range s.side.dh {
			s.side.dh[i].Ring = ring[i]
		}
		out = append(out, Proposal{
			PolicyID:      c.ID,
			PolicyVersion: c.Version,
			Zone:          g.Zone,
			Window:        iv,
			Key:           ProposalKey(c.ID, c.Version, g.Zone, iv.Start, s.needsApproval),
			NeedsApproval: s.needsApproval,
			Hosts:         s.side.dh,
			Rings:         rings,
		})
	}
	return out
}

// side gathers one proposal's hosts while Propose walks the group. Hosts'
// updates are cut from shared chunks, so that a fleet's updates take a few
// allocations and are never copied to grow.
type side struct {
	chunk []patchbay.PlannedUpdate
	hosts []*patchbay.Host
	dh    []patchbay.DeploymentHost
	order []int // scratch: one host's candidates, in order
}

// chunkSize is how many updates a side allocates at once.
const chunkSize = 4096

// add adds host h with the n candidates that marks marks as mark, sorted.
func (s *side) add(h *patchbay.Host, cands []Candidate, marks []uint8, mark uint8, n int) {
	if n == 0 {
		return
	}
	s.order = s.order[:0]
	for i := range cands {
		if marks[i] == mark {
			s.order = append(s.order, i)
		}
	}
	less := func(a, b int) int { return compareCandidates(&cands[a], &cands[b]) }
	if !slices.IsSortedFunc(s.order, less) {
		slices.SortFunc(s.order, less)
	}
	if cap(s.chunk)-len(s.chunk) < n {
		s.chunk = make([]patchbay.PlannedUpdate, 0, max(chunkSize, n))
	}
	from := len(s.chunk)
	for _, i := range s.order {
		s.chunk = append(s.chunk, planned(&cands[i]))
	}
	s.hosts = append(s.hosts, h)
	s.dh = append(s.dh, patchbay.DeploymentHost{HostID: h.ID, Hostname: h.Hostname, Updates: s.chunk[from:len(s.chunk):len(s.chunk)]})
}

// compareCandidates orders a host's updates in a proposal: by ecosystem,
// name, architecture and versions.
func compareCandidates(a, b *Candidate) int {
	return cmp.Or(
		cmp.Compare(a.Ecosystem, b.Ecosystem),
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Arch, b.Arch),
		cmp.Compare(a.ToVersion, b.ToVersion),
		cmp.Compare(a.FromVersion, b.FromVersion),
	)
}

func planned(u *Candidate) patchbay.PlannedUpdate {
	return patchbay.PlannedUpdate{
		Ecosystem:   u.Ecosystem,
		Name:        u.Name,
		Arch:        u.Arch,
		FromVersion: u.FromVersion,
		ToVersion:   u.ToVersion,
		Class:       string(u.Class),
		Fixes:       slices.Clip(u.Fixes),
	}
}

// Evaluate is the scheduler's pure step at at: for every group (see
// Groups), the proposals for the window open at at, if one is. Deciding
// whether that window was already acted on is the caller's (window.Due, and
// the proposals' keys).
func Evaluate(ps []*Compiled, hosts []*patchbay.Host, updates map[int64][]Candidate, at time.Time) []Proposal {
	var out []Proposal
	for _, g := range Groups(ps, hosts) {
		iv, ok := g.Policy.Windows.Open(at, g.Loc)
		if !ok {
			continue
		}
		out = append(out, Propose(g, updates, iv)...)
	}
	return out
}
