package window

import (
	"fmt"
	"math/bits"
	"strings"

	"github.com/robfig/cron/v3"
)

// parser reads exactly the five standard fields; descriptors are mapped to
// five fields before it sees them, and a TZ= prefix is refused before it
// (the zone has its own field, and cron v3.0.1 panics on "TZ=x" without a
// space).
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// starBit is the bit cron sets in a field that was "*"; it is masked off:
// whether a day field is restricted is decided from its text instead.
const starBit = 1 << 63

// cronFields names the five fields, with what each accepts.
var cronFields = [5]struct{ name, accepts string }{
	{"minute", "minutes are 0-59"},
	{"hour", "hours are 0-23"},
	{"day-of-month", "days of the month are 1-31"},
	{"month", "months are 1-12 or JAN-DEC"},
	{"day-of-week", "days of the week are 0-6 or SUN-SAT, 0 being Sunday (7 is not accepted)"},
}

// schedule is when a window starts: the fields of its cron expression.
type schedule struct {
	minutes, hours []int // ascending
	dom            uint64
	month          uint64
	dow            uint64
	// and is cron's day rule: when either day field begins with * a day
	// must match both; when both are restricted, either matching suffices.
	and bool
	// weekly is set when only the day of the week decides (every month
	// and day of the month allowed): matchDay needs no calendar then.
	weekly bool
}

// parseCron parses expr and checks that it starts at least once in every
// stretch of horizonDays.
func parseCron(expr string) (schedule, *cronError) {
	expr = strings.TrimSpace(expr)
	switch {
	case expr == "":
		return schedule{}, cronErrorf(`required: a cron expression of five fields, minute hour day-of-month month day-of-week, such as "0 2 * * SAT"`)
	case len(expr) > maxCronLen:
		return schedule{}, cronErrorf("longer than %d characters", maxCronLen)
	case hasPrefixFold(expr, "TZ=") || hasPrefixFold(expr, "CRON_TZ="):
		return schedule{}, cronErrorf(`a time zone goes in the zone field, not in the cron expression`)
	case strings.HasPrefix(expr, "@"):
		five, ok := descriptors[strings.ToLower(expr)]
		if !ok {
			return schedule{}, cronErrorf("%q is not accepted; use @daily, @weekly, @monthly or five fields such as \"0 2 * * SAT\"", truncate(expr, 40))
		}
		expr = five
	}
	fields := strings.Fields(expr)
	switch {
	case len(fields) == 6:
		return schedule{}, cronErrorf("want five fields, minute hour day-of-month month day-of-week; a seconds field is not accepted")
	case len(fields) != 5:
		return schedule{}, cronErrorf("want five fields, minute hour day-of-month month day-of-week, got %d in %q", len(fields), truncate(expr, 60))
	}
	sched, err := parser.Parse(strings.Join(fields, " "))
	if err != nil {
		// Each field alone, so the message names the one at fault.
		for i, f := range fields {
			probe := []string{"*", "*", "*", "*", "*"}
			probe[i] = f
			if _, err := parser.Parse(strings.Join(probe, " ")); err != nil {
				return schedule{}, cronErrorf("%s field %q: %v; %s", cronFields[i].name, truncate(f, 40), err, cronFields[i].accepts)
			}
		}
		return schedule{}, cronErrorf("%v", err)
	}
	spec, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return schedule{}, cronErrorf("not a five-field schedule")
	}
	for i, b := range [5]uint64{spec.Minute, spec.Hour, spec.Dom, spec.Month, spec.Dow} {
		if b&^starBit == 0 { // "," parses to nothing
			return schedule{}, cronErrorf("%s field %q has no values; %s", cronFields[i].name, truncate(fields[i], 40), cronFields[i].accepts)
		}
	}
	w := schedule{
		minutes: bitList(spec.Minute &^ starBit),
		hours:   bitList(spec.Hour &^ starBit),
		dom:     spec.Dom &^ starBit,
		month:   spec.Month &^ starBit,
		dow:     spec.Dow &^ starBit,
		// crontab(5): a day field is unrestricted when it begins with *.
		and: unrestricted(fields[2]) || unrestricted(fields[4]),
	}
	const allDom, allMonths = 1<<32 - 2, 1<<13 - 2
	w.weekly = w.and && w.dom == allDom && w.month == allMonths
	switch gap := w.maxGapDays(); {
	case gap < 0:
		return schedule{}, cronErrorf("%q never opens: no date matches its day-of-month, month and day-of-week (for example February 30)", truncate(expr, 60))
	case gap > horizonDays:
		return schedule{}, cronErrorf("%q opens less than once in ten years; a maintenance window must open more often", truncate(expr, 60))
	}
	return w, nil
}

func unrestricted(field string) bool {
	return strings.HasPrefix(field, "*") || strings.HasPrefix(field, "?")
}

// bitList lists the set bits of b, ascending.
func bitList(b uint64) []int {
	out := make([]int, 0, bits.OnesCount64(b))
	for b != 0 {
		i := bits.TrailingZeros64(b)
		out = append(out, i)
		b &^= 1 << i
	}
	return out
}

// daysIn is the longest each month gets (February in leap years).
var daysIn = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// maxGapDays returns the longest run of days between two dates the window
// opens on (1 for a daily window), or -1 if it never opens. The Gregorian
// calendar repeats every 400 years, so the rare cases are settled by one
// pass over such a cycle.
func (w *schedule) maxGapDays() int64 {
	if len(w.minutes) == 0 || len(w.hours) == 0 || w.month == 0 {
		return -1
	}
	const allDow, allDom = 1<<7 - 1, 1<<32 - 2
	switch {
	case !w.and && w.dow != 0:
		// Either day field suffices, and every month has every weekday.
		return 366
	case w.and && (w.dom == 0 || w.dow == 0):
		return -1
	case w.and && w.dom&allDom == allDom:
		return 366
	case w.and && w.dow&allDow == allDow:
		// Only the month and the day of the month count.
		for m := 1; m <= 12; m++ {
			if w.month&(1<<m) == 0 {
				continue
			}
			for d := 1; d <= daysIn[m]; d++ {
				if w.dom&(1<<d) != 0 && !(m == 2 && d == 29) {
					return 366
				}
			}
		}
		if w.month&(1<<2) != 0 && w.dom&(1<<29) != 0 {
			return 8*365 + 1 // February 29 alone: 2096 to 2104
		}
		return -1
	}
	// One pass over the 400 years from 2000, month by month.
	const cycle = 146097 // days in 400 Gregorian years
	first, prev, gap := int64(-1), int64(-1), int64(0)
	day, wd := daysFromCivil(2000, 1, 1), weekday(daysFromCivil(2000, 1, 1))
	for y := 2000; y < 2400; y++ {
		for m := 1; m <= 12; m++ {
			n := daysIn[m]
			if m == 2 && (y%4 != 0 || (y%100 == 0 && y%400 != 0)) {
				n = 28
			}
			if w.month&(1<<m) == 0 {
				day, wd = day+int64(n), (wd+n)%7
				continue
			}
			for d := 1; d <= n; d, day, wd = d+1, day+1, (wd+1)%7 {
				domOK, dowOK := w.dom&(1<<d) != 0, w.dow&(1<<wd) != 0
				if (w.and && domOK && dowOK) || (!w.and && (domOK || dowOK)) {
					if first < 0 {
						first = day
					} else {
						gap = max(gap, day-prev)
					}
					prev = day
				}
			}
		}
	}
	if first < 0 {
		return -1
	}
	return max(gap, first+cycle-prev)
}

// matchDay reports whether the window has starts on civil day (days since
// 1970-01-01).
func (w *schedule) matchDay(day int64) bool {
	if w.weekly {
		return w.dow&(1<<weekday(day)) != 0
	}
	_, m, d := civilFromDays(day)
	if w.month&(1<<m) == 0 {
		return false
	}
	domOK := w.dom&(1<<d) != 0
	dowOK := w.dow&(1<<weekday(day)) != 0
	if w.and {
		return domOK && dowOK
	}
	return domOK || dowOK
}

// cronError is a cron expression's fault, in words for the person who
// wrote it.
type cronError struct{ msg string }

func cronErrorf(format string, args ...any) *cronError {
	return &cronError{msg: fmt.Sprintf(format, args...)}
}

// descriptors are the @ forms accepted, as the five fields they stand for.
var descriptors = map[string]string{
	"@daily":   "0 0 * * *",
	"@weekly":  "0 0 * * 0",
	"@monthly": "0 0 1 * *",
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
