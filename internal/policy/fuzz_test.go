package policy

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/risk"
	"github.com/patchbay/patchbay/internal/window"
)

// fuzzSeeds are realistic policies, as the API receives them.
var fuzzSeeds = []string{
	`{"name":"critical fixes on prod","enabled":true,"priority":100,"selector":{"labels":["prod"]},"updates":{"classes":["critical"]},
	  "windows":[{"cron":"0 2 * * 6","duration":"3h","zone":"Europe/Berlin"}],"rings":[{"name":"canary","label":"canary","soak_time":"1h"},{"name":"rest","failure_threshold":"5%"}],
	  "reboot":{"mode":"if-required","delay":"5m"},"sla":{"critical":7,"high":14,"medium":30,"low":90,"unknown":30}}`,
	`{"name":"web","enabled":true,"selector":{"groups":["web","edge"],"os":["debian 12","ubuntu 22.04","rocky 9"],"criticality":["low","medium"]},
	  "updates":{"min_severity":"medium","exclude":["linux-image-*","nginx*"]},"auto_approve":{"classes":["critical","security"],"kev_only":true},
	  "deferral_days":3,"windows":[{"cron":"0 3 * * *","duration":"2h","zone":"host"},{"cron":"0 22 * * FRI","duration":"6h","zone":"UTC"}],
	  "rings":[{"name":"pilot","count":2,"max_parallel":1},{"name":"ten","percent":10},{"name":"rest","manual_promotion":true}]}`,
	`{"name":"everything","selector":{},"updates":{},"windows":[{"cron":"@daily","duration":"1h30m","zone":"Asia/Tokyo"}]}`,
	`{"name":"owners","selector":{"owners":["team-db@example.com"]},"updates":{"include":["postgresql-*","lib[pq]*"],"min_severity":"unknown"},
	  "windows":[{"cron":"*/30 1-4 * * MON-FRI","duration":"30m","zone":"America/New_York"}],"rings":[{"name":"db","group":"db"},{"name":"rest"}],
	  "reboot":{"mode":"never"},"sla":{"critical":1,"high":2,"medium":3,"low":4,"unknown":5}}`,
	`{"name":"bad","priority":5000,"windows":[{"cron":"0 2 * * 7","duration":"3 hours","zone":"Local"}],"rings":[{"name":"a"},{"name":"a","percent":-1}]}`,
	`{"name":"x","windows":[{"cron":"0 2 * * 6","duration":"3h","zone":"UTC"}],"rings":[{"name":"a","failure_threshold":"101%"}],"reboot":{"delay":"25h"}}`,
}

// FuzzCompile decodes a policy from JSON and compiles it, raw and
// normalized: Compile never panics, its errors are EUnprocessable and name
// a field, and a policy it accepts evaluates without panicking.
func FuzzCompile(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	hosts := []*patchbay.Host{
		host(1, "Europe/Berlin", "prod", "canary"),
		host(2, "America/New_York", "prod"),
		{ID: 3, OSFamily: "rhel", OSName: "rocky", OSRelease: "9.4", Groups: []string{"db", "web"}, Criticality: patchbay.CriticalityLow, Owner: "team-db@example.com", TimeZone: "Nowhere/Land"},
		{ID: 4},
	}
	seen := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	updates := map[int64][]Candidate{
		1: {cand(1, "openssl", risk.Critical, "critical", true, seen, "A"), cand(1, "linux-image-amd64", risk.Security, "high", false, seen, "B")},
		2: {cand(2, "nginx", risk.Security, "", false, seen, "C"), cand(2, "tzdata", risk.Bugfix, "", false, seen)},
		3: {cand(3, "libpq5", risk.Feature, "none", false, seen, "D")},
	}
	at := time.Date(2026, 3, 28, 1, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		var p patchbay.Policy
		if json.Unmarshal(data, &p) != nil {
			return
		}
		for _, normalize := range []bool{false, true} {
			if normalize {
				Normalize(&p)
			}
			c, err := Compile(p)
			if err != nil {
				var pe *patchbay.Error
				if !errors.As(err, &pe) || pe.Code != patchbay.EUnprocessable || pe.Field == "" || pe.Message == "" {
					t.Fatalf("Compile(%s): error %v (%T); want an EUnprocessable *patchbay.Error naming a field", data, err, err)
				}
				continue
			}
			c.Enabled = true
			for _, h := range hosts {
				c.Selects(h)
				Govern([]*Compiled{c}, h)
			}
			for _, us := range updates {
				for i := range us {
					c.Picks(&us[i])
					c.AutoApproves(&us[i])
					c.Eligible(&us[i], at)
				}
			}
			AssignRings(c.Policy.Rings, hosts)
			for _, g := range Groups([]*Compiled{c}, hosts) {
				Propose(g, updates, window.Interval{Start: at, End: at.Add(time.Hour)})
			}
			Evaluate([]*Compiled{c}, hosts, updates, at)
			if _, err := Simulate([]*Compiled{c}, c.ID, hosts, updates, at, 3); err != nil {
				t.Fatalf("Simulate(%s): %v", data, err)
			}
		}
	})
}
