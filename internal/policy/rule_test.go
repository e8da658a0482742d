package policy

import (
	"slices"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/risk"
)

func TestPicks(t *testing.T) {
	seen := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	openssl := cand(1, "openssl", risk.Critical, "critical", true, seen, "DSA-1")
	libcurl := cand(1, "libcurl4", risk.Security, "high", false, seen, "DSA-2")
	unrated := cand(1, "libxml2", risk.Security, "unknown", false, seen, "DSA-3")
	noSev := cand(1, "libyaml", risk.Security, "", false, seen, "DSA-4") // fixes something nobody rated
	low := cand(1, "less", risk.Security, "low", false, seen, "DSA-5")
	tzdata := cand(1, "tzdata", risk.Bugfix, "", false, seen)
	kernel := cand(1, "linux-image-amd64", risk.Security, "medium", false, seen, "DSA-6")
	feature := cand(1, "cockpit", risk.Feature, "", false, seen)
	all := []Candidate{openssl, libcurl, unrated, noSev, low, tzdata, kernel, feature}
	for _, tc := range []struct {
		name string
		rule patchbay.UpdateRule
		want []string
	}{
		{"empty rule: all", patchbay.UpdateRule{}, []string{"openssl", "libcurl4", "libxml2", "libyaml", "less", "tzdata", "linux-image-amd64", "cockpit"}},
		{"critical class", patchbay.UpdateRule{Classes: []string{"critical"}}, []string{"openssl"}},
		{"two classes", patchbay.UpdateRule{Classes: []string{"bugfix", "feature"}}, []string{"tzdata", "cockpit"}},
		{"min high: unknown ranks above critical", patchbay.UpdateRule{MinSeverity: "high"}, []string{"openssl", "libcurl4", "libxml2", "libyaml"}},
		{"min critical", patchbay.UpdateRule{MinSeverity: "critical"}, []string{"openssl", "libxml2", "libyaml"}},
		{"min unknown: only unrated", patchbay.UpdateRule{MinSeverity: "unknown"}, []string{"libxml2", "libyaml"}},
		{"min low: not what fixes nothing", patchbay.UpdateRule{MinSeverity: "Low"}, []string{"openssl", "libcurl4", "libxml2", "libyaml", "less", "linux-image-amd64"}},
		{"kev only", patchbay.UpdateRule{KEVOnly: true}, []string{"openssl"}},
		{"include glob", patchbay.UpdateRule{Include: []string{"lib*", "less"}}, []string{"libcurl4", "libxml2", "libyaml", "less"}},
		{"include class", patchbay.UpdateRule{Include: []string{"lib[cx]*"}}, []string{"libcurl4", "libxml2"}},
		{"exclude", patchbay.UpdateRule{Exclude: []string{"linux-image-*", "tzdata"}}, []string{"openssl", "libcurl4", "libxml2", "libyaml", "less", "cockpit"}},
		{"exclude wins over include", patchbay.UpdateRule{Include: []string{"lib*"}, Exclude: []string{"libyaml"}}, []string{"libcurl4", "libxml2"}},
		{"everything set", patchbay.UpdateRule{Classes: []string{"security"}, MinSeverity: "medium", Include: []string{"l*"}, Exclude: []string{"libxml?"}}, []string{"libcurl4", "libyaml", "linux-image-amd64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCompile(t, with(func(p *patchbay.Policy) { p.Updates = tc.rule; p.AutoApprove = &tc.rule }))
			var picked, approved []string
			for i := range all {
				if c.Picks(&all[i]) {
					picked = append(picked, all[i].Name)
				}
				if c.AutoApproves(&all[i]) {
					approved = append(approved, all[i].Name)
				}
			}
			if !slices.Equal(picked, tc.want) {
				t.Errorf("Picks with %+v: %v; want %v", tc.rule, picked, tc.want)
			}
			if !slices.Equal(approved, tc.want) {
				t.Errorf("AutoApproves with %+v: %v; want %v", tc.rule, approved, tc.want)
			}
		})
	}
	t.Run("no auto-approve rule", func(t *testing.T) {
		c := mustCompile(t, basePolicy())
		for i := range all {
			if c.AutoApproves(&all[i]) {
				t.Errorf("AutoApproves(%s) with no rule = true", all[i].Name)
			}
		}
	})
}

func TestEligible(t *testing.T) {
	seen := mustTime(t, "2026-03-01T10:00:00Z")
	for _, tc := range []struct {
		name string
		days int
		kev  bool
		at   string
		want bool
	}{
		{"no deferral", 0, false, "2026-03-01T10:00:00Z", true},
		{"deferred", 7, false, "2026-03-08T09:59:59Z", false},
		{"deferral over", 7, false, "2026-03-08T10:00:00Z", true},
		{"kev never deferred", 7, true, "2026-03-01T10:00:00Z", true},
		{"long deferral", 365, false, "2027-02-28T10:00:00Z", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCompile(t, with(func(p *patchbay.Policy) { p.DeferralDays = tc.days }))
			u := cand(1, "x", risk.Security, "high", tc.kev, seen, "A")
			if got := c.Eligible(&u, mustTime(t, tc.at)); got != tc.want {
				t.Errorf("Eligible(first seen %s, %d days, kev %v, at %s) = %v; want %v", seen, tc.days, tc.kev, tc.at, got, tc.want)
			}
		})
	}
}
