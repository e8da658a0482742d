package rollout_test

import (
	"context"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/rollout"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/store/storetest"
)

// TestReview7RollbackOrderedLongAfter: a person rolls back a deployment
// completed hours ago (allowed for 14 days). A rollback waits for its
// hosts up to the progress deadline, counted from the last job that
// finished: hours ago, so the very next decision ended the deployment
// rolled_back and skipped every rollback job before any host could take
// one. Nothing was rolled back, and the deployment said it was.
func TestReview7RollbackOrderedLongAfter(t *testing.T) {
	eachClocked(t, review7RollbackOrderedLongAfter)
}

func review7RollbackOrderedLongAfter(t *testing.T, s *store.Store, clock func() time.Time, later *time.Duration) {
	ctx := context.Background()
	{
		hosts := fleetOf(t, s, 2)
		id := proposedWith(t, s, hosts, func(d *patchbay.Deployment) {
			d.ProgressDeadline = int(time.Hour / time.Second)
			oneRing(d)
		})
		c := rollout.NewController(s, rollout.Options{Holder: "test", Now: clock})
		step := stepper(t, c, id)
		step() // scheduled
		for _, h := range hosts {
			agent(t, s, h, succeeded) // fetch
		}
		step() // running
		for _, h := range hosts {
			agent(t, s, h, healthy) // install
		}
		step()
		if st, reason := state(t, s, id); st != patchbay.DeploymentCompleted {
			t.Fatalf("every host healthy: %s (%s), want completed", st, reason)
		}
		*later = 3 * time.Hour // a person finds a problem an afternoon later
		if _, err := c.Act(ctx, id, rollout.Rollback, "user:op"); err != nil {
			t.Fatal(err)
		}
		step()
		if st, reason := state(t, s, id); st != patchbay.DeploymentHalted || reason != patchbay.ReasonRollingBack {
			t.Errorf("rollback ordered, no host has had a chance to take it: %s (%s), want halted, rolling back", st, reason)
		}
		for _, h := range hosts {
			js, err := s.ClaimJobs(ctx, h, time.Now(), 16, func(store.JobCandidate) (time.Time, bool) { return time.Now().Add(time.Hour), true })
			if err != nil {
				t.Fatal(err)
			}
			if len(js) != 1 || js[0].Kind != protocol.JobRollback {
				t.Errorf("host %d got %+v after the rollback was ordered, want its rollback job", h, js)
			}
		}
	}
}

// TestReview7ManualStartSurvivesPause: a deployment made with manual start
// waits for a person's start. Paused while it waited (say, to stop the
// fetches while a mirror is broken) and resumed, it went back to plain
// scheduled and started by itself at its next window: hosts patched at a
// time nobody chose.
func TestReview7ManualStartSurvivesPause(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		hosts := fleetOf(t, s, 3)
		id := proposedWith(t, s, hosts, func(d *patchbay.Deployment) { d.ManualStart = true })
		c := rollout.NewController(s, rollout.Options{Holder: "test"})
		if _, err := c.Step(ctx, id); err != nil {
			t.Fatal(err)
		}
		if st, reason := state(t, s, id); st != patchbay.DeploymentScheduled || reason != patchbay.ReasonAwaitingStart {
			t.Fatalf("approved with manual start: %s (%s), want scheduled, awaiting its start", st, reason)
		}
		for _, a := range []rollout.Action{rollout.Pause, rollout.Resume} {
			if _, err := c.Act(ctx, id, a, "user:op"); err != nil {
				t.Fatal(err)
			}
		}
		for range 2 {
			if _, err := c.Step(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if st, reason := state(t, s, id); st != patchbay.DeploymentScheduled || reason != patchbay.ReasonAwaitingStart {
			t.Errorf("paused and resumed while awaiting its start, window open: %s (%s), want still awaiting a person's start", st, reason)
		}
		for _, h := range hosts[:2] {
			for _, j := range agent(t, s, h, healthy) {
				if j.Kind == protocol.JobInstall {
					t.Errorf("host %d was handed its install though nobody started the deployment", h)
				}
			}
		}
		if _, err := c.Act(ctx, id, rollout.Start, "user:op"); err != nil {
			t.Fatalf("start after the resume: %v", err)
		}
	})
}
