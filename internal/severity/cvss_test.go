package severity

import (
	"errors"
	"strings"
	"testing"
)

// scoreCases are real vectors with the base scores published for them by
// the specifications' examples, NVD or the FIRST calculators.
var scoreCases = []struct {
	name    string
	vector  string
	version string
	base    float64
	level   Level
}{
	// CVSS v2.0 specification §3.3 examples; NVD's bands, no Critical.
	{"v2 CVE-2002-0392", "AV:N/AC:L/Au:N/C:N/I:N/A:C", CVSSv20, 7.8, High},
	{"v2 CVE-2003-0818", "AV:N/AC:L/Au:N/C:C/I:C/A:C", CVSSv20, 10.0, High},
	{"v2 CVE-2003-0062", "AV:L/AC:H/Au:N/C:C/I:C/A:C", CVSSv20, 6.2, Medium},
	{"v2 with prefix", "CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P", CVSSv20, 7.5, High},
	{"v2 temporal ignored", "AV:N/AC:L/Au:N/C:P/I:P/A:P/E:U/RL:OF/RC:C", CVSSv20, 7.5, High},
	{"v2 zero is low", "AV:N/AC:L/Au:N/C:N/I:N/A:N", CVSSv20, 0.0, Low},
	// CVSS v3.0 specification examples.
	{"v3.0 heartbleed", "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", CVSSv30, 7.5, High},
	{"v3.0 critical", "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", CVSSv30, 9.8, Critical},
	// CVSS v3.1.
	{"v3.1 critical", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", CVSSv31, 9.8, Critical},
	{"v3.1 xss", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", CVSSv31, 6.1, Medium},
	{"v3.1 dos", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", CVSSv31, 7.5, High},
	{"v3.1 high boundary", "CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:H/I:H/A:H", CVSSv31, 7.0, High},
	{"v3.1 none", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", CVSSv31, 0.0, None},
	{"v3.1 temporal ignored", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/RC:U", CVSSv31, 9.8, Critical},
	{"v3.1 surrounding space", " CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\n", CVSSv31, 9.8, Critical},
	// CVSS v4.0.
	{"v4.0 critical", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", CVSSv40, 9.3, Critical},
	{"v4.0 maximum", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", CVSSv40, 10.0, Critical},
	{"v4.0 local", "CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", CVSSv40, 8.5, High},
	{"v4.0 subsequent only", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:L/SA:N", CVSSv40, 6.9, Medium},
	{"v4.0 none", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N", CVSSv40, 0.0, None},
	{"v4.0 threat ignored", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U", CVSSv40, 9.3, Critical},
	{"v4.0 environmental ignored", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/CR:L/IR:L/AR:L/MAV:P", CVSSv40, 9.3, Critical},
	{"v4.0 supplemental ignored", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/S:P/R:U", CVSSv40, 9.3, Critical},
}

func TestScore(t *testing.T) {
	for _, tc := range scoreCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Score(tc.vector)
			if err != nil {
				t.Fatalf("Score(%q): %v", tc.vector, err)
			}
			if got.Version != tc.version || got.Base != tc.base || got.Level != tc.level {
				t.Errorf("Score(%q) = %s %.1f %s; want %s %.1f %s", tc.vector,
					got.Version, got.Base, got.Level, tc.version, tc.base, tc.level)
			}
			if got.Vector != strings.TrimSpace(tc.vector) {
				t.Errorf("Score(%q).Vector = %q, want the vector trimmed", tc.vector, got.Vector)
			}
		})
	}
}

func TestScoreInvalid(t *testing.T) {
	for _, tc := range []struct {
		name, vector, reason string
	}{
		{"empty", "", "empty"},
		{"unknown version", "CVSS:5.0/AV:N/AC:L", `unknown version "CVSS:5.0"`},
		{"v3.1 missing metrics", "CVSS:3.1/AV:N/AC:L", "PR"},
		{"v3.1 bad value", "CVSS:3.1/AV:Z/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "invalid metric value"},
		{"v3.1 duplicate metric", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/AV:L", "AV"},
		{"v3 header only", "CVSS:3.1/", "invalid"},
		{"v4.0 wrong order", "CVSS:4.0/AC:L/AV:N/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "order"},
		{"v4.0 short", "CVSS:4.0/AV:N/AC:L", "too short"},
		{"v2 short", "AV:N/AC:L/Au:N", "too short"},
		{"v2 garbage", "high", "invalid metric order"},
		{"v3 vector missing prefix", "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "invalid metric order"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Score(tc.vector)
			if err == nil {
				t.Fatalf("Score(%q) = %s, want an error", tc.vector, got)
			}
			if !errors.Is(err, ErrInvalidVector) {
				t.Errorf("Score(%q) error %q does not wrap ErrInvalidVector", tc.vector, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, `"`+tc.vector+`"`) || !strings.Contains(msg, tc.reason) {
				t.Errorf("Score(%q) error = %q, want it to name the vector and %q", tc.vector, msg, tc.reason)
			}
		})
	}
}

func TestLevelOfBands(t *testing.T) {
	for _, tc := range []struct {
		version string
		base    float64
		want    Level
	}{
		{CVSSv31, 0.0, None}, {CVSSv31, 0.1, Low}, {CVSSv31, 3.9, Low},
		{CVSSv31, 4.0, Medium}, {CVSSv31, 6.9, Medium}, {CVSSv31, 7.0, High},
		{CVSSv31, 8.9, High}, {CVSSv31, 9.0, Critical}, {CVSSv31, 10.0, Critical},
		{CVSSv40, 3.9000000000000004, Low}, {CVSSv40, 8.999999999999998, Critical},
		{CVSSv20, 0.0, Low}, {CVSSv20, 3.9, Low}, {CVSSv20, 4.0, Medium},
		{CVSSv20, 6.9, Medium}, {CVSSv20, 7.0, High}, {CVSSv20, 10.0, High},
	} {
		if got := levelOf(tc.version, tc.base); got != tc.want {
			t.Errorf("levelOf(%s, %v) = %s, want %s", tc.version, tc.base, got, tc.want)
		}
	}
}
