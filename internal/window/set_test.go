package window

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

type spec struct {
	cron string
	dur  time.Duration
	zone string
}

func mustSet(t testing.TB, specs ...spec) Windows {
	t.Helper()
	var ws Windows
	for _, s := range specs {
		ws = append(ws, mustParse(t, s.cron, s.dur, s.zone))
	}
	return ws
}

func fmtIntervals(ivs []Interval, loc *time.Location) string {
	var parts []string
	for _, iv := range ivs {
		parts = append(parts, wall(iv.Start, loc)+" – "+wall(iv.End, loc))
	}
	return strings.Join(parts, "; ")
}

func TestOccurrencesMerged(t *testing.T) {
	berlin := loadLoc(t, "Europe/Berlin")
	for _, tc := range []struct {
		name     string
		set      []spec
		from, to string
		want     []string // "start – end" in Berlin
	}{
		{"overlapping windows are one", []spec{{"0 2 * * SAT", 3 * time.Hour, "Europe/Berlin"}, {"0 4 * * SAT", 2 * time.Hour, "Europe/Berlin"}},
			"2026-05-11T00:00:00Z", "2026-05-18T00:00:00Z", []string{"2026-05-16 02:00 +0200 – 2026-05-16 06:00 +0200"}},
		{"touching windows are one", []spec{{"0 2 * * SAT", 2 * time.Hour, "Europe/Berlin"}, {"0 4 * * SAT", time.Hour, "Europe/Berlin"}},
			"2026-05-11T00:00:00Z", "2026-05-18T00:00:00Z", []string{"2026-05-16 02:00 +0200 – 2026-05-16 05:00 +0200"}},
		{"a window inside another", []spec{{"0 1 * * SAT", 6 * time.Hour, "Europe/Berlin"}, {"0 2 * * SAT", time.Hour, "Europe/Berlin"}},
			"2026-05-11T00:00:00Z", "2026-05-18T00:00:00Z", []string{"2026-05-16 01:00 +0200 – 2026-05-16 07:00 +0200"}},
		{"a chain of three", []spec{{"0 22 * * FRI", 3 * time.Hour, "Europe/Berlin"}, {"30 0 * * SAT", 3 * time.Hour, "Europe/Berlin"}, {"0 3 * * SAT", 2 * time.Hour, "Europe/Berlin"}},
			"2026-05-11T00:00:00Z", "2026-05-18T00:00:00Z", []string{"2026-05-15 22:00 +0200 – 2026-05-16 05:00 +0200"}},
		{"apart windows stay apart", []spec{{"0 2 * * SAT", time.Hour, "Europe/Berlin"}, {"0 4 * * SAT", time.Hour, "Europe/Berlin"}},
			"2026-05-11T00:00:00Z", "2026-05-18T00:00:00Z", []string{"2026-05-16 02:00 +0200 – 2026-05-16 03:00 +0200", "2026-05-16 04:00 +0200 – 2026-05-16 05:00 +0200"}},
		{"windows in different zones merge by instant", []spec{{"0 2 * * SAT", 3 * time.Hour, "Europe/Berlin"}, {"0 2 * * SAT", 2 * time.Hour, "UTC"}},
			"2026-05-11T00:00:00Z", "2026-05-18T00:00:00Z", []string{"2026-05-16 02:00 +0200 – 2026-05-16 06:00 +0200"}},
		{"the weekly window across spring forward, four weeks", []spec{{"30 2 * * 0", 3 * time.Hour, "Europe/Berlin"}},
			"2026-03-15T00:00:00+01:00", "2026-04-06T00:00:00+02:00", []string{
				"2026-03-15 02:30 +0100 – 2026-03-15 05:30 +0100",
				"2026-03-22 02:30 +0100 – 2026-03-22 05:30 +0100",
				"2026-03-29 03:00 +0200 – 2026-03-29 06:00 +0200",
				"2026-04-05 02:30 +0200 – 2026-04-05 05:30 +0200"}},
		{"range from inside a window includes it whole", []spec{{"0 2 * * SAT", 3 * time.Hour, "Europe/Berlin"}},
			"2026-05-16T03:00:00+02:00", "2026-05-16T04:00:00+02:00", []string{"2026-05-16 02:00 +0200 – 2026-05-16 05:00 +0200"}},
		{"a window closing at from is not in the range", []spec{{"0 2 * * SAT", 3 * time.Hour, "Europe/Berlin"}},
			"2026-05-16T05:00:00+02:00", "2026-05-20T00:00:00+02:00", nil},
		{"a window opening at to is not in the range", []spec{{"0 2 * * SAT", 3 * time.Hour, "Europe/Berlin"}},
			"2026-05-11T00:00:00+02:00", "2026-05-16T02:00:00+02:00", nil},
		{"the first interval reports when it really opened", []spec{{"0 2 * * SAT", 3 * time.Hour, "Europe/Berlin"}, {"0 4 * * SAT", 3 * time.Hour, "Europe/Berlin"}},
			"2026-05-16T06:00:00+02:00", "2026-05-16T06:30:00+02:00", []string{"2026-05-16 02:00 +0200 – 2026-05-16 07:00 +0200"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := mustSet(t, tc.set...)
			got := ws.Occurrences(mustTime(t, tc.from), mustTime(t, tc.to), nil)
			if g, w := fmtIntervals(got, berlin), strings.Join(tc.want, "; "); g != w {
				t.Errorf("Occurrences(%v, %s, %s):\n got %s\nwant %s", tc.set, tc.from, tc.to, g, w)
			}
		})
	}
}

func TestNextOpenAndOpen(t *testing.T) {
	berlin := loadLoc(t, "Europe/Berlin")
	ws := mustSet(t, spec{"0 2 * * SAT", 3 * time.Hour, "Europe/Berlin"}, spec{"0 4 * * SAT", 3 * time.Hour, "Europe/Berlin"}, spec{"0 22 * * WED", 2 * time.Hour, "host"})
	for _, tc := range []struct {
		name, at, host string
		wantNext       string
		wantOpen       bool
	}{
		{"before: the next", "2026-05-15T12:00:00+02:00", "Europe/Berlin", "2026-05-16 02:00 +0200 – 2026-05-16 07:00 +0200", false},
		{"at the start: open", "2026-05-16T02:00:00+02:00", "Europe/Berlin", "2026-05-16 02:00 +0200 – 2026-05-16 07:00 +0200", true},
		{"in the second, after the first closed: opened at 02:00", "2026-05-16T06:00:00+02:00", "Europe/Berlin", "2026-05-16 02:00 +0200 – 2026-05-16 07:00 +0200", true},
		{"at the end: closed, the next is the host's wednesday", "2026-05-16T07:00:00+02:00", "Europe/Berlin", "2026-05-20 22:00 +0200 – 2026-05-21 00:00 +0200", false},
		{"host window in New York", "2026-05-20T23:00:00-04:00", "America/New_York", "2026-05-20 22:00 -0400 – 2026-05-21 00:00 -0400", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := loadLoc(t, tc.host)
			at := mustTime(t, tc.at)
			iv, ok := ws.NextOpen(at, host)
			loc := berlin
			if tc.host != "" {
				loc = host
			}
			if !ok || fmtIntervals([]Interval{iv}, loc) != tc.wantNext {
				t.Errorf("NextOpen(%s, host %s) = %s, %v; want %s", tc.at, tc.host, fmtIntervals([]Interval{iv}, loc), ok, tc.wantNext)
			}
			open, isOpen := ws.Open(at, host)
			if isOpen != tc.wantOpen || (isOpen && open != iv) {
				t.Errorf("Open(%s) = %v, %v; want %v (and the NextOpen interval)", tc.at, open, isOpen, tc.wantOpen)
			}
			if isOpen && !open.Contains(at) {
				t.Errorf("Open(%s) = %v, which does not contain it", tc.at, open)
			}
		})
	}
}

// TestAlwaysOpenIsBounded: a set open without a break is reported in
// pieces of about maxMerged that touch, never overlap, and cover the range.
func TestAlwaysOpenIsBounded(t *testing.T) {
	for _, s := range []spec{{"0 0 * * *", 24 * time.Hour, "UTC"}, {"* * * * *", time.Minute, "Europe/Berlin"}, {"0 */6 * * *", 7 * time.Hour, "America/New_York"}} {
		t.Run(s.cron, func(t *testing.T) {
			ws := mustSet(t, s)
			from, to := mustTime(t, "2026-03-01T00:00:00Z"), mustTime(t, "2026-04-15T00:00:00Z")
			got := ws.Occurrences(from, to, nil)
			if len(got) < 5 || len(got) > 8 {
				t.Fatalf("Occurrences over 45 days: %d pieces; want about 6: %v", len(got), got)
			}
			if got[0].Start.After(from) || got[len(got)-1].End.Before(to) {
				t.Errorf("pieces %s – %s do not cover %s – %s", got[0].Start, got[len(got)-1].End, from, to)
			}
			for i := 1; i < len(got); i++ {
				if !got[i].Start.Equal(got[i-1].End) {
					t.Errorf("piece %d starts %s; want where piece %d ended, %s", i, got[i].Start, i-1, got[i-1].End)
				}
			}
			// NextOpen looks back up to maxMerged for the opening and
			// forward up to maxMerged (and a duration) for the close.
			if iv, ok := ws.Open(mustTime(t, "2026-03-20T12:00:00Z"), nil); !ok || iv.End.Sub(iv.Start) > 2*maxMerged+MaxDuration {
				t.Errorf("Open = %v, %v; want open, at most %s long", iv, ok, 2*maxMerged+MaxDuration)
			}
		})
	}
}

// TestOccurrencesMatchNaiveMerge compares the merger with sorting every
// opening of every window and merging the overlapping ones, for random
// sets around DST changes.
func TestOccurrencesMatchNaiveMerge(t *testing.T) {
	crons := []string{"0 2 * * SAT", "30 2 * * 0", "0 22 * * FRI", "*/30 1-3 * * *", "15 */4 * * *", "0 0 * * *", "0 1 29 2 *", "0 3 1 * MON", "45 23 * * 1-5"}
	zones := []string{"Europe/Berlin", "America/New_York", "Australia/Sydney", "America/Santiago", "UTC", "host"}
	durs := []time.Duration{time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 20 * time.Hour}
	hosts := []string{"Europe/London", "Asia/Tokyo", "America/Los_Angeles"}
	r := rand.New(rand.NewPCG(1, 2))
	checked := 0
	for i := range 300 {
		n := 1 + r.IntN(3)
		var set []spec
		for range n {
			set = append(set, spec{crons[r.IntN(len(crons))], durs[r.IntN(len(durs))], zones[r.IntN(len(zones))]})
		}
		ws := mustSet(t, set...)
		host := loadLoc(t, hosts[r.IntN(len(hosts))])
		from := time.Date(2026, time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), 0, 0, 0, time.UTC)
		to := from.Add(time.Duration(1+r.IntN(20*24)) * time.Hour)
		want := naiveMerge(ws, from, to, host)
		if slices.ContainsFunc(want, func(iv Interval) bool { return iv.End.Sub(iv.Start) >= maxMerged }) {
			continue // open without a break: reported in pieces, see TestAlwaysOpenIsBounded
		}
		got := ws.Occurrences(from, to, host)
		if fmtIntervals(got, time.UTC) != fmtIntervals(want, time.UTC) {
			t.Fatalf("case %d: %v host %s, %s – %s:\n got %s\nwant %s", i, set, host, from, to, fmtIntervals(got, time.UTC), fmtIntervals(want, time.UTC))
		}
		checked++
	}
	if checked < 200 {
		t.Errorf("only %d of 300 random sets were checked", checked)
	}
}

// naiveMerge lists every opening from well before from to well after to,
// sorts and merges them, and keeps the merged intervals that meet [from, to).
func naiveMerge(ws Windows, from, to time.Time, host *time.Location) []Interval {
	var all []Interval
	for i := range ws {
		w := &ws[i]
		c := w.seek(from.Add(-10*24*time.Hour), w.location(host), noLastDay)
		for {
			s, ok := c.next()
			if !ok || s.After(to.Add(10*24*time.Hour)) {
				break
			}
			all = append(all, Interval{s, s.Add(w.spec.Duration)})
		}
	}
	slices.SortFunc(all, func(a, b Interval) int { return a.Start.Compare(b.Start) })
	var merged []Interval
	for _, iv := range all {
		if n := len(merged); n > 0 && !iv.Start.After(merged[n-1].End) {
			if iv.End.After(merged[n-1].End) {
				merged[n-1].End = iv.End
			}
			continue
		}
		merged = append(merged, iv)
	}
	var out []Interval
	for _, iv := range merged {
		if iv.End.After(from) && iv.Start.Before(to) {
			out = append(out, iv)
		}
	}
	return out
}

func TestIntervalString(t *testing.T) {
	berlin := loadLoc(t, "Europe/Berlin")
	iv := Interval{time.Date(2026, 5, 16, 2, 0, 0, 0, berlin), time.Date(2026, 5, 16, 5, 0, 0, 0, berlin)}
	if got, want := fmt.Sprint(iv), "2026-05-16 02:00 CEST – 2026-05-16 05:00 CEST"; got != want {
		t.Errorf("Interval.String() = %q; want %q", got, want)
	}
}

// TestOpenNeverUnbounded: a set open without a break reports, at any
// moment, an interval that holds the moment and spans at most about
// maxMerged plus one window, never one reaching maxMerged both ways.
func TestOpenNeverUnbounded(t *testing.T) {
	ws, err := ParseAll("windows", []Spec{{Cron: "* * * * *", Duration: time.Hour, Zone: "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 4, 21, 42, 0, 0, time.UTC)
	iv, ok := ws.Open(at, nil)
	if !ok || !iv.Contains(at) {
		t.Fatalf("Open(%s) = %s, %v; want an interval holding it", at, iv, ok)
	}
	if span := iv.End.Sub(iv.Start); span > maxMerged+time.Hour {
		t.Fatalf("Open(%s) = %s spans %s; want at most %s", at, iv, span, maxMerged+time.Hour)
	}
}
