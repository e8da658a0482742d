package rollout

import (
	"fmt"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/window"
)

// MayStart is the rule for whether a due job may start on its host at now,
// and by when it must have begun: an install inside one of its
// deployment's windows (in the host's own zone for host-local windows),
// until that window closes; a fetch or a rollback at once (a rollback
// repairs a host a failed update left broken); any job of an emergency
// deployment at once. Each gets an hour to begin when no window bounds it.
func MayStart(c store.JobCandidate, now time.Time) (time.Time, bool, error) {
	if c.Job.Kind != patchbay.JobInstall || c.Emergency {
		return now.Add(time.Hour), true, nil
	}
	ws, err := window.FromSpecs("windows", c.Windows)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("deployment %d windows: %w", c.Job.DeploymentID, err)
	}
	loc := time.UTC
	if c.HostZone != "" {
		if l, err := time.LoadLocation(c.HostZone); err == nil {
			loc = l
		}
	}
	iv, ok := ws.Open(now, loc)
	return iv.End, ok, nil
}
