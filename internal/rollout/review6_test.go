package rollout

import (
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/policy"
)

// TestReview6RollbackWaitsForInstalls: a ring crossed its threshold while
// some of its hosts were still installing. The deployment must not end
// rolled back while they are: one that fails is rolled back too (the store
// orders it when its failure is reported), and "rolled back" would be
// false for it. It waits for them up to the progress deadline, so it still
// never hangs on a host that went away mid-install.
func TestReview6RollbackWaitsForInstalls(t *testing.T) {
	first := policy.Threshold{}
	st := RingStatus{Hosts: 3, Running: 2, Failed: 1, RolledBack: 1}
	in := Input{State: patchbay.DeploymentHalted, Reason: patchbay.ReasonRollingBack,
		Rings: []Ring{ring("pilot", first, 0, false, st)}, ProgressDeadline: time.Hour, LastProgress: t0, Now: t0.Add(10 * time.Minute)}
	if d := Decide(in); d.Changed || d.State != patchbay.DeploymentHalted {
		t.Errorf("two hosts still installing: %+v; want it to wait, halted", d)
	}
	in.Now = t0.Add(2 * time.Hour)
	if d := Decide(in); d.State != patchbay.DeploymentRolledBack {
		t.Errorf("past the progress deadline: %+v; want rolled back", d)
	}
	in.Rings[0].Status = RingStatus{Hosts: 3, Failed: 3, RolledBack: 3}
	in.Now = t0.Add(10 * time.Minute)
	if d := Decide(in); d.State != patchbay.DeploymentRolledBack {
		t.Errorf("every failed host back: %+v; want rolled back", d)
	}
}
