package window

import "time"

// Catchup is what a scheduler does with a set of windows at a moment, given
// the mark it stored the last time: act on at most one window, record the
// ones that passed unseen, store a new mark.
type Catchup struct {
	// Due is set when a merged window is open now and was not acted on:
	// act on Window now, once, even if it opened while the scheduler was
	// down.
	Due    bool
	Window Interval
	// Missed are the merged windows that opened after the mark and closed
	// by now, oldest first: the scheduler was down or its clock jumped
	// over them. They are not run late; log or audit them.
	Missed []Interval
	// Mark is what to store for the next call: the end of the last window
	// acted on or missed. Every opening that starts at or before it has
	// been dealt with.
	Mark time.Time
}

// catchUpLimit bounds how far back Due lists missed windows.
const catchUpLimit = 31 * 24 * time.Hour

// aheadLimit is the furthest a mark can honestly be ahead of now: the end
// of a merged window that opened at most now. A mark further ahead came
// from a clock that ran fast and was set back.
const aheadLimit = maxMerged + MaxDuration + 24*time.Hour

// Due decides what a scheduler does at now for windows ws, given the mark
// it stored (see Catchup; store the policy's creation time as the first
// mark, so that windows missed before the first call are reported).
//
//   - A window is acted on once: its openings start at or before the new
//     mark, so later calls, including after the clock is set back, skip it.
//   - A window that opened while the scheduler was down and is still open
//     is due: it runs late, within the window.
//   - A window that opened and closed while the scheduler was down, or that
//     a forward clock jump stepped over, is missed, never run outside its
//     window, and reported once. Only the last 31 days are listed.
//   - A zero mark reports nothing missed: a window open now is due.
//   - A mark more than 16 days ahead of now came from a clock that ran
//     ahead; it is dropped as if zero, since keeping it would hold every
//     window until the clock caught up.
//
// When nothing is due or missed the mark stays as it was, so a clock that
// briefly runs ahead costs no window that it did not step over.
func Due(ws Windows, mark, now time.Time, host *time.Location) Catchup {
	if mark.After(now.Add(aheadLimit)) {
		mark = time.Time{}
	}
	if mark.IsZero() {
		c := Catchup{Mark: now}
		if iv, ok := ws.Open(now, host); ok {
			c.Due, c.Window, c.Mark = true, iv, iv.End
		}
		return c
	}
	c := Catchup{Mark: mark}
	if !now.After(mark) {
		return c
	}
	from := mark
	if limit := now.Add(-catchUpLimit); from.Before(limit) {
		from = limit
	}
	m := ws.merger(host, func(_ *Window, loc *time.Location) (time.Time, int64) {
		return from, dayOf(now, loc) + slackDays
	})
	for {
		iv, ok := m.interval()
		if !ok || iv.Start.After(now) {
			return c
		}
		if iv.End.After(now) {
			c.Due, c.Window, c.Mark = true, iv, iv.End
			return c
		}
		c.Missed = append(c.Missed, iv)
		c.Mark = iv.End
	}
}
