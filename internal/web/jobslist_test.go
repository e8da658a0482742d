package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/store"
)

// TestDeploymentJobsQuery: the job list's filters and page size are
// checked, each refusal naming its parameter, before the deployment is
// looked up (none exists here: a good query is a 404).
func TestDeploymentJobsQuery(t *testing.T) {
	f := newFixture(t, store.SQLite)
	path := f.samplePath("/api/v1/deployments/{id}/jobs")
	viewer := f.tokens[patchbay.RoleViewer]
	for _, tc := range []struct {
		query string
		code  int
		field string
	}{
		{"", http.StatusNotFound, ""},
		{"?kind=install&state=failed&host=1&limit=1000", http.StatusNotFound, ""},
		{"?output=true&limit=50", http.StatusNotFound, ""},
		{"?output=true&limit=51", http.StatusBadRequest, "limit"},
		{"?state=broken", http.StatusBadRequest, "state"},
		{"?kind=reboot", http.StatusBadRequest, "kind"},
		{"?output=yes", http.StatusBadRequest, "output"},
		{"?cursor=-1", http.StatusBadRequest, "cursor"},
		{"?sort=host", http.StatusBadRequest, "sort"},
	} {
		w := f.do(t, "GET", path+tc.query, viewer, "", false)
		if w.Code != tc.code || tc.field != "" && !strings.Contains(w.Body.String(), `"`+tc.field+`"`) {
			t.Errorf("GET jobs%s: %d %s, want %d naming %q", tc.query, w.Code, w.Body, tc.code, tc.field)
		}
	}
}

// TestDeploymentOfflineGraceChecked: a person's offline grace is a
// duration from a minute to 90 days, or the deployment is refused naming
// the field.
func TestDeploymentOfflineGraceChecked(t *testing.T) {
	f := newFixture(t, store.SQLite)
	for _, grace := range []string{"3 days", "30s", "2161h", "-1h"} {
		body := fmt.Sprintf(`{"name":"grace","hosts":[%d],"windows":[{"cron":"0 2 * * 6","duration":"3h","zone":"UTC"}],"reboot":{"mode":"never"},"offline_grace":%q}`,
			f.victimHost, grace)
		w := f.do(t, "POST", "/api/v1/deployments", f.tokens[patchbay.RoleOperator], body, false)
		if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "offline_grace") {
			t.Errorf("offline grace %q: %d %s; want 422 naming offline_grace", grace, w.Code, w.Body)
		}
	}
}
