package sim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/protocol"
)

// A host with Config.Jobs runs its due jobs at each turn, after its
// check-in, the way internal/agent does: it asks for them without waiting
// (a long poll per host would cost each a file descriptor, and a process
// here has 20,000), journals each result before reporting it, and sends
// again, before it asks for more, whatever the server did not take. Once
// the server has a result the host forgets it, as the agent does, but
// remembers the (id, attempt): a job handed again under one it already ran
// is never run twice (its result is sent again while the host still has
// it; after that, the server handing it again is an error). The package
// versions its jobs installed lie over the fleet's inventory, so the
// host's next check-in reports them.

// pkgKey names an installed package.
type pkgKey struct{ name, arch string }

// jobKey names one attempt of a job.
type jobKey struct {
	id      int64
	attempt int
}

// ran is a journalled job: its result until the server has it.
type ran struct {
	result    protocol.JobResult
	delivered bool
}

// hostJobs is what jobs did to a host.
type hostJobs struct {
	installed map[pkgKey]string // versions its jobs installed
	changes   int               // bumped whenever installed changes
	boot      time.Time         // its last simulated reboot
	journal   map[jobKey]*ran
	pending   []jobKey // journalled and not yet delivered, in the order run
}

// JobRun is one job a simulated host ran, as Config.OnJob sees it.
type JobRun struct {
	Host   int // fleet index
	Job    protocol.Job
	Result protocol.JobResult
}

// jobs is a host's job turn: deliver what an earlier turn could not, then
// take the due jobs, run them and report them. A turn the server cannot
// answer ends early; the next one carries on.
func (cfg *Config) jobs(ctx context.Context, h *host, c *client.Client, stats *Stats) {
	j := &h.jobs
	if !cfg.flush(ctx, h, c, stats) {
		return
	}
	res, err := c.PollJobs(ctx, 0)
	if err != nil {
		cfg.fail(stats, fmt.Errorf("poll jobs of host %d: %w", h.i, err))
		return
	}
	stats.Polls.Add(1)
	for _, job := range res.Jobs {
		k := jobKey{job.ID, job.Attempt}
		if r, ok := j.journal[k]; ok {
			// Handed again: never run twice.
			stats.JobsRepeated.Add(1)
			if r.delivered {
				cfg.fail(stats, fmt.Errorf("host %d: job %d attempt %d handed out again after the server took its result; not run again",
					h.i, k.id, k.attempt))
			}
			continue // still pending: flush sends it
		}
		cfg.run(ctx, h, job, stats)
		j.pending = append(j.pending, k)
	}
	cfg.flush(ctx, h, c, stats)
}

// flush delivers the host's journalled results in order, stopping at the
// first the server could not take.
func (cfg *Config) flush(ctx context.Context, h *host, c *client.Client, stats *Stats) bool {
	j := &h.jobs
	for len(j.pending) > 0 {
		if !cfg.deliver(ctx, h, c, j.pending[0], stats) {
			return false
		}
		j.pending = j.pending[1:]
	}
	return true
}

// run runs job with the simulated package manager and journals its
// result; the versions it installed lie over the host's inventory from now.
func (cfg *Config) run(ctx context.Context, h *host, job protocol.Job, stats *Stats) {
	j := &h.jobs
	var inv map[pkgKey]string
	installed := func(name, arch string) string {
		if v, ok := j.installed[pkgKey{name, arch}]; ok {
			return v
		}
		if inv == nil {
			i := cfg.Fleet.InventoryAt(h.i, cfg.Fleet.Generation(h.i))
			inv = make(map[pkgKey]string, len(i.Packages))
			for _, p := range i.Packages {
				inv[pkgKey{p.Name, p.Arch}] = p.Version
			}
		}
		return inv[pkgKey{name, arch}]
	}
	out := cfg.Jobs.Run(h.i, cfg.Fleet.Host(h.i).Image.Name, job, installed, cfg.Now())
	if out.Wait > 0 {
		t := time.NewTimer(out.Wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	if len(out.Installed) > 0 {
		if j.installed == nil {
			j.installed = map[pkgKey]string{}
		}
		for _, p := range out.Installed {
			j.installed[pkgKey{p.Name, p.Arch}] = p.Version
		}
		j.changes++
	}
	r := out.Result
	if r.Rebooted {
		j.boot = *r.BootTime
		stats.Reboots.Add(1)
	}
	if j.journal == nil {
		j.journal = map[jobKey]*ran{}
	}
	j.journal[jobKey{job.ID, job.Attempt}] = &ran{result: r}
	stats.JobsRun.Add(1)
	switch {
	case r.Status == protocol.JobFailed:
		stats.JobsFailed.Add(1)
	case r.Status == protocol.JobRefused:
		stats.JobsRefused.Add(1)
	case job.Kind == protocol.JobRollback:
		stats.RolledBack.Add(1)
	}
	if cfg.OnJob != nil {
		cfg.OnJob(JobRun{Host: h.i, Job: job, Result: r})
	}
}

// deliver reports the journalled result k. It reports whether the host is
// done with it: the server took it, or refused it for good (a job gone, a
// malformed result: sending it again would fail forever).
func (cfg *Config) deliver(ctx context.Context, h *host, c *client.Client, k jobKey, stats *Stats) bool {
	r := h.jobs.journal[k]
	_, err := c.ReportJob(ctx, k.id, r.result)
	if err != nil {
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status >= 500 || ce.Status == http.StatusTooManyRequests || ce.Status == http.StatusUnauthorized {
			cfg.fail(stats, fmt.Errorf("report job %d of host %d: %w", k.id, h.i, err))
			return false
		}
		cfg.fail(stats, fmt.Errorf("report job %d of host %d: refused for good: %w", k.id, h.i, err))
	} else {
		stats.Reports.Add(1)
	}
	r.delivered, r.result = true, protocol.JobResult{}
	return true
}

// inventory returns host h's inventory at generation gen with the versions
// its jobs installed laid over it: those packages at their new versions,
// and the updates they took gone.
func (cfg *Config) inventory(h *host, gen int) protocol.Inventory {
	inv := cfg.Fleet.InventoryAt(h.i, gen)
	over := h.jobs.installed
	if len(over) == 0 {
		return inv
	}
	source := map[pkgKey]string{}
	ups := inv.Updates[:0]
	for _, u := range inv.Updates {
		k := pkgKey{u.Name, u.Arch}
		if v, ok := over[k]; ok {
			if v == u.ToVersion {
				source[k] = u.SourceVersion
				continue
			}
			u.FromVersion = v
		}
		ups = append(ups, u)
	}
	inv.Updates = ups
	for i := range inv.Packages {
		p := &inv.Packages[i]
		k := pkgKey{p.Name, p.Arch}
		if v, ok := over[k]; ok && v != p.Version {
			p.Version = v
			if sv := source[k]; sv != "" {
				p.SourceVersion = sv
			}
		}
	}
	inv.Sort()
	inv.Hash = protocol.InventoryHash(inv)
	return inv
}
