package planner_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/feed"
	"github.com/patchbay/patchbay/internal/matcher"
	"github.com/patchbay/patchbay/internal/osv"
	"github.com/patchbay/patchbay/internal/planner"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/store/storetest"
)

// fleet enrolls Debian 12 hosts and uploads their inventories.
type fleet struct {
	t        *testing.T
	s        *store.Store
	secret   string
	ids      map[string]int64
	sessions map[string]*store.HostSession
	facts    map[string]protocol.Facts
}

func newFleet(t *testing.T, s *store.Store) *fleet {
	_, secret, err := s.CreateEnrollSecret(context.Background(), "user:admin", store.NewEnrollSecret{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return &fleet{t: t, s: s, secret: secret, ids: map[string]int64{}, sessions: map[string]*store.HostSession{}, facts: map[string]protocol.Facts{}}
}

// host enrolls a host with packages and updates, and sets its labels,
// criticality and owner.
// session returns host name's session and the facts it checked in with.
func (f *fleet) session(name string) (*store.HostSession, protocol.Facts) {
	f.t.Helper()
	return f.sessions[name], f.facts[name]
}

func (f *fleet) host(name, owner string, crit patchbay.Criticality, labels []string, pkgs []protocol.Package, upds []protocol.Update) int64 {
	f.t.Helper()
	ctx := context.Background()
	facts := protocol.Facts{Hostname: name, MachineID: "m-" + name, Kernel: "6.1.0-13-amd64", Arch: "x86_64",
		OSRelease: map[string]string{"ID": "debian", "VERSION_ID": "12"}, AgentVersion: "test", ProtocolVersion: protocol.Version}
	e, err := f.s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: f.secret, Facts: facts})
	if err != nil {
		f.t.Fatal(err)
	}
	hs, err := f.s.AuthenticateHost(ctx, e.HostToken)
	if err != nil {
		f.t.Fatal(err)
	}
	inv := protocol.Inventory{Packages: pkgs, Updates: upds}
	inv.Hash = protocol.InventoryHash(inv)
	if _, err := f.s.CheckIn(ctx, hs, facts, inv.Hash); err != nil {
		f.t.Fatal(err)
	}
	if err := f.s.PutInventory(ctx, hs, inv); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.s.UpdateHost(ctx, "user:admin", e.HostID, store.HostUpdate{Labels: &labels, Criticality: &crit, Owner: &owner}); err != nil {
		f.t.Fatal(err)
	}
	f.ids[name] = e.HostID
	f.sessions[name], f.facts[name] = hs, facts
	return e.HostID
}

var (
	openssl = protocol.Package{Ecosystem: "deb", Name: "openssl", Version: "3.0.11-1~deb12u1", Arch: "amd64"}
	curl    = protocol.Package{Ecosystem: "deb", Name: "curl", Version: "7.88.1-10+deb12u4", Arch: "amd64"}
	// The security update that fixes DSA-2023-0001, and a point release.
	opensslUp = protocol.Update{Ecosystem: "deb", Name: "openssl", Arch: "amd64", FromVersion: "3.0.11-1~deb12u1",
		ToVersion: "3.0.11-1~deb12u2", Origin: "Debian", Archive: "bookworm-security", Security: true}
	curlUp = protocol.Update{Ecosystem: "deb", Name: "curl", Arch: "amd64", FromVersion: "7.88.1-10+deb12u4",
		ToVersion: "7.88.1-10+deb12u5", Origin: "Debian", Archive: "bookworm"}
)

const dsa = `{"id":"DSA-2023-0001","modified":"2023-10-24T00:00:00Z","upstream":["CVE-2023-0001"],"affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.11-1~deb12u2"}]}]}]}`

// setup builds two hosts with the same packages, a prod one owned by
// team-a and a test one owned by team-b; DSA-2023-0001 affects openssl and
// is known exploited.
func setup(t *testing.T, s *store.Store) *fleet {
	ctx := context.Background()
	f := newFleet(t, s)
	f.host("web1", "team-a", patchbay.CriticalityHigh, []string{"prod"}, []protocol.Package{openssl, curl}, []protocol.Update{opensslUp, curlUp})
	f.host("test1", "team-b", patchbay.CriticalityLow, []string{"test"}, []protocol.Package{openssl, curl}, []protocol.Update{opensslUp, curlUp})
	rec, err := osv.Parse([]byte(dsa))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportAdvisories(ctx, "user:admin", store.AdvisoryImport{Source: "test", Kind: "osv", Records: []*osv.Record{rec}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportAdvisories(ctx, "user:admin", store.AdvisoryImport{Source: "kev", Kind: "kev", KEV: &feed.KEVCatalog{Version: "t",
		Entries: []feed.KEVEntry{{CVE: "CVE-2023-0001", VendorProject: "OpenSSL", Product: "OpenSSL", DateAdded: time.Now().AddDate(0, 0, -3), DueDate: time.Now().AddDate(0, 0, 18)}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := matcher.New(s, matcher.Options{Holder: "test"}).Sync(ctx); err != nil {
		t.Fatal(err)
	}
	return f
}

// nextSaturday returns the next Saturday at hh:mm in Europe/Berlin.
func nextSaturday(t *testing.T, hh, mm int) time.Time {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no Europe/Berlin in the time zone database")
	}
	d := time.Now().In(loc).AddDate(0, 0, 1)
	for d.Weekday() != time.Saturday {
		d = d.AddDate(0, 0, 1)
	}
	return time.Date(d.Year(), d.Month(), d.Day(), hh, mm, 0, 0, loc)
}

func queue(t *testing.T, s *store.Store, f patchbay.UpdateFilter) []patchbay.HostUpdate {
	t.Helper()
	items, _, err := s.Queue(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// TestQueueClassesRiskAndExceptions: the planner's queue classifies each
// update by what it fixes, ranks the exploited fix on the prod host first,
// drops excepted findings from classes and SLA but lists them.
func TestQueueClassesRiskAndExceptions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := setup(t, s)
		now := time.Now()
		p := planner.New(s, planner.Options{Holder: "a", Now: func() time.Time { return now }})
		res, err := p.Pass(ctx)
		if err != nil || res.Queue != 4 || res.Hosts != 2 {
			t.Fatalf("Pass = %+v, %v; want 4 entries on 2 hosts", res, err)
		}
		items := queue(t, s, patchbay.UpdateFilter{})
		if len(items) != 4 {
			t.Fatalf("queue holds %d entries, want 4", len(items))
		}
		top := items[0]
		if top.HostID != f.ids["web1"] || top.Name != "openssl" || top.Class != "critical" || !top.KEV ||
			len(top.Fixes) != 1 || top.Fixes[0] != "DSA-2023-0001" || !strings.Contains(top.ClassReason, "known exploited") {
			t.Fatalf("top of the queue = %+v; want web1's openssl, critical for a KEV fix", top)
		}
		if items[1].HostID != f.ids["test1"] || items[1].Name != "openssl" || items[1].Risk >= top.Risk {
			t.Fatalf("second = %+v; want test1's openssl, below web1's (%d)", items[1], top.Risk)
		}
		for _, u := range items[2:] {
			if u.Name != "curl" || u.Class != "bugfix" || len(u.Fixes) != 0 {
				t.Fatalf("curl update = %+v; want a bugfix point release fixing nothing", u)
			}
		}
		if crit := queue(t, s, patchbay.UpdateFilter{Classes: []string{"critical"}, Limit: 1}); len(crit) != 1 || crit[0].ID != top.ID {
			t.Fatalf("first critical = %+v", crit)
		}
		// The cursor pages through without repeating or skipping.
		var paged []string
		cursor := ""
		for {
			page, next, err := s.Queue(ctx, patchbay.UpdateFilter{Limit: 1, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range page {
				paged = append(paged, u.ID)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if len(paged) != 4 || paged[0] != items[0].ID || paged[3] != items[3].ID {
			t.Fatalf("paged %v, want the 4 entries in order", paged)
		}
		rep, err := s.SLAReport(ctx)
		if err != nil || len(rep) != 2 || rep[0].Open != 1 || rep[0].Overdue != 0 {
			t.Fatalf("SLA report = %+v, %v", rep, err)
		}

		// An approved exception for the advisory on web1's group.
		op, _ := s.CreateUser(ctx, "user:admin", "op", patchbay.RoleOperator)
		appr, _ := s.CreateUser(ctx, "user:admin", "appr", patchbay.RoleApprover)
		groups := []string{"dmz"}
		if _, err := s.UpdateHost(ctx, "user:admin", f.ids["web1"], store.HostUpdate{Groups: &groups}); err != nil {
			t.Fatal(err)
		}
		x, err := s.CreateException(ctx, "user:op", op.ID, store.NewException{Advisory: "DSA-2023-0001", Group: "dmz",
			Reason: "isolated behind a proxy", ExpiresAt: now.Add(48 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.DecideException(ctx, "user:appr", appr, x.ID, patchbay.Approve, "proxy verified"); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		web1 := queue(t, s, patchbay.UpdateFilter{HostID: f.ids["web1"], Sort: "host"})
		for _, u := range web1 {
			if u.Name == "openssl" && (u.Class != "security" || len(u.Fixes) != 0 || len(u.Excepted) != 1) {
				t.Fatalf("excepted openssl = %+v; want security (its pocket), no fixes, one excepted", u)
			}
		}
		rep, _ = s.SLAReport(ctx)
		for _, r := range rep {
			if r.Owner == "team-a" && (r.Open != 0 || r.Excepted != 1) {
				t.Fatalf("team-a after the exception = %+v", r)
			}
		}
		// When the exception expires, the finding counts again.
		later := now.Add(72 * time.Hour)
		if _, err := planner.New(s, planner.Options{Holder: "a", Now: func() time.Time { return later }}).Pass(ctx); err != nil {
			t.Fatal(err)
		}
		if crit := queue(t, s, patchbay.UpdateFilter{Classes: []string{"critical"}, HostID: f.ids["web1"]}); len(crit) != 1 {
			t.Fatalf("after the exception expired, web1's critical updates = %+v; want openssl again", crit)
		}
	})
}

// TestScheduleProposesOncePerWindow: the policy (critical updates
// on prod hosts, Saturdays 02:00–05:00 Europe/Berlin, approval required)
// proposes one deployment awaiting approval in its window, holding only
// web1's openssl; a second pass, another server, and a pass after a clock
// set back propose nothing more; a window the scheduler slept through is
// reported missed, not run late.
func TestScheduleProposesOncePerWindow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := setup(t, s)
		sat := nextSaturday(t, 2, 30)
		pol := patchbay.Policy{Name: "prod critical", Enabled: true, Priority: 10,
			Selector: patchbay.Selector{Labels: []string{"prod"}},
			Updates:  patchbay.UpdateRule{Classes: []string{"critical"}},
			Windows:  []patchbay.WindowSpec{{Cron: "0 2 * * 6", Duration: "3h", Zone: "Europe/Berlin"}},
			Rings:    []patchbay.RingSpec{{Name: "all"}}, Reboot: patchbay.RebootRule{Mode: patchbay.RebootIfRequired},
			SLA: patchbay.SLADays{Critical: 7, High: 14, Medium: 30, Low: 90, Unknown: 30}, DeadlineDays: 3}
		if _, err := s.CreatePolicy(ctx, "user:op", 1, pol); err != nil {
			t.Fatal(err)
		}
		at := func(now time.Time, holder string) planner.Result {
			t.Helper()
			res, err := planner.New(s, planner.Options{Holder: holder, Now: func() time.Time { return now }}).Pass(ctx)
			if err != nil {
				t.Fatalf("pass at %s: %v", now, err)
			}
			return res
		}
		if res := at(sat.Add(-24*time.Hour), "a"); res.Proposed != 0 {
			t.Fatalf("the day before the window proposed %d", res.Proposed)
		}
		if res := at(sat, "a"); res.Proposed != 1 {
			t.Fatalf("inside the window proposed %d, want 1", res.Proposed)
		}
		if res := at(sat.Add(10*time.Minute), "a"); res.Proposed != 0 {
			t.Fatalf("a second pass in the same window proposed %d", res.Proposed)
		}
		if res := at(sat.Add(-time.Hour), "a"); res.Proposed != 0 {
			t.Fatalf("a pass after the clock was set back proposed %d", res.Proposed)
		}
		ds, err := s.Deployments(ctx, patchbay.DeploymentFilter{})
		if err != nil || len(ds) != 1 {
			t.Fatalf("deployments = %d, %v; want 1", len(ds), err)
		}
		d, err := s.Deployment(ctx, ds[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.State != patchbay.DeploymentAwaitingApproval || d.Reason != patchbay.ReasonNeedsApprove || d.PolicyVersion != 1 ||
			len(d.Hosts) != 1 || d.Hosts[0].HostID != f.ids["web1"] || len(d.Hosts[0].Updates) != 1 ||
			d.Hosts[0].Updates[0].Name != "openssl" || d.Hosts[0].Updates[0].ToVersion != "3.0.11-1~deb12u2" {
			t.Fatalf("deployment = %+v", d)
		}
		if d.WindowStart == nil || !d.WindowStart.Equal(sat.Add(-30*time.Minute)) {
			t.Fatalf("window start = %v, want %v", d.WindowStart, sat.Add(-30*time.Minute))
		}
		// Hosts offline through the window are skipped the policy's 3
		// days after their ring opened.
		if d.OfflineGrace != 3*24*60*60 || d.Deadline != nil {
			t.Fatalf("offline grace %d s, deadline %v; want 3 days, no deadline", d.OfflineGrace, d.Deadline)
		}
		// Down for the whole next weekend: that window is missed, then the
		// one after runs.
		next := sat.AddDate(0, 0, 7)
		if res := at(next.Add(4*time.Hour), "a"); res.Proposed != 0 || res.Missed != 1 {
			t.Fatalf("after sleeping through a window: %+v; want 1 missed, none proposed", res)
		}
		if res := at(sat.AddDate(0, 0, 14), "a"); res.Proposed != 1 {
			t.Fatalf("the window after proposed %d, want 1", res.Proposed)
		}
	})
}

// TestTickReusesBuild: a tick with nothing changed schedules from the last
// build; a change anywhere in the planner's inputs (a host's owner here)
// or an exception expiring makes the next tick rebuild.
func TestTickReusesBuild(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := setup(t, s)
		now := time.Now()
		p := planner.New(s, planner.Options{Holder: "a", Now: func() time.Time { return now }})
		tick := func() planner.Result {
			t.Helper()
			res, err := p.Tick(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		if res := tick(); !res.Rebuilt || res.Queue != 4 {
			t.Fatalf("first tick = %+v; want a build of 4 entries", res)
		}
		if res := tick(); res.Rebuilt || res.Queue != 4 {
			t.Fatalf("tick with nothing changed = %+v; want the last build reused", res)
		}
		owner := "team-c"
		if _, err := s.UpdateHost(ctx, "user:admin", f.ids["web1"], store.HostUpdate{Owner: &owner}); err != nil {
			t.Fatal(err)
		}
		if res := tick(); !res.Rebuilt {
			t.Fatalf("tick after a host changed owner = %+v; want a rebuild", res)
		}
		if rep, _ := s.SLAReport(ctx); len(rep) != 2 || (rep[0].Owner != "team-c" && rep[1].Owner != "team-c") {
			t.Fatalf("SLA report after the rebuild = %+v; want team-c", rep)
		}
		// A check-in that changes only what a planner reads of the facts
		// (the time zone: host-local windows move) is written without an
		// audit entry; the stamp still sees it.
		hs, facts := f.session("web1")
		facts.TimeZone = "America/New_York"
		if _, err := s.CheckIn(ctx, hs, facts, strings.Repeat("0", 64)); err != nil {
			t.Fatal(err)
		}
		if res := tick(); !res.Rebuilt {
			t.Fatalf("tick after a host's time zone changed = %+v; want a rebuild", res)
		}
		if _, err := s.CheckIn(ctx, hs, facts, strings.Repeat("0", 64)); err != nil {
			t.Fatal(err)
		}
		if res := tick(); res.Rebuilt {
			t.Fatalf("tick after the same facts again = %+v; want the last build reused", res)
		}
		now = now.Add(11 * time.Minute)
		if res := tick(); !res.Rebuilt {
			t.Fatalf("tick 11 minutes later = %+v; want a rebuild (SLA states age)", res)
		}
	})
}

// TestScheduleAfterReenable: a policy disabled for weeks and enabled again
// reports no windows missed while it was off, and acts on the next one.
func TestScheduleAfterReenable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		setup(t, s)
		sat := nextSaturday(t, 2, 30)
		pol := patchbay.Policy{Name: "prod critical", Enabled: true, Priority: 10,
			Selector: patchbay.Selector{Labels: []string{"prod"}},
			Updates:  patchbay.UpdateRule{Classes: []string{"critical"}},
			Windows:  []patchbay.WindowSpec{{Cron: "0 2 * * 6", Duration: "3h", Zone: "Europe/Berlin"}},
			Rings:    []patchbay.RingSpec{{Name: "all"}}, Reboot: patchbay.RebootRule{Mode: patchbay.RebootIfRequired},
			SLA: patchbay.SLADays{Critical: 7, High: 14, Medium: 30, Low: 90, Unknown: 30}}
		// The first pass's mark is an hour ago: before the versions made
		// below with the store's real clock.
		clock := time.Now().Add(-time.Hour)
		p, err := s.CreatePolicy(ctx, "user:op", 1, pol)
		if err != nil {
			t.Fatal(err)
		}
		pass := func(now time.Time) planner.Result {
			t.Helper()
			res, err := planner.New(s, planner.Options{Holder: "a", Now: func() time.Time { return now }}).Pass(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		pass(clock)
		off := pol
		off.Enabled = false
		if _, err := s.UpdatePolicy(ctx, "user:op", 1, p.ID, 1, off); err != nil {
			t.Fatal(err)
		}
		// Three weeks off; enabled again (a new version) in the fourth
		// week's window: nothing was missed, and that window is acted on.
		if _, err := s.UpdatePolicy(ctx, "user:op", 1, p.ID, 2, pol); err != nil {
			t.Fatal(err)
		}
		if res := pass(sat.AddDate(0, 0, 21)); res.Missed != 0 || res.Proposed != 1 {
			t.Fatalf("after re-enabling: %+v; want nothing missed and one proposal", res)
		}
	})
}

// openNowPolicy stores a policy taking every update of every host, in a
// daily window that opened five minutes before now.
func openNowPolicy(t *testing.T, s *store.Store, now time.Time) {
	t.Helper()
	opened := now.Add(-5 * time.Minute)
	pol := patchbay.Policy{Name: "everything now", Enabled: true, Priority: 10,
		Windows: []patchbay.WindowSpec{{Cron: fmt.Sprintf("%d %d * * *", opened.Minute(), opened.Hour()), Duration: "2h", Zone: "UTC"}},
		Rings:   []patchbay.RingSpec{{Name: "all"}}, Reboot: patchbay.RebootRule{Mode: patchbay.RebootNever},
		SLA: patchbay.DefaultSLA()}
	if _, err := s.CreatePolicy(context.Background(), "user:op", 1, pol); err != nil {
		t.Fatal(err)
	}
}

// TestProposalsWaitForTheMatcher: a host whose inventory the matcher has
// not evaluated yet (new, or its server killed first) has no updates in
// the plan; a window proposed then left it out for good (proposals are
// made once a window). Proposals wait for the matcher, at most
// maxMatchWait.
func TestProposalsWaitForTheMatcher(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := setup(t, s)
		now := time.Now().UTC()
		openNowPolicy(t, s, now)
		f.host("new1", "team-a", patchbay.CriticalityLow, nil, []protocol.Package{openssl, curl}, []protocol.Update{opensslUp, curlUp})
		p := planner.New(s, planner.Options{Holder: "a", Now: func() time.Time { return now }})
		pass := func() planner.Result {
			t.Helper()
			res, err := p.Pass(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		if res := pass(); res.Proposed != 0 {
			t.Fatalf("a host not matched yet: proposed %d, want the proposal to wait", res.Proposed)
		}
		if _, err := matcher.New(s, matcher.Options{Holder: "test"}).Sync(ctx); err != nil {
			t.Fatal(err)
		}
		now = now.Add(10 * time.Second)
		if res := pass(); res.Proposed != 1 {
			t.Fatalf("once matched: proposed %d, want 1", res.Proposed)
		}
		ds, err := s.Deployments(ctx, patchbay.DeploymentFilter{})
		if err != nil || len(ds) != 1 || ds[0].HostCount != 3 {
			t.Fatalf("deployments %+v, %v; want one of all 3 hosts", ds, err)
		}
	})
}

// TestProposalsWaitBounded: a matcher that never catches up holds the
// proposals back for maxMatchWait, no longer.
func TestProposalsWaitBounded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := setup(t, s)
		now := time.Now().UTC()
		openNowPolicy(t, s, now)
		f.host("new1", "team-a", patchbay.CriticalityLow, nil, []protocol.Package{openssl}, []protocol.Update{opensslUp})
		p := planner.New(s, planner.Options{Holder: "a", Now: func() time.Time { return now }})
		start := now
		for _, tc := range []struct {
			at   time.Duration
			want int
		}{{0, 0}, {time.Minute, 0}, {3 * time.Minute, 1}} {
			now = start.Add(tc.at)
			res, err := p.Pass(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if res.Proposed != tc.want {
				t.Fatalf("%s after finding a host unmatched: proposed %d, want %d", tc.at, res.Proposed, tc.want)
			}
		}
	})
}
