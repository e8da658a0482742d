package severity

import (
	"testing"
)

// FuzzScore checks that Score never panics and that what it accepts is in
// range, rated and of a known version.
func FuzzScore(f *testing.F) {
	for _, tc := range scoreCases {
		f.Add(tc.vector)
	}
	f.Add("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A/CR:H/IR:H/AR:H/MAV:N/MAC:L/MAT:N/MPR:N/MUI:N/MVC:H/MVI:H/MVA:H/MSC:H/MSI:S/MSA:S/S:P/AU:Y/R:U/V:C/RE:H/U:Red")
	f.Add("AV:N/AC:L/Au:N/C:P/I:P/A:P/E:F/RL:OF/RC:C/CDP:H/TD:H/CR:H/IR:H/AR:H")
	f.Fuzz(func(t *testing.T, vector string) {
		c, err := Score(vector)
		if err != nil {
			return
		}
		if c.Base < 0 || c.Base > 10 || versionRank(c.Version) == 0 || !c.Level.Known() {
			t.Errorf("Score(%q) = %+v: out of range, unknown version or unrated", vector, c)
		}
	})
}
