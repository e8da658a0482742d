package policy

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
)

func TestSimulate(t *testing.T) {
	s := newScenario(t)
	berlin := loadLoc(t, "Europe/Berlin")
	wednesday := time.Date(2026, 3, 25, 0, 0, 0, 0, berlin)

	t.Run("Saturdays across spring-forward", func(t *testing.T) {
		got, err := Simulate(s.ps, 10, s.hosts, s.updates, wednesday, 14)
		if err != nil {
			t.Fatal(err)
		}
		want := []struct{ start, end string }{
			{"2026-03-28 02:00 +0100", "2026-03-28 05:00 +0100"},
			{"2026-04-04 02:00 +0200", "2026-04-04 05:00 +0200"},
		}
		if len(got) != len(want) {
			t.Fatalf("Simulate: %d windows; want %d: %+v", len(got), len(want), got)
		}
		for i, w := range got {
			start, end := w.Window.Start.In(berlin).Format(wallLayout), w.Window.End.In(berlin).Format(wallLayout)
			if start != want[i].start || end != want[i].end || w.Hosts != 2 || w.Zone != "" || len(w.Proposals) != 2 {
				t.Errorf("window %d: %s – %s, zone %q, %d hosts, %d proposals; want %s – %s, 2 hosts, 2 proposals",
					i, start, end, w.Zone, w.Hosts, len(w.Proposals), want[i].start, want[i].end)
			}
		}
		// What Evaluate proposes inside each window is what Simulate showed.
		for _, w := range got {
			if ev := Evaluate(s.ps, s.hosts, s.updates, w.Window.Start.Add(time.Hour)); len(ev) < 2 || ev[0].Key != w.Proposals[0].Key || ev[1].Key != w.Proposals[1].Key {
				t.Errorf("Evaluate inside %s: %+v; Simulate said %+v", w.Window, summarize(ev), summarize(w.Proposals))
			}
		}
	})

	t.Run("host-local: one window a day per zone, deferral ending", func(t *testing.T) {
		from := mustTime(t, "2026-03-25T00:00:00Z")
		got, err := Simulate(s.ps, 20, s.hosts, s.updates, from, 7)
		if err != nil {
			t.Fatal(err)
		}
		perZone := map[string]int{}
		for i, w := range got {
			perZone[w.Zone]++
			if i > 0 && w.Window.Start.Before(got[i-1].Window.Start) {
				t.Errorf("window %d (%s) starts before window %d (%s)", i, w.Window, i-1, got[i-1].Window)
			}
			if w.Window.Start.Before(from) || !w.Window.Start.Before(from.Add(7*24*time.Hour)) {
				t.Errorf("window %s opens outside the range", w.Window)
			}
			if local := w.Window.Start.Format("15:04"); local != "03:00" {
				t.Errorf("window in %s opens at %s local; want 03:00", w.Zone, local)
			}
			if w.Zone == "America/New_York" {
				sum := summarize(w.Proposals)
				nginx := !w.Window.Start.Before(mustTime(t, "2026-03-29T12:00:00Z"))
				want := "3/0:libc6"
				if nginx {
					want = "3/0:libc6,nginx"
				}
				if len(sum) != 1 || len(sum[0].hosts) != 1 || sum[0].hosts[0] != want {
					t.Errorf("New York window %s: %+v; want %s", w.Window, sum, want)
				}
			}
		}
		if perZone["America/New_York"] != 7 || perZone["Asia/Tokyo"] != 7 || perZone["UTC"] != 7 || len(perZone) != 3 {
			t.Errorf("Simulate: windows per zone %v; want 7 in each of three", perZone)
		}
	})

	t.Run("disabled policy simulated as enabled", func(t *testing.T) {
		got, err := Simulate(s.ps, 30, s.hosts, s.updates, wednesday, 14)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Hosts != 7 {
			t.Fatalf("Simulate(disabled): %+v; want 2 windows of 7 hosts (it outranks the others)", got)
		}
		if s.ps[0].Enabled {
			t.Error("Simulate enabled the caller's policy")
		}
	})

	t.Run("no hosts: windows still listed", func(t *testing.T) {
		lonely := mustCompile(t, with(func(p *patchbay.Policy) { p.ID = 40; p.Selector.Labels = []string{"nobody"} }))
		got, err := Simulate(append(s.ps, lonely), 40, s.hosts, s.updates, wednesday, 14)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Hosts != 0 || got[0].Proposals != nil {
			t.Errorf("Simulate(no hosts): %+v; want two empty windows", got)
		}
	})

	for _, tc := range []struct {
		name string
		id   int64
		days int
		code patchbay.ErrorCode
	}{
		{"unknown policy", 99, 7, patchbay.ENotFound},
		{"no days", 10, 0, patchbay.EUnprocessable},
		{"too many days", 10, MaxSimulateDays + 1, patchbay.EUnprocessable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Simulate(s.ps, tc.id, s.hosts, s.updates, wednesday, tc.days)
			var pe *patchbay.Error
			if !errors.As(err, &pe) || pe.Code != tc.code {
				t.Errorf("Simulate(%d, %d days) error %v; want code %s", tc.id, tc.days, err, tc.code)
			}
		})
	}
}

const wallLayout = "2006-01-02 15:04 -0700"

func TestDueDate(t *testing.T) {
	seen := mustTime(t, "2026-03-25T10:00:00Z")
	for _, tc := range []struct {
		severity string
		due      string
	}{
		{"critical", "2026-04-01T10:00:00Z"},
		{"high", "2026-04-08T10:00:00Z"},
		{"medium", "2026-04-24T10:00:00Z"},
		{"low", "2026-06-23T10:00:00Z"},
		{"unknown", "2026-04-24T10:00:00Z"},
		{"", "2026-04-24T10:00:00Z"},
	} {
		due := DueDate(seen, tc.severity, patchbay.DefaultSLA())
		if !due.Equal(mustTime(t, tc.due)) {
			t.Errorf("DueDate(%s, %q, default) = %s; want %s", seen, tc.severity, due, tc.due)
		}
	}
	// 24-hour days, whatever the zone's clock does.
	berlin := loadLoc(t, "Europe/Berlin")
	local := time.Date(2026, 3, 28, 12, 0, 0, 0, berlin)
	if due := DueDate(local, "critical", patchbay.SLADays{Critical: 1}); due.Sub(local) != 24*time.Hour {
		t.Errorf("DueDate across spring-forward: %s after; want 24h", due.Sub(local))
	}
	due := mustTime(t, "2026-04-01T10:00:00Z")
	for _, tc := range []struct {
		now  string
		want bool
	}{
		{"2026-04-01T09:59:59Z", false},
		{"2026-04-01T10:00:00Z", false},
		{"2026-04-01T10:00:01Z", true},
	} {
		if got := Overdue(due, mustTime(t, tc.now)); got != tc.want {
			t.Errorf("Overdue(%s, %s) = %v; want %v", due, tc.now, got, tc.want)
		}
	}
}

// TestSimulateBounded: a policy opening every two minutes over a fleet
// stops with ETooLarge once its windows plan more than
// MaxSimulatedUpdates, instead of holding them all.
func TestSimulateBounded(t *testing.T) {
	p := basePolicy()
	p.Windows = []patchbay.WindowSpec{{Cron: "*/2 * * * *", Duration: "1m", Zone: "UTC"}}
	c := mustCompile(t, p)
	start := mustTime(t, "2026-03-02T00:00:00Z")
	var hosts []*patchbay.Host
	updates := map[int64][]Candidate{}
	for i := range int64(500) {
		h := host(i+1, "UTC", "prod")
		hosts = append(hosts, h)
		for j := range 10 {
			updates[h.ID] = append(updates[h.ID], cand(h.ID, fmt.Sprintf("pkg%d", j), "critical", "high", false, start.Add(-30*24*time.Hour)))
		}
	}
	_, err := Simulate([]*Compiled{c}, c.ID, hosts, updates, start, 14)
	if patchbay.ErrorCodeOf(err) != patchbay.ETooLarge {
		t.Fatalf("Simulate = %v; want too large", err)
	}
}
