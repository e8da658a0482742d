package rollout

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
)

func TestCommand(t *testing.T) {
	keep := t0.Add(14 * 24 * time.Hour)
	tests := []struct {
		name   string
		state  patchbay.DeploymentState
		reason patchbay.StateReason
		action Action
		now    time.Time
		want   Transition
		err    string
	}{
		{"submit a draft", patchbay.DeploymentDraft, patchbay.ReasonProposed, Submit, t0,
			Transition{patchbay.DeploymentAwaitingApproval, patchbay.ReasonNeedsApprove, "", EffectNone}, ""},
		{"approve", patchbay.DeploymentAwaitingApproval, patchbay.ReasonNeedsApprove, Approve, t0,
			Transition{patchbay.DeploymentApproved, patchbay.ReasonApproved, "", EffectNone}, ""},
		{"reject", patchbay.DeploymentAwaitingApproval, patchbay.ReasonNeedsApprove, Reject, t0,
			Transition{patchbay.DeploymentCancelled, patchbay.ReasonRejected, "", EffectSkipPending}, ""},
		{"approve twice", patchbay.DeploymentApproved, patchbay.ReasonApproved, Approve, t0, Transition{}, "only when awaiting_approval"},
		{"pause running", patchbay.DeploymentRunning, patchbay.ReasonRingOpen, Pause, t0,
			Transition{patchbay.DeploymentPaused, patchbay.ReasonPausedByUser, "", EffectNone}, ""},
		{"resume paused", patchbay.DeploymentPaused, patchbay.ReasonPausedByUser, Resume, t0,
			Transition{patchbay.DeploymentRunning, patchbay.ReasonResumed, "", EffectNone}, ""},
		{"resume halted: failures accepted", patchbay.DeploymentHalted, patchbay.ReasonThreshold, Resume, t0,
			Transition{patchbay.DeploymentRunning, patchbay.ReasonResumed, "", EffectForgive}, ""},
		{"resume while rolling back", patchbay.DeploymentHalted, patchbay.ReasonRollingBack, Resume, t0, Transition{}, "while it rolls back"},
		{"retry halted", patchbay.DeploymentHalted, patchbay.ReasonProgressDeadline, Retry, t0,
			Transition{patchbay.DeploymentRunning, patchbay.ReasonResumed, "", EffectRetryFailed}, ""},
		{"retry running", patchbay.DeploymentRunning, patchbay.ReasonRingOpen, Retry, t0, Transition{}, "only when halted"},
		{"promote a ring waiting for it", patchbay.DeploymentRunning, patchbay.ReasonAwaitingPromotion, Promote, t0,
			Transition{patchbay.DeploymentRunning, patchbay.ReasonPromoted, "", EffectNextRing}, ""},
		{"promote a ring still patching", patchbay.DeploymentRunning, patchbay.ReasonRingOpen, Promote, t0, Transition{}, "nothing to promote"},
		{"start one waiting for a person", patchbay.DeploymentScheduled, patchbay.ReasonAwaitingStart, Start, t0,
			Transition{patchbay.DeploymentScheduled, patchbay.ReasonStartOrdered, "", EffectNone}, ""},
		{"start one that starts by itself", patchbay.DeploymentScheduled, patchbay.ReasonProposed, Start, t0, Transition{}, "nothing to start"},
		{"start one running", patchbay.DeploymentRunning, patchbay.ReasonRingOpen, Start, t0, Transition{}, "only when scheduled"},
		{"cancel halted", patchbay.DeploymentHalted, patchbay.ReasonThreshold, Cancel, t0,
			Transition{patchbay.DeploymentCancelled, patchbay.ReasonCancelled, "", EffectSkipPending}, ""},
		{"cancel completed", patchbay.DeploymentCompleted, patchbay.ReasonCompleted, Cancel, t0, Transition{}, "cannot cancel"},
		{"roll back halted", patchbay.DeploymentHalted, patchbay.ReasonThreshold, Rollback, t0,
			Transition{patchbay.DeploymentHalted, patchbay.ReasonRollingBack, "", EffectRollbackAll}, ""},
		{"roll back completed within retention", patchbay.DeploymentCompleted, patchbay.ReasonCompleted, Rollback, keep.Add(-time.Second),
			Transition{patchbay.DeploymentHalted, patchbay.ReasonRollingBack, "", EffectRollbackAll}, ""},
		{"roll back completed after retention", patchbay.DeploymentCompleted, patchbay.ReasonCompleted, Rollback, keep, Transition{}, "kept until"},
		{"roll back twice", patchbay.DeploymentHalted, patchbay.ReasonRollingBack, Rollback, t0, Transition{}, "already rolling back"},
		{"roll back cancelled", patchbay.DeploymentCancelled, patchbay.ReasonCancelled, Rollback, t0, Transition{}, "cannot rollback"},
		{"unknown action", patchbay.DeploymentRunning, patchbay.ReasonRingOpen, Action("explode"), t0, Transition{}, "unknown action"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Command(tc.state, tc.reason, tc.action, "alice", keep, tc.now)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Command = %+v, %v; want an error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil || !strings.Contains(got.Detail, "alice") {
				t.Fatalf("Command = %+v, %v", got, err)
			}
			got.Detail = ""
			if got != tc.want {
				t.Fatalf("Command = %+v; want %+v", got, tc.want)
			}
		})
	}
}

// TestDocsActionTable holds docs/deployments.md's table of actions equal
// to the one the code uses.
func TestDocsActionTable(t *testing.T) {
	doc, err := os.ReadFile("../../docs/deployments.md")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("| action | allowed when the deployment is |\n|---|---|\n")
	for _, a := range Actions {
		b.WriteString("| `" + string(a) + "` | " + join(Allowed(a)) + " |\n")
	}
	if !strings.Contains(string(doc), b.String()) {
		t.Fatalf("docs/deployments.md lacks the action table, which is now:\n%s", b.String())
	}
}
