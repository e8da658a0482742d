package window

import (
	"math"
	"sort"
	"time"
)

// horizonDays is how far ahead a search for a window's next start goes:
// ten years. Parse refuses expressions that can go longer without a start
// (February 29 alone goes eight years, 2096 to 2104, and is accepted).
const horizonDays = 3653

// slackDays covers what a merged interval may reach past its first start:
// maxMerged plus one window's MaxDuration, and a day.
const slackDays = 16

// Civil days are counted from 1970-01-01, proleptic Gregorian, as in
// Howard Hinnant's date algorithms.

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func daysFromCivil(y int, m time.Month, d int) int64 {
	yy := int64(y)
	if m <= 2 {
		yy--
	}
	era := floorDiv(yy, 400)
	yoe := yy - era*400
	mp := (int64(m) + 9) % 12 // March is 0
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func civilFromDays(z int64) (int, time.Month, int) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	y := yoe + era*400
	if m <= 2 {
		y++
	}
	return int(y), time.Month(m), int(d)
}

// weekday is the day of the week of civil day z (1970-01-01 was a Thursday).
func weekday(z int64) int {
	return int(z - floorDiv(z+4, 7)*7 + 4)
}

// dayOf is the civil day t falls on in loc.
func dayOf(t time.Time, loc *time.Location) int64 {
	y, m, d := t.In(loc).Date()
	return daysFromCivil(y, m, d)
}

// resolve returns the instant a start written as the wall-clock time h:mi
// on civil day runs at in loc (docs/windows.md):
//
//  1. a time that does not exist (the clock springs forward over it) runs
//     at the first instant after the gap, the transition itself;
//  2. a time that occurs twice (the clock falls back over it) runs at the
//     first occurrence.
//
// resolve is monotonic: a later wall-clock time never gives an earlier
// instant, so starts stay in order and the ones a gap swallows collapse.
func resolve(day int64, h, mi int, loc *time.Location) time.Time {
	y, m, d := civilFromDays(day)
	t := time.Date(y, m, d, h, mi, 0, 0, loc) // Go picks either side of a change
	want := day*86400 + int64(h*3600+mi*60)
	_, off := t.Zone()
	got := t.Unix() + int64(off)
	start, end := t.ZoneBounds()
	switch {
	case got == want:
		// It exists. It occurs twice if the zone before t's had a larger
		// offset and the same wall-clock time falls in it.
		if start.IsZero() || t.Sub(start) > 48*time.Hour {
			return t
		}
		if _, prev := start.Add(-time.Second).Zone(); prev > off {
			if first := t.Add(-time.Duration(prev-off) * time.Second); first.Before(start) {
				return first
			}
		}
		return t
	case got > want && !start.IsZero():
		// In a gap; Go answered with a time after it.
		return start
	case got < want && !end.IsZero():
		// In a gap; Go answered with a time before it.
		return end
	}
	return t
}

// cursor walks a window's starts in order from a point found by seek.
type cursor struct {
	s    schedule
	loc  *time.Location
	day  int64 // the civil day being walked, or the next to look at
	last int64 // the last civil day to look at
	hi   int   // the next start is hours[hi]:minutes[mi] on day, when inDay
	mi   int
	in   bool
	prev time.Time // the last start returned; later ones must be after it
}

// noLastDay asks seek for its default horizon.
const noLastDay = math.MinInt64

// seek returns a cursor whose next start is the first after x. The search
// ends on civil day lastDay, or with noLastDay horizonDays+slackDays after
// x's.
func (w *schedule) seek(x time.Time, loc *time.Location, lastDay int64) cursor {
	xd := dayOf(x, loc)
	if lastDay == noLastDay {
		lastDay = xd + horizonDays + slackDays
	}
	c := cursor{s: *w, loc: loc, day: xd - 2, last: lastDay, prev: x}
	if len(w.hours) == 0 || len(w.minutes) == 0 {
		c.day = c.last + 1
		return c
	}
	lastH, lastM := w.hours[len(w.hours)-1], w.minutes[len(w.minutes)-1]
	for ; c.day <= c.last; c.day++ {
		if !w.matchDay(c.day) || !resolve(c.day, lastH, lastM, loc).After(x) {
			continue
		}
		// The first start after x is on this day; starts are monotonic
		// in the wall-clock time, so search the hours, then the minutes.
		day := c.day
		c.hi = sort.Search(len(w.hours), func(i int) bool {
			return resolve(day, w.hours[i], lastM, loc).After(x)
		})
		h := w.hours[c.hi]
		c.mi = sort.Search(len(w.minutes), func(j int) bool {
			return resolve(day, h, w.minutes[j], loc).After(x)
		})
		c.in = true
		return c
	}
	return c
}

// next returns the next start, or false past the cursor's last day.
func (c *cursor) next() (time.Time, bool) {
	w := &c.s
	for {
		if !c.in {
			if c.day > c.last {
				return time.Time{}, false
			}
			if !w.matchDay(c.day) {
				c.day++
				continue
			}
			c.in, c.hi, c.mi = true, 0, 0
		}
		if c.hi >= len(w.hours) {
			c.in = false
			c.day++
			continue
		}
		t := resolve(c.day, w.hours[c.hi], w.minutes[c.mi], c.loc)
		if c.mi++; c.mi == len(w.minutes) {
			c.mi = 0
			c.hi++
		}
		if !t.After(c.prev) {
			continue // swallowed by a gap with an earlier start
		}
		c.prev = t
		return t, true
	}
}
