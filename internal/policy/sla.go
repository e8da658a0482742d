package policy

import (
	"time"

	"github.com/patchbay/patchbay"
)

// DueDate returns when a finding of severity first seen at firstSeen is
// due under sla: firstSeen plus the severity's days, each of 24 hours.
// A severity that is not critical, high, medium or low takes sla.Unknown.
func DueDate(firstSeen time.Time, severity string, sla patchbay.SLADays) time.Time {
	return firstSeen.Add(time.Duration(sla.Days(severity)) * 24 * time.Hour)
}

// Overdue reports whether a finding due at due is overdue at now: now is
// after due.
func Overdue(due, now time.Time) bool { return now.After(due) }
