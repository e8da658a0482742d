// Package benchfleet holds what the fleet benchmarks share: enrolling a
// simulated fleet straight into a store, and medians.
package benchfleet

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/patchbay/patchbay/internal/fleet"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/store"
)

// Enroll stores n hosts of the simulated fleet of seed with their
// inventories, on twice as many goroutines as CPUs, and returns their ids
// in fleet order.
func Enroll(ctx context.Context, st *store.Store, seed uint64, n int) ([]int64, error) {
	fl, err := fleet.NewFleet(seed, n, fleet.Options{})
	if err != nil {
		return nil, err
	}
	_, secret, err := st.CreateEnrollSecret(ctx, "bench", store.NewEnrollSecret{Name: "bench"})
	if err != nil {
		return nil, err
	}
	ids := make([]int64, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range runtime.NumCPU() * 2 {
		wg.Go(func() {
			for i := range next {
				h := fl.Host(i)
				e, err := st.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: secret, Facts: h.FactsAt(time.Now())})
				if err != nil {
					errs <- err
					continue
				}
				ids[i] = e.HostID
				hs, err := st.AuthenticateHost(ctx, e.HostToken)
				if err == nil {
					err = st.PutInventory(ctx, hs, fl.Inventory(i))
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	return ids, <-errs
}

// Median returns the median of d.
func Median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// MS returns d in milliseconds.
func MS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// OpenStore opens the benchmark's store: PostgreSQL at database when set,
// SQLite in a new temporary directory otherwise. close closes it and
// removes the directory.
func OpenStore(ctx context.Context, database, name string) (st *store.Store, loc store.Location, close func(), err error) {
	dir, err := os.MkdirTemp("", "patchbay-"+name+"-bench-")
	if err != nil {
		return nil, loc, nil, err
	}
	loc = store.Location{Engine: store.SQLite, Path: filepath.Join(dir, "patchbay.db")}
	if database != "" {
		if loc, err = store.ParseLocation(database, dir); err != nil {
			os.RemoveAll(dir)
			return nil, loc, nil, err
		}
	}
	if st, err = store.Open(ctx, loc, store.Options{}); err != nil {
		os.RemoveAll(dir)
		return nil, loc, nil, err
	}
	return st, loc, func() { st.Close(); os.RemoveAll(dir) }, nil
}
