// Command rollout measures issue 6's figures on a simulated fleet stored in
// SQLite: how fast the store hands out jobs and takes their results from
// many goroutines (ClaimJobs, RecordJobResult), how soon a 3-ring
// deployment halts once a ring fails past its threshold (the rollout
// controller running as in the server, the fleet polling on a check-in
// interval), and how soon a long-polling agent receives a job once it is
// due, through the real HTTP handler. It prints one line per figure.
//
//	go run ./bench/rollout -hosts 10000
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/bench/internal/benchfleet"
	"github.com/patchbay/patchbay/internal/fleet"
	"github.com/patchbay/patchbay/internal/policy"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/rollout"
	"github.com/patchbay/patchbay/internal/sim"
	"github.com/patchbay/patchbay/internal/store"
)

func main() {
	hosts := flag.Int("hosts", 10000, "hosts in the simulated fleet")
	database := flag.String("database", "", "postgres://… (default: SQLite in a temporary directory)")
	seed := flag.Uint64("seed", 1, "fleet and package manager seed")
	workers := flag.Int("workers", 32, "goroutines claiming and reporting jobs, as concurrent agent requests")
	interval := flag.Duration("interval", 10*time.Second, "the simulated fleet's check-in interval in the halt figure")
	trials := flag.Int("trials", 21, "trials of the pickup latency")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the throughput figure to this file")
	flag.Parse()
	ctx := context.Background()
	st, loc, closeStore, err := benchfleet.OpenStore(ctx, *database, "rollout")
	if err != nil {
		log.Fatal(err)
	}
	defer closeStore()
	fmt.Printf("machine: %d CPUs, %s; store %s\n", runtime.NumCPU(), runtime.Version(), loc)

	t := time.Now()
	b, err := newBench(ctx, st, *seed, *hosts, *workers)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("setup: %d hosts enrolled with their inventories, %d updates planned, in %.1f s\n", *hosts, b.updates, time.Since(t).Seconds())

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
	}
	if err := b.throughput(); err != nil {
		log.Fatal(err)
	}
	pprof.StopCPUProfile()
	if err := b.halt(*interval); err != nil {
		log.Fatal(err)
	}
	if err := b.pickup(*trials); err != nil {
		log.Fatal(err)
	}
}

// bench is the stored fleet and what the figures share.
type bench struct {
	ctx     context.Context
	st      *store.Store
	seed    uint64
	workers int
	ids     []int64                    // host ids in fleet order
	index   map[int64]int              // host id → fleet index
	images  []string                   // image name by fleet index
	planned [][]patchbay.PlannedUpdate // each host's updates, by fleet index
	updates int
}

func newBench(ctx context.Context, st *store.Store, seed uint64, n, workers int) (*bench, error) {
	ids, err := benchfleet.Enroll(ctx, st, seed, n)
	if err != nil {
		return nil, err
	}
	fl, err := fleet.NewFleet(seed, n, fleet.Options{})
	if err != nil {
		return nil, err
	}
	b := &bench{ctx: ctx, st: st, seed: seed, workers: workers, ids: ids, index: map[int64]int{}, images: make([]string, n),
		planned: make([][]patchbay.PlannedUpdate, n)}
	for i, id := range ids {
		b.index[id] = i
		b.images[i] = fl.Host(i).Image.Name
		for _, u := range fl.Inventory(i).Updates {
			b.planned[i] = append(b.planned[i], patchbay.PlannedUpdate{Ecosystem: u.Ecosystem, Name: u.Name, Arch: u.Arch,
				FromVersion: u.FromVersion, ToVersion: u.ToVersion, Class: "security"})
		}
		b.updates += len(b.planned[i])
	}
	return b, nil
}

// openWindow is a daily window that opened five minutes ago and lasts six
// hours: the whole run is inside it.
func openWindow() []patchbay.WindowSpec {
	opened := time.Now().UTC().Add(-5 * time.Minute)
	return []patchbay.WindowSpec{{Cron: fmt.Sprintf("%d %d * * *", opened.Minute(), opened.Hour()), Duration: "6h", Zone: "UTC"}}
}

// deploy stores an approved deployment of every host's updates in three
// rings (100 hosts, 10%, the rest; 5% threshold each; automatic rollback)
// and returns its id and each host's ring, by fleet index.
func (b *bench) deploy(name string) (int64, []int, error) {
	hosts := make([]*patchbay.Host, len(b.ids))
	for i, id := range b.ids {
		hosts[i] = &patchbay.Host{ID: id}
	}
	specs := []patchbay.RingSpec{{Name: "pilot", Count: 100, FailureThreshold: "5%"}, {Name: "early", Percent: 10, FailureThreshold: "5%"},
		{Name: "rest", FailureThreshold: "5%"}}
	ringOf, rings := policy.AssignRings(specs, hosts)
	d := &patchbay.Deployment{Name: name, State: patchbay.DeploymentApproved, Reason: patchbay.ReasonApproved, AutoRollback: true,
		Windows: openWindow(), Rings: rings, Reboot: patchbay.RebootRule{Mode: patchbay.RebootIfRequired}}
	for i, id := range b.ids {
		d.Hosts = append(d.Hosts, patchbay.DeploymentHost{HostID: id, Ring: ringOf[i], Updates: b.planned[i]})
	}
	if err := b.st.CreateDeployment(b.ctx, "user:bench", d); err != nil {
		return 0, nil, err
	}
	return d.ID, ringOf, nil
}

// may is the server's rule for whether a due job may start
// (rollout.MayStart) at the wall clock.
func may(c store.JobCandidate) (time.Time, bool) {
	startBy, ok, err := rollout.MayStart(c, time.Now())
	return startBy, ok && err == nil
}

// result is what host's agent reports for job, from the simulated package
// manager pm: its packages are at the versions the updates start from.
func (b *bench) result(pm *sim.PackageManager, host int64, job protocol.Job) protocol.JobResult {
	i := b.index[host]
	from := make(map[[2]string]string, len(b.planned[i]))
	for _, u := range b.planned[i] {
		from[[2]string{u.Name, u.Arch}] = u.FromVersion
	}
	return pm.Run(i, b.images[i], job, func(name, arch string) string { return from[[2]string{name, arch}] }, time.Now()).Result
}

// parallel calls f(0..n-1) from b.workers goroutines and returns the first
// error.
func (b *bench) parallel(n int, f func(i int) error) error {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	next := make(chan int)
	for range b.workers {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// perSecond is n over d.
func perSecond(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }
