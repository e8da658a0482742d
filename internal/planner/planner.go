package planner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/nudge"
	"github.com/patchbay/patchbay/internal/policy"
	"github.com/patchbay/patchbay/internal/store"
)

// leaseName is the lease one server at a time holds to plan and schedule.
// Run renews it every leaseRenew, apart from passes, so that a server
// killed while holding it is replaced within leaseTTL; a clean shutdown
// releases it at once.
const (
	leaseName  = "planner"
	leaseTTL   = 15 * time.Second
	leaseRenew = 5 * time.Second
)

// Options configure a Planner.
type Options struct {
	// Interval is how often a pass runs without being nudged; windows are
	// acted on within one interval of opening. Default 1 minute.
	Interval time.Duration
	// Holder names this server for the lease.
	Holder string
	Logger *slog.Logger
	Now    func() time.Time
	// OnPass, when set, is told about every pass.
	OnPass func(Result, error)
}

// Result describes one pass.
type Result struct {
	Hosts            int
	Queue            int // entries in the work queue
	Written, Deleted int // queue rows that changed
	Proposed         int // deployments created
	Missed           int // windows that passed unseen
	Rebuilt          bool
	Took             time.Duration
}

// Planner rebuilds the work queue and runs the policies' scheduler.
type Planner struct {
	store *store.Store
	opt   Options
	nudge nudge.Signal
	last  *built // the last full pass's results, used by Run's goroutine only
	// unmatchedSince is when this planner first found hosts whose
	// inventories the matcher has not evaluated yet (zero: none).
	unmatchedSince time.Time
}

// maxMatchWait bounds how long proposals wait for the matcher to evaluate
// new hosts' first inventories: the plan holds a host's updates only once
// its findings are known, and a window's proposal is made once.
const maxMatchWait = 2 * time.Minute

// New returns a Planner over s.
func New(s *store.Store, o Options) *Planner {
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Planner{store: s, opt: o, nudge: nudge.New()}
}

// Nudge asks for a pass soon: an inventory, an advisory, a policy or an
// exception changed.
func (p *Planner) Nudge() { p.nudge.Nudge() }

// Run passes every interval and when nudged, until ctx ends. A nudged
// pass rebuilds the queue; a pass on the clock rebuilds it only when its
// inputs changed (another server's work included: see Store.PlanStamp),
// the day turned, an exception expired or rebuildEvery passed, and
// otherwise only checks the windows. A pass that fails is logged and
// retried at the next tick. Between passes it keeps
// the lease, or takes it when its holder went away (and then passes).
func (p *Planner) Run(ctx context.Context) error {
	t := time.NewTicker(p.opt.Interval)
	defer t.Stop()
	renew := time.NewTicker(leaseRenew)
	defer renew.Stop()
	defer func() {
		// A new context: ctx is done, and the successor should not wait.
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.store.ReleaseLease(rctx, leaseName, p.opt.Holder); err != nil {
			p.opt.Logger.Warn("cannot release the planner lease", "err", err)
		}
	}()
	leader, nudged := false, true
	for {
		var err error
		if nudged {
			_, err = p.Pass(ctx)
		} else {
			_, err = p.Tick(ctx)
		}
		nudged = false
		leader = !errors.Is(err, errNotLeader)
		if err != nil && leader && ctx.Err() == nil {
			p.opt.Logger.Error("planner pass failed", "err", err)
		}
	again:
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-p.nudge.C():
			nudged = true
		case <-renew.C:
			ok, err := p.takeLease(ctx)
			if err != nil || (ok && leader) {
				goto again // renewed (or the store is down: the next pass says so)
			}
			if !ok {
				leader = false
				goto again
			}
			// Just became leader: pass at once.
		}
	}
}

var errNotLeader = errors.New("another server holds the planner lease")

// Pass rebuilds the queue and schedules, if this server holds the lease.
func (p *Planner) Pass(ctx context.Context) (Result, error) { return p.timedPass(ctx, true) }

// Tick is the pass Run makes on the clock: it schedules from the last
// build while that still holds (Rebuilt false), and rebuilds otherwise.
func (p *Planner) Tick(ctx context.Context) (Result, error) { return p.timedPass(ctx, false) }

// timedPass runs a pass, full or one that may reuse the last build, and
// reports it.
func (p *Planner) timedPass(ctx context.Context, full bool) (Result, error) {
	start := time.Now()
	res, err := p.pass(ctx, full)
	res.Took = time.Since(start)
	if p.opt.OnPass != nil && !errors.Is(err, errNotLeader) {
		p.opt.OnPass(res, err)
	}
	return res, err
}

// built is what the last full pass computed, for passes that only check
// the windows.
type built struct {
	stamp      string
	day        string    // the UTC date of the build: ages count in days
	at         time.Time // rebuilt at least every rebuildEvery
	nextExpiry time.Time // the earliest expiry of an active exception
	hosts      []*patchbay.Host
	policies   []*policy.Compiled
	queue      *Queue
}

// rebuildEvery bounds how long a build is reused: SLA states turn overdue
// by the clock alone.
const rebuildEvery = 10 * time.Minute

// fresh reports whether b still holds at now for stamp.
func (b *built) fresh(stamp string, now time.Time) bool {
	return b != nil && b.stamp == stamp && b.day == now.UTC().Format(time.DateOnly) && now.Sub(b.at) < rebuildEvery &&
		(b.nextExpiry.IsZero() || now.Before(b.nextExpiry))
}

func (p *Planner) pass(ctx context.Context, full bool) (Result, error) {
	var res Result
	ok, err := p.takeLease(ctx)
	if err != nil {
		return res, err
	}
	if !ok {
		return res, errNotLeader
	}
	leased := time.Now()
	now := p.opt.Now()
	stamp, err := p.store.PlanStamp(ctx)
	if err != nil {
		return res, err
	}
	b := p.last
	if full || !b.fresh(stamp, now) {
		if b, err = p.build(ctx, stamp, now); err != nil {
			return res, err
		}
		res.Queue = len(b.queue.Rows)
		if ok, err := p.takeLease(ctx); err != nil || !ok {
			return res, errors.Join(errNotLeader, err)
		}
		// What this server stored last is what the table holds while it
		// kept the lease (p.last is dropped when it did not). A build
		// that took long enough for the lease to lapse reads the table.
		var prev []store.QueueRow
		if p.last != nil && time.Since(leased) < leaseTTL/2 {
			prev = p.last.queue.Rows
		}
		if res.Written, res.Deleted, err = p.store.ReplaceQueue(ctx, prev, b.queue.Rows, b.queue.SLA); err != nil {
			p.last = nil // the table may or may not hold b: read it next time
			return res, fmt.Errorf("store work queue: %w", err)
		}
		p.last, res.Rebuilt = b, true
	}
	res.Hosts, res.Queue = len(b.hosts), len(b.queue.Rows)
	if wait, err := p.waitForMatcher(ctx, now); err != nil || wait {
		return res, err
	}
	marks, err := p.store.ScheduleMarks(ctx)
	if err != nil {
		return res, err
	}
	sc := Schedule(b.policies, b.hosts, b.queue.Candidates, marks, now)
	res.Missed = len(sc.Missed)
	if len(sc.Deployments) == 0 && len(sc.Marks) == 0 && len(sc.Missed) == 0 {
		return res, nil
	}
	// Renew the lease just before committing: a pass that outlived it
	// could race a new leader (the keys keep proposals single anyway).
	if ok, err := p.takeLease(ctx); err != nil || !ok {
		return res, errors.Join(errNotLeader, err)
	}
	if res.Proposed, err = p.store.CommitSchedule(ctx, "scheduler", sc); err != nil {
		return res, fmt.Errorf("store schedule: %w", err)
	}
	for _, d := range sc.Deployments {
		p.opt.Logger.Info("deployment proposed", "id", d.ID, "name", d.Name, "state", d.State, "hosts", d.HostCount)
	}
	for _, m := range sc.Missed {
		p.opt.Logger.Warn("maintenance window missed", "window", m)
	}
	return res, nil
}

// takeLease takes or renews the planner lease. When this server did not
// keep it without a break, another may have planned meanwhile and
// rewritten the queue: what this one built and stored last is dropped.
func (p *Planner) takeLease(ctx context.Context) (bool, error) {
	ok, kept, err := p.store.HoldLease(ctx, leaseName, p.opt.Holder, leaseTTL)
	if err == nil && !kept {
		p.last = nil
	}
	return ok, err
}

// build reads the planner's inputs and computes the queue.
func (p *Planner) build(ctx context.Context, stamp string, now time.Time) (*built, error) {
	data, err := p.store.LoadPlanData(ctx)
	if err != nil {
		return nil, fmt.Errorf("load planning data: %w", err)
	}
	compiled, err := p.policies(ctx)
	if err != nil {
		return nil, err
	}
	exceptions, err := p.store.Exceptions(ctx, false)
	if err != nil {
		return nil, err
	}
	b := &built{stamp: stamp, day: now.UTC().Format(time.DateOnly), at: now, policies: compiled,
		queue: Build(data, compiled, exceptions, now), hosts: make([]*patchbay.Host, len(data.Hosts))}
	for i := range data.Hosts {
		b.hosts[i] = &data.Hosts[i]
	}
	for _, x := range exceptions {
		if b.nextExpiry.IsZero() || x.ExpiresAt.Before(b.nextExpiry) {
			b.nextExpiry = x.ExpiresAt
		}
	}
	for _, problem := range b.queue.Problems {
		p.opt.Logger.Warn("cannot tell whether an update fixes a finding", "problem", problem)
	}
	return b, nil
}

// policies compiles the enabled policies; one that no longer compiles
// (a time zone removed from the system's database) is skipped and logged.
func (p *Planner) policies(ctx context.Context) ([]*policy.Compiled, error) {
	ps, err := p.store.Policies(ctx, patchbay.PolicyFilter{})
	if err != nil {
		return nil, err
	}
	out := make([]*policy.Compiled, 0, len(ps))
	for _, pol := range ps {
		c, err := policy.Compile(pol)
		if err != nil {
			p.opt.Logger.Error("policy does not compile; skipped", "policy", pol.ID, "name", pol.Name, "err", err)
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// waitForMatcher reports whether proposals should wait for the matcher:
// some host in service has an inventory the matcher never evaluated (new,
// or its server was killed before matching it), so the plan does not hold
// its updates yet, and a window proposed now would leave it out for good.
// The wait is bounded by maxMatchWait, for a matcher that cannot catch up.
func (p *Planner) waitForMatcher(ctx context.Context, now time.Time) (bool, error) {
	n, err := p.store.UnmatchedHosts(ctx)
	if err != nil {
		return false, err
	}
	if n == 0 {
		p.unmatchedSince = time.Time{}
		return false, nil
	}
	if p.unmatchedSince.IsZero() {
		p.unmatchedSince = now
	}
	if now.Sub(p.unmatchedSince) < maxMatchWait {
		p.opt.Logger.Debug("proposals wait for the matcher", "hosts", n)
		return true, nil
	}
	p.opt.Logger.Warn("proposing although the matcher has not evaluated some hosts", "hosts", n, "waited", now.Sub(p.unmatchedSince).Round(time.Second))
	return false, nil
}
