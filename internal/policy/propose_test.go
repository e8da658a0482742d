package policy

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/risk"
	"github.com/patchbay/patchbay/internal/window"
)

// scenario is a small fleet under three policies, around Europe's 2026
// spring-forward (Sunday 2026-03-29):
//
//   - 10 "prod berlin": label prod, critical and security updates,
//     Saturdays 02:00–05:00 Europe/Berlin, KEV fixes approved
//     automatically, a canary ring first;
//   - 20 "web local": group web, every update deferred 3 days, daily
//     03:00–05:00 in each host's zone, every deployment approved by a
//     person;
//   - 30 "everything": disabled.
type scenario struct {
	ps      []*Compiled
	hosts   []*patchbay.Host
	updates map[int64][]Candidate
}

func newScenario(t testing.TB) scenario {
	t.Helper()
	prod := mustCompile(t, with(func(p *patchbay.Policy) {
		p.ID, p.Name, p.Version, p.Priority = 10, "prod berlin", 3, 10
		p.Selector.Labels = []string{"prod"}
		p.Updates.Classes = []string{"critical", "security"}
		p.AutoApprove = &patchbay.UpdateRule{KEVOnly: true}
		p.Rings = []patchbay.RingSpec{{Name: "canary", Label: "canary"}, {Name: "rest"}}
	}))
	web := mustCompile(t, with(func(p *patchbay.Policy) {
		p.ID, p.Name, p.Priority = 20, "web local", 5
		p.Selector.Groups = []string{"web"}
		p.DeferralDays = 3
		p.Windows = []patchbay.WindowSpec{{Cron: "0 3 * * *", Duration: "2h", Zone: "host"}}
	}))
	off := mustCompile(t, with(func(p *patchbay.Policy) {
		p.ID, p.Name, p.Priority, p.Enabled = 30, "everything", 100, false
	}))
	web3 := host(3, "America/New_York")
	web3.Groups = []string{"web"}
	web4 := host(4, "Asia/Tokyo")
	web4.Groups = []string{"web"}
	web5 := host(5, "")
	web5.Groups = []string{"web"}
	web7 := host(7, "Mars/Olympus_Mons")
	web7.Groups = []string{"web"}
	prod2 := host(2, "America/New_York", "prod")
	prod2.Groups = []string{"web"} // prod berlin outranks web local
	retired := host(8, "", "prod")
	retired.RetiredAt = new(time.Now())
	long := mustTime(t, "2026-01-01T00:00:00Z")
	recent := mustTime(t, "2026-03-26T12:00:00Z")
	return scenario{
		ps: []*Compiled{off, web, prod},
		// Out of order on purpose.
		hosts: []*patchbay.Host{web7, host(6, "Europe/Berlin", "staging"), web5, web4, web3, prod2, host(1, "Europe/Berlin", "prod", "canary"), retired},
		updates: map[int64][]Candidate{
			1: {
				cand(1, "tzdata", risk.Bugfix, "", false, long),
				cand(1, "openssl", risk.Critical, "critical", true, long, "DSA-1"),
				cand(1, "curl", risk.Security, "high", false, long, "DSA-2"),
			},
			2: {cand(2, "bash", risk.Security, "medium", false, long, "DSA-3")},
			3: {
				cand(3, "nginx", risk.Security, "high", false, recent, "DSA-4"),
				cand(3, "libc6", risk.Critical, "critical", false, long, "DSA-5"),
			},
			4: {cand(4, "libc6", risk.Critical, "critical", false, long, "DSA-5")},
			5: {cand(5, "libc6", risk.Critical, "critical", false, long, "DSA-5")},
			6: {cand(6, "libc6", risk.Critical, "critical", false, long, "DSA-5")},
			8: {cand(8, "libc6", risk.Critical, "critical", false, long, "DSA-5")},
		},
	}
}

func hostIDs(hs []*patchbay.Host) []int64 {
	ids := make([]int64, len(hs))
	for i, h := range hs {
		ids[i] = h.ID
	}
	return ids
}

func TestGroups(t *testing.T) {
	s := newScenario(t)
	type group struct {
		policy int64
		zone   string
		loc    string
		hosts  []int64
	}
	want := []group{
		{10, "", "UTC", []int64{1, 2}},
		{20, "America/New_York", "America/New_York", []int64{3}},
		{20, "Asia/Tokyo", "Asia/Tokyo", []int64{4}},
		{20, "UTC", "UTC", []int64{5, 7}}, // no zone, and an unknown one
	}
	var got []group
	for _, g := range Groups(s.ps, s.hosts) {
		got = append(got, group{g.Policy.ID, g.Zone, g.Loc.String(), hostIDs(g.Hosts)})
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Groups:\n got %v\nwant %v", got, want)
	}
}

// proposal is the part of a Proposal the tests compare: hosts as
// "ID/ring:name,name".
type proposal struct {
	key   string
	hosts []string
	rings []int
}

func summarize(ps []Proposal) []proposal {
	var out []proposal
	for _, p := range ps {
		sp := proposal{key: p.Key}
		for _, h := range p.Hosts {
			var names []string
			for _, u := range h.Updates {
				names = append(names, u.Name)
			}
			sp.hosts = append(sp.hosts, strconv.FormatInt(h.HostID, 10)+"/"+strconv.Itoa(h.Ring)+":"+strings.Join(names, ","))
		}
		for _, r := range p.Rings {
			sp.rings = append(sp.rings, r.Hosts)
		}
		out = append(out, sp)
	}
	return out
}

func TestEvaluate(t *testing.T) {
	s := newScenario(t)
	for _, tc := range []struct {
		name string
		at   string
		want []proposal
	}{
		{"Berlin Saturday 02:30 CET, before spring-forward", "2026-03-28T01:30:00Z", []proposal{
			{"policy:10:v:3::2026-03-28T01:00:00Z:auto", []string{"1/0:openssl"}, []int{1, 0}},
			{"policy:10:v:3::2026-03-28T01:00:00Z:approval", []string{"1/0:curl", "2/1:bash"}, []int{1, 1}},
		}},
		{"same window, later: same proposals", "2026-03-28T02:59:00Z", []proposal{
			{"policy:10:v:3::2026-03-28T01:00:00Z:auto", []string{"1/0:openssl"}, []int{1, 0}},
			{"policy:10:v:3::2026-03-28T01:00:00Z:approval", []string{"1/0:curl", "2/1:bash"}, []int{1, 1}},
		}},
		{"Berlin closed at 05:00 CET; UTC's open", "2026-03-28T04:00:00Z", []proposal{
			{"policy:20:v:1:UTC:2026-03-28T03:00:00Z:approval", []string{"5/0:libc6"}, []int{1}},
		}},
		{"Berlin Saturday 02:30 CEST, after spring-forward", "2026-04-04T00:30:00Z", []proposal{
			{"policy:10:v:3::2026-04-04T00:00:00Z:auto", []string{"1/0:openssl"}, []int{1, 0}},
			{"policy:10:v:3::2026-04-04T00:00:00Z:approval", []string{"1/0:curl", "2/1:bash"}, []int{1, 1}},
		}},
		{"03:30 UTC: hosts without a known zone", "2026-04-04T03:30:00Z", []proposal{
			{"policy:20:v:1:UTC:2026-04-04T03:00:00Z:approval", []string{"5/0:libc6"}, []int{1}},
		}},
		{"03:30 in Tokyo", "2026-04-03T18:30:00Z", []proposal{
			{"policy:20:v:1:Asia/Tokyo:2026-04-03T18:00:00Z:approval", []string{"4/0:libc6"}, []int{1}},
		}},
		{"03:30 in New York: nginx deferred until the 29th noon", "2026-03-29T07:30:00Z", []proposal{
			{"policy:20:v:1:America/New_York:2026-03-29T07:00:00Z:approval", []string{"3/0:libc6"}, []int{1}},
		}},
		{"03:30 in New York, a day later: nginx eligible", "2026-03-30T07:30:00Z", []proposal{
			{"policy:20:v:1:America/New_York:2026-03-30T07:00:00Z:approval", []string{"3/0:libc6,nginx"}, []int{1}},
		}},
		{"nothing open", "2026-03-28T06:00:00Z", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Evaluate(s.ps, s.hosts, s.updates, mustTime(t, tc.at))
			if sum := summarize(got); !reflect.DeepEqual(sum, tc.want) {
				t.Errorf("Evaluate(at %s):\n got %+v\nwant %+v", tc.at, sum, tc.want)
			}
			for _, p := range got {
				if p.NeedsApproval != strings.HasSuffix(p.Key, ":approval") || p.PolicyVersion == 0 {
					t.Errorf("Evaluate(at %s): %s needs approval %v, version %d", tc.at, p.Key, p.NeedsApproval, p.PolicyVersion)
				}
				if !p.Window.Contains(mustTime(t, tc.at)) {
					t.Errorf("Evaluate(at %s): window %s does not hold it", tc.at, p.Window)
				}
			}
		})
	}
}

func TestProposeDetails(t *testing.T) {
	s := newScenario(t)
	g := Groups(s.ps, s.hosts)[0]
	iv := window.Interval{Start: mustTime(t, "2026-03-28T01:00:00Z"), End: mustTime(t, "2026-03-28T04:00:00Z")}
	// The candidates' order does not matter.
	shuffled := map[int64][]Candidate{}
	for id, us := range s.updates {
		shuffled[id] = slices.Clone(us)
		slices.Reverse(shuffled[id])
	}
	got, again := Propose(g, s.updates, iv), Propose(g, shuffled, iv)
	if !reflect.DeepEqual(got, again) {
		t.Errorf("Propose depends on the candidates' order:\n%+v\n%+v", got, again)
	}
	if len(got) != 2 {
		t.Fatalf("Propose: %d proposals; want 2", len(got))
	}
	h := got[0].Hosts[0]
	want := patchbay.DeploymentHost{HostID: 1, Hostname: "h1", Ring: 0, Updates: []patchbay.PlannedUpdate{{
		Ecosystem: "deb", Name: "openssl", Arch: "amd64", FromVersion: "1.0-1", ToVersion: "1.0-2", Class: "critical", Fixes: []string{"DSA-1"},
	}}}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("Propose: host %+v; want %+v", h, want)
	}
	if got[0].Rings[0].Name != "canary" || got[0].Zone != "" || got[0].Window != iv || got[0].PolicyID != 10 || got[0].PolicyVersion != 3 {
		t.Errorf("Propose: %+v", got[0])
	}
	if p := Propose(g, nil, iv); p != nil {
		t.Errorf("Propose(no updates) = %+v; want none", p)
	}
}

func TestProposalKey(t *testing.T) {
	berlin := loadLoc(t, "Europe/Berlin")
	start := time.Date(2026, 3, 28, 2, 0, 0, 0, berlin)
	if got, want := ProposalKey(7, 2, "", start, false), "policy:7:v:2::2026-03-28T01:00:00Z:auto"; got != want {
		t.Errorf("ProposalKey = %q; want %q", got, want)
	}
	if got, want := ProposalKey(7, 2, "Asia/Tokyo", start, true), "policy:7:v:2:Asia/Tokyo:2026-03-28T01:00:00Z:approval"; got != want {
		t.Errorf("ProposalKey = %q; want %q", got, want)
	}
}
