package window

import (
	"fmt"
	"testing"
	"time"
)

// fleet builds windows for n hosts: a mix of expressions, durations and
// zones (named and host-local), as a policy engine would hold them.
func fleet(b *testing.B, n int) ([]Windows, []*time.Location) {
	b.Helper()
	crons := []string{"0 2 * * SAT", "30 2 * * 0", "0 22 * * FRI", "0 1 * * *", "*/30 1-4 * * MON-FRI", "0 3 1 * *", "@weekly", "0 4 * * 2,4"}
	durs := []time.Duration{time.Hour, 3 * time.Hour, 6 * time.Hour, 90 * time.Minute}
	zones := []string{"Europe/Berlin", "America/New_York", "Australia/Sydney", "America/Santiago", "Asia/Tokyo", "UTC", "Asia/Kolkata", "host"}
	hostZones := []string{"Europe/London", "America/Chicago", "Asia/Singapore", "Europe/Berlin"}
	sets := make([]Windows, n)
	hosts := make([]*time.Location, n)
	for i := range n {
		sets[i] = Windows{mustParse(b, crons[i%len(crons)], durs[i%len(durs)], zones[(i/len(crons))%len(zones)])}
		if i%3 == 0 { // a third of the hosts have a second window
			sets[i] = append(sets[i], mustParse(b, crons[(i+3)%len(crons)], durs[(i+1)%len(durs)], zones[(i+1)%len(zones)]))
		}
		hosts[i] = loadLoc(b, hostZones[i%len(hostZones)])
	}
	return sets, hosts
}

// BenchmarkNext is one Window.Next, cycling through 10,000 hosts' windows;
// after is the week of the 2026 spring-forward in Europe.
func BenchmarkNext(b *testing.B) {
	sets, hosts := fleet(b, 10_000)
	after := time.Date(2026, 3, 27, 12, 0, 0, 0, time.UTC)
	i := 0
	for b.Loop() {
		if _, ok := sets[i][0].Next(after, hosts[i]); !ok {
			b.Fatal("no opening")
		}
		i = (i + 1) % len(sets)
	}
}

// BenchmarkNextOpenFleet is one NextOpen for each of 10,000 hosts: what a
// policy evaluation over the fleet costs.
func BenchmarkNextOpenFleet(b *testing.B) {
	sets, hosts := fleet(b, 10_000)
	after := time.Date(2026, 3, 27, 12, 0, 0, 0, time.UTC)
	for b.Loop() {
		for i := range sets {
			if _, ok := sets[i].NextOpen(after, hosts[i]); !ok {
				b.Fatal("no opening")
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(sets)), "ns/host")
}

func BenchmarkDue(b *testing.B) {
	sets, hosts := fleet(b, 1000)
	mark := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
	now := time.Date(2026, 3, 29, 2, 0, 0, 0, time.UTC)
	i := 0
	for b.Loop() {
		Due(sets[i], mark, now, hosts[i])
		i = (i + 1) % len(sets)
	}
}

func BenchmarkParse(b *testing.B) {
	for _, c := range []string{"0 2 * * SAT", "*/15 1-3 1,15 JAN-MAR MON-FRI", "0 1 29 2 *"} {
		b.Run(fmt.Sprintf("%q", c), func(b *testing.B) {
			for b.Loop() {
				if _, err := Parse("w", Spec{Cron: c, Duration: time.Hour, Zone: "host"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
