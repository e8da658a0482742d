package rollout

import (
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/policy"
)

// TestReview7RolledBackSaysWhoMayStillInstall: a rollback ends past its
// progress deadline while a host is still installing (gone mid-install).
// That host, finishing later, is not rolled back (the deployment has
// ended); the detail said only "N hosts back at their previous versions",
// and a person read the rollback as complete.
func TestReview7RolledBackSaysWhoMayStillInstall(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 2, 0, 0, 0, time.UTC)
	d := Decide(Input{State: patchbay.DeploymentHalted, Reason: patchbay.ReasonRollingBack,
		Rings:            []Ring{ring("all", policy.Threshold{N: 5}, 0, false, RingStatus{Hosts: 5, Running: 1, RolledBack: 4})},
		ProgressDeadline: time.Hour, LastProgress: t0, Now: t0.Add(time.Hour)})
	if d.State != patchbay.DeploymentRolledBack {
		t.Fatalf("past the progress deadline: %s, want rolled_back", d.State)
	}
	if !strings.Contains(d.Detail, "1 host") || !strings.Contains(d.Detail, "installing") {
		t.Errorf("detail %q does not say a host was still installing and may keep the deployment's versions", d.Detail)
	}
}
