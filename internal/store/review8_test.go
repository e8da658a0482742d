package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/store/storetest"
)

// TestReview8LostInstallWhilePaused: an install handed out whose answer
// was lost is offered again. A person then pauses the deployment (or a
// ring's failures halt it): nothing new starts. It was offered with a
// start still ahead, so the agent that never received it installed it
// now, in a paused or halted deployment, the update a person had just
// stopped. Like one of a deployment that ended, it is offered with its
// start past: an agent that has it journalled reports what it did, one
// that never got it refuses it, and it waits, pending, for the resume.
func TestReview8LostInstallWhilePaused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for _, stop := range []struct {
			state  patchbay.DeploymentState
			reason patchbay.StateReason
		}{
			{patchbay.DeploymentPaused, patchbay.ReasonPausedByUser},
			{patchbay.DeploymentHalted, patchbay.ReasonRollingBack},
		} {
			id, hosts := r6Running(t, s, 1, 0)
			got := claim(t, s, hosts[0], nil) // the answer is lost
			if len(got) != 1 || got[0].Kind != protocol.JobInstall {
				t.Fatalf("claimed %+v, want the install", got)
			}
			apply(t, s, store.RolloutChange{ID: id, FromState: patchbay.DeploymentRunning, FromReason: patchbay.ReasonStarted,
				State: stop.state, Reason: stop.reason, Actor: "user:op"})
			again := claim(t, s, hosts[0], nil)
			if len(again) != 1 || again[0].ID != got[0].ID || again[0].StartBy.After(time.Now()) {
				t.Fatalf("%s: offered again: %+v; want the same install with its start past", stop.state, again)
			}
			// The agent never had it: it refuses it, and it waits.
			if _, err := s.RecordJobResult(ctx, hosts[0], again[0].ID, protocol.JobResult{Attempt: again[0].Attempt,
				Status: protocol.JobRefused, Reason: "not begun", Started: time.Now(), Finished: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if j := installs(t, s, id)[again[0].ID]; j.State != patchbay.JobPending {
				t.Errorf("%s: refused install: %s, want pending for the resume", stop.state, j.State)
			}
		}
	})
}

// TestReview8CodenameMovesPlanStamp: a policy's os selector takes a
// release or a codename ("debian trixie"). A host whose codename changed
// at check-in, its release unchanged (Debian testing has no VERSION_ID),
// moves what policy governs it, but plan_facts_at did not move: the
// planner reused its last build for up to 10 minutes, a window's proposal
// included.
func TestReview8CodenameMovesPlanStamp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		secret := enrollSecret(t, s, store.NewEnrollSecret{})
		f := facts("testing-1", "r8m01")
		f.OSRelease = map[string]string{"ID": "debian", "VERSION_CODENAME": "trixie"}
		e, err := s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: secret, Facts: f})
		if err != nil {
			t.Fatal(err)
		}
		hs, err := s.AuthenticateHost(ctx, e.HostToken)
		if err != nil {
			t.Fatal(err)
		}
		before, err := s.PlanStamp(ctx)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
		f.OSRelease = map[string]string{"ID": "debian", "VERSION_CODENAME": "forky"}
		if _, err := s.CheckIn(ctx, hs, f, strings.Repeat("0", 64)); err != nil {
			t.Fatal(err)
		}
		after, err := s.PlanStamp(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if after == before {
			t.Errorf("planner stamp %s unchanged after the host's codename moved from trixie to forky", after)
		}
	})
}
