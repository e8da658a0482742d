package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/fleet"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/rollout"
	"github.com/patchbay/patchbay/internal/sim"
	"github.com/patchbay/patchbay/internal/store"
)

// watchedStore is the store as the controller sees it, counting its passes
// (each takes the lease first) and telling of each stored transition.
type watchedStore struct {
	*store.Store
	passes  atomic.Int64
	applied func(store.RolloutChange)
}

func (w *watchedStore) TakeLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	w.passes.Add(1)
	return w.Store.TakeLease(ctx, name, holder, ttl)
}

func (w *watchedStore) ApplyRollout(ctx context.Context, c store.RolloutChange) error {
	err := w.Store.ApplyRollout(ctx, c)
	if err == nil {
		w.applied(c)
	}
	return err
}

// halt measures figure (b): the fleet polls for jobs once per check-in
// interval at its hosts' phases, the second ring's installs fail at 20%,
// and the controller runs as in the server (a pass every 2 s, and one
// after each result). It times the halt from the result that took the
// ring past its 5% threshold, counts the controller's passes in between,
// and checks that no host of the third ring was ever handed its install.
func (b *bench) halt(interval time.Duration) error {
	id, ringOf, err := b.deploy("halt")
	if err != nil {
		return err
	}
	ringSize := 0
	for _, r := range ringOf {
		if r == 1 {
			ringSize++
		}
	}
	pm := &sim.PackageManager{Seed: b.seed, DefaultFailRate: 0.2, FailHost: func(i int) bool { return ringOf[i] == 1 }}
	var (
		mu                        sync.Mutex
		crossed, halted           time.Time
		passesAtCross, passesHalt int64
		failures, startedBetween  atomic.Int64
		outside                   atomic.Int64
	)
	finished := make(chan patchbay.DeploymentState, 1)
	ws := &watchedStore{Store: b.st}
	ws.applied = func(c store.RolloutChange) {
		if c.ID != id {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if c.State == patchbay.DeploymentHalted && halted.IsZero() {
			halted, passesHalt = time.Now(), ws.passes.Load()
		}
		if !c.State.Active() {
			finished <- c.State
		}
	}
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	ctl := rollout.NewController(ws, rollout.Options{Holder: "bench-halt", Interval: 2 * time.Second})
	go ctl.Run(ctx)

	poll := func(i int) error {
		host := b.ids[i]
		jobs, err := b.st.ClaimJobs(ctx, host, time.Now(), protocol.MaxJobsPerPoll, may)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if j.Kind == protocol.JobInstall && j.DeploymentID == id {
				mu.Lock()
				between := !crossed.IsZero() && halted.IsZero()
				mu.Unlock()
				switch {
				case ringOf[i] == 2:
					outside.Add(1)
				case ringOf[i] == 1 && between:
					startedBetween.Add(1)
				}
			}
			r := b.result(pm, host, j)
			if _, err := b.st.RecordJobResult(ctx, host, j.ID, r); err != nil {
				return err
			}
			if j.Kind == protocol.JobInstall && ringOf[i] == 1 && r.Status == protocol.JobFailed {
				if n := failures.Add(1); n*100 > int64(5*ringSize) {
					mu.Lock()
					if crossed.IsZero() {
						crossed, passesAtCross = time.Now(), ws.passes.Load()
					}
					mu.Unlock()
				}
			}
			ctl.Nudge() // as the web handler does after a result
		}
		return nil
	}

	// Each host polls at its phase of every interval, as the simulated
	// fleet checks in.
	fl, err := fleet.NewFleet(b.seed, len(b.ids), fleet.Options{})
	if err != nil {
		return err
	}
	phase := make([]time.Duration, len(b.ids))
	order := make([]int, len(b.ids))
	for i := range order {
		order[i], phase[i] = i, time.Duration(fl.Host(i).Phase*float64(interval))
	}
	slices.SortFunc(order, func(a, c int) int { return int(phase[a] - phase[c]) })
	type turn struct {
		i   int
		due time.Time
	}
	work := make(chan turn, len(b.ids))
	errs := make(chan error, b.workers)
	var late atomic.Int64 // polls begun over a tenth of an interval after they were due
	var wg sync.WaitGroup
	for range b.workers {
		wg.Go(func() {
			for t := range work {
				if time.Since(t.due) > interval/10 {
					late.Add(1)
				}
				if err := poll(t.i); err != nil && ctx.Err() == nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	start := time.Now()
	var final patchbay.DeploymentState
rounds:
	for round := 0; round < 12; round++ {
		for _, i := range order {
			due := start.Add(time.Duration(round)*interval + phase[i])
			if wait := time.Until(due); wait > 0 {
				select {
				case final = <-finished:
					break rounds
				case err := <-errs:
					return err
				case <-time.After(wait):
				}
			}
			work <- turn{i, due}
		}
	}
	close(work)
	wg.Wait()
	cancel()
	if final != patchbay.DeploymentRolledBack {
		return fmt.Errorf("the deployment did not end rolled back within 12 intervals (%s)", final)
	}
	jobs, err := b.st.Jobs(b.ctx, id, patchbay.JobInstall)
	if err != nil {
		return err
	}
	handed := map[int]int{}
	for _, j := range jobs {
		if j.HandedAt != nil {
			handed[j.Ring]++
		}
	}
	rollbacks, err := b.st.Jobs(b.ctx, id, patchbay.JobRollback)
	if err != nil {
		return err
	}
	took := halted.Sub(crossed)
	fmt.Printf("halt: second ring (%d hosts) failing at 20%%, its 5%% threshold crossed at failure %d; halted %.0f ms later, %d controller pass(es) begun in between: %.4f of the %s check-in interval (target ≤ 1)\n",
		ringSize, ringSize*5/100+1, benchMS(took), passesHalt-passesAtCross, took.Seconds()/interval.Seconds(), interval)
	fmt.Printf("halt: %d second-ring hosts started between the crossing and the halt; installs handed out per ring %d / %d / %d: third ring %d of %d\n",
		startedBetween.Load(), handed[0], handed[1], handed[2], handed[2], len(b.ids)-ringSize-100)
	fmt.Printf("halt: %d second-ring installs failed, %d rolled back; deployment %s %.1f s after the fleet started; %d polls began over a tenth of an interval late\n",
		failures.Load(), len(rollbacks), final, time.Since(start).Seconds(), late.Load())
	if outside.Load() > 0 || handed[2] > 0 {
		return fmt.Errorf("a host outside the failing ring started")
	}
	return nil
}

// benchMS is d in milliseconds.
func benchMS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
