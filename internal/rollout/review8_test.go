package rollout_test

import (
	"context"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/rollout"
	"github.com/patchbay/patchbay/internal/store"
)

// TestReview8GraceAfterResumeBeforeStart: a deployment with an offline
// grace (a policy's deadline_days) is paused before any host started
// patching (its hosts were offline, say) and resumed, so it waits for its
// window again, scheduled. When that window opens the next day, its ring
// opened the day before by the stored ring_opened_at: the grace had
// "passed" at the very moment the ring opened again, and every host of the
// ring, online ones too, was skipped before any could take its install.
func TestReview8GraceAfterResumeBeforeStart(t *testing.T) {
	eachClocked(t, func(t *testing.T, s *store.Store, clock func() time.Time, later *time.Duration) {
		ctx := context.Background()
		hosts := fleetOf(t, s, 3)
		id := proposedWith(t, s, hosts, func(d *patchbay.Deployment) {
			d.OfflineGrace = int((2 * time.Hour) / time.Second)
			oneRing(d)
		})
		c := rollout.NewController(s, rollout.Options{Holder: "test", Now: clock})
		step := stepper(t, c, id)
		step() // scheduled
		for _, h := range hosts {
			agent(t, s, h, succeeded)
		}
		step() // running: the ring opens
		for _, a := range []rollout.Action{rollout.Pause, rollout.Resume} {
			if _, err := c.Act(ctx, id, a, "user:op"); err != nil {
				t.Fatal(err)
			}
		}
		if st, _ := state(t, s, id); st != patchbay.DeploymentScheduled {
			t.Fatalf("resumed before any host started: %s, want scheduled", st)
		}
		*later = 24 * time.Hour // the daily window opens again
		step()
		if st, reason := state(t, s, id); st != patchbay.DeploymentRunning {
			t.Fatalf("the window opened again: %s (%s), want running", st, reason)
		}
		for h, j := range installsOf(t, s, id) {
			if j.State != patchbay.JobPending {
				t.Errorf("host %d the moment its ring opened again: %s (%q), want pending: its grace starts now", h, j.State, j.Reason)
			}
		}
	})
}

// TestReview8GraceCountsFromTheWindow: a pilot soaks past the end of the
// window, so the next ring opens when no host of it can patch (a weekly or
// daily window, a soak of hours, or a person's promotion on a weekday).
// Its offline grace counted from that moment, in real time, and ran out
// before its hosts' next window: every host of the ring, online ones too,
// was skipped as "offline" without having had a window, what the per-ring
// grace was made to prevent. The grace counts from the first window of the
// ring's hosts since it opened; offline hosts are still skipped after it.
func TestReview8GraceCountsFromTheWindow(t *testing.T) {
	eachClocked(t, func(t *testing.T, s *store.Store, clock func() time.Time, later *time.Duration) {
		ctx := context.Background()
		hosts := fleetOf(t, s, 4)
		id := proposedWith(t, s, hosts, func(d *patchbay.Deployment) {
			d.OfflineGrace = int((2 * time.Hour) / time.Second)
			d.Rings[0].SoakTime = "3h" // the window (2h, opened 5 minutes ago) is closed by then
		})
		c := rollout.NewController(s, rollout.Options{Holder: "test", Now: clock})
		step := stepper(t, c, id)
		step() // scheduled
		for _, h := range hosts {
			agent(t, s, h, succeeded)
		}
		step() // running: the pilot opens
		for _, h := range hosts[:2] {
			agent(t, s, h, healthy)
		}
		step() // the pilot soaks
		*later = 3*time.Hour + time.Minute
		step() // soaked: ring "rest" opens, outside the window
		if d, _ := s.Deployment(ctx, id); d.CurrentRing != 1 {
			t.Fatalf("after the soak: ring %d, want ring 1 open", d.CurrentRing)
		}
		*later = 5*time.Hour + 2*time.Minute // 2h after the ring opened; its next window is tomorrow
		step()
		step()
		for _, h := range hosts[2:] {
			if j := installsOf(t, s, id)[h]; j.State != patchbay.JobPending {
				t.Errorf("host %d of a ring whose hosts have had no window yet: %s (%q), want pending", h, j.State, j.Reason)
			}
		}
		// The window opens the next day: hosts[2] patches, hosts[3]
		// stays offline through it and is skipped after the grace.
		*later = 24 * time.Hour
		step()
		if js := agent(t, s, hosts[2], healthy); len(js) != 1 || js[0].Kind != protocol.JobInstall {
			t.Fatalf("host %d in its window: got %+v, want its install", hosts[2], js)
		}
		step()
		if j := installsOf(t, s, id)[hosts[3]]; j.State != patchbay.JobPending {
			t.Fatalf("offline host within the grace from its window: %s, want pending", j.State)
		}
		*later = 26 * time.Hour
		step()
		step()
		if j := installsOf(t, s, id)[hosts[3]]; j.State != patchbay.JobSkipped {
			t.Errorf("offline host 2h after its ring's first window: %s (%q), want skipped", j.State, j.Reason)
		}
		if st, reason := state(t, s, id); st != patchbay.DeploymentCompleted {
			t.Errorf("every host done but the offline one: %s (%s), want completed", st, reason)
		}
	})
}

// TestReview8StartLateInTheWindow: a deployment made with manual start is
// started by a person three hours into a four-hour window (its hosts
// fetched ahead the day before). Its first decision counted the progress
// deadline (2h) from the window's opening, not from the start, and halted
// it at once, "no host finished for 2h", before any host could take its
// install. A deployment starts with its progress counted from then, as the
// controller stores it.
func TestReview8StartLateInTheWindow(t *testing.T) {
	eachClocked(t, func(t *testing.T, s *store.Store, clock func() time.Time, later *time.Duration) {
		ctx := context.Background()
		hosts := fleetOf(t, s, 2)
		opened := time.Now().UTC().Add(-3 * time.Hour)
		id := proposedWith(t, s, hosts, func(d *patchbay.Deployment) {
			d.ManualStart = true
			d.ProgressDeadline = int((2 * time.Hour) / time.Second)
			d.Windows = dailyWindow(opened, "4h")
			oneRing(d)
		})
		c := rollout.NewController(s, rollout.Options{Holder: "test", Now: clock})
		if _, err := c.Step(ctx, id); err != nil { // scheduled, awaiting its start
			t.Fatal(err)
		}
		*later = -20 * time.Hour // the fetches ran the day before
		for _, h := range hosts {
			agent(t, s, h, succeeded)
		}
		*later = 0
		if _, err := c.Act(ctx, id, rollout.Start, "user:op"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Step(ctx, id); err != nil {
			t.Fatal(err)
		}
		if st, reason := state(t, s, id); st != patchbay.DeploymentRunning {
			t.Fatalf("started by a person inside its window: %s (%s), want running", st, reason)
		}
	})
}

// TestReview8WatchedLongerThanTheProgressDeadline: a ring's min_healthy
// (up to 24h: "a pilot watched longer") keeps each host watched, its job
// succeeded and not yet healthy, for that long after it patched; no
// result comes meanwhile. A policy's deployments have a progress deadline
// of 2h: three hours of watching inside a four-hour window halted the
// deployment, "no host finished for 2h", though nothing was stuck. The
// progress deadline counts from the end of the watch.
func TestReview8WatchedLongerThanTheProgressDeadline(t *testing.T) {
	eachClocked(t, func(t *testing.T, s *store.Store, clock func() time.Time, later *time.Duration) {
		hosts := fleetOf(t, s, 3)
		opened := time.Now().UTC().Add(-5 * time.Minute)
		id := proposedWith(t, s, hosts, func(d *patchbay.Deployment) {
			d.ProgressDeadline = int((2 * time.Hour) / time.Second)
			d.Windows = dailyWindow(opened, "6h")
			d.Rings[0].MinHealthy = "3h"
		})
		c := rollout.NewController(s, rollout.Options{Holder: "test", Now: clock})
		step := stepper(t, c, id)
		step() // scheduled
		for _, h := range hosts {
			agent(t, s, h, succeeded)
		}
		step() // running: the pilot opens
		for _, h := range hosts[:2] {
			agent(t, s, h, succeeded) // patched; watched for 3h
		}
		step()
		*later = 2*time.Hour + 10*time.Minute
		step()
		if st, reason := state(t, s, id); st != patchbay.DeploymentRunning {
			t.Fatalf("pilot hosts watched for their ring's 3h: %s (%s), want running", st, reason)
		}
		*later = 5*time.Hour + 10*time.Minute // an hour and more past the end of the watch, no result
		step()
		if st, reason := state(t, s, id); st != patchbay.DeploymentHalted || reason != patchbay.ReasonProgressDeadline {
			t.Errorf("no result %s after the watch should have ended: %s (%s), want halted at the progress deadline", 2*time.Hour, st, reason)
		}
	})
}

// TestReview8OfflineHostsWaitForTheirGrace: a policy's deadline_days (the
// offline grace) says how long a ring waits for hosts offline through its
// window before they are skipped and the rollout goes on. Its deployments'
// progress deadline (2h) halted the ring two hours after its online hosts
// finished, the same day, "no host finished for 2h", and it waited for a
// person: the grace never came. With a grace (or a deadline) ahead, a ring
// whose only unfinished hosts have not taken their jobs waits for it.
func TestReview8OfflineHostsWaitForTheirGrace(t *testing.T) {
	eachClocked(t, func(t *testing.T, s *store.Store, clock func() time.Time, later *time.Duration) {
		ctx := context.Background()
		hosts := fleetOf(t, s, 3)
		opened := time.Now().UTC().Add(-5 * time.Minute)
		id := proposedWith(t, s, hosts, func(d *patchbay.Deployment) {
			d.ProgressDeadline = int((2 * time.Hour) / time.Second)
			d.OfflineGrace = int((3 * 24 * time.Hour) / time.Second)
			d.Windows = dailyWindow(opened, "6h")
		})
		c := rollout.NewController(s, rollout.Options{Holder: "test", Now: clock})
		step := stepper(t, c, id)
		step() // scheduled; hosts[1] is offline for days
		for _, h := range []int64{hosts[0], hosts[2]} {
			agent(t, s, h, succeeded)
		}
		step() // running: the pilot opens
		agent(t, s, hosts[0], healthy)
		step()
		*later = 2*time.Hour + 10*time.Minute
		step()
		if st, reason := state(t, s, id); st != patchbay.DeploymentRunning {
			t.Fatalf("the pilot's only host left offline, its grace 3 days: %s (%s), want running, waiting", st, reason)
		}
		*later = 3*24*time.Hour + time.Minute
		step()
		step()
		if d, _ := s.Deployment(ctx, id); d.State != patchbay.DeploymentRunning || d.CurrentRing != 1 {
			t.Errorf("past the pilot's grace: %s (%s) ring %d, want ring 1 open", d.State, d.Reason, d.CurrentRing)
		}
	})
}
