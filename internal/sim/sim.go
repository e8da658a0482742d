// Package sim runs a fleet of virtual agents against a real server: each
// host of an internal/fleet Fleet enrolls with a staggered start and checks
// in on an interval with its facts and inventory hash, uploading its
// inventory when the server asks, exactly as internal/agent does; with
// Config.Jobs it also runs its deployment jobs with a simulated package
// manager. It is the load generator of the benchmarks, the fleet of the
// demo and of the rollout kill tests. It talks to the server only through
// internal/client.
package sim

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/fleet"
	"github.com/patchbay/patchbay/internal/protocol"
)

// Config is a simulation.
type Config struct {
	Client *client.Client // without a token; hosts use their own
	Fleet  *fleet.Fleet
	// EnrollSecret enrolls every host. SecretFor, when set, overrides it per
	// host (the sim command makes one secret per label/group combination so
	// hosts get their labels and groups at enrollment).
	EnrollSecret string
	SecretFor    func(h fleet.Host) (string, error)
	// Interval between a host's check-ins; 0 checks in as fast as the
	// workers go (a throughput benchmark).
	Interval time.Duration
	// Ramp spreads enrollments over this long (each host at Phase×Ramp).
	Ramp time.Duration
	// Workers is how many requests are in flight at most (default 64).
	Workers int
	// CheckIns stops each host after this many check-ins (0: no limit).
	CheckIns int
	// Tokens, when not nil, has one entry per host: a host with a token
	// checks in with it instead of enrolling, and a host that enrolls
	// stores its new token there (so a later run can resume the fleet).
	Tokens []string
	// Jobs, when set, makes each host take its due jobs after each
	// check-in and run them with this simulated package manager (see
	// jobs.go); nil runs none.
	Jobs *PackageManager
	// OnJob, when set, is called once for every job a host runs (not
	// when it sends a journalled result again), from the worker running
	// it: tests count executions with it.
	OnJob  func(JobRun)
	Logger *slog.Logger
	Now    func() time.Time
}

// Stats counts what the simulation did; safe to read while it runs.
type Stats struct {
	Enrolled  atomic.Int64
	CheckIns  atomic.Int64
	Unchanged atomic.Int64 // check-ins that needed no upload
	Uploads   atomic.Int64
	Errors    atomic.Int64
	LastError atomic.Value // string

	// With Config.Jobs: job polls answered, jobs run (of which failed,
	// refused, and rollbacks that succeeded), reboots, results the server
	// took, and jobs handed again under an attempt already run (their
	// journalled result sent again, not run twice).
	Polls, JobsRun, JobsFailed, JobsRefused, RolledBack, Reboots, Reports, JobsRepeated atomic.Int64
}

// String summarises s.
func (s *Stats) String() string {
	line := fmt.Sprintf("enrolled %d, check-ins %d (unchanged %d), uploads %d, errors %d",
		s.Enrolled.Load(), s.CheckIns.Load(), s.Unchanged.Load(), s.Uploads.Load(), s.Errors.Load())
	if s.Polls.Load() > 0 {
		line += fmt.Sprintf("; jobs run %d (failed %d, refused %d, rolled back %d, reboots %d), reported %d, handed again %d",
			s.JobsRun.Load(), s.JobsFailed.Load(), s.JobsRefused.Load(), s.RolledBack.Load(), s.Reboots.Load(), s.Reports.Load(),
			s.JobsRepeated.Load())
	}
	return line
}

// host is one virtual agent's state.
type host struct {
	i       int
	token   string
	checkIn int // check-ins done
	// advanced is the check-in whose inventory change has been drawn, so
	// a retried check-in does not change the inventory a second time.
	advanced int
	gen      int    // inventory generation the hash is of
	hashed   int    // jobs.changes the hash is of
	hash     string // cached inventory hash of gen
	due      time.Time
	jobs     hostJobs
}

// Run simulates the fleet until ctx ends or every host has done CheckIns
// check-ins. It returns the first error that stops it (none for a host's
// failed request: those are counted and retried at its next turn).
func Run(ctx context.Context, cfg Config, stats *Stats) error {
	if cfg.Workers <= 0 {
		cfg.Workers = 64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SecretFor == nil {
		if cfg.EnrollSecret == "" {
			return errors.New("sim: no enroll secret")
		}
		cfg.SecretFor = func(fleet.Host) (string, error) { return cfg.EnrollSecret, nil }
	}
	start := cfg.Now()
	q := &dueQueue{}
	if cfg.Tokens != nil && len(cfg.Tokens) != cfg.Fleet.Len() {
		return fmt.Errorf("sim: %d tokens for %d hosts", len(cfg.Tokens), cfg.Fleet.Len())
	}
	for i := range cfg.Fleet.Len() {
		h := cfg.Fleet.Host(i)
		vh := &host{i: i, gen: -1, advanced: -1, due: start.Add(time.Duration(h.Phase * float64(cfg.Ramp)))}
		if cfg.Tokens != nil {
			vh.token = cfg.Tokens[i]
		}
		heap.Push(q, vh)
	}
	var mu sync.Mutex
	wake := make(chan struct{}, 1)
	var wg sync.WaitGroup
	var active atomic.Int64
	active.Store(int64(cfg.Fleet.Len()))
	work := make(chan *host)
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for h := range work {
				cfg.step(ctx, h, stats)
				mu.Lock()
				if cfg.CheckIns > 0 && h.checkIn >= cfg.CheckIns {
					active.Add(-1)
				} else {
					heap.Push(q, h)
				}
				mu.Unlock()
				select {
				case wake <- struct{}{}:
				default:
				}
			}
		}()
	}
	defer func() { close(work); wg.Wait() }()
	for active.Load() > 0 {
		mu.Lock()
		var next *host
		if q.Len() > 0 {
			next = (*q)[0]
		}
		mu.Unlock()
		if next == nil {
			select {
			case <-ctx.Done():
				return nil
			case <-wake:
			}
			continue
		}
		if wait := next.due.Sub(cfg.Now()); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-wake:
				t.Stop()
				continue
			case <-t.C:
			}
		}
		mu.Lock()
		h := heap.Pop(q).(*host)
		mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case work <- h:
		}
	}
	return nil
}

// step is one turn of a host: enroll if needed, else check in (and upload).
func (cfg *Config) step(ctx context.Context, h *host, stats *Stats) {
	fh := cfg.Fleet.Host(h.i)
	now := cfg.Now()
	next := func() {
		if cfg.Interval > 0 {
			h.due = now.Add(cfg.Interval)
		} else {
			h.due = now
		}
	}
	defer next()
	facts := fh.FactsAt(now)
	if !h.jobs.boot.IsZero() {
		facts.BootTime, facts.UptimeSeconds = h.jobs.boot, max(0, int64(now.Sub(h.jobs.boot)/time.Second))
	}
	if h.token == "" {
		secret, err := cfg.SecretFor(fh)
		if err == nil {
			var res protocol.EnrollResponse
			res, err = cfg.Client.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: secret, Facts: facts})
			h.token = res.HostToken
		}
		if err != nil {
			cfg.fail(stats, fmt.Errorf("enroll host %d: %w", h.i, err))
			return
		}
		if cfg.Tokens != nil {
			cfg.Tokens[h.i] = h.token // each index is written by one worker at a time
		}
		stats.Enrolled.Add(1)
	}
	gen := cfg.Fleet.Generation(h.i)
	if h.advanced != h.checkIn {
		gen, _ = cfg.Fleet.Advance(h.i, h.checkIn)
		h.advanced = h.checkIn
	}
	var inv *protocol.Inventory // materialised only when the hash must be computed or the server asks
	if gen != h.gen || h.hashed != h.jobs.changes || h.hash == "" {
		i := cfg.inventory(h, gen)
		inv, h.hash, h.gen, h.hashed = &i, i.Hash, gen, h.jobs.changes
	}
	c := cfg.Client.WithToken(h.token)
	res, err := c.CheckIn(ctx, protocol.CheckInRequest{Facts: facts, InventoryHash: h.hash})
	if err != nil {
		cfg.fail(stats, fmt.Errorf("check in host %d: %w", h.i, err))
		return
	}
	h.checkIn++
	stats.CheckIns.Add(1)
	if !res.InventoryNeeded {
		stats.Unchanged.Add(1)
	} else {
		if inv == nil {
			i := cfg.inventory(h, gen)
			inv = &i
		}
		if err := c.UploadInventory(ctx, *inv); err != nil {
			cfg.fail(stats, fmt.Errorf("upload inventory of host %d: %w", h.i, err))
			return
		}
		stats.Uploads.Add(1)
	}
	if cfg.Jobs != nil {
		cfg.jobs(ctx, h, c, stats)
	}
}

func (cfg *Config) fail(stats *Stats, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	if stats.Errors.Add(1) <= 5 || strings.Contains(err.Error(), "401") {
		cfg.Logger.Warn("simulated agent", "err", err)
	}
	stats.LastError.Store(err.Error())
}

// dueQueue orders hosts by their next due time.
type dueQueue []*host

func (q dueQueue) Len() int           { return len(q) }
func (q dueQueue) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q dueQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *dueQueue) Push(x any)        { *q = append(*q, x.(*host)) }
func (q *dueQueue) Pop() any {
	old := *q
	h := old[len(old)-1]
	*q = old[:len(old)-1]
	return h
}
