package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
)

func TestCompileAccepts(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    patchbay.Policy
	}{
		{"base", basePolicy()},
		{"full", with(func(p *patchbay.Policy) {
			p.Description = "critical fixes for production"
			p.Priority = -1000
			p.Selector = patchbay.Selector{
				Labels: []string{"prod", "pci"}, Groups: []string{"db"}, OS: []string{"debian", "rocky 9"},
				Criticality: []patchbay.Criticality{"high", "critical"}, Owners: []string{"team-db@example.com"},
			}
			p.Updates = patchbay.UpdateRule{Classes: []string{"critical", "security"}, MinSeverity: "High", Include: []string{"lib*", "openssl"}, Exclude: []string{"linux-image-*"}}
			p.AutoApprove = &patchbay.UpdateRule{KEVOnly: true, MinSeverity: "unknown"}
			p.DeferralDays = 365
			p.Windows = append(p.Windows, patchbay.WindowSpec{Cron: "0 3 * * 0", Duration: "1h30m", Zone: "host"})
			p.Rings = []patchbay.RingSpec{
				{Name: "pilot", Label: "canary", FailureThreshold: "0", SoakTime: "2h", ManualPromotion: true},
				{Name: "db", Group: "db", MaxParallel: 2},
				{Name: "ten", Percent: 10, FailureThreshold: "5%", SoakTime: "720h"},
				{Name: "five", Count: 5, FailureThreshold: "100%"},
				{Name: "rest", FailureThreshold: "3"},
			}
			p.Reboot = patchbay.RebootRule{Mode: patchbay.RebootAlways, Delay: "24h"}
			p.SLA = patchbay.SLADays{Critical: 1, High: 3650, Medium: 30, Low: 90, Unknown: 14}
		})},
		{"last ring may have a selector", with(func(p *patchbay.Policy) { p.Rings = []patchbay.RingSpec{{Name: "a", Percent: 50}} })},
		{"sixteen windows", with(func(p *patchbay.Policy) {
			for len(p.Windows) < MaxWindows {
				p.Windows = append(p.Windows, p.Windows[0])
			}
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Compile(tc.p)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if len(c.Windows) != len(tc.p.Windows) || len(c.Rings()) != len(tc.p.Rings) {
				t.Errorf("Compile: %d windows, %d rings; want %d, %d", len(c.Windows), len(c.Rings()), len(tc.p.Windows), len(tc.p.Rings))
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	rings := func(rs ...patchbay.RingSpec) func(p *patchbay.Policy) {
		return func(p *patchbay.Policy) { p.Rings = rs }
	}
	for _, tc := range []struct {
		name  string
		f     func(p *patchbay.Policy)
		field string
		msg   string
	}{
		{"no name", func(p *patchbay.Policy) { p.Name = "" }, "name", "required"},
		{"long name", func(p *patchbay.Policy) { p.Name = long(101) }, "name", "longer than 100"},
		{"control in name", func(p *patchbay.Policy) { p.Name = "a\nb" }, "name", "control"},
		{"long description", func(p *patchbay.Policy) { p.Description = long(2001) }, "description", "longer than 2000"},
		{"priority high", func(p *patchbay.Policy) { p.Priority = 1001 }, "priority", "-1000 to 1000"},
		{"priority low", func(p *patchbay.Policy) { p.Priority = -1001 }, "priority", "got -1001"},
		{"bad label", func(p *patchbay.Policy) { p.Selector.Labels = []string{"prod", "has space"} }, "selector.labels[1]", "letters, digits"},
		{"too many labels", func(p *patchbay.Policy) { p.Selector.Labels = make([]string, 65) }, "selector.labels", "at most 64"},
		{"bad group", func(p *patchbay.Policy) { p.Selector.Groups = []string{""} }, "selector.groups[0]", ""},
		{"empty os", func(p *patchbay.Policy) { p.Selector.OS = []string{"debian", "  "} }, "selector.os[1]", "OS family or name"},
		{"long os", func(p *patchbay.Policy) { p.Selector.OS = []string{long(65)} }, "selector.os[0]", "longer than 64"},
		{"os of three words", func(p *patchbay.Policy) { p.Selector.OS = []string{"red hat 9"} }, "selector.os[0]", `"red hat 9"`},
		{"bad criticality", func(p *patchbay.Policy) { p.Selector.Criticality = []patchbay.Criticality{"high", "urgent"} }, "selector.criticality[1]", "unknown criticality"},
		{"empty owner", func(p *patchbay.Policy) { p.Selector.Owners = []string{""} }, "selector.owners[0]", "empty"},
		{"long owner", func(p *patchbay.Policy) { p.Selector.Owners = []string{long(201)} }, "selector.owners[0]", "longer than 200"},
		{"bad class", func(p *patchbay.Policy) { p.Updates.Classes = []string{"security", "urgent"} }, "updates.classes[1]", `unknown class "urgent"`},
		{"bad min severity", func(p *patchbay.Policy) { p.Updates.MinSeverity = "severe" }, "updates.min_severity", "unknown severity"},
		{"none is no minimum", func(p *patchbay.Policy) { p.Updates.MinSeverity = "none" }, "updates.min_severity", "unknown severity"},
		{"bad include", func(p *patchbay.Policy) { p.Updates.Include = []string{"lib[ssl"} }, "updates.include[0]", "not a valid pattern"},
		{"empty exclude", func(p *patchbay.Policy) { p.Updates.Exclude = []string{"a", ""} }, "updates.exclude[1]", "empty pattern"},
		{"long exclude", func(p *patchbay.Policy) { p.Updates.Exclude = []string{long(101)} }, "updates.exclude[0]", "longer than 100"},
		{"too many includes", func(p *patchbay.Policy) { p.Updates.Include = make([]string, 101) }, "updates.include", "at most 100"},
		{"auto class", func(p *patchbay.Policy) { p.AutoApprove = &patchbay.UpdateRule{Classes: []string{"Critical"}} }, "auto_approve.classes[0]", "unknown class"},
		{"auto severity", func(p *patchbay.Policy) { p.AutoApprove = &patchbay.UpdateRule{MinSeverity: "moderate"} }, "auto_approve.min_severity", ""},
		{"auto exclude", func(p *patchbay.Policy) { p.AutoApprove = &patchbay.UpdateRule{Exclude: []string{`x\`}} }, "auto_approve.exclude[0]", "not a valid pattern"},
		{"negative deferral", func(p *patchbay.Policy) { p.DeferralDays = -1 }, "deferral_days", "0 to 365"},
		{"long deferral", func(p *patchbay.Policy) { p.DeferralDays = 366 }, "deferral_days", "got 366"},
		{"negative deadline", func(p *patchbay.Policy) { p.DeadlineDays = -1 }, "deadline_days", "0 (wait for later windows) to 90"},
		{"long deadline", func(p *patchbay.Policy) { p.DeadlineDays = 91 }, "deadline_days", "got 91"},
		{"no windows", func(p *patchbay.Policy) { p.Windows = nil }, "windows", "at least one window is required"},
		{"seventeen windows", func(p *patchbay.Policy) {
			for len(p.Windows) <= MaxWindows {
				p.Windows = append(p.Windows, p.Windows[0])
			}
		}, "windows", "at most 16"},
		{"bad cron", func(p *patchbay.Policy) { p.Windows[0].Cron = "0 2 * * 7" }, "windows[0].cron", "7 is not accepted"},
		{"bad duration", func(p *patchbay.Policy) {
			p.Windows = append(p.Windows, patchbay.WindowSpec{Cron: "@daily", Duration: "3 hours", Zone: "UTC"})
		}, "windows[1].duration", `"3 hours" is not a duration`},
		{"bad zone", func(p *patchbay.Policy) { p.Windows[0].Zone = "Local" }, "windows[0].zone", `"Local"`},
		{"no rings", rings(), "rings", "at least one ring"},
		{"eleven rings", func(p *patchbay.Policy) {
			for i := range 11 {
				p.Rings = append(p.Rings, patchbay.RingSpec{Name: "r" + string(rune('a'+i)), Count: 1})
			}
		}, "rings", "at most 10"},
		{"ring without name", rings(patchbay.RingSpec{Name: "a", Count: 1}, patchbay.RingSpec{}), "rings[1].name", "required"},
		{"long ring name", rings(patchbay.RingSpec{Name: long(64)}), "rings[0].name", "longer than 63"},
		{"duplicate ring", rings(patchbay.RingSpec{Name: "a", Count: 1}, patchbay.RingSpec{Name: "a"}), "rings[1].name", "also the name of rings[0]"},
		{"two selectors", rings(patchbay.RingSpec{Name: "a", Label: "x", Percent: 5}, patchbay.RingSpec{Name: "b"}), "rings[0]", "at most one of"},
		{"rest before last", rings(patchbay.RingSpec{Name: "a"}, patchbay.RingSpec{Name: "b", Count: 2}), "rings[0]", "only the last ring"},
		{"bad ring label", rings(patchbay.RingSpec{Name: "a", Label: "-x"}), "rings[0].label", ""},
		{"bad ring group", rings(patchbay.RingSpec{Name: "a", Group: "a b"}), "rings[0].group", ""},
		{"percent over", rings(patchbay.RingSpec{Name: "a", Percent: 10}, patchbay.RingSpec{Name: "b", Percent: 101}), "rings[1].percent", "1 to 100"},
		{"percent negative", rings(patchbay.RingSpec{Name: "a", Percent: -5}), "rings[0].percent", "got -5"},
		{"count negative", rings(patchbay.RingSpec{Name: "a", Count: -1}), "rings[0].count", "1 or more"},
		{"max parallel", rings(patchbay.RingSpec{Name: "a", MaxParallel: -1}), "rings[0].max_parallel", "0 (no bound) or more"},
		{"threshold words", rings(patchbay.RingSpec{Name: "a", FailureThreshold: "two"}), "rings[0].failure_threshold", "not a threshold"},
		{"threshold negative", rings(patchbay.RingSpec{Name: "a", FailureThreshold: "-1"}), "rings[0].failure_threshold", "not a threshold"},
		{"threshold plus", rings(patchbay.RingSpec{Name: "a", FailureThreshold: "+1"}), "rings[0].failure_threshold", "not a threshold"},
		{"threshold percent over", rings(patchbay.RingSpec{Name: "a", FailureThreshold: "101%"}), "rings[0].failure_threshold", "at most 100%"},
		{"threshold bare percent", rings(patchbay.RingSpec{Name: "a", FailureThreshold: "%"}), "rings[0].failure_threshold", "not a threshold"},
		{"soak words", rings(patchbay.RingSpec{Name: "a", SoakTime: "a day"}), "rings[0].soak_time", "not a duration"},
		{"soak negative", rings(patchbay.RingSpec{Name: "a", SoakTime: "-1h"}), "rings[0].soak_time", "negative"},
		{"soak long", rings(patchbay.RingSpec{Name: "a", SoakTime: "721h"}), "rings[0].soak_time", "at most 720h"},
		{"min healthy words", rings(patchbay.RingSpec{Name: "a", MinHealthy: "ten minutes"}), "rings[0].min_healthy", "not a duration"},
		{"min healthy long", rings(patchbay.RingSpec{Name: "a", MinHealthy: "25h"}), "rings[0].min_healthy", "at most 24h"},
		{"reboot mode", func(p *patchbay.Policy) { p.Reboot.Mode = "sometimes" }, "reboot.mode", "never, if-required or always"},
		{"reboot mode empty", func(p *patchbay.Policy) { p.Reboot.Mode = "" }, "reboot.mode", ""},
		{"reboot delay", func(p *patchbay.Policy) { p.Reboot.Delay = "soon" }, "reboot.delay", "not a duration"},
		{"reboot delay long", func(p *patchbay.Policy) { p.Reboot.Delay = "25h" }, "reboot.delay", "at most 24h"},
		{"reboot delay negative", func(p *patchbay.Policy) { p.Reboot.Delay = "-5m" }, "reboot.delay", "negative"},
		{"sla critical", func(p *patchbay.Policy) { p.SLA.Critical = 0 }, "sla.critical", "1 to 3650"},
		{"sla high", func(p *patchbay.Policy) { p.SLA.High = -1 }, "sla.high", ""},
		{"sla medium", func(p *patchbay.Policy) { p.SLA.Medium = 3651 }, "sla.medium", "got 3651"},
		{"sla low", func(p *patchbay.Policy) { p.SLA.Low = 0 }, "sla.low", ""},
		{"sla unknown", func(p *patchbay.Policy) { p.SLA.Unknown = 0 }, "sla.unknown", ""},
		{"sla zero unnormalized", func(p *patchbay.Policy) { p.SLA = patchbay.SLADays{} }, "sla.critical", ""},
		{"first field wins", func(p *patchbay.Policy) { p.Priority = 5000; p.SLA.Low = 0; p.Windows = nil }, "priority", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := with(tc.f)
			_, err := Compile(p)
			if err == nil {
				t.Fatalf("Compile: no error; want one on %s", tc.field)
			}
			if got := fieldOf(t, err); got != tc.field {
				t.Errorf("Compile: error on %q (%v); want %q", got, err, tc.field)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Compile: error %q; want it to say %q", err, tc.msg)
			}
			if err2 := Validate(p); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("Validate: %v; want Compile's %v", err2, err)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	p := patchbay.Policy{
		Name:        "  prod  ",
		Selector:    patchbay.Selector{Labels: []string{" prod"}, OS: []string{"debian 12 "}, Criticality: []patchbay.Criticality{" high "}},
		Updates:     patchbay.UpdateRule{Classes: []string{" critical"}, MinSeverity: " high ", Include: []string{" lib* "}},
		AutoApprove: &patchbay.UpdateRule{Exclude: []string{" kernel "}},
		Windows:     []patchbay.WindowSpec{{Cron: " 0 2 * * 6 ", Duration: " 3h ", Zone: " Europe/Berlin "}},
		Reboot:      patchbay.RebootRule{Delay: " 5m "},
	}
	Normalize(&p)
	c, err := Compile(p)
	if err != nil {
		t.Fatalf("Compile(Normalize(p)): %v", err)
	}
	if c.Name != "prod" || c.Selector.Labels[0] != "prod" || c.Selector.OS[0] != "debian 12" || c.Selector.Criticality[0] != "high" ||
		c.Updates.Classes[0] != "critical" || c.Updates.MinSeverity != "high" || c.Updates.Include[0] != "lib*" || c.AutoApprove.Exclude[0] != "kernel" ||
		c.Policy.Windows[0] != (patchbay.WindowSpec{Cron: "0 2 * * 6", Duration: "3h", Zone: "Europe/Berlin"}) {
		t.Errorf("Normalize left spaces: %+v", c.Policy)
	}
	if c.SLA != patchbay.DefaultSLA() {
		t.Errorf("Normalize: SLA %+v; want the default %+v", c.SLA, patchbay.DefaultSLA())
	}
	if c.Reboot.Mode != patchbay.RebootIfRequired || c.RebootDelay() != 5*time.Minute {
		t.Errorf("Normalize: reboot %+v, delay %s; want if-required, 5m", c.Reboot, c.RebootDelay())
	}
	if len(c.Policy.Rings) != 1 || c.Policy.Rings[0] != (patchbay.RingSpec{Name: "all"}) {
		t.Errorf("Normalize: rings %+v; want one, all", c.Policy.Rings)
	}

	// A partly set SLA is the person's: Compile reports the zeros.
	q := basePolicy()
	q.SLA = patchbay.SLADays{Critical: 3}
	Normalize(&q)
	if err := Validate(q); err == nil || fieldOf(t, err) != "sla.high" {
		t.Errorf("Validate(partial SLA) = %v; want an error on sla.high", err)
	}
}

func TestThreshold(t *testing.T) {
	for _, tc := range []struct {
		text            string
		failures, hosts int
		want            bool
	}{
		{"", 0, 10, false},
		{"", 1, 10, true},
		{"2", 2, 10, false},
		{"2", 3, 10, true},
		{"5%", 1, 20, false}, // 5% of 20 is 1
		{"5%", 2, 20, true},
		{"5%", 1, 10, true}, // 10% > 5%
		{"0%", 1, 100, true},
		{"100%", 10, 10, false},
	} {
		th, msg := parseThreshold(tc.text)
		if msg != "" {
			t.Fatalf("parseThreshold(%q): %s", tc.text, msg)
		}
		if got := th.Exceeded(tc.failures, tc.hosts); got != tc.want {
			t.Errorf("threshold %q: Exceeded(%d, %d) = %v; want %v", tc.text, tc.failures, tc.hosts, got, tc.want)
		}
	}
}

// TestCompileChecks: a policy's host checks are validated like a
// deployment's, naming the entry at fault.
func TestCompileChecks(t *testing.T) {
	for _, tc := range []struct {
		checks patchbay.HostChecks
		field  string
	}{
		{patchbay.HostChecks{Services: []string{"nginx.service", "bad unit; reboot"}}, "checks.services[1]"},
		{patchbay.HostChecks{PreHooks: []string{"../../bin/sh"}}, "checks.pre_hooks[0]"},
		{patchbay.HostChecks{PostHooks: []string{"-rf"}}, "checks.post_hooks[0]"},
		{patchbay.HostChecks{MinHealthySeconds: -1}, "checks.min_healthy_seconds"},
	} {
		p := basePolicy()
		p.Checks = tc.checks
		_, err := Compile(p)
		if got := fieldOf(t, err); got != tc.field {
			t.Errorf("checks %+v: error on %q (%v), want %q", tc.checks, got, err, tc.field)
		}
	}
	p := basePolicy()
	p.Checks = patchbay.HostChecks{PreHooks: []string{"drain-lb"}, PostHooks: []string{"smoke-test"}, Services: []string{"nginx.service"}, MinHealthySeconds: 300}
	if _, err := Compile(p); err != nil {
		t.Fatalf("valid checks refused: %v", err)
	}
}
