package window

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the same zones wherever the tests run without a zoneinfo directory

	"github.com/goccy/go-yaml"

	"github.com/patchbay/patchbay"
)

// wallLayout shows an instant as the wall clock and offset it has in the
// window's zone, which names a side of a DST change unambiguously.
const wallLayout = "2006-01-02 15:04 -0700"

func loadLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	if name == "" {
		return nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("LoadLocation(%q): %v", name, err)
	}
	return loc
}

func mustParse(t testing.TB, cron string, d time.Duration, zone string) Window {
	t.Helper()
	w, err := Parse("w", Spec{Cron: cron, Duration: d, Zone: zone})
	if err != nil {
		t.Fatalf("Parse(%q, %s, %q): %v", cron, d, zone, err)
	}
	return w
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("time.Parse(%q): %v", s, err)
	}
	return v
}

func wall(t time.Time, loc *time.Location) string { return t.In(loc).Format(wallLayout) }

func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct {
		name, cron string
		minutes    []int
		hours      []int
		and        bool
	}{
		{"saturday night", "0 2 * * SAT", []int{0}, []int{2}, true},
		{"lower-case names", "0 2 * jan-mar sat", []int{0}, []int{2}, true},
		{"lists ranges steps", "0,30 1-3 * * MON-FRI", []int{0, 30}, []int{1, 2, 3}, true},
		{"step over hours", "15 */6 * * *", []int{15}, []int{0, 6, 12, 18}, true},
		{"question mark is a star", "0 2 ? * SUN", []int{0}, []int{2}, true},
		{"both day fields restricted: either", "0 3 1 * MON", []int{0}, []int{3}, false},
		{"star-prefixed step counts as unrestricted", "0 3 */2 * MON", []int{0}, []int{3}, true},
		{"extra spaces", "  0   2 * *   6  ", []int{0}, []int{2}, true},
		{"@daily", "@daily", []int{0}, []int{0}, true},
		{"@weekly", "@WEEKLY", []int{0}, []int{0}, true},
		{"@monthly", "@monthly", []int{0}, []int{0}, true},
		{"leap day", "0 1 29 2 *", []int{0}, []int{1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := mustParse(t, tc.cron, 3*time.Hour, "Europe/Berlin")
			if !equalInts(w.minutes, tc.minutes) || !equalInts(w.hours, tc.hours) || w.and != tc.and {
				t.Errorf("Parse(%q): minutes %v hours %v and %v; want %v %v %v", tc.cron, w.minutes, w.hours, w.and, tc.minutes, tc.hours, tc.and)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseRejects(t *testing.T) {
	const field = "windows[0]"
	ok := Spec{Cron: "0 2 * * SAT", Duration: 3 * time.Hour, Zone: "Europe/Berlin"}
	with := func(f func(*Spec)) Spec { s := ok; f(&s); return s }
	cron := func(c string) Spec { return with(func(s *Spec) { s.Cron = c }) }
	for _, tc := range []struct {
		name      string
		spec      Spec
		wantField string
		wantMsg   string // a part of the message
	}{
		{"empty cron", cron(""), "windows[0].cron", "required"},
		{"blank cron", cron("   "), "windows[0].cron", "required"},
		{"four fields", cron("0 2 * *"), "windows[0].cron", "want five fields"},
		{"seconds field", cron("0 0 2 * * SAT"), "windows[0].cron", "seconds field is not accepted"},
		{"seven fields", cron("0 0 2 * * SAT 2026"), "windows[0].cron", "got 7"},
		{"minute out of range", cron("60 2 * * *"), "windows[0].cron", "minute field"},
		{"hour out of range", cron("0 24 * * *"), "windows[0].cron", "hours are 0-23"},
		{"day of month zero", cron("0 2 0 * *"), "windows[0].cron", "day-of-month field"},
		{"day of month 32", cron("0 2 32 * *"), "windows[0].cron", "days of the month are 1-31"},
		{"month 13", cron("0 2 * 13 *"), "windows[0].cron", "month field"},
		{"sunday as 7", cron("0 2 * * 7"), "windows[0].cron", "7 is not accepted"},
		{"unknown day name", cron("0 2 * * FOO"), "windows[0].cron", "day-of-week field \"FOO\""},
		{"backwards range", cron("0 5-2 * * *"), "windows[0].cron", "hour field"},
		{"zero step", cron("*/0 2 * * *"), "windows[0].cron", "minute field"},
		{"negative", cron("-1 2 * * *"), "windows[0].cron", "minute field"},
		{"quartz L", cron("0 2 L * *"), "windows[0].cron", "day-of-month field"},
		{"a field of commas", cron("0 0 * 1 ,"), "windows[0].cron", "day-of-week field \",\" has no values"},
		{"garbage", cron("every saturday"), "windows[0].cron", "want five fields"},
		{"february 31", cron("0 0 31 2 *"), "windows[0].cron", "never opens"},
		{"february 30", cron("0 0 30 2 *"), "windows[0].cron", "never opens"},
		{"31st of short months", cron("0 0 31 4,6,9,11 *"), "windows[0].cron", "never opens"},
		{"rarer than ten years", cron("0 0 */40 2 MON"), "windows[0].cron", "less than once in ten years"},
		{"@hourly", cron("@hourly"), "windows[0].cron", "@daily, @weekly, @monthly"},
		{"@every", cron("@every 1h"), "windows[0].cron", "is not accepted"},
		{"@reboot", cron("@reboot"), "windows[0].cron", "is not accepted"},
		{"TZ prefix", cron("TZ=Europe/Berlin 0 2 * * *"), "windows[0].cron", "zone field"},
		{"TZ prefix without a space", cron("TZ=Europe/Berlin"), "windows[0].cron", "zone field"},
		{"CRON_TZ prefix", cron("cron_tz=UTC 0 2 * * *"), "windows[0].cron", "zone field"},
		{"too long", cron("0 2 * * " + strings.Repeat("1,", 150) + "1"), "windows[0].cron", "longer than"},
		{"no duration", with(func(s *Spec) { s.Duration = 0 }), "windows[0].duration", "required"},
		{"negative duration", with(func(s *Spec) { s.Duration = -time.Hour }), "windows[0].duration", "positive"},
		{"seconds in duration", with(func(s *Spec) { s.Duration = 90 * time.Second }), "windows[0].duration", "whole minutes"},
		{"longer than a week", with(func(s *Spec) { s.Duration = MaxDuration + time.Minute }), "windows[0].duration", "at most 168h"},
		{"unparsed duration", with(func(s *Spec) { s.Duration = 0; s.badDuration = `"3 hours"` }), "windows[0].duration", `"3 hours" is not a duration`},
		{"no zone", with(func(s *Spec) { s.Zone = "" }), "windows[0].zone", "required"},
		{"unknown zone", with(func(s *Spec) { s.Zone = "Mars/Olympus_Mons" }), "windows[0].zone", `unknown time zone "Mars/Olympus_Mons"`},
		{"server local", with(func(s *Spec) { s.Zone = "Local" }), "windows[0].zone", "server's zone"},
		{"path escape", with(func(s *Spec) { s.Zone = "../../etc/passwd" }), "windows[0].zone", "unknown time zone"},
		{"host in capitals", with(func(s *Spec) { s.Zone = "HOST" }), "windows[0].zone", "unknown time zone"},
		{"cron reported before duration", Spec{Cron: "x", Zone: "nowhere"}, "windows[0].cron", "five fields"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(field, tc.spec)
			var pe *patchbay.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q, %+v) = %v; want a *patchbay.Error", field, tc.spec, err)
			}
			if pe.Code != patchbay.EUnprocessable || pe.Field != tc.wantField || !strings.Contains(pe.Message, tc.wantMsg) {
				t.Errorf("Parse(%q, %+v) = %s %q: %q; want %s %q: …%q…", field, tc.spec, pe.Code, pe.Field, pe.Message,
					patchbay.EUnprocessable, tc.wantField, tc.wantMsg)
			}
			if Validate(field, tc.spec) == nil {
				t.Errorf("Validate(%q, %+v) = nil; want the same error as Parse", field, tc.spec)
			}
		})
	}
}

func TestParseFieldNames(t *testing.T) {
	_, err := Parse("", Spec{Duration: time.Hour, Zone: "UTC"})
	if got := patchbay.ErrorMessageOf(err); !strings.HasPrefix(got, "cron: required") {
		t.Errorf(`Parse("", no cron) message %q; want it to start "cron: required"`, got)
	}
	_, err = ParseAll("windows", []Spec{
		{Cron: "0 2 * * SAT", Duration: 3 * time.Hour, Zone: "Europe/Berlin"},
		{Cron: "0 2 * * SUN", Duration: 8 * 24 * time.Hour, Zone: "host"},
	})
	var pe *patchbay.Error
	if !errors.As(err, &pe) || pe.Field != "windows[1].duration" {
		t.Errorf("ParseAll(second window 8 days) = %v; want an error on windows[1].duration", err)
	}
	ws, err := ParseAll("windows", nil)
	if err != nil || len(ws) != 0 {
		t.Errorf("ParseAll(nil) = %v, %v; want an empty set", ws, err)
	}
	if _, ok := ws.NextOpen(time.Now(), nil); ok {
		t.Errorf("empty set NextOpen = true; want never open")
	}
}

func TestSpecJSON(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Spec
		wantOut  string // "" when marshalling gives in back
	}{
		{"hours", `{"cron":"0 2 * * SAT","duration":"3h","zone":"Europe/Berlin"}`,
			Spec{Cron: "0 2 * * SAT", Duration: 3 * time.Hour, Zone: "Europe/Berlin"}, ""},
		{"hours and minutes", `{"cron":"0 2 * * SAT","duration":"1h30m","zone":"host"}`,
			Spec{Cron: "0 2 * * SAT", Duration: 90 * time.Minute, Zone: "host"}, ""},
		{"minutes written long", `{"cron":"@daily","duration":"90m","zone":"UTC"}`,
			Spec{Cron: "@daily", Duration: 90 * time.Minute, Zone: "UTC"}, `{"cron":"@daily","duration":"1h30m","zone":"UTC"}`},
		{"days as hours", `{"cron":"@weekly","duration":"168h","zone":"UTC"}`,
			Spec{Cron: "@weekly", Duration: 168 * time.Hour, Zone: "UTC"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s Spec
			if err := json.Unmarshal([]byte(tc.in), &s); err != nil || s != tc.want {
				t.Fatalf("Unmarshal(%s) = %+v, %v; want %+v", tc.in, s, err, tc.want)
			}
			out, err := json.Marshal(s)
			want := tc.wantOut
			if want == "" {
				want = tc.in
			}
			if err != nil || string(out) != want {
				t.Errorf("Marshal(%+v) = %s, %v; want %s", s, out, err, want)
			}
		})
	}
}

func TestSpecJSONBadDuration(t *testing.T) {
	for _, tc := range []struct{ name, in, wantMsg string }{
		{"words", `{"cron":"0 2 * * SAT","duration":"3 hours","zone":"UTC"}`, `"3 hours" is not a duration`},
		{"a number", `{"cron":"0 2 * * SAT","duration":10800,"zone":"UTC"}`, `10800 is not a duration`},
		{"days", `{"cron":"0 2 * * SAT","duration":"2d","zone":"UTC"}`, `"72h"`},
		{"missing", `{"cron":"0 2 * * SAT","zone":"UTC"}`, "required"},
		{"null", `{"cron":"0 2 * * SAT","duration":null,"zone":"UTC"}`, "required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var specs []Spec
			if err := json.Unmarshal([]byte("["+tc.in+"]"), &specs); err != nil {
				t.Fatalf("Unmarshal(%s): %v; want the duration kept for Parse", tc.in, err)
			}
			_, err := ParseAll("windows", specs)
			var pe *patchbay.Error
			if !errors.As(err, &pe) || pe.Field != "windows[0].duration" || !strings.Contains(pe.Message, tc.wantMsg) {
				t.Errorf("ParseAll(%s) = %v; want windows[0].duration: …%s…", tc.in, err, tc.wantMsg)
			}
			if out, err := json.Marshal(specs[0]); err != nil || !json.Valid(out) {
				t.Errorf("Marshal(kept bad duration) = %s, %v; want valid JSON", out, err)
			}
		})
	}
}

func TestSpecJSONStrict(t *testing.T) {
	var policy struct {
		Windows []Spec `json:"windows"`
	}
	err := json.Unmarshal([]byte(`{"windows":[{"cron":"0 2 * * SAT","duration":"3h","zone":"UTC","start":"02:00"}]}`), &policy)
	if err == nil || !strings.Contains(err.Error(), `unknown field "start"`) {
		t.Errorf("Unmarshal(unknown field) = %v; want unknown field \"start\"", err)
	}
	err = json.Unmarshal([]byte(`{"windows":[{"cron":5,"duration":"3h","zone":"UTC"}]}`), &policy)
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Field != "windows.cron" {
		t.Errorf("Unmarshal(cron a number) = %v; want a type error on windows.cron", err)
	}
}

func TestSpecYAML(t *testing.T) {
	in := "cron: 0 2 * * SAT\nduration: 3h\nzone: Europe/Berlin\n"
	var s Spec
	if err := yaml.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	if want := (Spec{Cron: "0 2 * * SAT", Duration: 3 * time.Hour, Zone: "Europe/Berlin"}); s != want {
		t.Errorf("yaml.Unmarshal(%q) = %+v; want %+v", in, s, want)
	}
	out, err := yaml.Marshal(s)
	var back Spec
	if err != nil || yaml.Unmarshal(out, &back) != nil || back != s {
		t.Errorf("yaml round trip of %+v: %s, %v, back %+v", s, out, err, back)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		3 * time.Hour:    "3h",
		90 * time.Minute: "1h30m",
		45 * time.Minute: "45m",
		168 * time.Hour:  "168h",
		90 * time.Second: "1m30s",
		0:                "0s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q; want %q", d, got, want)
		}
	}
}

func TestWindowString(t *testing.T) {
	w := mustParse(t, "0 2 * * SAT", 3*time.Hour, "Europe/Berlin")
	if got, want := w.String(), "0 2 * * SAT for 3h in Europe/Berlin"; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
	if w.HostLocal() || !mustParse(t, "@daily", time.Hour, "host").HostLocal() {
		t.Errorf("HostLocal wrong")
	}
}

func TestCivilDays(t *testing.T) {
	for day := int64(-800000); day < 800000; day += 997 {
		y, m, d := civilFromDays(day)
		if back := daysFromCivil(y, m, d); back != day {
			t.Fatalf("daysFromCivil(civilFromDays(%d)=%d-%d-%d) = %d", day, y, m, d, back)
		}
		ref := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(day))
		if ry, rm, rd := ref.Date(); ry != y || rm != m || rd != d || ref.Weekday() != time.Weekday(weekday(day)) {
			t.Fatalf("day %d: %d-%d-%d weekday %d; time package says %s", day, y, m, d, weekday(day), ref.Format("2006-01-02 Mon"))
		}
	}
}
