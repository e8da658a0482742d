package rollout

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
	"github.com/patchbay/patchbay/internal/window"
)

// Store is what the controller needs of the store; every transition of a
// deployment, by a timer or a person, is stored through it.
type Store interface {
	ActiveDeployments(ctx context.Context) ([]int64, error)
	Rollout(ctx context.Context, id int64) (*store.RolloutView, error)
	ApplyRollout(ctx context.Context, c store.RolloutChange) error
	TakeLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Options configure a Controller.
type Options struct {
	Holder string
	// Interval is how often every active deployment is decided again
	// without a nudge (soak times, deadlines, windows opening). Default 2s.
	Interval time.Duration
	// Retention is how long after completion a deployment may still be
	// rolled back (its hosts keep the previous packages). Default 14 days.
	Retention time.Duration
	Logger    *slog.Logger
	Now       func() time.Time
	// OnChange, when set, is called after every stored transition of a
	// deployment: its jobs may have become due (the web server wakes its
	// hosts' waiting agents).
	OnChange func(deployment int64)
}

// Controller runs Decide over the active deployments and Command for
// people, on one server at a time (the "rollout" lease), and stores each
// outcome in one transaction.
type Controller struct {
	st    Store
	opt   Options
	nudge nudge.Signal
}

const (
	controllerLease = "rollout"
	leaseTTL        = 15 * time.Second
)

// NewController returns a controller over st.
func NewController(st Store, o Options) *Controller {
	if o.Interval <= 0 {
		o.Interval = 2 * time.Second
	}
	if o.Retention <= 0 {
		o.Retention = 14 * 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Controller{st: st, opt: o, nudge: nudge.New()}
}

// Nudge asks for a pass soon: a job reported, a deployment was approved.
func (c *Controller) Nudge() { c.nudge.Nudge() }

// Run decides every active deployment each interval and when nudged,
// while this server holds the lease, until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	t := time.NewTicker(c.opt.Interval)
	defer t.Stop()
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.st.ReleaseLease(rctx, controllerLease, c.opt.Holder)
	}()
	for {
		if err := c.Pass(ctx); err != nil && ctx.Err() == nil {
			c.opt.Logger.Error("rollout pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-c.nudge.C():
		}
	}
}

// Pass decides every active deployment once, if this server holds the
// lease.
func (c *Controller) Pass(ctx context.Context) error {
	ok, err := c.st.TakeLease(ctx, controllerLease, c.opt.Holder, leaseTTL)
	if err != nil || !ok {
		return err
	}
	ids, err := c.st.ActiveDeployments(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		if _, err := c.Step(ctx, id); err != nil && patchbay.ErrorCodeOf(err) != patchbay.EConflict {
			errs = append(errs, fmt.Errorf("deployment %d: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// Step decides deployment id once and stores the decision.
func (c *Controller) Step(ctx context.Context, id int64) (Decision, error) {
	v, err := c.st.Rollout(ctx, id)
	if err != nil {
		return Decision{}, err
	}
	now := c.opt.Now()
	in, err := inputOf(v, now)
	if err != nil {
		return Decision{}, err
	}
	d := Decide(in)
	if !d.Changed && !d.SkipOffline && !d.SkipOfflineRing && d.Current == v.Current {
		return d, nil
	}
	ch := store.RolloutChange{ID: id, FromState: v.Deployment.State, FromReason: v.Deployment.Reason, State: d.State, Reason: d.Reason,
		Detail: d.Detail, Current: d.Current, Wake: d.Wake, Actor: "rollout", RollbackRing: d.Rollback, SkipOffline: d.SkipOffline,
		SkipOfflineRing: d.SkipOfflineRing}
	if (d.SkipOffline || d.SkipOfflineRing) && !d.Changed {
		ch.Detail = v.Deployment.Detail
	}
	switch {
	case v.Deployment.State == patchbay.DeploymentApproved:
		ch.MakeJobs = true
	case d.State == patchbay.DeploymentRunning && (v.Deployment.State == patchbay.DeploymentScheduled || d.Current != v.Current):
		ch.ResetProgress = true
	case d.State == patchbay.DeploymentCompleted:
		ch.KeepUntil = now.Add(c.opt.Retention)
	case d.Rollback:
		// The rollbacks' wait (up to the progress deadline) counts from
		// the order, not from a job that finished before it.
		ch.ResetProgress = true
	}
	if !d.State.Active() {
		ch.SkipPending = true // a finished deployment hands nothing out any more
	}
	if err := c.st.ApplyRollout(ctx, ch); err != nil {
		return d, err
	}
	if d.SkipOfflineRing {
		c.opt.Logger.Warn("offline grace passed: hosts of the ring that did not take their jobs are skipped", "id", id, "ring", d.Current)
		c.Nudge() // decide again with them skipped
	}
	if d.SkipOffline {
		c.opt.Logger.Warn("deployment deadline passed: hosts that did not take their jobs are skipped", "id", id)
		c.Nudge() // decide again with them skipped
	}
	c.opt.Logger.Info("deployment moved", "id", id, "state", d.State, "reason", d.Reason, "ring", d.Current, "detail", d.Detail)
	c.changed(id)
	return d, nil
}

// Act takes a person's action on deployment id (not approve or reject,
// which go through the approvals): it checks the state allows it, stores
// the transition with its effect on the jobs, and decides again.
func (c *Controller) Act(ctx context.Context, id int64, a Action, by string) (Transition, error) {
	if a == Approve || a == Reject {
		return Transition{}, patchbay.FieldError(patchbay.EUnprocessable, "action", "approve and reject are decisions: POST /api/v1/deployments/%d/decision", id)
	}
	v, err := c.st.Rollout(ctx, id)
	if err != nil {
		return Transition{}, err
	}
	now := c.opt.Now()
	keep := now
	if v.KeepUntil != nil {
		keep = *v.KeepUntil
	}
	tr, err := Command(v.Deployment.State, v.Deployment.Reason, a, by, keep, now)
	if err != nil {
		return tr, err
	}
	ch := store.RolloutChange{ID: id, FromState: v.Deployment.State, FromReason: v.Deployment.Reason, State: tr.State, Reason: tr.Reason,
		Detail: tr.Detail, Current: v.Current, Actor: by}
	switch tr.Effect {
	case EffectForgive:
		ch.ForgiveRing, ch.ResetProgress = true, true
	case EffectRetryFailed:
		ch.RetryRing, ch.ResetProgress = true, true
	case EffectNextRing:
		ch.Current, ch.ResetProgress = min(v.Current+1, max(len(v.Deployment.Rings)-1, 0)), true
	case EffectSkipPending:
		ch.SkipPending = true
	case EffectRollbackAll:
		// The rollbacks' wait (up to the progress deadline) counts from
		// the order: the last job may have finished days ago.
		ch.RollbackAll, ch.SkipPending, ch.ResetProgress = true, true, true
	}
	if tr.State == patchbay.DeploymentRunning && a == Resume {
		ch.ResetProgress = true
		if v.Deployment.State == patchbay.DeploymentPaused && !installStarted(v) {
			// Paused before anything started: it waits for its window
			// again rather than counting as running.
			ch.State = patchbay.DeploymentScheduled
			if v.Deployment.ManualStart {
				// Made with manual start: it waits for a person's start
				// again, not for its window.
				ch.Reason = patchbay.ReasonAwaitingStart
				ch.Detail += "; it runs once a person starts it"
			}
		}
	}
	if err := c.st.ApplyRollout(ctx, ch); err != nil {
		return tr, err
	}
	c.changed(id)
	c.Nudge()
	// What was stored, which a resume before anything started changes.
	tr.State, tr.Reason, tr.Detail = ch.State, ch.Reason, ch.Detail
	return tr, nil
}

func (c *Controller) changed(id int64) {
	if c.opt.OnChange != nil {
		c.opt.OnChange(id)
	}
}

// installStarted reports whether any install job of v was handed out.
func installStarted(v *store.RolloutView) bool {
	for _, counts := range v.Counts {
		for k, n := range counts {
			if k.Kind == patchbay.JobInstall && k.State != patchbay.JobPending && n > 0 {
				return true
			}
		}
	}
	return false
}

// inputOf turns a store view into Decide's input at now.
func inputOf(v *store.RolloutView, now time.Time) (Input, error) {
	d := v.Deployment
	in := Input{State: d.State, Reason: d.Reason, Current: v.Current, AutoRollback: v.AutoRollback, ManualStart: d.ManualStart,
		OfflineGrace: time.Duration(d.OfflineGrace) * time.Second, RingOpened: v.RingOpened,
		ProgressDeadline: v.ProgressDeadline, LastProgress: v.LastProgress, Now: now,
		MinHealthy: time.Duration(d.Checks.MinHealthySeconds) * time.Second}
	if d.Deadline != nil {
		in.Deadline = *d.Deadline
	}
	specs := make([]patchbay.RingSpec, len(d.Rings))
	for i, r := range d.Rings {
		specs[i] = r.RingSpec
	}
	rules, err := policy.ParseRings(specs)
	if err != nil {
		return in, fmt.Errorf("deployment %d rings: %w", d.ID, err)
	}
	for i, rule := range rules {
		st := RingStatus{Forgiven: v.Forgiven[i], Finished: v.Finished[i]}
		for k, n := range v.Counts[i] {
			switch k.Kind {
			case patchbay.JobInstall:
				st.Hosts += n
				switch k.State {
				case patchbay.JobPending:
					st.Pending += n
				case patchbay.JobRunning:
					st.Running += n
				case patchbay.JobSucceeded:
					st.Succeeded += n
				case patchbay.JobHealthy:
					st.Succeeded += n
					st.Healthy += n
				case patchbay.JobFailed:
					st.Failed += n
				case patchbay.JobSkipped, patchbay.JobRefused:
					st.Skipped += n
				}
			case patchbay.JobRollback:
				switch k.State {
				case patchbay.JobPending, patchbay.JobRunning:
					st.RollingBack += n
				case patchbay.JobSucceeded, patchbay.JobHealthy:
					st.RolledBack += n
				default:
					st.RollbackFailed += n
				}
			}
		}
		in.Rings = append(in.Rings, Ring{Rule: rule, Status: st})
	}
	if d.Emergency {
		in.WindowOpen, in.WindowOpened = true, d.CreatedAt
		return in, nil
	}
	ws, err := window.FromSpecs("windows", d.Windows)
	if err != nil {
		return in, fmt.Errorf("deployment %d windows: %w", d.ID, err)
	}
	cur := min(max(v.Current, 0), max(len(v.Zones)-1, 0))
	zones := []string{""}
	if cur < len(v.Zones) && len(v.Zones[cur]) > 0 {
		zones = v.Zones[cur]
	}
	var graceFrom time.Time
	for _, z := range zones {
		loc, err := time.LoadLocation(z)
		if err != nil || z == "" {
			loc = time.UTC
		}
		if iv, ok := ws.Open(now, loc); ok {
			if !in.WindowOpen || iv.Start.Before(in.WindowOpened) {
				in.WindowOpened = iv.Start
			}
			in.WindowOpen = true
		}
		if in.OfflineGrace > 0 && !in.RingOpened.IsZero() {
			// The grace counts from the first window of the ring's hosts
			// since it opened (after a soak, or a person's promotion, it
			// may open days before it): a host is offline through a
			// window, not through the days before one.
			if iv, ok := ws.NextOpen(in.RingOpened, loc); ok {
				from := iv.Start
				if from.Before(in.RingOpened) {
					from = in.RingOpened // open when the ring opened
				}
				if graceFrom.IsZero() || from.Before(graceFrom) {
					graceFrom = from
				}
			}
		}
	}
	if !graceFrom.IsZero() {
		in.RingOpened = graceFrom
	}
	return in, nil
}
