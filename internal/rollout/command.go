package rollout

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/patchbay/patchbay"
)

// Action is what a person asks of a deployment.
type Action string

// The actions.
const (
	Submit   Action = "submit"   // a draft goes to the approvers
	Approve  Action = "approve"  // an approver approves it
	Reject   Action = "reject"   // an approver rejects it
	Pause    Action = "pause"    // no new host starts; running ones finish
	Resume   Action = "resume"   // a paused deployment continues; a halted one continues, its failures accepted
	Retry    Action = "retry"    // a halted deployment runs its failed hosts again
	Promote  Action = "promote"  // the next ring starts (rings promoted by hand)
	Cancel   Action = "cancel"   // no new host starts, ever; pending hosts are skipped
	Start    Action = "start"    // a deployment made with manual start runs from its next window
	Rollback Action = "rollback" // every host it changed goes back to its previous versions
)

// Actions lists every action.
var Actions = []Action{Submit, Approve, Reject, Start, Pause, Resume, Retry, Promote, Cancel, Rollback}

// Effect is what the controller does to the jobs when a command is taken.
type Effect string

// The effects.
const (
	EffectNone           Effect = ""
	EffectForgive        Effect = "forgive"         // the current ring's failures no longer count
	EffectRetryFailed    Effect = "retry_failed"    // the current ring's failed jobs run again, a new attempt each
	EffectNextRing       Effect = "next_ring"       // the next ring opens
	EffectSkipPending    Effect = "skip_pending"    // jobs not handed out are skipped
	EffectRollbackAll    Effect = "rollback_all"    // every job that changed a host is ordered back
	EffectRollbackFailed Effect = "rollback_failed" // the current ring's failed jobs are ordered back
)

// Transition is a command's outcome.
type Transition struct {
	State  patchbay.DeploymentState
	Reason patchbay.StateReason
	Detail string
	Effect Effect
}

// allowed is the one table of which action is taken in which state;
// docs/deployments.md shows it, and a test keeps the two equal.
var allowed = map[Action][]patchbay.DeploymentState{
	Submit:   {patchbay.DeploymentDraft},
	Approve:  {patchbay.DeploymentAwaitingApproval},
	Reject:   {patchbay.DeploymentAwaitingApproval},
	Start:    {patchbay.DeploymentScheduled},
	Pause:    {patchbay.DeploymentScheduled, patchbay.DeploymentRunning},
	Resume:   {patchbay.DeploymentPaused, patchbay.DeploymentHalted},
	Retry:    {patchbay.DeploymentHalted},
	Promote:  {patchbay.DeploymentRunning},
	Cancel:   {patchbay.DeploymentDraft, patchbay.DeploymentAwaitingApproval, patchbay.DeploymentApproved, patchbay.DeploymentScheduled, patchbay.DeploymentRunning, patchbay.DeploymentPaused, patchbay.DeploymentHalted},
	Rollback: {patchbay.DeploymentRunning, patchbay.DeploymentPaused, patchbay.DeploymentHalted, patchbay.DeploymentCompleted},
}

// Allowed returns the states in which action a may be taken.
func Allowed(a Action) []patchbay.DeploymentState { return allowed[a] }

// Command decides the outcome of action a on a deployment in state (with
// reason), by user. A rollback of a completed deployment is allowed until
// keepUntil, the end of the retention of its hosts' previous packages.
// An action the state does not allow is an EConflict error saying which
// states allow it.
func Command(state patchbay.DeploymentState, reason patchbay.StateReason, a Action, by string, keepUntil, now time.Time) (Transition, error) {
	states, ok := allowed[a]
	if !ok {
		return Transition{}, patchbay.FieldError(patchbay.EUnprocessable, "action", "unknown action %q", a)
	}
	if !slices.Contains(states, state) {
		return Transition{}, patchbay.Errorf(patchbay.EConflict, "cannot %s a deployment that is %s (only when %s)", a, state, join(states))
	}
	switch a {
	case Submit:
		return Transition{patchbay.DeploymentAwaitingApproval, patchbay.ReasonNeedsApprove, "submitted by " + by, EffectNone}, nil
	case Approve:
		return Transition{patchbay.DeploymentApproved, patchbay.ReasonApproved, "approved by " + by, EffectNone}, nil
	case Reject:
		return Transition{patchbay.DeploymentCancelled, patchbay.ReasonRejected, "rejected by " + by, EffectSkipPending}, nil
	case Start:
		if reason != patchbay.ReasonAwaitingStart {
			return Transition{}, patchbay.Errorf(patchbay.EConflict, "nothing to start: the deployment runs by itself when its window opens (start is for deployments made with manual start)")
		}
		return Transition{patchbay.DeploymentScheduled, patchbay.ReasonStartOrdered, "started by " + by + ": the first ring opens with its window", EffectNone}, nil
	case Pause:
		return Transition{patchbay.DeploymentPaused, patchbay.ReasonPausedByUser, "paused by " + by, EffectNone}, nil
	case Resume:
		if state == patchbay.DeploymentHalted {
			if reason == patchbay.ReasonRollingBack {
				return Transition{}, patchbay.Errorf(patchbay.EConflict, "cannot resume a deployment while it rolls back")
			}
			return Transition{patchbay.DeploymentRunning, patchbay.ReasonResumed, "resumed by " + by + ", accepting the ring's failures", EffectForgive}, nil
		}
		return Transition{patchbay.DeploymentRunning, patchbay.ReasonResumed, "resumed by " + by, EffectNone}, nil
	case Retry:
		if reason == patchbay.ReasonRollingBack {
			return Transition{}, patchbay.Errorf(patchbay.EConflict, "cannot retry a deployment while it rolls back")
		}
		return Transition{patchbay.DeploymentRunning, patchbay.ReasonResumed, "failed hosts retried by " + by, EffectRetryFailed}, nil
	case Promote:
		if reason != patchbay.ReasonAwaitingPromotion {
			return Transition{}, patchbay.Errorf(patchbay.EConflict, "nothing to promote: the deployment is not waiting for a person to start its next ring")
		}
		return Transition{patchbay.DeploymentRunning, patchbay.ReasonPromoted, "next ring promoted by " + by, EffectNextRing}, nil
	case Cancel:
		detail := "cancelled by " + by
		if reason == patchbay.ReasonRollingBack {
			// Said loudly: the hosts whose rollback had not started keep
			// the deployment's versions.
			detail += " while rolling back: hosts not yet rolled back keep the versions the deployment installed"
		}
		return Transition{patchbay.DeploymentCancelled, patchbay.ReasonCancelled, detail, EffectSkipPending}, nil
	case Rollback:
		if state == patchbay.DeploymentCompleted && !now.Before(keepUntil) {
			return Transition{}, patchbay.Errorf(patchbay.EConflict, "cannot roll back: the previous packages were kept until %s", keepUntil.UTC().Format(time.RFC3339))
		}
		if reason == patchbay.ReasonRollingBack {
			return Transition{}, patchbay.Errorf(patchbay.EConflict, "the deployment is already rolling back")
		}
		return Transition{patchbay.DeploymentHalted, patchbay.ReasonRollingBack, "rollback ordered by " + by, EffectRollbackAll}, nil
	}
	return Transition{}, fmt.Errorf("action %s: no outcome", a) // unreachable: every action has a case
}

func join(states []patchbay.DeploymentState) string {
	names := make([]string, len(states))
	for i, s := range states {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}
