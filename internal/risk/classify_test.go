package risk

import (
	"testing"

	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/severity"
)

func ptr[T any](v T) *T { return &v }

// The updates of pkgmgr's testdata as its parsers join them
// (TestParseAptHost, TestParseDnfRocky), and others in the same shape.
var (
	aptBaseFiles = deb("base-files", "12.4+deb12u7", "12.4+deb12u8", "base-files", "12.4+deb12u8", "stable")
	aptLibc6     = deb("libc6", "2.36-9+deb12u8", "2.36-9+deb12u9", "glibc", "2.36-9+deb12u9", "stable")
	aptOpenSSH   = deb("openssh-server", "1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u4", "openssh", "1:9.2p1-2+deb12u4", "stable-security")
	aptTzdata    = deb("tzdata", "2024a-0+deb12u1", "2024b-0+deb12u1", "tzdata", "2024b-0+deb12u1", "stable-updates")
	aptOpenSSL   = deb("libssl3", "3.0.11-1~deb12u1", "3.0.11-1~deb12u2", "openssl", "3.0.11-1~deb12u2", "bookworm-security")

	dnfBash     = rpm("bash", "5.1.8-6.el9_1", "5.1.8-9.el9", "bash", "5.1.8-9.el9", "baseos", "bugfix", "Moderate", "RLBA-2024:2456")
	dnfHtop     = rpm("htop", "3.2.2-1.el9", "3.3.0-1.el9", "htop", "3.3.0-1.el9", "epel", "", "")
	dnfKernel   = rpm("kernel", "5.14.0-427.13.1.el9_4", "5.14.0-427.20.1.el9_4", "kernel", "5.14.0-427.20.1.el9_4", "baseos", "security", "Important", "RLSA-2024:2570")
	dnfOpenSSL  = rpm("openssl", "1:3.0.7-25.el9_3", "1:3.0.7-27.el9", "openssl", "3.0.7-27.el9", "baseos", "security", "Moderate", "RLSA-2024:2447")
	dnfPython   = rpm("python3-libs", "3.9.18-1.el9_3", "3.9.18-3.el9_4.1", "python3.9", "3.9.18-3.el9_4.1", "baseos", "security", "Low", "RLBA-2024:2801", "RLSA-2024:3102")
	dnfTzdata   = rpm("tzdata", "2023c-1.el9", "2024a-1.el9", "tzdata", "2024a-1.el9", "baseos", "enhancement", "", "RLEA-2024:2581")
	dnfCritical = rpm("sudo", "1.9.5p2-9.el9", "1.9.5p2-10.el9_3", "sudo", "1.9.5p2-10.el9_3", "baseos", "security", "Critical", "RLSA-2024:0811")
)

// with returns u changed by f.
func with(u protocol.Update, f func(*protocol.Update)) protocol.Update {
	f(&u)
	return u
}

func TestClassify(t *testing.T) {
	dsa := FixedFinding{Advisory: "DSA-5532-1", Severity: severity.High}
	kev := FixedFinding{Advisory: "CVE-2023-38545", KEV: true, Severity: severity.Critical, CVSS: ptr(9.8)}
	tests := []struct {
		name   string
		u      protocol.Update
		fixes  []FixedFinding
		class  Class
		reason string
	}{
		// critical
		{"KEV", aptOpenSSL, []FixedFinding{{Advisory: "DSA-5532-1", KEV: true, Severity: severity.High}},
			Critical, "fixes DSA-5532-1, known exploited (KEV)"},
		{"KEV named first among several", aptOpenSSL, []FixedFinding{dsa, kev, {Advisory: "DSA-5533-1", CVSS: ptr(10.0)}},
			Critical, "fixes CVE-2023-38545, known exploited (KEV), and 2 more advisories"},
		{"CVSS 9.0 exactly", aptOpenSSL, []FixedFinding{{Advisory: "DSA-5532-1", Severity: severity.Critical, CVSS: ptr(9.0)}},
			Critical, "fixes DSA-5532-1, CVSS 9.0"},
		{"highest CVSS named", aptOpenSSL, []FixedFinding{{Advisory: "A", CVSS: ptr(9.1)}, {Advisory: "B", CVSS: ptr(9.8)}},
			Critical, "fixes B, CVSS 9.8, and 1 more advisory"},
		{"vendor severity critical", deb("libc6", "2.35-0ubuntu3.6", "2.35-0ubuntu3.7", "glibc", "2.35-0ubuntu3.7", "jammy-security"),
			[]FixedFinding{{Advisory: "USN-6620-1", Severity: severity.High, CVSS: ptr(7.8), VendorSeverity: "Critical"}},
			Critical, "fixes USN-6620-1, vendor severity Critical"},
		{"severity level critical", aptOpenSSL, []FixedFinding{{Advisory: "GHSA-xxxx", Severity: severity.Critical}},
			Critical, "fixes GHSA-xxxx, severity critical"},
		{"updateinfo security Critical", dnfCritical, nil,
			Critical, "updateinfo type security, severity Critical (RLSA-2024:0811)"},

		// security
		{"fixes an advisory", aptOpenSSL, []FixedFinding{dsa}, Security, "fixes DSA-5532-1"},
		{"CVSS 8.9 is not critical", aptOpenSSL, []FixedFinding{{Advisory: "DSA-5532-1", Severity: severity.High, CVSS: ptr(8.9)}},
			Security, "fixes DSA-5532-1"},
		{"unknown severity is not critical", aptOpenSSL, []FixedFinding{{Advisory: "DSA-5532-1", Severity: severity.Unknown}, dsa},
			Security, "fixes DSA-5532-1, and 1 more advisory"},
		{"fixes an advisory in a point release", aptLibc6, []FixedFinding{{Advisory: "CVE-2024-2961", Severity: severity.High}},
			Security, "fixes CVE-2024-2961"},
		{"fixes an advisory without an id", aptLibc6, []FixedFinding{{Severity: severity.Low}},
			Security, "fixes an advisory without an id"},
		{"stable-security pocket", aptOpenSSH, nil, Security, "from stable-security"},
		{"bookworm-security pocket", aptOpenSSL, nil, Security, "from bookworm-security"},
		{"Ubuntu security pocket", deb("curl", "7.81.0-1ubuntu1.15", "7.81.0-1ubuntu1.16", "curl", "7.81.0-1ubuntu1.16", "jammy-security"), nil,
			Security, "from jammy-security"},
		{"Ubuntu Pro apps security", with(deb("nginx", "1.18.0-6ubuntu14.4", "1.18.0-6ubuntu14.4+esm1", "nginx", "1.18.0-6ubuntu14.4+esm1", "jammy-apps-security"),
			func(u *protocol.Update) { u.Origin = "UbuntuESMApps" }), nil, Security, "from jammy-apps-security"},
		{"security archive without pkgmgr's flag", with(aptOpenSSH, func(u *protocol.Update) { u.Security = false }), nil,
			Security, "from stable-security"},
		{"security origin", with(aptLibc6, func(u *protocol.Update) { u.Origin, u.Archive = "Example-Security", "stable" }), nil,
			Security, "from security origin Example-Security"},
		{"security by apt's label", with(deb("tool", "1.0-1", "1.1-1", "tool", "1.1-1", "stable"), func(u *protocol.Update) {
			u.Origin, u.Security = "Example, Inc.", true
		}), nil, Security, "from Example, Inc./stable, a release the package manager marks as security"},
		{"security flag alone", protocol.Update{Ecosystem: "deb", Name: "a", FromVersion: "1", ToVersion: "2", Security: true}, nil,
			Security, "marked security by the package manager"},
		{"updateinfo security", dnfKernel, nil, Security, "updateinfo type security, severity Important (RLSA-2024:2570)"},
		{"updateinfo security with bugfix ids too", dnfPython, nil, Security, "updateinfo type security, severity Low (RLBA-2024:2801, RLSA-2024:3102)"},
		{"updateinfo security and a finding", dnfOpenSSL, []FixedFinding{{Advisory: "RLSA-2024:2447", Severity: severity.Medium}},
			Security, "fixes RLSA-2024:2447"},
		{"updateinfo security without severity", with(dnfOpenSSL, func(u *protocol.Update) { u.Severity = "" }), nil,
			Security, "updateinfo type security (RLSA-2024:2447)"},

		// bugfix
		{"Debian revision", aptLibc6, nil, Bugfix, "point release: same upstream version 2.36, Debian revision -9+deb12u8 → -9+deb12u9"},
		{"Debian revision with ~", deb("libssl3", "3.0.11-1~deb12u1", "3.0.11-1~deb12u2", "openssl", "3.0.11-1~deb12u2", "stable"), nil,
			Bugfix, "point release: same upstream version 3.0.11, Debian revision -1~deb12u1 → -1~deb12u2"},
		{"Debian revision with an epoch", deb("openssh-client", "1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u4", "openssh", "1:9.2p1-2+deb12u4", "stable"), nil,
			Bugfix, "point release: same upstream version 1:9.2p1, Debian revision -2+deb12u3 → -2+deb12u4"},
		{"Debian native stable update", aptBaseFiles, nil, Bugfix, "point release: Debian stable update 12.4+deb12u7 → 12.4+deb12u8"},
		{"stable-updates with a new upstream", aptTzdata, nil, Bugfix, "point release from stable-updates: 2024a-0+deb12u1 → 2024b-0+deb12u1"},
		{"bookworm-updates", with(aptTzdata, func(u *protocol.Update) { u.Archive = "bookworm-updates" }), nil,
			Bugfix, "point release from bookworm-updates: 2024a-0+deb12u1 → 2024b-0+deb12u1"},
		{"new upstream in a stable update", deb("firefox-esr", "115.12.0esr-1~deb12u1", "128.3.0esr-1~deb12u1", "firefox-esr", "128.3.0esr-1~deb12u1", "stable"), nil,
			Bugfix, "point release: Debian stable update 115.12.0esr-1~deb12u1 → 128.3.0esr-1~deb12u1"},
		{"Ubuntu SRU revision", deb("curl", "7.81.0-1ubuntu1.15", "7.81.0-1ubuntu1.16", "curl", "7.81.0-1ubuntu1.16", "jammy-updates"), nil,
			Bugfix, "point release: same upstream version 7.81.0, Debian revision -1ubuntu1.15 → -1ubuntu1.16"},
		{"Ubuntu SRU new upstream", deb("ubuntu-advantage-tools", "30~22.04", "31.2~22.04", "ubuntu-advantage-tools", "31.2~22.04", "jammy-updates"), nil,
			Bugfix, "point release from jammy-updates: 30~22.04 → 31.2~22.04"},
		{"updateinfo bugfix", dnfBash, nil, Bugfix, "updateinfo type bugfix (RLBA-2024:2456)"},
		{"rpm release", rpm("htop", "3.3.0-1.el9", "3.3.0-2.el9", "htop", "3.3.0-2.el9", "epel", "", ""), nil,
			Bugfix, "point release: same upstream version 3.3.0, release 1.el9 → 2.el9"},
		{"rpm release with an epoch", rpm("openssl", "1:3.0.7-25.el9_3", "1:3.0.7-27.el9", "openssl", "3.0.7-27.el9", "baseos", "", ""), nil,
			Bugfix, "point release: same upstream version 1:3.0.7, release 25.el9_3 → 27.el9"},
		{"apk release", protocol.Update{Ecosystem: "apk", Name: "musl", FromVersion: "1.2.5-r0", ToVersion: "1.2.5-r1"}, nil,
			Bugfix, "point release: same upstream version 1.2.5, package release r0 → r1"},
		{"go patch release", protocol.Update{Ecosystem: "go", Name: "golang.org/x/net", FromVersion: "0.17.0", ToVersion: "0.17.1"}, nil,
			Bugfix, "patch release 0.17.0 → 0.17.1"},

		// feature
		{"updateinfo enhancement", dnfTzdata, nil, Feature, "updateinfo type enhancement (RLEA-2024:2581)"},
		{"updateinfo enhancement beats a release-only change", with(dnfTzdata, func(u *protocol.Update) { u.ToVersion = "2023c-2.el9" }), nil,
			Feature, "updateinfo type enhancement (RLEA-2024:2581)"},
		{"updateinfo newpackage", with(dnfHtop, func(u *protocol.Update) { u.AdvisoryType, u.AdvisoryIDs = "newpackage", []string{"FEDORA-EPEL-2024-1"} }), nil,
			Feature, "updateinfo type newpackage (FEDORA-EPEL-2024-1)"},
		{"rpm new upstream", dnfHtop, nil, Feature, "new upstream version 3.2.2 → 3.3.0"},
		{"deb new upstream from a third party", with(deb("docker-ce", "5:24.0.7-1~debian.12~bookworm", "5:25.0.0-1~debian.12~bookworm", "docker-ce", "5:25.0.0-1~debian.12~bookworm", "bookworm"),
			func(u *protocol.Update) { u.Origin = "Docker" }), nil, Feature, "new upstream version 5:24.0.7 → 5:25.0.0"},
		{"deb backport", deb("cockpit", "287-1", "320-1~bpo12+1", "cockpit", "320-1~bpo12+1", "stable-backports"), nil,
			Feature, "new upstream version 287 → 320"},
		{"deb epoch change", deb("a", "1.0-1", "1:0.9-1", "a", "1:0.9-1", "stable"), nil, Feature, "new upstream version 1.0 → 1:0.9"},
		{"apk new upstream", protocol.Update{Ecosystem: "apk", Name: "curl", FromVersion: "8.9.1-r0", ToVersion: "8.11.0-r2"}, nil,
			Feature, "new upstream version 8.9.1 → 8.11.0"},
		{"go minor release", protocol.Update{Ecosystem: "go", Name: "golang.org/x/net", FromVersion: "0.17.0", ToVersion: "0.18.0"}, nil,
			Feature, "new upstream version 0.17.0 → 0.18.0"},
		{"same version", deb("a", "1.0-1", "1.0-1", "a", "1.0-1", "stable"), nil, Feature, "same version 1.0-1 → 1.0-1, no other signal"},
		{"unknown ecosystem", protocol.Update{Ecosystem: "pip", Name: "a", FromVersion: "1", ToVersion: "2"}, nil,
			Feature, `new version 1 → 2, no other signal (versions not understood: unknown package ecosystem "pip")`},
		{"unparseable version", deb("a", "1.0-1", "1:", "a", "1:", "stable"), nil,
			Feature, `new version 1.0-1 → 1:, no other signal (versions not understood: deb version "1:": nothing after the epoch colon)`},
		{"unparseable version in an updates pocket", deb("a", "1.0-1", "1:", "a", "1:", "stable-updates"), nil,
			Bugfix, "point release from stable-updates: 1.0-1 → 1:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Classify(tc.u, tc.fixes)
			if got.Class != tc.class || got.Reason != tc.reason {
				t.Errorf("Classify(%s %s %s → %s %s/%s type %q, %d fixes) = %s %q; want %s %q",
					tc.u.Ecosystem, tc.u.Name, tc.u.FromVersion, tc.u.ToVersion, tc.u.Origin, tc.u.Archive, tc.u.AdvisoryType, len(tc.fixes),
					got.Class, got.Reason, tc.class, tc.reason)
			}
		})
	}
}

func TestDebStableUpdate(t *testing.T) {
	for v, want := range map[string]bool{
		"12.4+deb12u8":          true,
		"3.0.11-1~deb12u2":      true,
		"2.36-9+deb12u9":        true,
		"1:9.2p1-2+deb12u4":     true,
		"5.2.15-2+b8":           false,
		"1.0+debian-1":          false,
		"1.0-1+deb12":           false,
		"1.0-1+deb12u":          false,
		"1.0-1+debu1":           false,
		"320-1~bpo12+1":         false,
		"7.81.0-1ubuntu1.16":    false,
		"1.0+deb12u1~bpo11+1":   true,
		"2.38.1-5+deb12u3+b1":   true,
		"115.12.0esr-1~deb12u1": true,
	} {
		if got := debStableUpdate(v); got != want {
			t.Errorf("debStableUpdate(%q) = %v; want %v", v, got, want)
		}
	}
}

func TestClasses(t *testing.T) {
	for _, c := range Classes() {
		if !c.Valid() {
			t.Errorf("%q.Valid() = false", c)
		}
	}
	for _, c := range []Class{"", "Critical", "enhancement"} {
		if c.Valid() {
			t.Errorf("%q.Valid() = true", c)
		}
	}
}
