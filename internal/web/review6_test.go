package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
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

// TestJobResultFitsWhateverTheBodyLimit: a result within the protocol's
// bounds (256 KiB of output, escaped as JSON up to six-fold) must reach
// the store whatever --max-body-bytes says: refused with a 413, the job
// stayed running and was offered to the agent again. Here the fixture's
// limit is 4 KiB; the job does not exist, so the store answers 404 —
// after the body was read whole.
func TestJobResultFitsWhateverTheBodyLimit(t *testing.T) {
	f := newFixture(t, store.SQLite)
	res := protocol.JobResult{Attempt: 1, Status: protocol.JobSucceeded, Output: strings.Repeat("\x1b", protocol.MaxJobOutput),
		Started: time.Now(), Finished: time.Now()}
	body, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if len(body) <= 4096 {
		t.Fatalf("body of %d bytes proves nothing against a 4 KiB limit", len(body))
	}
	w := f.do(t, "POST", protocol.JobResultPath(999999), f.hostToken, string(body), false)
	if w.Code != http.StatusNotFound {
		t.Errorf("a %d-byte result: %d %s, want 404 (no such job) rather than a refusal of its size", len(body), w.Code, w.Body)
	}
	big := strings.Repeat(" ", protocol.MaxJobResultBody+1)
	if w := f.do(t, "POST", protocol.JobResultPath(999999), f.hostToken, big, false); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a body past the result limit: %d, want 413", w.Code)
	}
}
