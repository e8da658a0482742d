package web_test

import (
	"testing"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/store"
)

// TestReviewExplainBadIDs: a work queue id with a zero or negative part
// is bad input (400), not a nil dereference in the handler ("0-5" loaded
// no planning data at all).
func TestReviewExplainBadIDs(t *testing.T) {
	f := newFixture(t, store.SQLite)
	for _, id := range []string{"0-5", "5-0", "1--5", "-1-5", "0-0"} {
		w := f.do(t, "GET", "/api/v1/updates/"+id, f.tokens[patchbay.RoleViewer], "", false)
		if w.Code != 400 {
			t.Errorf("GET /api/v1/updates/%s: %d %s, want 400", id, w.Code, w.Body)
		}
	}
}
