// Command matcher measures the fleet side of matching (issue 4's figures):
// a store holding a simulated fleet of N hosts and the advisories of an OSV
// directory (bench/osvgen makes 50,000). It times importing the records, a
// full evaluation of every host, a new advisory reflected in the findings,
// and "hosts affected by CVE-X", and prints one line per figure.
//
//	go run ./bench/osvgen -seed 1 -n 50000 -out /tmp/osv50k
//	go run ./bench/matcher -hosts 10000 -feed /tmp/osv50k [-database postgres://…]
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
	"github.com/patchbay/patchbay/internal/feedload"
	"github.com/patchbay/patchbay/internal/matcher"
	"github.com/patchbay/patchbay/internal/osv"
	"github.com/patchbay/patchbay/internal/store"
)

func main() {
	hosts := flag.Int("hosts", 10000, "hosts in the simulated fleet")
	feedDir := flag.String("feed", "", "OSV records to import (a directory or zip)")
	database := flag.String("database", "", "postgres://… (default: SQLite in a temporary directory)")
	seed := flag.Uint64("seed", 1, "fleet seed")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the full evaluation to this file")
	flag.Parse()
	if *feedDir == "" {
		log.Fatal("-feed is required (go run ./bench/osvgen -n 50000 -out DIR)")
	}
	ctx := context.Background()
	st, loc, closeStore, err := benchfleet.OpenStore(ctx, *database, "matcher")
	if err != nil {
		log.Fatal(err)
	}
	defer closeStore()
	fmt.Printf("machine: %d CPUs, %s; store %s\n", runtime.NumCPU(), runtime.Version(), loc)

	t := time.Now()
	if _, err := benchfleet.Enroll(ctx, st, *seed, *hosts); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("fleet: %d hosts enrolled with their inventories in %.1f s (setup)\n", *hosts, time.Since(t).Seconds())

	t = time.Now()
	b, err := feedload.LoadPath(ctx, *feedDir)
	if err != nil {
		log.Fatal(err)
	}
	parsed := time.Since(t)
	sum, err := st.ImportAdvisories(ctx, "bench", store.AdvisoryImport{Source: *feedDir, Kind: string(b.Kind), Records: b.Records, Problems: len(b.Problems)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("import: %d records (%d problems) parsed in %.2f s, stored in %.2f s: %.2f s in all (target ≤ 15 s)\n",
		sum.Added, len(b.Problems), parsed.Seconds(), (time.Since(t) - parsed).Seconds(), time.Since(t).Seconds())

	m := matcher.New(st, matcher.Options{})
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
	}
	t = time.Now()
	full, err := m.Sync(ctx)
	if err != nil {
		log.Fatal(err)
	}
	pprof.StopCPUProfile()
	fmt.Printf("full evaluation: %d hosts, %d distinct keys evaluated, %d findings in %.2f s (target ≤ 10 s)\n",
		full.Hosts, full.KeysEvaluated, full.Opened, time.Since(t).Seconds())

	// A new advisory naming a package most hosts have: the time from its
	// import to the findings that show it.
	var times []time.Duration
	var last matcher.Stats
	for i := range 5 {
		rec, err := osv.Parse(fmt.Appendf(nil, `{"id":"PBBENCH-NEW-%d","modified":"2026-12-0%dT00:00:00Z","aliases":["CVE-2026-99%03d"],
			"affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"9:0"}]}]}]}`, i, i+1, i))
		if err != nil {
			log.Fatal(err)
		}
		t = time.Now()
		if _, err := st.ImportAdvisories(ctx, "bench", store.AdvisoryImport{Source: "new", Kind: "osv", Records: []*osv.Record{rec}}); err != nil {
			log.Fatal(err)
		}
		if last, err = m.Sync(ctx); err != nil {
			log.Fatal(err)
		}
		times = append(times, time.Since(t))
	}
	fmt.Printf("new advisory: imported and reflected in the findings (%d keys evaluated, %d findings opened): median %.0f ms of 5 (target ≤ 1 s)\n",
		last.KeysEvaluated, last.Opened, benchfleet.MS(benchfleet.Median(times)))

	times = times[:0]
	var affected []int64
	for range 21 {
		t = time.Now()
		if affected, err = st.HostsAffectedBy(ctx, "CVE-2026-99000"); err != nil {
			log.Fatal(err)
		}
		times = append(times, time.Since(t))
	}
	fmt.Printf("hosts affected by CVE-2026-99000: %d hosts, median %.1f ms of 21 (target ≤ 100 ms)\n", len(affected), benchfleet.MS(benchfleet.Median(times)))

	t = time.Now()
	advs, err := st.Advisories(ctx, patchbay.AdvisoryFilter{Limit: 100})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("vulns ls (first page of %d advisories with open findings, with host counts): %.0f ms\n", len(advs), benchfleet.MS(time.Since(t)))
}
