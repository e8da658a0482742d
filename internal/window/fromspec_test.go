package window

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
)

func TestFromSpec(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       patchbay.WindowSpec
		field    string // of the error, "" for none
		msg      string
		duration time.Duration
	}{
		{"saturday night", patchbay.WindowSpec{Cron: "0 2 * * SAT", Duration: "3h", Zone: "Europe/Berlin"}, "", "", 3 * time.Hour},
		{"hours and minutes", patchbay.WindowSpec{Cron: "0 2 * * SAT", Duration: "1h30m", Zone: "host"}, "", "", 90 * time.Minute},
		{"minutes", patchbay.WindowSpec{Cron: "0 2 * * SAT", Duration: "90m", Zone: "UTC"}, "", "", 90 * time.Minute},
		{"words", patchbay.WindowSpec{Cron: "0 2 * * SAT", Duration: "3 hours", Zone: "UTC"}, "w.duration",
			`"3 hours" is not a duration; write a string of hours and minutes such as "3h" or "1h30m" (days are "72h")`, 0},
		{"days", patchbay.WindowSpec{Cron: "0 2 * * SAT", Duration: "2d", Zone: "UTC"}, "w.duration", `"2d" is not a duration`, 0},
		{"html characters kept", patchbay.WindowSpec{Cron: "0 2 * * SAT", Duration: "<3h>", Zone: "UTC"}, "w.duration", `"<3h>" is not a duration`, 0},
		{"empty", patchbay.WindowSpec{Cron: "0 2 * * SAT", Zone: "UTC"}, "w.duration", "required: how long each window stays open", 0},
		{"zero", patchbay.WindowSpec{Cron: "0 2 * * SAT", Duration: "0s", Zone: "UTC"}, "w.duration", "required", 0},
		{"negative", patchbay.WindowSpec{Cron: "0 2 * * SAT", Duration: "-1h", Zone: "UTC"}, "w.duration", "must be positive, got -1h0m0s", 0},
		{"seconds", patchbay.WindowSpec{Cron: "0 2 * * SAT", Duration: "90s", Zone: "UTC"}, "w.duration", "must be whole minutes, got 1m30s", 0},
		{"too long", patchbay.WindowSpec{Cron: "0 2 * * SAT", Duration: "200h", Zone: "UTC"}, "w.duration", "at most 168h (7 days), got 200h", 0},
		{"bad cron first", patchbay.WindowSpec{Cron: "0 2 * * 7", Duration: "nope", Zone: "Nowhere"}, "w.cron", "day-of-week", 0},
		{"bad zone", patchbay.WindowSpec{Cron: "0 2 * * SAT", Duration: "3h", Zone: "Europe/Berln"}, "w.zone", `unknown time zone "Europe/Berln"`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := FromSpec("w", tc.in)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("FromSpec(%+v): %v", tc.in, err)
				}
				if w.Spec().Duration != tc.duration || w.Spec().Cron != tc.in.Cron || w.Spec().Zone != tc.in.Zone {
					t.Errorf("FromSpec(%+v) = %+v; want duration %s", tc.in, w.Spec(), tc.duration)
				}
				return
			}
			var pe *patchbay.Error
			if !errors.As(err, &pe) || pe.Code != patchbay.EUnprocessable || pe.Field != tc.field || !strings.Contains(pe.Message, tc.msg) {
				t.Errorf("FromSpec(%+v) error = %v; want %s on %s: %q", tc.in, err, patchbay.EUnprocessable, tc.field, tc.msg)
			}
		})
	}
}

// TestFromSpecSameAsJSON holds FromSpec's messages to those of Parse on a
// Spec decoded from the same JSON. The empty string is left out: in the
// domain's form it is the field left unset, reported as required, while
// Spec's decoder tells "" from an absent duration.
func TestFromSpecSameAsJSON(t *testing.T) {
	for _, d := range []string{"3h", "3 hours", "2d", "0s", "-5m", "90s", "200h", "1h30m", `a"b`, "é"} {
		var s Spec
		raw, _ := json.Marshal(map[string]string{"cron": "0 2 * * SAT", "duration": d, "zone": "UTC"})
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("Unmarshal(%s): %v", raw, err)
		}
		_, want := Parse("windows[0]", s)
		_, got := FromSpec("windows[0]", patchbay.WindowSpec{Cron: "0 2 * * SAT", Duration: d, Zone: "UTC"})
		if (got == nil) != (want == nil) || (got != nil && got.Error() != want.Error()) {
			t.Errorf("duration %q: FromSpec error %v; Parse of the JSON %v", d, got, want)
		}
	}
}

func TestFromSpecs(t *testing.T) {
	ok := patchbay.WindowSpec{Cron: "0 2 * * SAT", Duration: "3h", Zone: "Europe/Berlin"}
	ws, err := FromSpecs("windows", []patchbay.WindowSpec{ok, {Cron: "0 4 * * SUN", Duration: "1h", Zone: "host"}})
	if err != nil || len(ws) != 2 || ws[0].HostLocal() || !ws[1].HostLocal() {
		t.Fatalf("FromSpecs(two good) = %v, %v", ws, err)
	}
	ws, err = FromSpecs("windows", nil)
	if err != nil || len(ws) != 0 {
		t.Errorf("FromSpecs(nil) = %v, %v; want an empty set", ws, err)
	}
	_, err = FromSpecs("windows", []patchbay.WindowSpec{ok, ok, {Cron: "0 2 * * SAT", Duration: "3 hours", Zone: "UTC"}})
	var pe *patchbay.Error
	if !errors.As(err, &pe) || pe.Field != "windows[2].duration" {
		t.Errorf("FromSpecs(third bad) error = %v; want one on windows[2].duration", err)
	}
}
