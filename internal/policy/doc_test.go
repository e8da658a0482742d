package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/risk"
)

const policiesDoc = "../../docs/policies.md"

// docSection returns the text of docs/policies.md between the markers
// <!-- name:begin --> and <!-- name:end -->.
func docSection(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(policiesDoc)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	begin, end := "<!-- "+name+":begin -->", "<!-- "+name+":end -->"
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the %s … %s markers", policiesDoc, begin, end)
	}
	return s[i+len(begin) : j]
}

// TestDocExample is the "done when": the example policy of
// docs/policies.md (critical and KEV updates on prod hosts, Saturdays
// 02:00–05:00 Europe/Berlin, approval required, SLA critical 7 days),
// simulated for 14 days from a Wednesday, shows two Saturday windows with
// exactly the critical updates of prod hosts, each needing approval.
func TestDocExample(t *testing.T) {
	text := docSection(t, "example")
	text = strings.TrimSpace(text)
	text = strings.TrimSuffix(strings.TrimPrefix(text, "```json"), "```")
	var p patchbay.Policy
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("the example in %s does not decode: %v", policiesDoc, err)
	}
	p.ID, p.Version = 4, 1
	Normalize(&p)
	c, err := Compile(p)
	if err != nil {
		t.Fatalf("the example in %s does not compile: %v", policiesDoc, err)
	}
	if c.AutoApprove != nil || c.SLA.Critical != 7 {
		t.Fatalf("the example: auto_approve %+v, SLA %+v; want none, critical 7", c.AutoApprove, c.SLA)
	}
	everyone := mustCompile(t, with(func(p *patchbay.Policy) { p.ID, p.Name = 1, "everyone" }))

	berlin := loadLoc(t, "Europe/Berlin")
	seen := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	var hosts []*patchbay.Host
	updates := map[int64][]Candidate{}
	want := map[int64][]string{} // prod hosts' critical updates
	for id := int64(1); id <= 12; id++ {
		var labels []string
		switch {
		case id == 3:
			labels = []string{"prod", "canary"}
		case id%2 == 1:
			labels = []string{"prod"}
		default:
			labels = []string{"staging"}
		}
		hosts = append(hosts, host(id, "Europe/Berlin", labels...))
		updates[id] = []Candidate{
			cand(id, "openssl", risk.Critical, "high", true, seen, "DSA-5678-1"), // KEV
			cand(id, "libxml2", risk.Critical, "critical", false, seen, "CVE-2026-0001"),
			cand(id, "curl", risk.Security, "high", false, seen, "DSA-5679-1"),
			cand(id, "tzdata", risk.Bugfix, "", false, seen),
			cand(id, "cockpit", risk.Feature, "", false, seen),
		}
		if id%2 == 1 || id == 3 {
			want[id] = []string{"libxml2", "openssl"}
		}
	}
	wednesday := time.Date(2026, 5, 13, 0, 0, 0, 0, berlin)
	got, err := Simulate([]*Compiled{everyone, c}, 4, hosts, updates, wednesday, 14)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("Simulate: %d windows; want 2: %+v", len(got), got)
	}
	for i, day := range []string{"2026-05-16", "2026-05-23"} {
		w := got[i]
		if start, end := w.Window.Start.In(berlin).Format("2006-01-02 15:04 Mon"), w.Window.End.In(berlin).Format("15:04"); start != day+" 02:00 Sat" || end != "05:00" {
			t.Errorf("window %d: %s–%s; want %s 02:00 Sat–05:00", i, start, end, day)
		}
		if w.Hosts != len(want) || len(w.Proposals) != 1 {
			t.Fatalf("window %d: %d hosts, %d proposals; want %d hosts, 1 proposal", i, w.Hosts, len(w.Proposals), len(want))
		}
		pr := w.Proposals[0]
		if !pr.NeedsApproval || !strings.HasSuffix(pr.Key, ":approval") || pr.PolicyID != 4 {
			t.Errorf("window %d: proposal %s needs approval %v; want an approval proposal of policy 4", i, pr.Key, pr.NeedsApproval)
		}
		if len(pr.Hosts) != len(want) {
			t.Errorf("window %d: %d hosts proposed; want %d", i, len(pr.Hosts), len(want))
		}
		for _, h := range pr.Hosts {
			var names []string
			for _, u := range h.Updates {
				names = append(names, u.Name)
				if u.Class != "critical" {
					t.Errorf("window %d host %d: %s of class %s", i, h.HostID, u.Name, u.Class)
				}
			}
			if strings.Join(names, ",") != strings.Join(want[h.HostID], ",") {
				t.Errorf("window %d host %d: updates %v; want %v", i, h.HostID, names, want[h.HostID])
			}
			if wantRing := map[bool]int{true: 0, false: 1}[h.HostID == 3]; h.Ring != wantRing {
				t.Errorf("window %d host %d: ring %d; want %d", i, h.HostID, h.Ring, wantRing)
			}
		}
	}
	due := DueDate(seen, "critical", c.SLA)
	if due.Sub(seen) != 7*24*time.Hour || !Overdue(due, due.Add(time.Second)) {
		t.Errorf("DueDate(critical) = %s; want 7 days after %s", due, seen)
	}
}

// docBreakers makes the policy each row of the validation table in
// docs/policies.md describes, by field.
var docBreakers = map[string]func(p *patchbay.Policy){
	"name":                      func(p *patchbay.Policy) { p.Name = "" },
	"priority":                  func(p *patchbay.Policy) { p.Priority = 5000 },
	"selector.labels[1]":        func(p *patchbay.Policy) { p.Selector.Labels = []string{"prod", "has space"} },
	"selector.criticality[0]":   func(p *patchbay.Policy) { p.Selector.Criticality = []patchbay.Criticality{"urgent"} },
	"selector.os[0]":            func(p *patchbay.Policy) { p.Selector.OS = []string{"red hat 9"} },
	"updates.classes[0]":        func(p *patchbay.Policy) { p.Updates.Classes = []string{"urgent"} },
	"auto_approve.min_severity": func(p *patchbay.Policy) { p.AutoApprove = &patchbay.UpdateRule{MinSeverity: "severe"} },
	"updates.include[0]":        func(p *patchbay.Policy) { p.Updates.Include = []string{"lib[ssl"} },
	"windows":                   func(p *patchbay.Policy) { p.Windows = []patchbay.WindowSpec{} },
	"windows[1].duration": func(p *patchbay.Policy) {
		p.Windows = append(p.Windows, patchbay.WindowSpec{Cron: "@daily", Duration: "3 hours", Zone: "UTC"})
	},
	"rings[0]": func(p *patchbay.Policy) { p.Rings = []patchbay.RingSpec{{Name: "a"}, {Name: "b"}} },
	"rings[1].percent": func(p *patchbay.Policy) {
		p.Rings = []patchbay.RingSpec{{Name: "a", Count: 1}, {Name: "b", Percent: 101}}
	},
	"rings[0].failure_threshold": func(p *patchbay.Policy) { p.Rings[0].FailureThreshold = "two" },
	"reboot.mode":                func(p *patchbay.Policy) { p.Reboot.Mode = "sometimes" },
	"sla.unknown":                func(p *patchbay.Policy) { p.SLA.Unknown = 0 },
}

// TestDocValidationTable holds the messages of docs/policies.md's
// validation table to Compile's.
func TestDocValidationTable(t *testing.T) {
	b, err := os.ReadFile(policiesDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := bytes.Cut(b, []byte("### Validation"))
	if !ok {
		t.Fatalf("%s lacks its Validation section", policiesDoc)
	}
	table, _, _ = bytes.Cut(table, []byte("\n## "))
	rows := 0
	for _, line := range strings.Split(string(table), "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) != 3 || !strings.HasPrefix(line, "| `") {
			continue
		}
		rows++
		field := strings.Trim(cells[0], "|` ")
		msg := strings.TrimSuffix(cells[2], " |")
		breaker, ok := docBreakers[field]
		if !ok {
			t.Errorf("%s: no test policy for the row on %s", policiesDoc, field)
			continue
		}
		_, err := Compile(with(breaker))
		var pe *patchbay.Error
		if !errors.As(err, &pe) || pe.Field != field || pe.Message != msg {
			t.Errorf("%s row %s: Compile says %v; the row says %q", policiesDoc, field, err, msg)
		}
	}
	if rows != len(docBreakers) {
		t.Errorf("%s: %d rows in the validation table; want %d", policiesDoc, rows, len(docBreakers))
	}
}
