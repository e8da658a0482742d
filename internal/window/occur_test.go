package window

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

// nextCase is one call of Window.Next: the window, the host's zone for
// host-local windows, after (RFC 3339), and the interval wanted as wall
// clock and offset in the zone the window is read in.
type nextCase struct {
	name      string
	cron      string
	dur       time.Duration
	zone      string
	host      string
	after     string
	wantStart string // "" for no opening
	wantEnd   string
}

func runNext(t *testing.T, cases []nextCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := mustParse(t, tc.cron, tc.dur, tc.zone)
			host := loadLoc(t, tc.host)
			loc := w.location(host)
			after := mustTime(t, tc.after)
			iv, ok := w.Next(after, host)
			call := fmt.Sprintf("%q for %s in %s (host %q).Next(%s)", tc.cron, FormatDuration(tc.dur), tc.zone, tc.host, tc.after)
			if tc.wantStart == "" {
				if ok {
					t.Errorf("%s = %s – %s; want none", call, wall(iv.Start, loc), wall(iv.End, loc))
				}
				return
			}
			if !ok {
				t.Fatalf("%s = none; want %s – %s", call, tc.wantStart, tc.wantEnd)
			}
			if gs, ge := wall(iv.Start, loc), wall(iv.End, loc); gs != tc.wantStart || ge != tc.wantEnd {
				t.Errorf("%s = %s – %s; want %s – %s", call, gs, ge, tc.wantStart, tc.wantEnd)
			}
			if iv.End.Sub(iv.Start) != tc.dur || !iv.End.After(after) {
				t.Errorf("%s = %s – %s: want End = Start + %s and End after %s", call, iv.Start, iv.End, tc.dur, after)
			}
		})
	}
}

// Europe/Berlin 2026: clocks spring forward 2026-03-29 02:00 CET → 03:00
// CEST and fall back 2026-10-25 03:00 CEST → 02:00 CET.
func TestNextEuropeBerlin(t *testing.T) {
	const z = "Europe/Berlin"
	runNext(t, []nextCase{
		{"weekly start in the gap runs at 03:00, not a week later", "30 2 * * 0", 3 * time.Hour, z, "", "2026-03-28T00:00:00+01:00", "2026-03-29 03:00 +0200", "2026-03-29 06:00 +0200"},
		{"daily 02:00 on spring-forward day", "0 2 * * *", time.Hour, z, "", "2026-03-28T12:00:00+01:00", "2026-03-29 03:00 +0200", "2026-03-29 04:00 +0200"},
		{"last minute of the gap", "59 2 * * *", time.Hour, z, "", "2026-03-28T12:00:00+01:00", "2026-03-29 03:00 +0200", "2026-03-29 04:00 +0200"},
		{"03:00 itself is unaffected", "0 3 * * *", time.Hour, z, "", "2026-03-28T12:00:00+01:00", "2026-03-29 03:00 +0200", "2026-03-29 04:00 +0200"},
		{"the day after the gap is normal", "0 2 * * *", time.Hour, z, "", "2026-03-29T05:00:00+02:00", "2026-03-30 02:00 +0200", "2026-03-30 03:00 +0200"},
		{"start before the gap keeps its time, end is absolute", "30 1 * * *", time.Hour, z, "", "2026-03-28T12:00:00+01:00", "2026-03-29 01:30 +0100", "2026-03-29 03:30 +0200"},
		{"window across the gap lasts 3 real hours", "0 1 * * *", 3 * time.Hour, z, "", "2026-03-28T12:00:00+01:00", "2026-03-29 01:00 +0100", "2026-03-29 05:00 +0200"},
		{"after inside the shifted window returns it", "30 2 * * 0", 3 * time.Hour, z, "", "2026-03-29T04:00:00+02:00", "2026-03-29 03:00 +0200", "2026-03-29 06:00 +0200"},
		{"repeated 02:30 runs at the first, CEST", "30 2 * * *", time.Hour, z, "", "2026-10-24T12:00:00+02:00", "2026-10-25 02:30 +0200", "2026-10-25 02:30 +0100"},
		{"the second 02:30 does not run", "30 2 * * *", 30 * time.Minute, z, "", "2026-10-25T02:15:00+01:00", "2026-10-26 02:30 +0100", "2026-10-26 03:00 +0100"},
		{"02:00 on fall-back day is the CEST one", "0 2 * * SUN", 3 * time.Hour, z, "", "2026-10-24T00:00:00+02:00", "2026-10-25 02:00 +0200", "2026-10-25 04:00 +0100"},
		{"window across the fall back lasts 3 real hours", "0 1 * * *", 3 * time.Hour, z, "", "2026-10-24T12:00:00+02:00", "2026-10-25 01:00 +0200", "2026-10-25 03:00 +0100"},
		{"03:00 after the fall back", "0 3 * * *", time.Hour, z, "", "2026-10-24T12:00:00+02:00", "2026-10-25 03:00 +0100", "2026-10-25 04:00 +0100"},
		{"saturday 02:00-05:00 before spring forward", "0 2 * * SAT", 3 * time.Hour, z, "", "2026-03-23T00:00:00+01:00", "2026-03-28 02:00 +0100", "2026-03-28 05:00 +0100"},
		{"saturday 02:00-05:00 the week after", "0 2 * * SAT", 3 * time.Hour, z, "", "2026-03-28T05:00:00+01:00", "2026-04-04 02:00 +0200", "2026-04-04 05:00 +0200"},
		{"saturday 02:00-05:00, after at its start", "0 2 * * SAT", 3 * time.Hour, z, "", "2026-10-24T02:00:00+02:00", "2026-10-24 02:00 +0200", "2026-10-24 05:00 +0200"},
		{"saturday 02:00-05:00, after inside", "0 2 * * SAT", 3 * time.Hour, z, "", "2026-10-24T04:59:00+02:00", "2026-10-24 02:00 +0200", "2026-10-24 05:00 +0200"},
		{"saturday 02:00-05:00, after at its end", "0 2 * * SAT", 3 * time.Hour, z, "", "2026-10-24T05:00:00+02:00", "2026-10-31 02:00 +0100", "2026-10-31 05:00 +0100"},
	})
}

// America/New_York 2026: 2026-03-08 02:00 EST → 03:00 EDT; 2026-11-01
// 02:00 EDT → 01:00 EST.
func TestNextAmericaNewYork(t *testing.T) {
	const z = "America/New_York"
	runNext(t, []nextCase{
		{"02:30 in the gap", "30 2 * * *", time.Hour, z, "", "2026-03-07T12:00:00-05:00", "2026-03-08 03:00 -0400", "2026-03-08 04:00 -0400"},
		{"two starts in the gap collapse", "0,30 2 8 3 *", time.Hour, z, "", "2026-03-07T12:00:00-05:00", "2026-03-08 03:00 -0400", "2026-03-08 04:00 -0400"},
		{"repeated 01:30 runs at the first, EDT", "30 1 * * *", time.Hour, z, "", "2026-10-31T12:00:00-04:00", "2026-11-01 01:30 -0400", "2026-11-01 01:30 -0500"},
		{"the second 01:30 does not run", "30 1 * * *", 20 * time.Minute, z, "", "2026-11-01T01:00:00-05:00", "2026-11-02 01:30 -0500", "2026-11-02 01:50 -0500"},
		{"friday night across midnight", "0 22 * * FRI", 6 * time.Hour, z, "", "2026-10-30T23:00:00-04:00", "2026-10-30 22:00 -0400", "2026-10-31 04:00 -0400"},
		{"sunday 00:00 for 4h spans the fall back", "@weekly", 4 * time.Hour, z, "", "2026-10-31T12:00:00-04:00", "2026-11-01 00:00 -0400", "2026-11-01 03:00 -0500"},
	})
}

// Australia/Sydney 2026, the southern hemisphere: DST ends 2026-04-05
// 03:00 AEDT → 02:00 AEST and starts 2026-10-04 02:00 AEST → 03:00 AEDT.
func TestNextAustraliaSydney(t *testing.T) {
	const z = "Australia/Sydney"
	runNext(t, []nextCase{
		{"repeated 02:30 runs at the first, AEDT", "30 2 * * *", time.Hour, z, "", "2026-04-04T12:00:00+11:00", "2026-04-05 02:30 +1100", "2026-04-05 02:30 +1000"},
		{"second 02:30 does not run", "30 2 * * *", 10 * time.Minute, z, "", "2026-04-05T02:15:00+10:00", "2026-04-06 02:30 +1000", "2026-04-06 02:40 +1000"},
		{"02:30 in the October gap", "30 2 * * *", time.Hour, z, "", "2026-10-03T12:00:00+10:00", "2026-10-04 03:00 +1100", "2026-10-04 04:00 +1100"},
		{"sunday 02:00 weekly in the gap", "0 2 * * SUN", 3 * time.Hour, z, "", "2026-09-28T00:00:00+10:00", "2026-10-04 03:00 +1100", "2026-10-04 06:00 +1100"},
		{"saturday 23:00 to sunday 05:00 across the gap", "0 23 * * SAT", 6 * time.Hour, z, "", "2026-10-03T12:00:00+10:00", "2026-10-03 23:00 +1000", "2026-10-04 06:00 +1100"},
	})
}

// Lord Howe Island moves its clocks by 30 minutes.
func TestNextLordHowe(t *testing.T) {
	const z = "Australia/Lord_Howe"
	runNext(t, []nextCase{
		{"02:15 in a half-hour gap", "15 2 * * *", time.Hour, z, "", "2026-10-03T12:00:00+10:30", "2026-10-04 02:30 +1100", "2026-10-04 03:30 +1100"},
		{"01:45 repeated in a half-hour fall back", "45 1 * * *", time.Hour, z, "", "2026-04-04T12:00:00+11:00", "2026-04-05 01:45 +1100", "2026-04-05 02:15 +1030"},
	})
}

// America/Santiago changes its clocks at midnight, so its gap swallows
// 00:00, and its rules change often: the cases are built from the
// transitions the tz database has for 2026 rather than written down.
func TestNextAmericaSantiago(t *testing.T) {
	loc := loadLoc(t, "America/Santiago")
	var forward, back time.Time // the instants the clocks change
	for x := time.Date(2026, 1, 1, 0, 0, 0, 0, loc); x.Year() == 2026; {
		_, end := x.ZoneBounds()
		if end.IsZero() || end.Year() != 2026 {
			break
		}
		_, before := end.Add(-time.Second).Zone()
		if _, after := end.Zone(); after > before {
			forward = end
		} else {
			back = end
		}
		x = end
	}
	if forward.IsZero() || back.IsZero() {
		t.Skip("the tz database has no 2026 DST change for America/Santiago")
	}
	t.Logf("America/Santiago 2026: DST ends %s, starts %s", back.Add(-time.Second), forward)
	_, offBefore := forward.Add(-time.Second).Zone()
	gapWall := forward.In(time.FixedZone("", offBefore)) // the first wall time that does not exist
	_, offDST := back.Add(-time.Second).Zone()
	repeated := back.Add(-30 * time.Minute) // wall time repeated after back
	cronAt := func(t time.Time) string {
		return fmt.Sprintf("%d %d %d %d *", t.Minute(), t.Hour(), t.Day(), int(t.Month()))
	}
	gapCron := cronAt(gapWall)
	runNext(t, []nextCase{
		{"start at the first missing minute runs when the clock resumes", gapCron, 2 * time.Hour, "America/Santiago", "",
			forward.Add(-12 * time.Hour).Format(time.RFC3339), wall(forward, loc), wall(forward.Add(2*time.Hour), loc)},
		{"repeated time runs at the first occurrence", cronAt(repeated.In(loc)), time.Hour, "America/Santiago", "",
			back.Add(-12 * time.Hour).Format(time.RFC3339), wall(repeated, loc), wall(repeated.Add(time.Hour), loc)},
	})
	if offDST <= offBefore {
		t.Errorf("offsets: DST %d, standard %d; want DST larger", offDST, offBefore)
	}
	// In 2026 the gap is the midnight hour: a daily midnight window on the
	// day the clocks go forward opens at 01:00.
	if gapWall.Hour() == 0 && gapWall.Minute() == 0 {
		runNext(t, []nextCase{{"daily midnight on the spring-forward day opens at 01:00", "@daily", 2 * time.Hour, "America/Santiago", "",
			forward.Add(-12 * time.Hour).Format(time.RFC3339), wall(forward, loc), wall(forward.Add(2*time.Hour), loc)}})
	}
}

func TestNextHostZone(t *testing.T) {
	runNext(t, []nextCase{
		{"host in Berlin", "0 2 * * SAT", 3 * time.Hour, "host", "Europe/Berlin", "2026-05-11T00:00:00Z", "2026-05-16 02:00 +0200", "2026-05-16 05:00 +0200"},
		{"host in New York", "0 2 * * SAT", 3 * time.Hour, "host", "America/New_York", "2026-05-11T00:00:00Z", "2026-05-16 02:00 -0400", "2026-05-16 05:00 -0400"},
		{"host in Sydney", "0 2 * * SAT", 3 * time.Hour, "host", "Australia/Sydney", "2026-05-11T00:00:00Z", "2026-05-16 02:00 +1000", "2026-05-16 05:00 +1000"},
		{"host in Kolkata", "0 2 * * SAT", 3 * time.Hour, "host", "Asia/Kolkata", "2026-05-11T00:00:00Z", "2026-05-16 02:00 +0530", "2026-05-16 05:00 +0530"},
		{"host zone unknown is UTC", "0 2 * * SAT", 3 * time.Hour, "host", "", "2026-05-11T00:00:00Z", "2026-05-16 02:00 +0000", "2026-05-16 05:00 +0000"},
		{"host in Berlin in the gap", "30 2 * * 0", 3 * time.Hour, "host", "Europe/Berlin", "2026-03-28T00:00:00+01:00", "2026-03-29 03:00 +0200", "2026-03-29 06:00 +0200"},
		{"named zone ignores the host's", "0 2 * * SAT", 3 * time.Hour, "Europe/Berlin", "America/New_York", "2026-05-11T00:00:00Z", "2026-05-16 02:00 +0200", "2026-05-16 05:00 +0200"},
	})
}

func TestNextCalendar(t *testing.T) {
	runNext(t, []nextCase{
		{"leap day", "0 1 29 2 *", time.Hour, "UTC", "", "2026-03-01T00:00:00Z", "2028-02-29 01:00 +0000", "2028-02-29 02:00 +0000"},
		{"leap day skips 2100", "0 1 29 2 *", time.Hour, "UTC", "", "2097-03-01T00:00:00Z", "2104-02-29 01:00 +0000", "2104-02-29 02:00 +0000"},
		{"31st skips short months", "0 1 31 * *", time.Hour, "UTC", "", "2026-04-01T00:00:00Z", "2026-05-31 01:00 +0000", "2026-05-31 02:00 +0000"},
		{"day of month or day of week: the 1st, a Sunday", "0 3 1 * MON", time.Hour, "UTC", "", "2026-02-28T00:00:00Z", "2026-03-01 03:00 +0000", "2026-03-01 04:00 +0000"},
		{"day of month or day of week: the Monday after", "0 3 1 * MON", time.Hour, "UTC", "", "2026-03-01T04:00:00Z", "2026-03-02 03:00 +0000", "2026-03-02 04:00 +0000"},
		{"day of week * means the day of month alone", "0 3 1 * *", time.Hour, "UTC", "", "2026-03-01T04:00:00Z", "2026-04-01 03:00 +0000", "2026-04-01 04:00 +0000"},
		{"a *-step day of month and a weekday: both", "0 3 */2 * MON", time.Hour, "UTC", "", "2026-03-01T00:00:00Z", "2026-03-09 03:00 +0000", "2026-03-09 04:00 +0000"},
		{"midnight-spanning friday window from inside on saturday", "0 22 * * FRI", 6 * time.Hour, "Europe/Berlin", "", "2026-05-16T03:59:00+02:00", "2026-05-15 22:00 +0200", "2026-05-16 04:00 +0200"},
		{"midnight-spanning friday window after it closed", "0 22 * * FRI", 6 * time.Hour, "Europe/Berlin", "", "2026-05-16T04:00:00+02:00", "2026-05-22 22:00 +0200", "2026-05-23 04:00 +0200"},
		{"new year's eve into the new year", "0 23 31 12 *", 4 * time.Hour, "Asia/Tokyo", "", "2026-12-31T23:30:00+09:00", "2026-12-31 23:00 +0900", "2027-01-01 03:00 +0900"},
		{"a week-long window found from its last day", "0 0 * * MON", MaxDuration, "UTC", "", "2026-05-17T23:59:00Z", "2026-05-11 00:00 +0000", "2026-05-18 00:00 +0000"},
		{"yearly", "0 4 1 JAN *", 2 * time.Hour, "UTC", "", "2026-01-01T06:00:00Z", "2027-01-01 04:00 +0000", "2027-01-01 06:00 +0000"},
		{"monthly", "@monthly", 2 * time.Hour, "UTC", "", "2026-01-15T00:00:00Z", "2026-02-01 00:00 +0000", "2026-02-01 02:00 +0000"},
	})
}

// TestRobfigNextLosesAWeek shows why occurrences are computed here: cron's
// own Next, for a weekly start in the hour Berlin skips, goes to the week
// after instead of running when the clock resumes.
func TestRobfigNextLosesAWeek(t *testing.T) {
	berlin := loadLoc(t, "Europe/Berlin")
	after := time.Date(2026, 3, 28, 0, 0, 0, 0, berlin)
	sched, err := cron.ParseStandard("CRON_TZ=Europe/Berlin 30 2 * * 0")
	if err != nil {
		t.Fatal(err)
	}
	if got := sched.Next(after).In(berlin).Format(wallLayout); got != "2026-04-05 02:30 +0200" {
		t.Errorf("robfig Next = %s; this test documents that it gives 2026-04-05 02:30 +0200 (if cron fixed it, revisit docs/windows.md)", got)
	}
	iv, ok := mustParse(t, "30 2 * * 0", 3*time.Hour, "Europe/Berlin").Next(after, nil)
	if !ok || wall(iv.Start, berlin) != "2026-03-29 03:00 +0200" {
		t.Errorf("Window.Next = %v, %v; want 2026-03-29 03:00 +0200", iv, ok)
	}
}

// starts lists a window's starts in (from, to].
func starts(w Window, from, to time.Time, host *time.Location) []string {
	loc := w.location(host)
	c := w.seek(from, loc, noLastDay)
	var out []string
	for {
		s, ok := c.next()
		if !ok || s.After(to) {
			return out
		}
		out = append(out, s.In(loc).Format("01-02 15:04 -0700"))
	}
}

func TestStartsAcrossChanges(t *testing.T) {
	for _, tc := range []struct {
		name, cron, zone, from, to string
		want                       []string
	}{
		{"half-hourly in the Berlin gap collapses", "*/30 1-3 * * *", "Europe/Berlin", "2026-03-29T00:00:00+01:00", "2026-03-29T04:00:00+02:00",
			[]string{"03-29 01:00 +0100", "03-29 01:30 +0100", "03-29 03:00 +0200", "03-29 03:30 +0200"}},
		{"quarter-hourly in the Berlin repeated hour runs once", "*/15 2 * * *", "Europe/Berlin", "2026-10-25T00:00:00+02:00", "2026-10-25T04:00:00+01:00",
			[]string{"10-25 02:00 +0200", "10-25 02:15 +0200", "10-25 02:30 +0200", "10-25 02:45 +0200"}},
		{"hourly on the 23-hour day", "0 * * * *", "America/New_York", "2026-03-08T00:30:00-05:00", "2026-03-08T04:30:00-04:00",
			[]string{"03-08 01:00 -0500", "03-08 03:00 -0400", "03-08 04:00 -0400"}},
		{"hourly on the 25-hour day", "0 * * * *", "America/New_York", "2026-11-01T00:30:00-04:00", "2026-11-01T03:30:00-05:00",
			[]string{"11-01 01:00 -0400", "11-01 02:00 -0500", "11-01 03:00 -0500"}},
		{"weekly across spring forward loses no week", "30 2 * * 0", "Europe/Berlin", "2026-03-01T00:00:00+01:00", "2026-04-13T00:00:00+02:00",
			[]string{"03-01 02:30 +0100", "03-08 02:30 +0100", "03-15 02:30 +0100", "03-22 02:30 +0100", "03-29 03:00 +0200", "04-05 02:30 +0200", "04-12 02:30 +0200"}},
		{"Sydney daily 02:30 across both changes", "30 2 * 4,10 *", "Australia/Sydney", "2026-04-04T00:00:00+11:00", "2026-04-06T12:00:00+10:00",
			[]string{"04-04 02:30 +1100", "04-05 02:30 +1100", "04-06 02:30 +1000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := mustParse(t, tc.cron, time.Minute, tc.zone)
			got := starts(w, mustTime(t, tc.from), mustTime(t, tc.to), nil)
			if strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
				t.Errorf("starts of %q in %s from %s to %s:\n got %v\nwant %v", tc.cron, tc.zone, tc.from, tc.to, got, tc.want)
			}
		})
	}
}

// TestResolveEveryZoneChange checks the two rules at every change of
// offset in 2026 in a set of zones, against a brute-force search over the
// minutes around the change.
func TestResolveEveryZoneChange(t *testing.T) {
	for _, name := range []string{"Europe/Berlin", "America/New_York", "Australia/Sydney", "America/Santiago", "Australia/Lord_Howe", "America/Havana", "Asia/Gaza", "Pacific/Chatham"} {
		loc := loadLoc(t, name)
		for x := time.Date(2026, 1, 1, 0, 0, 0, 0, loc); ; {
			_, change := x.ZoneBounds()
			if change.IsZero() || change.Year() > 2026 {
				break
			}
			x = change
			// Every fifth wall minute within three hours of the change.
			lo, hi := change.Add(-3*time.Hour), change.Add(3*time.Hour)
			for w := lo.In(loc).Truncate(time.Minute); w.Before(hi); w = w.Add(5 * time.Minute) {
				wl := w.In(loc)
				for _, cand := range []time.Time{wl, wl.Add(30 * time.Minute)} { // wall times on both sides
					y, m, d := cand.Date()
					day := daysFromCivil(y, m, d)
					got := resolve(day, cand.Hour(), cand.Minute(), loc)
					want := bruteResolve(day, cand.Hour(), cand.Minute(), loc)
					if !got.Equal(want) {
						t.Fatalf("%s: resolve(%d-%02d-%02d %02d:%02d) = %s; brute force %s", name, y, m, d, cand.Hour(), cand.Minute(), wall(got, loc), wall(want, loc))
					}
				}
			}
		}
	}
}

// bruteResolve finds the first instant, minute by minute from well before,
// whose wall clock is at or after the wanted one.
func bruteResolve(day int64, h, mi int, loc *time.Location) time.Time {
	want := day*86400 + int64(h*3600+mi*60)
	for t := time.Unix(want-15*3600, 0); ; t = t.Add(time.Minute) {
		_, off := t.In(loc).Zone()
		if t.Unix()+int64(off) >= want {
			return t.In(loc)
		}
	}
}

// TestNextSearchIsBounded holds that a window that can never open (built
// past Parse, which refuses it) answers false quickly instead of looping.
func TestNextSearchIsBounded(t *testing.T) {
	w := mustParse(t, "0 0 30 1 *", time.Hour, "UTC")
	w.month = 1 << 2 // February 30th
	start := time.Now()
	if iv, ok := w.Next(mustTime(t, "2026-01-01T00:00:00Z"), nil); ok {
		t.Errorf("Next of February 30 = %v; want none", iv)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Next of February 30 took %s", d)
	}
	if _, ok := (Window{}).Next(time.Now(), nil); ok {
		t.Errorf("zero Window Next = true; want never open")
	}
	if got := w.maxGapDays(); got != -1 {
		t.Errorf("maxGapDays(February 30) = %d; want -1", got)
	}
	leap := mustParse(t, "0 1 29 2 *", time.Hour, "UTC")
	if got := leap.maxGapDays(); got != 8*365+1 {
		t.Errorf("maxGapDays(February 29) = %d; want 2921 (2096 to 2104)", got)
	}
}

// TestMaxGapDays compares the month-by-month pass and its shortcuts with
// a day-by-day walk over a 400-year cycle.
func TestMaxGapDays(t *testing.T) {
	for _, c := range []string{"0 0 */2 * MON", "0 0 */40 2 MON", "0 0 */28 2 MON", "0 0 */7 * SAT,SUN", "0 0 */10 3 FRI",
		"0 2 * * SAT", "0 1 29 2 *", "0 3 1 * MON", "0 0 31 * *", "0 0 30 1,2 *", "0 0 * FEB *"} {
		s, err := parseCron(c)
		if err != nil && !strings.Contains(err.msg, "ten years") {
			t.Fatalf("parseCron(%q): %s", c, err.msg)
		}
		if err != nil {
			// Refused; build it by hand to compare the gap.
			f := strings.Fields(c)
			sched, _ := parser.Parse(strings.Join(f, " "))
			spec := sched.(*cron.SpecSchedule)
			s = schedule{minutes: []int{0}, hours: []int{0}, dom: spec.Dom &^ starBit, month: spec.Month &^ starBit, dow: spec.Dow &^ starBit, and: true}
		}
		first, prev, gap := int64(-1), int64(-1), int64(0)
		base := daysFromCivil(2000, 1, 1)
		for day := base; day < base+146097; day++ {
			if s.matchDay(day) {
				if first < 0 {
					first = day
				} else {
					gap = max(gap, day-prev)
				}
				prev = day
			}
		}
		want := max(gap, first+146097-prev)
		if got := s.maxGapDays(); got != want && !(got == 366 && want <= 366) {
			t.Errorf("maxGapDays(%q) = %d; day by day %d", c, got, want)
		}
	}
}
