package policy

import (
	"testing"
	"time"

	"github.com/patchbay/patchbay"
)

// TestReviewGovernRetired: a retired host is governed by no policy, as
// Groups (which leaves it out of every schedule) already has it; its page
// must not name a policy that will never deploy to it.
func TestReviewGovernRetired(t *testing.T) {
	c := mustCompile(t, basePolicy())
	h := host(1, "")
	if got, _ := Govern([]*Compiled{c}, h); got != c {
		t.Fatalf("Govern(live host) = %v, want the policy", got)
	}
	retired := time.Now()
	h.RetiredAt = &retired
	if len(Groups([]*Compiled{c}, []*patchbay.Host{h})) != 0 {
		t.Fatalf("Groups holds a retired host")
	}
	got, gov := Govern([]*Compiled{c}, h)
	if got != nil || gov.PolicyID != 0 {
		t.Fatalf("Govern(retired host) = %v, %+v; want none", got, gov)
	}
}
