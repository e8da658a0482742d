package policy

import (
	"fmt"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/risk"
)

// benchFleet is 10,000 hosts of mixed labels, groups, OSes, owners and
// zones; 20 policies with varied selectors and priorities, a quarter of
// them host-local, one disabled and one a catch-all of lowest priority; and
// 200,000 candidates, 20 a host, of every class and severity, some
// deferred.
func benchFleet(b *testing.B) ([]*Compiled, []*patchbay.Host, map[int64][]Candidate) {
	b.Helper()
	labels := []string{"prod", "staging", "dev", "canary", "pci", "edge"}
	groups := []string{"web", "db", "cache", "batch", "frontend"}
	oses := []struct{ family, name, release string }{{"debian", "debian", "12"}, {"debian", "ubuntu", "22.04"}, {"rhel", "rocky", "9.4"}, {"alpine", "alpine", "3.19.1"}}
	zones := []string{"Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "", "Australia/Sydney", "America/Sao_Paulo", "Asia/Kolkata"}
	crits := []patchbay.Criticality{"low", "medium", "high", "critical"}
	hosts := make([]*patchbay.Host, 10_000)
	for i := range hosts {
		os := oses[i%len(oses)]
		hosts[i] = &patchbay.Host{
			ID: int64(i + 1), Hostname: fmt.Sprintf("host-%05d", i+1),
			OSFamily: os.family, OSName: os.name, OSRelease: os.release,
			Labels:      []string{labels[i%len(labels)], labels[(i/7)%len(labels)]},
			Groups:      []string{groups[i%len(groups)]},
			Criticality: crits[(i/3)%len(crits)],
			Owner:       fmt.Sprintf("team-%d", i%12),
			TimeZone:    zones[(i/11)%len(zones)],
		}
	}
	var ps []*Compiled
	for i := range 20 {
		p := patchbay.Policy{
			ID: int64(i + 1), Name: fmt.Sprintf("policy %d", i+1), Version: 1, Enabled: i != 17, // one disabled
			Priority: (i * 37) % 200,
			// Saturday 00:00 to Monday 00:00 in the window's zone: open at
			// the benchmark's moment in every zone.
			Windows: []patchbay.WindowSpec{{Cron: "0 0 * * SAT", Duration: "48h", Zone: "Europe/Berlin"}},
			Rings:   []patchbay.RingSpec{{Name: "pilot", Label: "canary"}, {Name: "ten", Percent: 10}, {Name: "rest"}},
		}
		switch i % 5 {
		case 0:
			p.Selector.Labels = []string{labels[i%len(labels)]}
			p.Updates.Classes = []string{"critical", "security"}
		case 1:
			p.Selector.Groups = []string{groups[i%len(groups)], groups[(i+1)%len(groups)]}
			p.Updates.MinSeverity = "high"
			p.AutoApprove = &patchbay.UpdateRule{KEVOnly: true}
		case 2:
			p.Selector.OS = []string{"debian 12", "rocky 9"}
			p.Updates.Exclude = []string{"linux-image-*", "kernel*"}
			p.DeferralDays = 3
		case 3:
			p.Selector.Criticality = []patchbay.Criticality{crits[i%len(crits)]}
			p.Selector.Labels = []string{"prod"}
			p.Updates.Include = []string{"lib*", "openssl", "curl"}
		case 4:
			p.Selector.Owners = []string{fmt.Sprintf("team-%d", i%12)}
			p.AutoApprove = &patchbay.UpdateRule{Classes: []string{"bugfix", "security"}}
		}
		if i%4 == 0 {
			p.Windows = []patchbay.WindowSpec{{Cron: "0 0 * * SAT", Duration: "48h", Zone: "host"}}
		}
		Normalize(&p)
		ps = append(ps, mustCompile(b, p))
	}
	// A catch-all of lowest priority, so that every host is governed.
	all := patchbay.Policy{ID: 21, Name: "everyone", Version: 1, Enabled: true, Priority: -1000,
		Windows: []patchbay.WindowSpec{{Cron: "0 0 * * SAT", Duration: "48h", Zone: "UTC"}}}
	Normalize(&all)
	ps = append(ps[:19], mustCompile(b, all))

	names := []string{"openssl", "libssl3", "curl", "libcurl4", "bash", "tzdata", "linux-image-amd64", "kernel-core", "nginx", "libxml2",
		"python3", "perl-base", "systemd", "sudo", "openssh-server", "glibc", "zlib1g", "libc6", "git", "vim"}
	classes := []risk.Class{risk.Critical, risk.Security, risk.Security, risk.Bugfix, risk.Feature}
	sevs := []string{"critical", "high", "medium", "low", "unknown", ""}
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	updates := make(map[int64][]Candidate, len(hosts))
	for hi, h := range hosts {
		us := make([]Candidate, 20)
		for j := range us {
			k := hi*20 + j
			u := Candidate{
				HostID: h.ID, Ecosystem: "deb", Name: names[j], Arch: "amd64", FromVersion: "1.0-1", ToVersion: "1.0-2",
				Class: classes[k%len(classes)], KEV: k%97 == 0, Severity: sevs[k%len(sevs)],
				FirstSeen: base.Add(time.Duration(k%30) * 24 * time.Hour), Risk: k % 1000,
			}
			if u.Class == risk.Critical || u.Class == risk.Security {
				u.Fixes = []string{fmt.Sprintf("DSA-%d-1", k%5000)}
			} else {
				u.Severity = ""
			}
			us[j] = u
		}
		updates[h.ID] = us
	}
	return ps, hosts, updates
}

// BenchmarkEvaluate is one scheduler step over the whole fleet at a moment
// when every policy's window is open.
func BenchmarkEvaluate(b *testing.B) {
	ps, hosts, updates := benchFleet(b)
	at := time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC) // a Saturday
	var n, hostsProposed, planned int
	for b.Loop() {
		out := Evaluate(ps, hosts, updates, at)
		n, hostsProposed, planned = len(out), 0, 0
		for _, p := range out {
			hostsProposed += len(p.Hosts)
			for _, h := range p.Hosts {
				planned += len(h.Updates)
			}
		}
	}
	if n == 0 {
		b.Fatal("Evaluate proposed nothing")
	}
	b.ReportMetric(float64(n), "proposals")
	b.ReportMetric(float64(hostsProposed), "hosts")
	b.ReportMetric(float64(planned), "updates")
}
