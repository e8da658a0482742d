// Command planner measures issue 5's figures on a simulated fleet: N hosts
// of the simulated fleet with owners, criticalities and labels, the real
// Debian security tracker's DSA and DLA lists and CISA's KEV catalog
// (embedded in internal/demodata), 20 policies, and the planner's work
// queue. It times the planner's pass (reading, building, storing), policy
// evaluation for every host and policy, and the queue's first page sorted
// by risk, and prints one line per figure.
//
//	go run ./bench/planner -hosts 10000 [-database postgres://…]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/bench/internal/benchfleet"
	"github.com/patchbay/patchbay/internal/demodata"
	"github.com/patchbay/patchbay/internal/feedload"
	"github.com/patchbay/patchbay/internal/feedsync"
	"github.com/patchbay/patchbay/internal/matcher"
	"github.com/patchbay/patchbay/internal/planner"
	"github.com/patchbay/patchbay/internal/policy"
	"github.com/patchbay/patchbay/internal/store"
)

func main() {
	hosts := flag.Int("hosts", 10000, "hosts in the simulated fleet")
	database := flag.String("database", "", "postgres://… (default: SQLite in a temporary directory)")
	seed := flag.Uint64("seed", 1, "fleet seed")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the queue's build to this file")
	flag.Parse()
	ctx := context.Background()
	st, loc, closeStore, err := benchfleet.OpenStore(ctx, *database, "planner")
	if err != nil {
		log.Fatal(err)
	}
	defer closeStore()
	fmt.Printf("machine: %d CPUs, %s; store %s\n", runtime.NumCPU(), runtime.Version(), loc)

	t := time.Now()
	ids, err := benchfleet.Enroll(ctx, st, *seed, *hosts)
	if err != nil {
		log.Fatal(err)
	}
	if err := describeHosts(ctx, st, ids); err != nil {
		log.Fatal(err)
	}
	if err := importFeeds(ctx, st); err != nil {
		log.Fatal(err)
	}
	if _, err := matcher.New(st, matcher.Options{}).Sync(ctx); err != nil {
		log.Fatal(err)
	}
	now := time.Now()
	if err := createPolicies(ctx, st, now); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("setup: %d hosts with owners, criticalities and labels, DSA+DLA+KEV imported and matched, 20 policies in %.1f s\n",
		*hosts, time.Since(t).Seconds())

	// The planner's pass in its parts, then whole.
	t = time.Now()
	data, err := st.LoadPlanData(ctx)
	if err != nil {
		log.Fatal(err)
	}
	loaded := time.Since(t)
	findings := 0
	for _, fs := range data.Findings {
		findings += len(fs)
	}
	ps, err := st.Policies(ctx, patchbay.PolicyFilter{})
	if err != nil {
		log.Fatal(err)
	}
	var compiled []*policy.Compiled
	for _, p := range ps {
		c, err := policy.Compile(p)
		if err != nil {
			log.Fatal(err)
		}
		compiled = append(compiled, c)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
	}
	t = time.Now()
	q := planner.Build(data, compiled, nil, now)
	built := time.Since(t)
	pprof.StopCPUProfile()
	t = time.Now()
	written, _, err := st.ReplaceQueue(ctx, nil, q.Rows, q.SLA)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("planner, first pass: %d hosts, %d open findings, %d queue entries: read %.2f s, build %.2f s, store %.2f s (%d rows)\n",
		len(data.Hosts), findings, len(q.Rows), loaded.Seconds(), built.Seconds(), time.Since(t).Seconds(), written)

	// Policy evaluation: every host governed, every candidate judged, the
	// proposals of windows open now.
	hs := make([]*patchbay.Host, len(data.Hosts))
	for i := range data.Hosts {
		hs[i] = &data.Hosts[i]
	}
	var times []time.Duration
	var proposals []policy.Proposal
	for range 5 {
		t = time.Now()
		proposals = policy.Evaluate(compiled, hs, q.Candidates, now)
		times = append(times, time.Since(t))
	}
	planned := 0
	for _, p := range proposals {
		for _, h := range p.Hosts {
			planned += len(h.Updates)
		}
	}
	fmt.Printf("policy evaluation: %d hosts × %d policies, %d open findings, %d candidates: %d proposals of %d updates, median %.0f ms of 5 (target ≤ 1 s)\n",
		len(hs), len(compiled), findings, len(q.Rows), len(proposals), planned, benchfleet.MS(benchfleet.Median(times)))

	times = times[:0]
	var res planner.Result
	pl := planner.New(st, planner.Options{Holder: "bench", Now: func() time.Time { return now }})
	for range 3 {
		t = time.Now()
		if res, err = pl.Pass(ctx); err != nil {
			log.Fatal(err)
		}
		times = append(times, time.Since(t))
	}
	fmt.Printf("planner pass, nothing changed (read, build, compare, schedule): %d rows written, median %.2f s of 3\n",
		res.Written, benchfleet.Median(times).Seconds())
	times = times[:0]
	for range 5 {
		t = time.Now()
		if res, err = pl.Tick(ctx); err != nil {
			log.Fatal(err)
		}
		times = append(times, time.Since(t))
	}
	fmt.Printf("planner tick, nothing changed (stamp, windows from the last build): rebuilt %v, median %.0f ms of 5\n",
		res.Rebuilt, benchfleet.MS(benchfleet.Median(times)))

	// A day later every age turns: most rows' scores and SLA states change.
	now = now.Add(24 * time.Hour)
	t = time.Now()
	if res, err = pl.Pass(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("planner pass a day later (ages turn): %d rows written, %d deleted, %.2f s\n", res.Written, res.Deleted, time.Since(t).Seconds())

	queueFigure(ctx, st, "work queue first page (100 by risk)", patchbay.UpdateFilter{Limit: 100})
	queueFigure(ctx, st, "work queue first page, class critical", patchbay.UpdateFilter{Limit: 100, Classes: []string{"critical"}})
	queueFigure(ctx, st, "work queue first page, one owner", patchbay.UpdateFilter{Limit: 100, Owner: "team-3"})
	times = times[:0]
	for range 21 {
		t = time.Now()
		if _, err := st.SLAReport(ctx); err != nil {
			log.Fatal(err)
		}
		times = append(times, time.Since(t))
	}
	fmt.Printf("SLA report by owner: median %.1f ms of 21\n", benchfleet.MS(benchfleet.Median(times)))
}

// queueFigure times the first page of the queue under f.
func queueFigure(ctx context.Context, st *store.Store, what string, f patchbay.UpdateFilter) {
	var times []time.Duration
	var n int
	for range 21 {
		t := time.Now()
		items, _, err := st.Queue(ctx, f)
		if err != nil {
			log.Fatal(err)
		}
		times = append(times, time.Since(t))
		n = len(items)
	}
	fmt.Printf("%s: %d entries, median %.1f ms of 21 (target ≤ 200 ms)\n", what, n, benchfleet.MS(benchfleet.Median(times)))
}

// describeHosts gives the fleet owners (ten teams), criticalities and
// labels: a tenth prod and internet-facing, a twentieth canary.
func describeHosts(ctx context.Context, st *store.Store, ids []int64) error {
	crits := []patchbay.Criticality{patchbay.CriticalityLow, patchbay.CriticalityMedium, patchbay.CriticalityHigh, patchbay.CriticalityCritical}
	for i, id := range ids {
		owner := fmt.Sprintf("team-%d", i%10)
		crit := crits[i%len(crits)]
		labels := []string{"test"}
		switch {
		case i%20 == 0:
			labels = []string{"canary", "prod"}
		case i%10 == 1:
			labels = []string{"internet-facing", "prod"}
		case i%3 == 0:
			labels = []string{"prod"}
		}
		if _, err := st.UpdateHost(ctx, "bench", id, store.HostUpdate{Owner: &owner, Criticality: &crit, Labels: &labels}); err != nil {
			return err
		}
	}
	return nil
}

// importFeeds imports the embedded DSA and DLA lists and KEV catalog.
func importFeeds(ctx context.Context, st *store.Store) error {
	for _, name := range []string{"debian-tracker/DSA/list", "debian-tracker/DLA/list"} {
		data, err := demodata.DebianTracker.ReadFile(name)
		if err != nil {
			return err
		}
		if err := importBytes(ctx, st, name, data); err != nil {
			return err
		}
	}
	data, err := demodata.KEV.ReadFile("kev/known_exploited_vulnerabilities.json")
	if err != nil {
		return err
	}
	return importBytes(ctx, st, "kev.json", data)
}

func importBytes(ctx context.Context, st *store.Store, name string, data []byte) error {
	b, err := feedload.LoadBytes(ctx, name, data)
	if err != nil {
		return err
	}
	_, err = feedsync.Import(ctx, st, "bench", b)
	return err
}

// createPolicies stores 20 policies over the ten teams: per team a prod
// policy (critical and security, higher priority, approval required, a
// window open now) and a catch-all (everything, auto-approved, deferred a
// week, in each host's zone), with canary pilot rings.
func createPolicies(ctx context.Context, st *store.Store, now time.Time) error {
	opened := now.UTC().Add(-5 * time.Minute)
	openNow := patchbay.WindowSpec{Cron: fmt.Sprintf("%d %d * * *", opened.Minute(), opened.Hour()), Duration: "3h", Zone: "UTC"}
	rings := []patchbay.RingSpec{{Name: "pilot", Label: "canary"}, {Name: "early", Percent: 10, FailureThreshold: "5%"}, {Name: "rest"}}
	for team := range 10 {
		owner := fmt.Sprintf("team-%d", team)
		prod := patchbay.Policy{Name: owner + " prod", Enabled: true, Priority: 100 + team,
			Selector: patchbay.Selector{Owners: []string{owner}, Labels: []string{"prod"}},
			Updates:  patchbay.UpdateRule{Classes: []string{"critical", "security"}},
			Windows:  []patchbay.WindowSpec{openNow, {Cron: "0 2 * * 6", Duration: "3h", Zone: "Europe/Berlin"}},
			Rings:    rings, SLA: patchbay.SLADays{Critical: 7, High: 14, Medium: 30, Low: 90, Unknown: 30}}
		rest := patchbay.Policy{Name: owner + " all", Enabled: true, Priority: team,
			Selector:     patchbay.Selector{Owners: []string{owner}},
			AutoApprove:  &patchbay.UpdateRule{Exclude: []string{"linux-image-*"}},
			DeferralDays: 7,
			Windows:      []patchbay.WindowSpec{openNow, {Cron: "0 22 * * 1-5", Duration: "4h", Zone: "host"}},
			Rings:        rings, SLA: patchbay.SLADays{Critical: 14, High: 30, Medium: 60, Low: 120, Unknown: 60}}
		for _, p := range []patchbay.Policy{prod, rest} {
			policy.Normalize(&p)
			if err := policy.Validate(p); err != nil {
				return fmt.Errorf("policy %s: %w", p.Name, err)
			}
			if _, err := st.CreatePolicy(ctx, "bench", 1, p); err != nil {
				return err
			}
		}
	}
	return nil
}
