package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/store"
)

// TestReview6DeploymentRebootDelay: a person's deployment took any reboot
// delay. The agent reads one it cannot parse ("5 min") as none and
// reboots at once, without the notice the operator asked for; a negative
// or days-long one is no better. Policies refuse them (at most 24h); so
// must deployments.
func TestReview6DeploymentRebootDelay(t *testing.T) {
	f := newFixture(t, store.SQLite)
	for _, delay := range []string{"5 min", "-1m", "720h"} {
		body := fmt.Sprintf(`{"name":"reboot","hosts":[%d],"windows":[{"cron":"0 2 * * 6","duration":"3h","zone":"UTC"}],"reboot":{"mode":"always","delay":%q}}`,
			f.victimHost, delay)
		w := f.do(t, "POST", "/api/v1/deployments", f.tokens[patchbay.RoleOperator], body, false)
		if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "reboot.delay") {
			t.Errorf("reboot delay %q: %d %s; want 422 naming reboot.delay", delay, w.Code, w.Body)
		}
	}
}
