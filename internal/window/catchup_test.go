package window

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestDue(t *testing.T) {
	berlin := loadLoc(t, "Europe/Berlin")
	saturday := []spec{{"0 2 * * SAT", 3 * time.Hour, "Europe/Berlin"}}
	overlapping := []spec{{"0 2 * * SAT", 3 * time.Hour, "Europe/Berlin"}, {"0 4 * * SAT", 3 * time.Hour, "Europe/Berlin"}}
	daily := []spec{{"0 1 * * *", time.Hour, "Europe/Berlin"}}
	gap := []spec{{"0,30 2 * * *", 90 * time.Minute, "Europe/Berlin"}}
	for _, tc := range []struct {
		name       string
		set        []spec
		mark, now  string // RFC 3339; mark "" is the zero mark
		wantDue    string // "start – end" in Berlin, "" for none
		wantMissed []string
		wantMark   string
	}{
		{"first call inside a window: due", saturday, "", "2026-05-16T03:00:00+02:00",
			"2026-05-16 02:00 +0200 – 2026-05-16 05:00 +0200", nil, "2026-05-16 05:00 +0200"},
		{"first call outside: nothing, mark now", saturday, "", "2026-05-15T12:00:00+02:00",
			"", nil, "2026-05-15 12:00 +0200"},
		{"window opens after the mark: due at its start", saturday, "2026-05-15T12:00:00+02:00", "2026-05-16T02:00:00+02:00",
			"2026-05-16 02:00 +0200 – 2026-05-16 05:00 +0200", nil, "2026-05-16 05:00 +0200"},
		{"acted on: the next tick in the same window does nothing", saturday, "2026-05-16T05:00:00+02:00", "2026-05-16T02:05:00+02:00",
			"", nil, "2026-05-16 05:00 +0200"},
		{"acted on: after it closes, nothing until the next", saturday, "2026-05-16T05:00:00+02:00", "2026-05-20T12:00:00+02:00",
			"", nil, "2026-05-16 05:00 +0200"},
		{"down across the start, back inside: due late, once", saturday, "2026-05-15T12:00:00+02:00", "2026-05-16T04:30:00+02:00",
			"2026-05-16 02:00 +0200 – 2026-05-16 05:00 +0200", nil, "2026-05-16 05:00 +0200"},
		{"down across a whole window: missed, not run", saturday, "2026-05-15T12:00:00+02:00", "2026-05-16T09:00:00+02:00",
			"", []string{"2026-05-16 02:00 +0200 – 2026-05-16 05:00 +0200"}, "2026-05-16 05:00 +0200"},
		{"missed is reported once", saturday, "2026-05-16T05:00:00+02:00", "2026-05-16T09:05:00+02:00",
			"", nil, "2026-05-16 05:00 +0200"},
		{"down two weeks, back inside the third window", saturday, "2026-05-10T12:00:00+02:00", "2026-05-30T03:00:00+02:00",
			"2026-05-30 02:00 +0200 – 2026-05-30 05:00 +0200",
			[]string{"2026-05-16 02:00 +0200 – 2026-05-16 05:00 +0200", "2026-05-23 02:00 +0200 – 2026-05-23 05:00 +0200"},
			"2026-05-30 05:00 +0200"},
		{"overlapping windows are acted on once", overlapping, "2026-05-15T12:00:00+02:00", "2026-05-16T02:00:00+02:00",
			"2026-05-16 02:00 +0200 – 2026-05-16 07:00 +0200", nil, "2026-05-16 07:00 +0200"},
		{"the second window's start inside the merged one is not due again", overlapping, "2026-05-16T07:00:00+02:00", "2026-05-16T04:00:00+02:00",
			"", nil, "2026-05-16 07:00 +0200"},
		{"clock set back an hour inside an acted window: not again", saturday, "2026-05-16T05:00:00+02:00", "2026-05-16T02:30:00+02:00",
			"", nil, "2026-05-16 05:00 +0200"},
		{"clock set back before the acted window's start: not again", saturday, "2026-05-16T05:00:00+02:00", "2026-05-16T01:00:00+02:00",
			"", nil, "2026-05-16 05:00 +0200"},
		{"clock jumps forward over a window: missed", daily, "2026-05-16T02:00:00+02:00", "2026-05-17T02:30:00+02:00",
			"", []string{"2026-05-17 01:00 +0200 – 2026-05-17 02:00 +0200"}, "2026-05-17 02:00 +0200"},
		{"clock jumps forward into a window: due", daily, "2026-05-16T02:00:00+02:00", "2026-05-17T01:30:00+02:00",
			"2026-05-17 01:00 +0200 – 2026-05-17 02:00 +0200", nil, "2026-05-17 02:00 +0200"},
		{"a mark from a clock years ahead is dropped", saturday, "2031-01-01T00:00:00+01:00", "2026-05-16T03:00:00+02:00",
			"2026-05-16 02:00 +0200 – 2026-05-16 05:00 +0200", nil, "2026-05-16 05:00 +0200"},
		{"a mark from a clock years ahead, outside a window", saturday, "2031-01-01T00:00:00+01:00", "2026-05-15T12:00:00+02:00",
			"", nil, "2026-05-15 12:00 +0200"},
		{"missed windows go back 31 days at most", daily, "2026-03-01T12:00:00+01:00", "2026-05-16T00:30:00+02:00",
			"", nil, "2026-05-15 02:00 +0200"}, // Missed checked by count below
		{"spring forward: collapsed starts are one window", gap, "2026-03-28T12:00:00+01:00", "2026-03-29T03:10:00+02:00",
			"2026-03-29 03:00 +0200 – 2026-03-29 04:30 +0200", nil, "2026-03-29 04:30 +0200"},
		{"fall back: the repeated hour is not a second window", gap, "2026-10-25T04:00:00+01:00", "2026-10-25T02:45:00+01:00",
			"", nil, "2026-10-25 04:00 +0100"},
		{"now equal to the mark", saturday, "2026-05-16T03:00:00+02:00", "2026-05-16T03:00:00+02:00",
			"", nil, "2026-05-16 03:00 +0200"},
		{"a window that closes exactly now is missed, not due", saturday, "2026-05-15T12:00:00+02:00", "2026-05-16T05:00:00+02:00",
			"", []string{"2026-05-16 02:00 +0200 – 2026-05-16 05:00 +0200"}, "2026-05-16 05:00 +0200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := mustSet(t, tc.set...)
			var mark time.Time
			if tc.mark != "" {
				mark = mustTime(t, tc.mark)
			}
			c := Due(ws, mark, mustTime(t, tc.now), nil)
			gotDue := ""
			if c.Due {
				gotDue = fmtIntervals([]Interval{c.Window}, berlin)
			}
			gotMissed := fmtIntervals(c.Missed, berlin)
			if strings.Contains(tc.name, "31 days") {
				if len(c.Missed) != 31 {
					t.Errorf("Due(daily, mark 76 days ago): %d missed; want 31", len(c.Missed))
				}
				gotMissed = ""
			}
			if gotDue != tc.wantDue || gotMissed != strings.Join(tc.wantMissed, "; ") || wall(c.Mark, berlin) != tc.wantMark {
				t.Errorf("Due(%v, mark %q, now %s):\n got due %q missed %q mark %s\nwant due %q missed %q mark %s",
					tc.set, tc.mark, tc.now, gotDue, gotMissed, wall(c.Mark, berlin), tc.wantDue, strings.Join(tc.wantMissed, "; "), tc.wantMark)
			}
		})
	}
}

// TestDueSimulation runs a scheduler over three months of ticks with
// outages, storing the mark Due returns, and checks that every merged
// window after the first tick is acted on or reported missed exactly once,
// acted on only while open, and missed only if no tick fell inside it.
func TestDueSimulation(t *testing.T) {
	sets := map[string][]spec{
		"saturday berlin":   {{"0 2 * * SAT", 3 * time.Hour, "Europe/Berlin"}},
		"overlapping":       {{"0 2 * * SAT", 3 * time.Hour, "Europe/Berlin"}, {"0 4 * * SAT", 3 * time.Hour, "UTC"}, {"0 22 * * WED", 90 * time.Minute, "host"}},
		"daily across DST":  {{"30 2 * * *", time.Hour, "Europe/Berlin"}, {"0,30 1 * * *", 20 * time.Minute, "America/New_York"}},
		"short and often":   {{"*/20 * * * *", 10 * time.Minute, "Australia/Sydney"}},
		"sydney and chile":  {{"0 0 * * *", 2 * time.Hour, "America/Santiago"}, {"30 2 * * SUN", 3 * time.Hour, "Australia/Sydney"}},
		"midnight spanning": {{"0 22 * * FRI", 6 * time.Hour, "host"}},
	}
	host := loadLoc(t, "Asia/Tokyo")
	for name, set := range sets {
		t.Run(name, func(t *testing.T) {
			ws := mustSet(t, set...)
			r := rand.New(rand.NewPCG(3, uint64(len(name))))
			start := time.Date(2026, 2, 15, 0, 0, 0, 0, time.UTC)
			end := time.Date(2026, 5, 15, 0, 0, 0, 0, time.UTC)
			mark := start // the policy's creation time
			type seen struct{ acted, missed int }
			outcome := map[time.Time]*seen{}
			var ticks []time.Time
			for now := start; now.Before(end); {
				c := Due(ws, mark, now, host)
				if c.Mark.Before(mark) {
					t.Fatalf("at %s the mark went back from %s to %s", now, mark, c.Mark)
				}
				if c.Due {
					if !c.Window.Contains(now) {
						t.Fatalf("at %s: due %v, which is not open", now, c.Window)
					}
					if outcome[c.Window.Start] == nil {
						outcome[c.Window.Start] = &seen{}
					}
					outcome[c.Window.Start].acted++
				}
				for _, m := range c.Missed {
					if !m.End.After(start) || m.End.After(now) {
						t.Fatalf("at %s: missed %v", now, m)
					}
					if outcome[m.Start] == nil {
						outcome[m.Start] = &seen{}
					}
					outcome[m.Start].missed++
				}
				mark = c.Mark
				ticks = append(ticks, now)
				step := time.Duration(1+r.IntN(15)) * time.Minute
				if r.IntN(200) == 0 {
					step = time.Duration(1+r.IntN(72)) * time.Hour // an outage
				}
				now = now.Add(step)
			}
			all := ws.Occurrences(start, ticks[len(ticks)-1], host)
			for _, iv := range all {
				if !iv.Start.After(start) {
					continue // opened before the policy existed
				}
				o := outcome[iv.Start]
				ticked := false
				for _, tk := range ticks {
					if iv.Contains(tk) {
						ticked = true
						break
					}
				}
				switch {
				case o == nil && iv.End.After(ticks[len(ticks)-1]):
					// Still open at the last tick and never seen: the
					// last tick came before it.
					if ticked {
						t.Errorf("%v was open at a tick and never acted on", iv)
					}
				case o == nil:
					t.Errorf("%v was neither acted on nor reported missed", iv)
				case o.acted+o.missed != 1:
					t.Errorf("%v acted on %d times, missed %d times; want once in all", iv, o.acted, o.missed)
				case o.missed == 1 && ticked:
					t.Errorf("%v reported missed although a tick fell inside it", iv)
				}
				delete(outcome, iv.Start)
			}
			for s, o := range outcome {
				t.Errorf("acted %d / missed %d on a window starting %s that Occurrences does not list", o.acted, o.missed, s)
			}
			if len(all) < 10 {
				t.Errorf("only %d windows in three months; the simulation tests little", len(all))
			}
		})
	}
}
