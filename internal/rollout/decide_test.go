package rollout

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/policy"
)

var t0 = time.Date(2026, 12, 12, 1, 0, 0, 0, time.UTC)

func ring(name string, th policy.Threshold, soak time.Duration, manual bool, st RingStatus) Ring {
	return Ring{Rule: policy.RingRule{RingSpec: patchbay.RingSpec{Name: name, ManualPromotion: manual}, Threshold: th, Soak: soak}, Status: st}
}

// done returns the status of a ring of n hosts that all succeeded and
// stayed healthy, the last at finished.
func allDone(n int, finished time.Time) RingStatus {
	return RingStatus{Hosts: n, Succeeded: n, Healthy: n, Finished: finished}
}

func TestDecide(t *testing.T) {
	five := policy.Threshold{N: 5, Percent: true}
	two := policy.Threshold{N: 2}
	first := policy.Threshold{}
	pilotDone := allDone(2, t0.Add(10*time.Minute))
	tests := []struct {
		name string
		in   Input
		want Decision
	}{
		{"approved: scheduled, hosts fetch ahead",
			Input{State: patchbay.DeploymentApproved, Now: t0},
			Decision{State: patchbay.DeploymentScheduled, Reason: patchbay.ReasonProposed, Changed: true}},
		{"scheduled, window closed: waits",
			Input{State: patchbay.DeploymentScheduled, Reason: patchbay.ReasonProposed, Rings: []Ring{ring("pilot", first, 0, false, RingStatus{Hosts: 2, Pending: 2})}, Now: t0},
			Decision{State: patchbay.DeploymentScheduled, Reason: patchbay.ReasonProposed}},
		{"scheduled, window open: runs the first ring",
			Input{State: patchbay.DeploymentScheduled, Rings: []Ring{ring("pilot", first, 0, false, RingStatus{Hosts: 2, Pending: 2})}, WindowOpen: true, Now: t0},
			Decision{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonStarted, Changed: true}},
		{"running, ring patching: nothing to store",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, Rings: []Ring{ring("pilot", first, 0, false, RingStatus{Hosts: 2, Pending: 1, Running: 1})}, Now: t0},
			Decision{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen}},
		{"zero threshold: the first failure halts",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, Rings: []Ring{ring("pilot", first, 0, false, RingStatus{Hosts: 2, Running: 1, Failed: 1})}, Now: t0},
			Decision{State: patchbay.DeploymentHalted, Reason: patchbay.ReasonThreshold, Changed: true}},
		{"count threshold: 2 failures are allowed",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, Rings: []Ring{ring("early", two, 0, false, RingStatus{Hosts: 10, Pending: 8, Failed: 2})}, Now: t0},
			Decision{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen}},
		{"count threshold: a third failure halts",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, Rings: []Ring{ring("early", two, 0, false, RingStatus{Hosts: 10, Pending: 7, Failed: 3})}, Now: t0},
			Decision{State: patchbay.DeploymentHalted, Reason: patchbay.ReasonThreshold, Changed: true}},
		{"5%: 1 of 20 is within it",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, Rings: []Ring{ring("early", five, 0, false, RingStatus{Hosts: 20, Pending: 19, Failed: 1})}, Now: t0},
			Decision{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen}},
		{"5%: 2 of 20 exceed it",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, Rings: []Ring{ring("early", five, 0, false, RingStatus{Hosts: 20, Pending: 18, Failed: 2})}, Now: t0},
			Decision{State: patchbay.DeploymentHalted, Reason: patchbay.ReasonThreshold, Changed: true}},
		{"auto-rollback: halts and orders the failed hosts back",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, AutoRollback: true, Rings: []Ring{ring("early", five, 0, false, RingStatus{Hosts: 20, Pending: 14, Failed: 4, Succeeded: 2, Healthy: 2})}, Now: t0},
			Decision{State: patchbay.DeploymentHalted, Reason: patchbay.ReasonRollingBack, Rollback: true, Changed: true}},
		{"failures a person accepted no longer count",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonResumed, Rings: []Ring{ring("early", two, 0, false, RingStatus{Hosts: 10, Pending: 5, Failed: 5, Forgiven: 3})}, Now: t0},
			Decision{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonResumed}},
		{"rolled-back failures still count against the threshold",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, Rings: []Ring{ring("early", two, 0, false, RingStatus{Hosts: 10, Pending: 7, Failed: 3, RolledBack: 3})}, Now: t0},
			Decision{State: patchbay.DeploymentHalted, Reason: patchbay.ReasonThreshold, Changed: true}},
		{"successes still watched: the ring is not done",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, Rings: []Ring{ring("pilot", first, 0, false, RingStatus{Hosts: 5, Succeeded: 5, Healthy: 3}), ring("rest", first, 0, false, RingStatus{Hosts: 5, Pending: 5})}, Now: t0},
			Decision{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen}},
		{"ring done: soaks until its soak time ends",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, Rings: []Ring{ring("pilot", first, time.Hour, false, pilotDone), ring("rest", first, 0, false, RingStatus{Hosts: 5, Pending: 5})}, Now: t0.Add(20 * time.Minute)},
			Decision{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonSoaking, Changed: true, Wake: t0.Add(70 * time.Minute)}},
		{"soaking, still: nothing to store, same wake",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonSoaking, Rings: []Ring{ring("pilot", first, time.Hour, false, pilotDone), ring("rest", first, 0, false, RingStatus{Hosts: 5, Pending: 5})}, Now: t0.Add(30 * time.Minute)},
			Decision{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonSoaking, Wake: t0.Add(70 * time.Minute)}},
		{"soaked: the next ring opens",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonSoaking, Rings: []Ring{ring("pilot", first, time.Hour, false, pilotDone), ring("rest", first, 0, false, RingStatus{Hosts: 5, Pending: 5})}, Now: t0.Add(70 * time.Minute)},
			Decision{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonPromoted, Current: 1, Changed: true}},
		{"soaked, the next ring is promoted by hand: waits for a person",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonSoaking, Rings: []Ring{ring("pilot", first, 0, false, pilotDone), ring("rest", first, 0, true, RingStatus{Hosts: 5, Pending: 5})}, Now: t0.Add(time.Hour)},
			Decision{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonAwaitingPromotion, Changed: true}},
		{"the last ring soaked: completed",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, Current: 1, Rings: []Ring{ring("pilot", first, 0, false, pilotDone), ring("rest", two, 0, false, RingStatus{Hosts: 5, Succeeded: 3, Healthy: 3, Failed: 1, Skipped: 1, Finished: t0.Add(time.Hour)})}, Now: t0.Add(2 * time.Hour)},
			Decision{State: patchbay.DeploymentCompleted, Reason: patchbay.ReasonCompleted, Current: 1, Changed: true}},
		{"empty rings are passed through",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, Rings: []Ring{ring("pilot", first, 0, false, pilotDone), ring("canary", first, 0, false, RingStatus{}), ring("rest", first, 0, false, RingStatus{Hosts: 3, Pending: 3})}, Now: t0.Add(time.Hour)},
			Decision{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonPromoted, Current: 2, Changed: true}},
		{"no rings: completed at once",
			Input{State: patchbay.DeploymentRunning, Now: t0},
			Decision{State: patchbay.DeploymentCompleted, Reason: patchbay.ReasonCompleted, Changed: true}},
		{"progress deadline passed in an open window: halts",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, Rings: []Ring{ring("pilot", first, 0, false, RingStatus{Hosts: 2, Running: 2})},
				WindowOpen: true, WindowOpened: t0, ProgressDeadline: 30 * time.Minute, LastProgress: t0.Add(-24 * time.Hour), Now: t0.Add(31 * time.Minute)},
			Decision{State: patchbay.DeploymentHalted, Reason: patchbay.ReasonProgressDeadline, Changed: true}},
		{"progress deadline counts from the window's opening: wakes then",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, Rings: []Ring{ring("pilot", first, 0, false, RingStatus{Hosts: 2, Running: 2})},
				WindowOpen: true, WindowOpened: t0, ProgressDeadline: 30 * time.Minute, LastProgress: t0.Add(-24 * time.Hour), Now: t0.Add(10 * time.Minute)},
			Decision{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, Wake: t0.Add(30 * time.Minute)}},
		{"progress deadline, window closed: no halt between windows",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, Rings: []Ring{ring("pilot", first, 0, false, RingStatus{Hosts: 2, Pending: 2})},
				ProgressDeadline: 30 * time.Minute, LastProgress: t0.Add(-24 * time.Hour), Now: t0},
			Decision{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen}},
		{"deadline passed, hosts still pending: skip them",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, Rings: []Ring{ring("rest", first, 0, false, RingStatus{Hosts: 3, Pending: 1, Succeeded: 2, Healthy: 2})},
				Deadline: t0, Now: t0.Add(time.Minute)},
			Decision{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, SkipOffline: true}},
		{"deadline ahead: a time to look again",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, Rings: []Ring{ring("rest", first, 0, false, RingStatus{Hosts: 3, Pending: 1, Succeeded: 2, Healthy: 2})},
				Deadline: t0.Add(time.Hour), Now: t0},
			Decision{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, Wake: t0.Add(time.Hour)}},
		{"deadline passed, nothing pending: the rings decide",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, Rings: []Ring{ring("rest", first, 0, false, RingStatus{Hosts: 3, Skipped: 1, Succeeded: 2, Healthy: 2, Finished: t0})},
				Deadline: t0, Now: t0.Add(time.Minute)},
			Decision{State: patchbay.DeploymentCompleted, Reason: patchbay.ReasonCompleted, Changed: true}},
		{"approved with manual start: fetches ahead, waits for a person",
			Input{State: patchbay.DeploymentApproved, Reason: patchbay.ReasonApproved, ManualStart: true, WindowOpen: true, Now: t0},
			Decision{State: patchbay.DeploymentScheduled, Reason: patchbay.ReasonAwaitingStart, Changed: true}},
		{"awaiting its start, window open: still waits",
			Input{State: patchbay.DeploymentScheduled, Reason: patchbay.ReasonAwaitingStart, ManualStart: true, WindowOpen: true, Now: t0,
				Rings: []Ring{ring("rest", first, 0, false, RingStatus{Hosts: 3, Pending: 3})}},
			Decision{State: patchbay.DeploymentScheduled, Reason: patchbay.ReasonAwaitingStart}},
		{"started by a person, window open: runs",
			Input{State: patchbay.DeploymentScheduled, Reason: patchbay.ReasonStartOrdered, ManualStart: true, WindowOpen: true, WindowOpened: t0, Now: t0,
				Rings: []Ring{ring("rest", first, 0, false, RingStatus{Hosts: 3, Pending: 3})}},
			Decision{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonStarted, Changed: true}},
		{"offline grace ahead: a time to look again",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, Rings: []Ring{ring("rest", first, 0, false, RingStatus{Hosts: 3, Pending: 1, Succeeded: 2, Healthy: 2})},
				OfflineGrace: time.Hour, RingOpened: t0, Now: t0.Add(time.Minute)},
			Decision{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, Wake: t0.Add(time.Hour)}},
		{"offline grace passed: the ring's hosts not started are skipped",
			Input{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, Rings: []Ring{ring("rest", first, 0, false, RingStatus{Hosts: 3, Pending: 1, Succeeded: 2, Healthy: 2})},
				OfflineGrace: time.Hour, RingOpened: t0, Now: t0.Add(time.Hour)},
			Decision{State: patchbay.DeploymentRunning, Reason: patchbay.ReasonRingOpen, SkipOfflineRing: true}},
		{"rolling back: waits for the rollbacks",
			Input{State: patchbay.DeploymentHalted, Reason: patchbay.ReasonRollingBack, Rings: []Ring{ring("early", five, 0, false, RingStatus{Hosts: 20, RollingBack: 2, RolledBack: 2})}, Now: t0},
			Decision{State: patchbay.DeploymentHalted, Reason: patchbay.ReasonRollingBack}},
		{"rolling back, a host offline: waits up to the progress deadline",
			Input{State: patchbay.DeploymentHalted, Reason: patchbay.ReasonRollingBack, Rings: []Ring{ring("early", five, 0, false, RingStatus{Hosts: 20, RollingBack: 1, RolledBack: 2})},
				ProgressDeadline: time.Hour, LastProgress: t0, Now: t0.Add(59 * time.Minute)},
			Decision{State: patchbay.DeploymentHalted, Reason: patchbay.ReasonRollingBack, Wake: t0.Add(time.Hour)}},
		{"rolling back, a host offline past the progress deadline: rolled back without it",
			Input{State: patchbay.DeploymentHalted, Reason: patchbay.ReasonRollingBack, Rings: []Ring{ring("early", five, 0, false, RingStatus{Hosts: 20, RollingBack: 1, RolledBack: 2})},
				ProgressDeadline: time.Hour, LastProgress: t0, Now: t0.Add(time.Hour)},
			Decision{State: patchbay.DeploymentRolledBack, Reason: patchbay.ReasonRolledBack, Changed: true}},
		{"rollbacks finished: rolled back",
			Input{State: patchbay.DeploymentHalted, Reason: patchbay.ReasonRollingBack, Rings: []Ring{ring("early", five, 0, false, RingStatus{Hosts: 20, RolledBack: 3, RollbackFailed: 1})}, Now: t0},
			Decision{State: patchbay.DeploymentRolledBack, Reason: patchbay.ReasonRolledBack, Changed: true}},
		{"halted by its threshold: waits for a person",
			Input{State: patchbay.DeploymentHalted, Reason: patchbay.ReasonThreshold, Rings: []Ring{ring("early", first, 0, false, RingStatus{Hosts: 2, Failed: 2})}, Now: t0},
			Decision{State: patchbay.DeploymentHalted, Reason: patchbay.ReasonThreshold}},
		{"paused: nothing moves, even a done ring",
			Input{State: patchbay.DeploymentPaused, Reason: patchbay.ReasonPausedByUser, Rings: []Ring{ring("pilot", first, 0, false, pilotDone), ring("rest", first, 0, false, RingStatus{Hosts: 5, Pending: 5})}, Now: t0.Add(time.Hour)},
			Decision{State: patchbay.DeploymentPaused, Reason: patchbay.ReasonPausedByUser}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide(tc.in)
			got.Detail = ""
			if got != tc.want {
				t.Fatalf("Decide =\n  %+v\nwant\n  %+v", got, tc.want)
			}
		})
	}
}

// TestDecideFinalStatesStay: nothing Decide does moves a deployment out of
// draft, awaiting approval, or a final state.
func TestDecideFinalStatesStay(t *testing.T) {
	for _, st := range []patchbay.DeploymentState{patchbay.DeploymentDraft, patchbay.DeploymentAwaitingApproval,
		patchbay.DeploymentCompleted, patchbay.DeploymentRolledBack, patchbay.DeploymentCancelled} {
		in := Input{State: st, Reason: patchbay.ReasonProposed, Rings: []Ring{ring("r", policy.Threshold{}, 0, false, RingStatus{Hosts: 3, Failed: 3})},
			WindowOpen: true, ProgressDeadline: time.Minute, LastProgress: t0.Add(-time.Hour), Now: t0}
		if d := Decide(in); d.Changed || d.State != st {
			t.Errorf("%s: Decide = %+v; want no change", st, d)
		}
	}
}

// TestDecideFixedPoint feeds random deployments to Decide and its answers
// back to it: every run settles within a few steps (the controller never
// loops), keeps the ring index in range, orders rollbacks only when
// halting, and only ever moves along the state machine's edges.
func TestDecideFixedPoint(t *testing.T) {
	edges := map[[2]patchbay.DeploymentState]bool{}
	for _, e := range [][2]patchbay.DeploymentState{
		{patchbay.DeploymentApproved, patchbay.DeploymentScheduled},
		{patchbay.DeploymentScheduled, patchbay.DeploymentRunning},
		{patchbay.DeploymentScheduled, patchbay.DeploymentHalted}, // started and halted in one step
		{patchbay.DeploymentScheduled, patchbay.DeploymentCompleted},
		{patchbay.DeploymentRunning, patchbay.DeploymentRunning},
		{patchbay.DeploymentRunning, patchbay.DeploymentHalted},
		{patchbay.DeploymentRunning, patchbay.DeploymentCompleted},
		{patchbay.DeploymentHalted, patchbay.DeploymentRolledBack},
	} {
		edges[e] = true
	}
	r := rand.New(rand.NewPCG(1, 2))
	states := []patchbay.DeploymentState{patchbay.DeploymentApproved, patchbay.DeploymentScheduled, patchbay.DeploymentRunning,
		patchbay.DeploymentPaused, patchbay.DeploymentHalted}
	reasons := []patchbay.StateReason{patchbay.ReasonProposed, patchbay.ReasonRingOpen, patchbay.ReasonSoaking, patchbay.ReasonRollingBack,
		patchbay.ReasonThreshold, patchbay.ReasonAwaitingPromotion, patchbay.ReasonResumed, patchbay.ReasonAwaitingStart, patchbay.ReasonStartOrdered}
	for i := range 20000 {
		in := Input{State: states[r.IntN(len(states))], Reason: reasons[r.IntN(len(reasons))], AutoRollback: r.IntN(2) == 0, ManualStart: r.IntN(4) == 0,
			OfflineGrace: time.Duration(r.IntN(3)) * 40 * time.Minute, RingOpened: t0.Add(-time.Duration(r.IntN(120)) * time.Minute),
			WindowOpen: r.IntN(2) == 0, WindowOpened: t0.Add(-time.Duration(r.IntN(120)) * time.Minute),
			ProgressDeadline: time.Duration(r.IntN(3)) * 30 * time.Minute, LastProgress: t0.Add(-time.Duration(r.IntN(180)) * time.Minute), Now: t0}
		for range r.IntN(5) {
			n := r.IntN(12)
			st := RingStatus{Hosts: n}
			left := n
			take := func() int {
				k := r.IntN(left + 1)
				left -= k
				return k
			}
			st.Pending, st.Running, st.Failed, st.Skipped = take(), take(), take(), take()
			st.Succeeded = left
			back := r.IntN(st.Failed + 1)
			st.RollingBack = r.IntN(back + 1)
			st.RolledBack = back - st.RollingBack
			st.Healthy = st.Succeeded - r.IntN(st.Succeeded+1)/3
			st.Finished = t0.Add(-time.Duration(r.IntN(120)) * time.Minute)
			th := policy.Threshold{N: r.IntN(4)}
			if r.IntN(2) == 0 {
				th = policy.Threshold{N: r.IntN(50), Percent: true}
			}
			in.Rings = append(in.Rings, ring("r", th, time.Duration(r.IntN(3))*30*time.Minute, r.IntN(4) == 0, st))
		}
		in.Current = r.IntN(len(in.Rings) + 1)
		cur, seen := in, []patchbay.DeploymentState{in.State}
		for step := 0; ; step++ {
			d := Decide(cur)
			if !d.Changed {
				break
			}
			if step == 4 {
				t.Fatalf("case %d: no fixed point after 4 steps from %+v", i, in)
			}
			if !edges[[2]patchbay.DeploymentState{cur.State, d.State}] {
				t.Fatalf("case %d: moved %s → %s (%s), not an edge of the state machine", i, cur.State, d.State, d.Reason)
			}
			if len(in.Rings) > 0 && (d.Current < 0 || d.Current >= len(in.Rings)) {
				t.Fatalf("case %d: current ring %d of %d", i, d.Current, len(in.Rings))
			}
			if cur.State == patchbay.DeploymentScheduled && cur.Reason == patchbay.ReasonAwaitingStart {
				t.Fatalf("case %d: a deployment waiting for a person's start moved to %s by itself", i, d.State)
			}
			if d.Rollback && (d.State != patchbay.DeploymentHalted || d.Reason != patchbay.ReasonRollingBack) {
				t.Fatalf("case %d: rollback ordered in %s (%s)", i, d.State, d.Reason)
			}
			cur.State, cur.Reason, cur.Current = d.State, d.Reason, d.Current
			if d.Reason == patchbay.ReasonPromoted {
				cur.LastProgress = cur.Now
			}
			seen = append(seen, d.State)
		}
		_ = slices.Compact(seen)
	}
}
