// Package window computes maintenance windows: when a window written as a
// cron expression, a duration and a time zone opens and closes, across
// daylight-saving changes, merged with a policy's other windows, and what a
// scheduler that was down or saw its clock jump must do about them.
//
// robfig/cron parses the expressions; the occurrences are computed here,
// under the rules in docs/windows.md, because cron's own Next loses a whole
// week when a start falls in a skipped hour. Everything is pure: times and
// the host's zone are arguments.
package window

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/patchbay/patchbay"
)

// HostZone is the Zone of a window that follows each host's own time zone
// (its time_zone fact); the caller passes that zone when computing.
const HostZone = "host"

// The bounds of a window's duration.
const (
	MinDuration = time.Minute
	MaxDuration = 7 * 24 * time.Hour
)

// maxCronLen bounds a cron expression; the longest useful ones (a list of
// every minute) are far shorter than this.
const maxCronLen = 200

// Spec is a maintenance window as a person writes it: the starts as a
// five-field cron expression, how long each stays open, and the time zone
// the expression is read in.
//
// In JSON the duration is a string in Go's notation ("3h", "1h30m", "90m");
// a duration that is not one (a number, "3 hours") is kept and reported by
// Parse as an error on the duration field, so that a policy's whole input is
// validated in one place, with the window's index in the field name. YAML
// (goccy/go-yaml) reads and writes the duration as a string natively.
type Spec struct {
	Cron     string        `json:"cron" yaml:"cron"`
	Duration time.Duration `json:"duration" yaml:"duration"`
	Zone     string        `json:"zone" yaml:"zone"` // an IANA name or "host"

	badDuration string // the JSON text of a duration that did not parse
}

// specJSON is Spec on the wire.
type specJSON struct {
	Cron     string          `json:"cron"`
	Duration json.RawMessage `json:"duration,omitempty"`
	Zone     string          `json:"zone"`
}

// MarshalJSON writes the duration as a string such as "3h" or "1h30m".
func (s Spec) MarshalJSON() ([]byte, error) {
	d := json.RawMessage(s.badDuration)
	if s.badDuration == "" {
		d, _ = json.Marshal(FormatDuration(s.Duration))
	}
	return json.Marshal(specJSON{Cron: s.Cron, Duration: d, Zone: s.Zone})
}

// UnmarshalJSON reads a Spec, refusing unknown fields. A duration that is
// not a string in Go's notation is kept for Parse to report.
func (s *Spec) UnmarshalJSON(b []byte) error {
	var w specJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return err
	}
	*s = Spec{Cron: w.Cron, Zone: w.Zone}
	raw := bytes.TrimSpace(w.Duration)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var text string
	if json.Unmarshal(raw, &text) == nil {
		if d, err := time.ParseDuration(text); err == nil {
			s.Duration = d
			return nil
		}
	}
	s.badDuration = string(raw)
	return nil
}

// FormatDuration writes d as Spec's JSON does: "3h", "1h30m", "45m";
// durations that are not whole minutes as time.Duration.String does.
func FormatDuration(d time.Duration) string {
	if d <= 0 || d%time.Minute != 0 {
		return d.String()
	}
	h, m := d/time.Hour, (d%time.Hour)/time.Minute
	switch {
	case m == 0:
		return fmt.Sprintf("%dh", h)
	case h == 0:
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%dh%dm", h, m)
}

// Window is a validated Spec, ready to compute with. The zero Window never
// opens.
type Window struct {
	spec Spec
	loc  *time.Location // nil for a host-local window
	schedule
}

// Spec returns the Spec the window was parsed from.
func (w Window) Spec() Spec { return w.spec }

// HostLocal reports whether the window follows each host's zone.
func (w Window) HostLocal() bool { return w.spec.Zone == HostZone }

// String describes the window, for logs: "0 2 * * SAT for 3h in Europe/Berlin".
func (w Window) String() string {
	return fmt.Sprintf("%s for %s in %s", w.spec.Cron, FormatDuration(w.spec.Duration), w.spec.Zone)
}

// location is the zone the window is read in: its own, or the host's for a
// host-local window (UTC when the host's zone is unknown, which is what a
// Linux host without /etc/localtime runs on).
func (w *Window) location(host *time.Location) *time.Location {
	if w.loc != nil {
		return w.loc
	}
	if host == nil {
		return time.UTC
	}
	return host
}

// Parse validates s and returns it as a Window. field names s in the input
// ("windows[0]"); errors are *patchbay.Error with code EUnprocessable naming
// field.cron, field.duration or field.zone, the first that is wrong.
func Parse(field string, s Spec) (Window, error) {
	name := func(sub string) string {
		if field == "" {
			return sub
		}
		return field + "." + sub
	}
	sched, cerr := parseCron(s.Cron)
	if cerr != nil {
		return Window{}, patchbay.FieldError(patchbay.EUnprocessable, name("cron"), "%s", cerr.msg)
	}
	w := Window{spec: s, schedule: sched}
	if msg := checkDuration(s); msg != "" {
		return Window{}, patchbay.FieldError(patchbay.EUnprocessable, name("duration"), "%s", msg)
	}
	switch {
	case s.Zone == "":
		return Window{}, patchbay.FieldError(patchbay.EUnprocessable, name("zone"),
			`required: an IANA time zone such as "Europe/Berlin" or "UTC", or "host" for each host's own zone`)
	case s.Zone == HostZone:
	case s.Zone == "Local":
		return Window{}, patchbay.FieldError(patchbay.EUnprocessable, name("zone"),
			`"Local" would be the server's zone; use an IANA name such as "Europe/Berlin", or "host" for each host's own zone`)
	default:
		loc, err := time.LoadLocation(s.Zone)
		if err != nil {
			return Window{}, patchbay.FieldError(patchbay.EUnprocessable, name("zone"),
				`unknown time zone %q; use an IANA name such as "Europe/Berlin" or "UTC", or "host" for each host's own zone`, s.Zone)
		}
		w.loc = loc
	}
	return w, nil
}

// Validate reports whether s would parse; see Parse.
func Validate(field string, s Spec) error {
	_, err := Parse(field, s)
	return err
}

// ParseAll parses a policy's windows; errors name field[i].cron and so on.
// An empty list gives an empty set, which is never open: what a policy
// without windows means is the policy's rule.
func ParseAll(field string, specs []Spec) (Windows, error) {
	ws := make(Windows, 0, len(specs))
	for i, s := range specs {
		w, err := Parse(fmt.Sprintf("%s[%d]", field, i), s)
		if err != nil {
			return nil, err
		}
		ws = append(ws, w)
	}
	return ws, nil
}

func checkDuration(s Spec) string {
	d := s.Duration
	switch {
	case s.badDuration != "":
		return fmt.Sprintf(`%s is not a duration; write a string of hours and minutes such as "3h" or "1h30m" (days are "72h")`,
			truncate(s.badDuration, 40))
	case d == 0:
		return `required: how long each window stays open, such as "3h" or "1h30m"`
	case d < 0:
		return fmt.Sprintf("must be positive, got %s", d)
	case d%time.Minute != 0:
		return fmt.Sprintf("must be whole minutes, got %s", d)
	case d > MaxDuration:
		return fmt.Sprintf("at most 168h (7 days), got %s", FormatDuration(d))
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Interval is one opening of a window: open from Start, closed at End.
// Both are in the zone the window was read in.
type Interval struct {
	Start, End time.Time
}

// Contains reports whether the window is open at t.
func (iv Interval) Contains(t time.Time) bool { return !t.Before(iv.Start) && t.Before(iv.End) }

// String shows the interval for logs, in its zone.
func (iv Interval) String() string {
	return iv.Start.Format("2006-01-02 15:04 MST") + " – " + iv.End.Format("2006-01-02 15:04 MST")
}

// Next returns the window's first opening that has not closed by after: the
// one open at after, if any, otherwise the next to open. host is the host's
// zone, used by host-local windows (nil: UTC). Next looks about ten years
// ahead, which every window Parse accepts opens within; false means none.
func (w Window) Next(after time.Time, host *time.Location) (Interval, bool) {
	c := w.schedule.seek(after.Add(-w.spec.Duration), w.location(host), noLastDay)
	start, ok := c.next()
	if !ok {
		return Interval{}, false
	}
	return Interval{Start: start, End: start.Add(w.spec.Duration)}, true
}
