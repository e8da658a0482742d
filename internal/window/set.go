package window

import "time"

// Windows is a policy's set of windows. Where their openings overlap or
// touch, they are one merged interval: it opens with the first and closes
// when no opening continues it. An empty set is never open.
type Windows []Window

// maxMerged bounds how far a merged interval is followed. A set that stays
// open longer without a break (say "0 0 * * *" for 24h) is reported as
// consecutive intervals of about this length, each starting where the last
// ended, rather than searched to the horizon.
const maxMerged = 8 * 24 * time.Hour

// NextOpen returns the first merged interval of ws that has not closed by
// after: the one open at after, with the time it opened, if any; otherwise
// the next to open. host is the host's zone for host-local windows (nil:
// UTC).
func (ws Windows) NextOpen(after time.Time, host *time.Location) (Interval, bool) {
	m := ws.merger(host, func(w *Window, _ *time.Location) (time.Time, int64) {
		return after.Add(-w.spec.Duration), noLastDay
	})
	iv, ok := m.interval()
	if !ok {
		return Interval{}, false
	}
	iv.Start = ws.openedAt(iv.Start, after, host)
	// A set open without a break: report a piece of about maxMerged, as
	// the merger does going forward, not one reaching both ways; it still
	// holds after.
	if cut := iv.End.Add(-maxMerged); cut.After(iv.Start) {
		if cut.After(after) {
			cut = after
		}
		iv.Start = cut
	}
	return iv, true
}

// Open returns the merged interval open at at, if any.
func (ws Windows) Open(at time.Time, host *time.Location) (Interval, bool) {
	iv, ok := ws.NextOpen(at, host)
	if !ok || iv.Start.After(at) {
		return Interval{}, false
	}
	return iv, true
}

// Occurrences returns the merged intervals that are open at some time in
// [from, to), in order; the first may have opened before from and the last
// may close after to. Its cost grows with the number of starts in the
// range, so callers bound the range (a what-if view of a few weeks).
func (ws Windows) Occurrences(from, to time.Time, host *time.Location) []Interval {
	if !to.After(from) {
		return nil
	}
	m := ws.merger(host, func(w *Window, loc *time.Location) (time.Time, int64) {
		return from.Add(-w.spec.Duration), dayOf(to, loc) + slackDays
	})
	var out []Interval
	for {
		iv, ok := m.interval()
		if !ok || !iv.Start.Before(to) {
			return out
		}
		if out == nil {
			iv.Start = ws.openedAt(iv.Start, from, host)
		}
		out = append(out, iv)
	}
}

// openedAt extends a merged interval starting at s back over openings that
// closed at s or later but by after (which the merger skipped), so that the
// interval reports when it really opened; at most maxMerged before after.
func (ws Windows) openedAt(s, after time.Time, host *time.Location) time.Time {
	limit := after.Add(-maxMerged)
	for grown := true; grown && s.After(limit); {
		grown = false
		for i := range ws {
			w := &ws[i]
			loc := w.location(host)
			// The first opening that closes at s or later.
			c := w.seek(s.Add(-w.spec.Duration-1), loc, dayOf(s, loc)+1)
			if t, ok := c.next(); ok && t.Before(s) {
				s, grown = t, true
			}
		}
	}
	return s
}

// merger walks the openings of a set of windows in order and joins them
// into merged intervals.
type merger struct {
	ws    Windows
	walks []walk
	floor time.Time // where the last interval returned ended
}

// walk is one window's cursor and its next opening, when ok.
type walk struct {
	cur     cursor
	pending Interval
	ok      bool
}

// merger starts each window's walk at the first start after the x that from
// gives it, ending on the civil day it gives.
func (ws Windows) merger(host *time.Location, from func(w *Window, loc *time.Location) (time.Time, int64)) merger {
	m := merger{ws: ws, walks: make([]walk, len(ws))}
	for i := range ws {
		w := &ws[i]
		loc := w.location(host)
		x, lastDay := from(w, loc)
		m.walks[i].cur = w.schedule.seek(x, loc, lastDay)
		m.advance(i)
	}
	return m
}

func (m *merger) advance(i int) {
	k := &m.walks[i]
	s, ok := k.cur.next()
	k.ok = ok
	if ok {
		k.pending = Interval{Start: s, End: s.Add(m.ws[i].spec.Duration)}
	}
}

// interval returns the next merged interval.
func (m *merger) interval() (Interval, bool) {
	first := -1
	for i := range m.walks {
		k := &m.walks[i]
		// Openings wholly inside the last interval (it stopped at
		// maxMerged) are done.
		for k.ok && !m.floor.IsZero() && !k.pending.End.After(m.floor) {
			m.advance(i)
		}
		if k.ok && (first < 0 || k.pending.Start.Before(m.walks[first].pending.Start)) {
			first = i
		}
	}
	if first < 0 {
		return Interval{}, false
	}
	cur := m.walks[first].pending
	if cur.Start.Before(m.floor) {
		cur.Start = m.floor
	}
	m.advance(first)
	for grown := true; grown; {
		grown = false
		for i := range m.walks {
			k := &m.walks[i]
			// An opening that starts at or before the end overlaps or
			// touches: it joins.
			for k.ok && !k.pending.Start.After(cur.End) && cur.End.Sub(cur.Start) < maxMerged {
				if k.pending.End.After(cur.End) {
					cur.End, grown = k.pending.End, true
				}
				m.advance(i)
			}
		}
	}
	m.floor = cur.End
	return cur, true
}
