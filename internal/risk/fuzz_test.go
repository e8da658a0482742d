package risk

import (
	"strings"
	"testing"

	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/severity"
	"github.com/patchbay/patchbay/internal/version"
)

// fuzzSeeds are the updates pkgmgr produces from its testdata, and a few
// others of each ecosystem.
var fuzzSeeds = []protocol.Update{
	aptBaseFiles, aptLibc6, aptOpenSSH, aptTzdata, aptOpenSSL,
	dnfBash, dnfHtop, dnfKernel, dnfOpenSSL, dnfPython, dnfTzdata, dnfCritical,
	deb("bash", "5.2.15-2+b2", "5.2.15-2+b8", "bash", "5.2.15-2", "stable"),
	deb("bsdutils", "1:2.38.1-5+deb12u2", "1:2.38.1-5+deb12u3", "util-linux", "2.38.1-5+deb12u3", "stable"),
	deb("curl", "7.81.0-1ubuntu1.15", "7.81.0-1ubuntu1.16", "curl", "7.81.0-1ubuntu1.16", "jammy-updates"),
	deb("cockpit", "287-1", "320-1~bpo12+1", "cockpit", "320-1~bpo12+1", "stable-backports"),
	{Ecosystem: "apk", Name: "musl", FromVersion: "1.2.5-r0", ToVersion: "1.2.5-r1", SourceName: "musl", SourceVersion: "1.2.5-r1"},
	{Ecosystem: "go", Name: "stdlib", FromVersion: "1.21.1", ToVersion: "1.21.3"},
	{Ecosystem: "go", Name: "golang.org/x/net", FromVersion: "v0.17.0", ToVersion: "v0.23.0"},
}

// FuzzClassify checks that Classify never panics and always answers one of
// the four classes with a reason, the same each time; and that Fixes never
// panics and finds an update's own version fixed.
func FuzzClassify(f *testing.F) {
	for i, u := range fuzzSeeds {
		sev := []string{"", "critical", "high", "unknown"}[i%4]
		f.Add(u.Ecosystem, u.FromVersion, u.ToVersion, u.SourceVersion, u.Origin, u.Archive, u.Security,
			u.AdvisoryType, u.Severity, strings.Join(u.AdvisoryIDs, ","), uint8(i%3), i%5 == 0, float64(i%11), sev, "")
	}
	f.Add("deb", "1.0-1", "1.0-2", "", "Ubuntu", "jammy-security", false, "", "", "", uint8(1), false, -1.0, "medium", "Critical")
	f.Fuzz(func(t *testing.T, eco, from, to, src, origin, archive string, sec bool, typ, usev, ids string,
		nfix uint8, kev bool, cvss float64, sev, vendor string) {
		u := protocol.Update{
			Ecosystem: eco, Name: "pkg", FromVersion: from, ToVersion: to, SourceVersion: src,
			Origin: origin, Archive: archive, Security: sec, AdvisoryType: typ, Severity: usev,
		}
		if ids != "" {
			u.AdvisoryIDs = strings.Split(ids, ",")
		}
		var fixes []FixedFinding
		for i := range int(nfix % 4) {
			ff := FixedFinding{Advisory: strings.Repeat("A", i), KEV: kev && i == 1, Severity: severity.Level(sev), VendorSeverity: vendor}
			if cvss >= 0 {
				ff.CVSS = &cvss
			}
			fixes = append(fixes, ff)
		}
		c := Classify(u, fixes)
		if !c.Class.Valid() || c.Reason == "" {
			t.Fatalf("Classify(%+v, %+v) = %+v: not a class, or no reason", u, fixes, c)
		}
		if again := Classify(u, fixes); again != c {
			t.Fatalf("Classify(%+v, %+v) = %+v, then %+v", u, fixes, c, again)
		}
		if len(fixes) > 0 && c.Class != Critical && c.Class != Security {
			t.Fatalf("Classify(%+v, %+v) = %+v: fixes advisories, yet not critical or security", u, fixes, c)
		}
		for _, ord := range []version.Ecosystem{version.Deb, version.RPM, version.APK2, version.APK3, version.Go} {
			v := ComparedVersion(u)
			ok, err := Fixes(u, []string{v}, ord)
			if err == nil && !ok {
				t.Fatalf("Fixes(%+v, [%q], %s) = false: an update is at its own version", u, v, ord)
			}
		}
	})
}
