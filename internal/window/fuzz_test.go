package window

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
)

// FuzzParse holds that any input either parses or is refused with a field
// error, never a panic, and that an accepted window's Next returns an
// opening whose start matches the cron fields in local time, unless the
// start was moved out of a gap to the instant the clock changed.
func FuzzParse(f *testing.F) {
	for _, s := range []struct{ cron, dur, zone string }{
		{"0 2 * * SAT", "3h", "Europe/Berlin"},
		{"30 2 * * 0", "3h", "Europe/Berlin"},
		{"0 22 * * FRI", "6h", "America/New_York"},
		{"*/15 1-3 1,15 JAN-MAR MON-FRI", "45m", "Australia/Sydney"},
		{"0 0 * * *", "2h", "America/Santiago"},
		{"15 2 * * *", "1h", "Australia/Lord_Howe"},
		{"0 1 29 2 *", "1h", "UTC"},
		{"0 3 1 * MON", "1h", "host"},
		{"0 3 */2 * MON", "1h", "host"},
		{"@weekly", "168h", "Asia/Kolkata"},
		{"@daily", "24h", "Pacific/Chatham"},
		{"? ? ? ? ?", "1m", "UTC"},
		{"0-59/7 */5 */3 */2 */3", "5m", "Europe/London"},
		{"0 0 31 2 *", "1h", "UTC"},
		{"0 0 */40 2 MON", "1h", "UTC"},
		{"TZ=Europe/Berlin", "1h", "UTC"},
		{"@every 1h", "1h", "UTC"},
		{"1-2-3 */ , - * *", "1h", "UTC"},
		{"0 2 * * 7", "-3h", "Local"},
		{"", "", ""},
	} {
		f.Add(s.cron, s.dur, s.zone, int64(1774652400))
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, cronExpr, dur, zone string, after int64) {
		d, _ := time.ParseDuration(dur)
		w, err := Parse("w", Spec{Cron: cronExpr, Duration: d, Zone: zone})
		if err != nil {
			var pe *patchbay.Error
			if !errors.As(err, &pe) || pe.Code != patchbay.EUnprocessable || !strings.HasPrefix(pe.Field, "w.") || pe.Message == "" {
				t.Fatalf("Parse(%q, %q, %q) = %#v; want a field error", cronExpr, dur, zone, err)
			}
			return
		}
		// Somewhere from 1826 to 2226.
		const span = 400 * 365 * 86400
		at := time.Unix(int64(uint64(after)%span)-span/2+1_800_000_000, 0)
		iv, ok := w.Next(at, berlin)
		if !ok {
			t.Fatalf("%s: Next(%s) = none; an accepted window opens within the horizon", w, at)
		}
		if !iv.End.After(at) || iv.End.Sub(iv.Start) != w.spec.Duration {
			t.Fatalf("%s: Next(%s) = %v; want End after it and End-Start = duration", w, at, iv)
		}
		loc := w.location(berlin)
		local := iv.Start.In(loc)
		y, m, dd := local.Date()
		fields := w.month&(1<<m) != 0 && w.matchDay(daysFromCivil(y, m, dd)) &&
			containsInt(w.hours, local.Hour()) && containsInt(w.minutes, local.Minute()) && local.Second() == 0
		if zoneStart, _ := iv.Start.ZoneBounds(); !fields && !zoneStart.Equal(iv.Start) {
			t.Fatalf("%s: Next(%s) starts %s, which matches neither the fields nor a clock change", w, at, local)
		}
		// The next opening after this one closes starts later.
		if nx, ok := w.Next(iv.End, berlin); !ok || !nx.Start.After(iv.Start) {
			t.Fatalf("%s: Next(%s) = %v, %v after %v", w, iv.End, nx, ok, iv)
		}
	})
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// FuzzSpecJSON holds that any JSON either fails to decode or decodes to a
// Spec that Parse accepts or refuses with a field error.
func FuzzSpecJSON(f *testing.F) {
	for _, s := range []string{
		`{"cron":"0 2 * * SAT","duration":"3h","zone":"Europe/Berlin"}`,
		`{"cron":"0 2 * * SAT","duration":10800,"zone":"UTC"}`,
		`{"cron":"0 2 * * SAT","duration":"3 hours","zone":"UTC"}`,
		`{"cron":"0 2 * * SAT","duration":{"h":3},"zone":"UTC","x":1}`,
		`{"duration":null}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Spec
		if json.Unmarshal(b, &s) != nil {
			return
		}
		if _, err := Parse("w", s); err != nil && patchbay.ErrorCodeOf(err) != patchbay.EUnprocessable {
			t.Fatalf("Parse(%s) = %v; want a field error", b, err)
		}
		if out, err := json.Marshal(s); err != nil || !json.Valid(out) {
			t.Fatalf("Marshal(%+v) = %s, %v", s, out, err)
		}
	})
}
