package main

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/rollout"
	"github.com/patchbay/patchbay/internal/sim"
)

// throughput measures figure (a) on a deployment that succeeds everywhere:
// the fetch jobs of every host claimed, then reported, each phase timed on
// its own; then the rings' install jobs claimed and reported host by host
// as agents do, the last ring timed; and a poll of every host once nothing
// is due.
func (b *bench) throughput() error {
	id, ringOf, err := b.deploy("throughput")
	if err != nil {
		return err
	}
	ctl := rollout.NewController(b.st, rollout.Options{Holder: "bench"})
	t := time.Now()
	if d, err := ctl.Step(b.ctx, id); err != nil || d.State != patchbay.DeploymentScheduled {
		return fmt.Errorf("schedule: %v, %v", d.State, err)
	}
	fmt.Printf("scheduling (made the fetch and install jobs of %d hosts in one transaction): %.2f s\n", len(b.ids), time.Since(t).Seconds())

	pm := &sim.PackageManager{Seed: b.seed}
	claimed := make([][]protocol.Job, len(b.ids))
	var handed atomic.Int64
	t = time.Now()
	err = b.parallel(len(b.ids), func(i int) error {
		jobs, err := b.st.ClaimJobs(b.ctx, b.ids[i], time.Now(), protocol.MaxJobsPerPoll, may)
		claimed[i] = jobs
		handed.Add(int64(len(jobs)))
		return err
	})
	claimTime := time.Since(t)
	if err != nil {
		return err
	}
	if int(handed.Load()) != len(b.ids) {
		return fmt.Errorf("%d fetch jobs handed out for %d hosts", handed.Load(), len(b.ids))
	}
	results := make([]protocol.JobResult, len(b.ids))
	for i, jobs := range claimed {
		results[i] = b.result(pm, b.ids[i], jobs[0])
	}
	t = time.Now()
	err = b.parallel(len(b.ids), func(i int) error {
		_, err := b.st.RecordJobResult(b.ctx, b.ids[i], claimed[i][0].ID, results[i])
		return err
	})
	resultTime := time.Since(t)
	if err != nil {
		return err
	}
	fmt.Printf("claims (ClaimJobs, %d goroutines): %d fetch jobs handed out in %.2f s: %.0f jobs/s (target ≥ 2,000)\n",
		b.workers, len(b.ids), claimTime.Seconds(), perSecond(len(b.ids), claimTime))
	fmt.Printf("results (RecordJobResult, %d goroutines): %d results stored in %.2f s: %.0f results/s\n",
		b.workers, len(b.ids), resultTime.Seconds(), perSecond(len(b.ids), resultTime))

	// The rings' installs, each host claiming and reporting in turn.
	var lastRing time.Duration
	var lastHosts int
	for ring := range 3 {
		d, err := ctl.Step(b.ctx, id)
		if err != nil || d.State != patchbay.DeploymentRunning || d.Current != ring {
			return fmt.Errorf("ring %d: the deployment is %s at ring %d (%v)", ring, d.State, d.Current, err)
		}
		var hosts []int64
		for i, r := range ringOf {
			if r == ring {
				hosts = append(hosts, b.ids[i])
			}
		}
		var n atomic.Int64
		t = time.Now()
		err = b.parallel(len(hosts), func(i int) error {
			jobs, err := b.st.ClaimJobs(b.ctx, hosts[i], time.Now(), protocol.MaxJobsPerPoll, may)
			for _, j := range jobs {
				if err == nil {
					_, err = b.st.RecordJobResult(b.ctx, hosts[i], j.ID, b.result(pm, hosts[i], j))
					n.Add(1)
				}
			}
			return err
		})
		lastRing, lastHosts = time.Since(t), len(hosts)
		if err != nil {
			return err
		}
		if int(n.Load()) != len(hosts) {
			return fmt.Errorf("ring %d: %d install jobs for %d hosts", ring, n.Load(), len(hosts))
		}
	}
	fmt.Printf("claim + result per host (installs of the last ring, %d goroutines): %d jobs in %.2f s: %.0f jobs/s (target ≥ 2,000)\n",
		b.workers, lastHosts, lastRing.Seconds(), perSecond(lastHosts, lastRing))
	if groups, requests := b.st.GroupStats(); groups > 0 {
		fmt.Printf("grouped commits: %d claims and results in %d commits (%.1f a commit)\n", requests, groups, float64(requests)/float64(groups))
	}
	if d, err := ctl.Step(b.ctx, id); err != nil || d.State != patchbay.DeploymentCompleted {
		return fmt.Errorf("after the last ring: %s (%v), want completed", d.State, err)
	}

	// Every host polls once more; nothing is due.
	t = time.Now()
	err = b.parallel(len(b.ids), func(i int) error {
		jobs, err := b.st.ClaimJobs(b.ctx, b.ids[i], time.Now(), protocol.MaxJobsPerPoll, may)
		if err == nil && len(jobs) > 0 {
			err = fmt.Errorf("host %d got %d jobs of a completed deployment", b.ids[i], len(jobs))
		}
		return err
	})
	idle := time.Since(t)
	if err != nil {
		return err
	}
	fmt.Printf("polls with nothing due (ClaimJobs, %d goroutines): %d in %.2f s: %.0f polls/s\n", b.workers, len(b.ids), idle.Seconds(),
		perSecond(len(b.ids), idle))
	return nil
}
