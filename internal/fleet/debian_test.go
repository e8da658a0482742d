package fleet

import (
	"cmp"
	"slices"
	"testing"
)

func TestBinaryVersion(t *testing.T) {
	for _, tc := range []struct {
		bin, oldSrc, newSrc, want string
		ok                        bool
	}{
		{"5.2.15-2+b8", "5.2.15-2", "5.2.15-2+deb12u1", "5.2.15-2+deb12u1", true},                          // binNMU dropped
		{"1:2.38.1-5+deb12u3", "2.38.1-5+deb12u3", "2.38.1-5+deb12u4", "1:2.38.1-5+deb12u4", true},         // binary's own epoch
		{"1:2.66-4+deb12u2+b2", "1:2.66-4+deb12u2", "1:2.66-4+deb12u3", "1:2.66-4+deb12u3", true},          // both
		{"2:1.02.185-2", "2.03.16-2", "2.03.16-2+deb12u1", "2:1.02.185-2+deb12u1", true},                   // own version, marker follows
		{"15+248+deb12u1", "248+deb12u1", "248+deb12u2", "15+248+deb12u2", true},                           // own version, marker follows
		{"4:12.2.0-3", "1.203", "1.204", "", false},                                                        // own version, new upstream
		{"1:2.38.1-5+deb12u3", "2.38.1-5+deb12u3", "2.36.1-8+deb11u1", "1:2.36.1-8+deb11u1", true},         // to bullseye
		{"3.0.19-1~deb12u2", "3.0.19-1~deb12u2", "1.1.1n-0+deb11u2", "1.1.1n-0+deb11u2", true},             // to bullseye
		{"2:1.02.185-2", "2.03.16-2", "2.03.11-2.1", "", false},                                            // to bullseye, own version
		{"1:1.2.13.dfsg-1", "1:1.2.13.dfsg-1", "1:1.2.11.dfsg-2+deb11u1", "1:1.2.11.dfsg-2+deb11u1", true}, // epoch in both
		{"1.0.9-2+b6", "1.0.9-2", "1.0.9-2+deb12u1", "1.0.9-2+deb12u1", true},                              // binNMU
		{"12.4+deb12u11", "12.4+deb12u11", "12.4+deb12u15", "12.4+deb12u15", true},                         // native
		{"2.35-0ubuntu3.7", "2.35-0ubuntu3.7", "2.35-0ubuntu3.8", "2.35-0ubuntu3.8", true},                 // Ubuntu
		{"4:11.2.0-1ubuntu1", "1.193ubuntu1", "1.194ubuntu1", "", false},                                   // Ubuntu, own version
		{"1:2.37.2-4ubuntu3.4", "2.37.2-4ubuntu3.4", "2.37.2-4ubuntu3.5", "1:2.37.2-4ubuntu3.5", true},     // Ubuntu, own epoch
		{"252.38-1~deb12u1", "252.38-1~deb12u1", "252.39-1~deb12u2", "252.39-1~deb12u2", true},             // backport marker
		{"2.9.14+dfsg-1.3~deb12u5", "2.9.14+dfsg-1.3~deb12u5", "2.9.14+dfsg-1.3~deb12u6", "2.9.14+dfsg-1.3~deb12u6", true},
	} {
		got, ok := binaryVersion(tc.bin, tc.oldSrc, tc.newSrc, 12)
		if got != tc.want || ok != tc.ok {
			t.Errorf("binaryVersion(%q, %q, %q) = %q, %v; want %q, %v", tc.bin, tc.oldSrc, tc.newSrc, got, ok, tc.want, tc.ok)
		}
	}
}

func TestVersionBefore(t *testing.T) {
	for _, tc := range []struct {
		fixed, want string
		ok          bool
	}{
		{"7.74.0-1.3+deb11u2", "7.74.0-1.3+deb11u1", true},
		{"1.12.24-0+deb11u1", "1.12.24-0", true},
		{"1:2.30.2-1+deb11u1", "1:2.30.2-1", true},
		{"12.22.12~dfsg-1~deb11u3", "12.22.12~dfsg-1~deb11u2", true},
		{"12.22.12~dfsg-1~deb11u1", "12.22.12~dfsg-1~deb11u0", true},
		{"5.10.46-5", "", false},
		{"2.38.1-5+deb12u3", "", false},
	} {
		got, ok := versionBefore(tc.fixed)
		if got != tc.want || ok != tc.ok {
			t.Errorf("versionBefore(%q) = %q, %v; want %q, %v", tc.fixed, got, ok, tc.want, tc.ok)
		}
		if ok && mustCompare("deb", got, tc.fixed) >= 0 {
			t.Errorf("versionBefore(%q) = %q, not older", tc.fixed, got)
		}
	}
}

func TestStripMarker(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"1:2.66-4+deb12u2+b2", "1:2.66-4+b2"},
		{"3.0.19-1~deb12u2", "3.0.19-1"},
		{"12.4+deb12u11", "12.4"},
		{"5.2.15-2+b8", "5.2.15-2+b8"},
		{"1.1.1n-0+deb11u4", "1.1.1n-0+deb11u4"}, // another release's marker stays
	} {
		if got := stripMarker(tc.in, 12); got != tc.want {
			t.Errorf("stripMarker(%q, 12) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestOlderVersion(t *testing.T) {
	for _, tc := range []struct {
		eco, in, want string
		ok            bool
	}{
		{"deb", "2.38.1-5+deb12u3", "2.38.1-5+deb12u2", true},
		{"deb", "3.134", "3.133", true},
		{"deb", "5.2.15-2+b8", "5.2.15-1", true},
		{"deb", "1:2.66-4+deb12u2+b2", "1:2.66-4+deb12u1", true},
		{"deb", "2.35-0ubuntu3.7", "2.35-0ubuntu3.6", true},
		{"deb", "1.12.24-0", "", false},
		{"rpm", "1:3.0.7-27.el9", "1:3.0.7-26.el9", true},
		{"rpm", "2.34-100.el9_4.2", "2.34-99.el9_4.2", true},
		{"rpm", "4.7.1-1.el9", "", false},
		{"apk", "3.3.2-r1", "3.3.2-r0", true},
		{"apk", "1.36.1-r0", "1.36.0-r0", true},
		{"apk", "643-r2", "643-r1", true},
	} {
		got, ok := olderVersion(tc.eco, tc.in)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("olderVersion(%s, %q) = %q, %v; want %q, %v", tc.eco, tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestDebian11RealAdvisoriesApply proves that the Debian 11 image stands at
// Debian11CutOff: for every package whose source the DSA list names, the
// advisories before the cut-off are fixed in its version and the ones from
// the cut-off on are not, and for a few named packages exactly which real
// advisories apply.
func TestDebian11RealAdvisoriesApply(t *testing.T) {
	im := mustImage(t, "debian-11")
	advs, err := bullseyeAdvisories()
	if err != nil {
		t.Fatal(err)
	}
	named := 0
	for _, p := range im.Packages {
		src, srcVer := source(p)
		list := advs[src]
		if len(list) == 0 {
			continue
		}
		named++
		for _, a := range list {
			fixed := mustCompare("deb", srcVer, a.Fixed) >= 0
			if a.Date.Before(Debian11CutOff) != fixed {
				t.Errorf("%s (source %s %s): %s of %s fixed in %s: fixed=%v", p.Name, src, srcVer, a.ID, a.Date.Format("2006-01-02"), a.Fixed, fixed)
			}
		}
		u, ok := findUpdate(im, p.Name)
		if later := laterAdvisories(list, srcVer); len(later) > 0 {
			want := later[len(later)-1].Fixed
			if uSrcVer := cmp.Or(u.SourceVersion, u.ToVersion); !ok || uSrcVer != want || u.Archive != "bullseye-security" || !u.Security {
				t.Errorf("%s: update %+v, want one to source version %s from bullseye-security", p.Name, u, want)
			}
		} else if ok {
			t.Errorf("%s: update %+v, but no later advisory", p.Name, u)
		}
	}
	if named < 90 {
		t.Errorf("only %d packages of the Debian 11 image have a source in the DSA list, want at least 90", named)
	}

	for _, tc := range []struct {
		pkg, version string
		applies      []string // the advisories that fix a newer version, oldest first
	}{
		{"openssl", "1.1.1n-0+deb11u2", []string{"DSA-5169-1", "DSA-5343-1"}},
		{"libssl3", "1.1.1n-0+deb11u2", []string{"DSA-5169-1", "DSA-5343-1"}},
		{"curl", "7.74.0-1.3+deb11u1", []string{"DSA-5197-1", "DSA-5330-1", "DSA-5365-1"}},
		{"linux-libc-dev", "5.10.113-1", []string{"DSA-5161-1", "DSA-5191-1", "DSA-5207-1", "DSA-5257-1", "DSA-5257-2", "DSA-5324-1"}},
		{"libexpat1", "2.2.10-2+deb11u3", []string{"DSA-5236-1", "DSA-5266-1"}},
		{"zlib1g", "1:1.2.11.dfsg-2+deb11u1", []string{"DSA-5218-1"}},
		{"git", "1:2.30.2-1", []string{"DSA-5332-1", "DSA-5357-1"}},
		{"bsdutils", "1:2.36.1-8+deb11u1", nil}, // util-linux: DSA-5055-1 (January 2022) only
	} {
		p, ok := findImagePackage(im, tc.pkg)
		if !ok {
			t.Errorf("Debian 11 image has no %s", tc.pkg)
			continue
		}
		src, srcVer := source(p)
		var ids []string
		for _, a := range laterAdvisories(advs[src], srcVer) {
			ids = append(ids, a.ID)
		}
		if p.Version != tc.version || !slices.Equal(ids, tc.applies) {
			t.Errorf("%s %s (source %s %s): later advisories %v; want version %s and %v", tc.pkg, p.Version, src, srcVer, ids, tc.version, tc.applies)
		}
	}
}
