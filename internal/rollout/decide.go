// Package rollout decides what happens next in a deployment. Decide is a
// pure function of the deployment's state, its rings' rules and outcomes,
// and the time: it opens rings, waits out soak times, halts a ring that
// fails more than it may, orders the rollback of failed hosts, and ends the
// deployment. Command decides what a person may do in which state. The
// controller that runs them only stores their results, one transaction at
// a time, on one server at a time.
package rollout

import (
	"fmt"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/policy"
)

// RingStatus counts the jobs of one ring by where they are.
type RingStatus struct {
	Hosts   int // jobs in the ring
	Pending int // not handed out yet
	Running int // handed out, no final result yet
	// Succeeded jobs installed everything; Healthy is how many of them
	// have also stayed healthy for the ring's minimum healthy time (the
	// rest are still being watched).
	Succeeded, Healthy int
	// Failed jobs failed to install, or their host turned unhealthy;
	// they stay counted when rolled back since.
	Failed int
	// Skipped jobs never ran: their host stayed offline past the
	// deployment's deadline, or the deployment was cancelled.
	Skipped int
	// RollingBack, RolledBack and RollbackFailed count the ring's hosts
	// ordered back to their previous versions, by where that is.
	RollingBack, RolledBack, RollbackFailed int
	// Forgiven is how many failures a person accepted by resuming the
	// deployment after the ring halted it; they no longer count.
	Forgiven int
	// Finished is when the last of its jobs reached a final state (zero
	// while none has).
	Finished time.Time
}

// done reports whether every job of the ring has a final result and every
// success has been healthy long enough.
func (s RingStatus) done() bool {
	return s.Pending == 0 && s.Running == 0 && s.Succeeded == s.Healthy
}

// failures counts what the ring's threshold is measured against: failed
// jobs, whether rolled back since or not, less those a person accepted.
func (s RingStatus) failures() int { return max(s.Failed-s.Forgiven, 0) }

// Ring is a ring's rule and its jobs' outcomes.
type Ring struct {
	Rule   policy.RingRule
	Status RingStatus
}

// Input is everything Decide looks at.
type Input struct {
	State   patchbay.DeploymentState
	Reason  patchbay.StateReason
	Rings   []Ring
	Current int // the ring in progress, from 0
	// WindowOpen is set when some host of the current ring is inside its
	// maintenance window now (or the deployment is an emergency one), and
	// WindowOpened is when that window opened.
	WindowOpen   bool
	WindowOpened time.Time
	// AutoRollback rolls the failed hosts of a ring that crossed its
	// threshold back to their previous versions.
	AutoRollback bool
	// ManualStart holds the deployment scheduled until a person starts it.
	ManualStart bool
	// OfflineGrace, when set, skips the current ring's jobs hosts have not
	// taken that long after the ring opened (RingOpened; the controller
	// gives the first opening of a window of the ring's hosts since, when
	// none was open then).
	OfflineGrace time.Duration
	RingOpened   time.Time
	// ProgressDeadline halts a running deployment in which no job reached
	// a final state for that long while a window was open (0: none).
	// LastProgress is when one last did, or when the deployment last
	// started or resumed; the deadline counts from it or from the opening
	// of the current window, whichever is later.
	ProgressDeadline time.Duration
	LastProgress     time.Time
	// MinHealthy is how long a host is watched after it patched (its
	// ring's own min_healthy wins): it reports healthy only then.
	MinHealthy time.Duration
	// Deadline, when set, skips the jobs hosts have not taken by then
	// (offline through their windows) so the rollout goes on.
	Deadline time.Time
	Now      time.Time
}

// Decision is what happens next: the state to store, and the ring in
// progress. Changed is false when nothing is to be stored. Rollback asks
// the controller to order the failed jobs of ring Current back; Wake, when
// not zero, is when Decide should be asked again though nothing else
// changed (a soak time or a progress deadline ending).
type Decision struct {
	State    patchbay.DeploymentState
	Reason   patchbay.StateReason
	Detail   string
	Current  int
	Changed  bool
	Rollback bool
	// SkipOfflineRing asks the controller to skip the current ring's jobs
	// not taken within the offline grace after it opened.
	SkipOfflineRing bool
	// SkipOffline asks the controller to skip the jobs not taken by the
	// deployment's deadline, which passed.
	SkipOffline bool
	Wake        time.Time
}

// Decide returns what happens next in a deployment. It is called after
// every change of a job's state and when a Wake time comes:
//
//   - approved: jobs are made, and the hosts fetch the target packages
//     ahead (the controller's work); the deployment is scheduled.
//   - scheduled: it starts running when a host of its first ring is in its
//     window.
//   - running: a ring whose failures exceed its threshold halts the
//     deployment (and, with AutoRollback, orders its failed hosts back);
//     so does a progress deadline passing. A ring whose jobs are all done
//     soaks for its soak time, then the next ring opens, or waits for a
//     person when that ring is promoted by hand; after the last ring the
//     deployment is completed.
//   - halted while rolling back: when no rollback is left running, and no
//     host still installing (or the progress deadline passed), the
//     deployment is rolled back.
//   - draft, awaiting approval, paused, halted otherwise, and the final
//     states wait for a person (see Command).
func Decide(in Input) Decision {
	d := Decision{State: in.State, Reason: in.Reason, Current: min(max(in.Current, 0), max(len(in.Rings)-1, 0))}
	switch in.State {
	case patchbay.DeploymentApproved:
		if in.ManualStart {
			return d.to(patchbay.DeploymentScheduled, patchbay.ReasonAwaitingStart, "its hosts fetch the target packages ahead; a person starts it")
		}
		return d.to(patchbay.DeploymentScheduled, patchbay.ReasonProposed, "its hosts fetch the target packages ahead of the window")
	case patchbay.DeploymentScheduled:
		if in.Reason == patchbay.ReasonAwaitingStart {
			return d
		}
		if in.WindowOpen {
			d = d.to(patchbay.DeploymentRunning, patchbay.ReasonStarted, "the first ring's window opened")
			// Its ring opens now, and its progress counts from now (the
			// controller stores both): not from a run before a pause, nor
			// from a window that opened hours before a person's start.
			in.RingOpened, in.LastProgress = in.Now, in.Now
			return decideRunning(in, d)
		}
		return d
	case patchbay.DeploymentRunning:
		return decideRunning(in, d)
	case patchbay.DeploymentHalted:
		if in.Reason != patchbay.ReasonRollingBack {
			return d
		}
		var back, failed, installing, rolling int
		for _, r := range in.Rings {
			rolling += r.Status.RollingBack
			back, failed = back+r.Status.RolledBack, failed+r.Status.RollbackFailed
			installing += r.Status.Running
		}
		if rolling > 0 || installing > 0 {
			// Wait for the rollbacks, and for hosts still installing when
			// the rollback was ordered (one that fails goes back too), up
			// to the progress deadline: a host offline, or gone mid-job,
			// does not hold the deployment forever. With none, a person
			// decides (cancel).
			if in.ProgressDeadline <= 0 {
				return d
			}
			// Rollbacks start at once, outside windows too: the deadline
			// counts in real time from the order (the controller resets
			// the progress then) or the last job that finished since.
			if deadline := in.LastProgress.Add(in.ProgressDeadline); in.Now.Before(deadline) {
				d.Wake = deadline
				return d
			}
		}
		detail := hosts(back) + " back at their previous versions"
		if failed > 0 {
			detail += fmt.Sprintf("; %d could not be rolled back", failed)
		}
		if rolling > 0 {
			detail += fmt.Sprintf("; %d did not report a rollback within the progress deadline (offline?) and may still run the versions the deployment installed", rolling)
		}
		if installing > 0 {
			// Not rolled back when they finish: the deployment has ended.
			detail += fmt.Sprintf("; %s still installing at the progress deadline (offline?) may end at the versions the deployment installed", hosts(installing))
		}
		return d.to(patchbay.DeploymentRolledBack, patchbay.ReasonRolledBack, detail)
	}
	return d
}

// decideRunning decides for a running deployment: past its deadline, the
// jobs hosts have not taken are skipped first; before it, the deadline is
// a time to look again.
func decideRunning(in Input, d Decision) Decision {
	// Hosts of the current ring that have not taken their jobs this long
	// after it opened are skipped: each ring gets its grace.
	var grace time.Time
	if cur := d.Current; in.OfflineGrace > 0 && !in.RingOpened.IsZero() && cur < len(in.Rings) && in.Rings[cur].Status.Pending > 0 {
		grace = in.RingOpened.Add(in.OfflineGrace)
		if !in.Now.Before(grace) {
			d.SkipOfflineRing = true // decided again once they are skipped
			return d
		}
	}
	var deadline time.Time
	if !in.Deadline.IsZero() && pendingJobs(in.Rings) > 0 {
		if !in.Now.Before(in.Deadline) {
			d.SkipOffline = true // decided again once they are skipped
			return d
		}
		deadline = in.Deadline
	}
	out := decideRings(in, d)
	if out.State == patchbay.DeploymentRunning {
		for _, t := range []time.Time{grace, deadline} {
			if !t.IsZero() && (out.Wake.IsZero() || t.Before(out.Wake)) {
				out.Wake = t
			}
		}
	}
	return out
}

func pendingJobs(rings []Ring) int {
	n := 0
	for _, r := range rings {
		n += r.Status.Pending
	}
	return n
}

// decideRings moves a running deployment through its rings.
func decideRings(in Input, d Decision) Decision {
	if len(in.Rings) == 0 {
		return d.to(patchbay.DeploymentCompleted, patchbay.ReasonCompleted, "no hosts to patch")
	}
	cur := d.Current
	r := in.Rings[cur]
	if f := r.Status.failures(); r.Rule.Threshold.Exceeded(f, r.Status.Hosts) {
		detail := fmt.Sprintf("ring %q: %d of %s failed, more than its threshold %s", r.Rule.Name, f, hosts(r.Status.Hosts), thresholdText(r.Rule.Threshold))
		if in.AutoRollback && r.Status.Failed > 0 {
			d = d.to(patchbay.DeploymentHalted, patchbay.ReasonRollingBack, detail+"; rolling the failed hosts back")
			d.Rollback = true
			return d
		}
		return d.to(patchbay.DeploymentHalted, patchbay.ReasonThreshold, detail)
	}
	if !r.Status.done() {
		// Hosts left that have not taken their jobs (offline), none in
		// flight: an offline grace or a deadline skips them in time, and
		// the progress deadline does not halt the ring before it does.
		offline := r.Status.Running == 0 && r.Status.Succeeded == r.Status.Healthy &&
			((in.OfflineGrace > 0 && !in.RingOpened.IsZero()) || !in.Deadline.IsZero())
		if in.ProgressDeadline > 0 && in.WindowOpen && !offline {
			from := in.LastProgress
			if in.WindowOpened.After(from) {
				from = in.WindowOpened
			}
			if r.Status.Succeeded > r.Status.Healthy {
				// Hosts watched for their minimum healthy time report
				// at its end, not before: the deadline counts from there.
				watch := in.MinHealthy
				if r.Rule.MinHealthy > 0 {
					watch = r.Rule.MinHealthy
				}
				if end := in.LastProgress.Add(watch); end.After(from) {
					from = end
				}
			}
			deadline := from.Add(in.ProgressDeadline)
			if !in.Now.Before(deadline) {
				return d.to(patchbay.DeploymentHalted, patchbay.ReasonProgressDeadline,
					fmt.Sprintf("ring %q: no host finished for %s", r.Rule.Name, in.ProgressDeadline))
			}
			d.Wake = deadline
		}
		if d.Reason != patchbay.ReasonRingOpen && d.Reason != patchbay.ReasonStarted && d.Reason != patchbay.ReasonPromoted &&
			d.Reason != patchbay.ReasonResumed {
			d = d.to(patchbay.DeploymentRunning, patchbay.ReasonRingOpen, fmt.Sprintf("ring %q is patching", r.Rule.Name))
		}
		return d
	}
	// The ring is done: soak, then the next ring or the end.
	soaked := r.Status.Finished.Add(r.Rule.Soak)
	if in.Now.Before(soaked) {
		if d.Reason != patchbay.ReasonSoaking {
			d = d.to(patchbay.DeploymentRunning, patchbay.ReasonSoaking, fmt.Sprintf("ring %q finished; soaking until %s", r.Rule.Name, soaked.UTC().Format(time.RFC3339)))
		}
		d.Wake = soaked
		return d
	}
	if cur == len(in.Rings)-1 {
		return d.to(patchbay.DeploymentCompleted, patchbay.ReasonCompleted, completedText(in.Rings))
	}
	next := in.Rings[cur+1]
	if next.Rule.ManualPromotion {
		if d.Reason != patchbay.ReasonAwaitingPromotion {
			d = d.to(patchbay.DeploymentRunning, patchbay.ReasonAwaitingPromotion, fmt.Sprintf("ring %q soaked; ring %q starts when a person promotes it", r.Rule.Name, next.Rule.Name))
		}
		return d
	}
	d = d.to(patchbay.DeploymentRunning, patchbay.ReasonPromoted, fmt.Sprintf("ring %q soaked; ring %q started", r.Rule.Name, next.Rule.Name))
	d.Current = cur + 1
	// The next ring may be empty, or already done: decide again from it.
	in.Current, in.Reason, in.LastProgress, in.RingOpened = d.Current, d.Reason, in.Now, in.Now
	again := decideRunning(in, d)
	again.Changed = true
	return again
}

// to moves d to state and reason, marking it changed.
func (d Decision) to(state patchbay.DeploymentState, reason patchbay.StateReason, detail string) Decision {
	d.State, d.Reason, d.Detail, d.Changed = state, reason, detail, true
	return d
}

func thresholdText(t policy.Threshold) string {
	if t.Percent {
		return fmt.Sprintf("%d%%", t.N)
	}
	return fmt.Sprint(t.N)
}

func completedText(rings []Ring) string {
	var ok, failed, skipped int
	for _, r := range rings {
		ok += r.Status.Succeeded
		failed += r.Status.failures()
		skipped += r.Status.Skipped
	}
	return fmt.Sprintf("%s patched, %d failed within the thresholds, %d skipped", hosts(ok), failed, skipped)
}

// hosts says "1 host", "2 hosts".
func hosts(n int) string {
	if n == 1 {
		return "1 host"
	}
	return fmt.Sprintf("%d hosts", n)
}
