package fleet

import (
	"regexp"
	"strconv"
	"strings"
)

// Debian version surgery: the few rewrites the images need to derive one
// version from another. Each is a heuristic, documented where it is used;
// every result is checked with internal/version before it reaches an image.

// debMarker matches a stable-release marker: "+deb12u3" (a stable or
// security update of the release's own version) or "~deb11u1" (a newer
// upstream rebuilt for the release), at the end of a version without its
// binNMU suffix.
var debMarker = regexp.MustCompile(`([+~])deb(\d+)u(\d+)$`)

// binNMU matches a binary-only rebuild suffix, "+b2".
var binNMU = regexp.MustCompile(`\+b\d+$`)

// splitEpoch splits "1:2.38.1-5" into "1" and "2.38.1-5".
func splitEpoch(v string) (epoch, rest string) {
	if e, r, ok := strings.Cut(v, ":"); ok {
		return e, r
	}
	return "", v
}

// joinEpoch is the inverse of splitEpoch.
func joinEpoch(epoch, rest string) string {
	if epoch == "" || epoch == "0" {
		return rest
	}
	return epoch + ":" + rest
}

// stripBinNMU returns v without a "+bN" suffix.
func stripBinNMU(v string) string { return binNMU.ReplaceAllString(v, "") }

// cutMarker splits v (without epoch or binNMU) into its base and a
// stable-release marker of the given Debian release, "+deb12u3"; marker is
// empty when v has none.
func cutMarker(v string, release int) (base, marker string) {
	m := debMarker.FindStringSubmatchIndex(v)
	if m == nil || v[m[4]:m[5]] != strconv.Itoa(release) {
		return v, ""
	}
	return v[:m[0]], v[m[0]:]
}

// hasMarker reports whether a version carries a stable-release marker of
// release, with or without a binNMU suffix after it.
func hasMarker(v string, release int) bool {
	_, rest := splitEpoch(v)
	_, m := cutMarker(stripBinNMU(rest), release)
	return m != ""
}

// stripMarker removes release's marker from v, keeping epoch and binNMU:
// "1:2.66-4+deb12u2+b2" becomes "1:2.66-4+b2".
func stripMarker(v string, release int) string {
	epoch, rest := splitEpoch(v)
	core := stripBinNMU(rest)
	nmu := rest[len(core):]
	base, _ := cutMarker(core, release)
	return joinEpoch(epoch, base+nmu)
}

// binaryVersion derives the version a binary package gets when its source
// moves from oldSrc to newSrc, the way Debian's builds produce it:
//
//   - a binary whose version is its source's (with or without a binNMU
//     suffix, with or without an epoch of its own) gets the new source
//     version, keeping its own epoch and dropping the binNMU suffix, which
//     a new source upload resets: bsdutils 1:2.38.1-5+deb12u3 from
//     util-linux 2.38.1-5+deb12u3 becomes 1:2.38.1-5+deb12u4;
//   - a binary with a version of its own (dmsetup 2:1.02.185-2 from lvm2
//     2.03.16-2) follows a change of the stable marker only, which is what
//     a stable or security upload of the same upstream changes: lvm2
//     2.03.16-2+deb12u1 makes dmsetup 2:1.02.185-2+deb12u1;
//   - anything else cannot be derived, and ok is false.
func binaryVersion(bin, oldSrc, newSrc string, release int) (v string, ok bool) {
	binEpoch, binRest := splitEpoch(bin)
	binCore := stripBinNMU(binRest)
	_, oldCore := splitEpoch(oldSrc)
	newEpoch, newCore := splitEpoch(newSrc)
	if binCore == oldCore {
		if binEpoch == "" {
			binEpoch = newEpoch
		}
		return joinEpoch(binEpoch, newCore), true
	}
	oldBase, _ := cutMarker(oldCore, release)
	newBase, newMarker := cutMarker(newCore, release)
	if oldBase != newBase {
		return "", false
	}
	binBase, _ := cutMarker(binCore, release)
	return joinEpoch(binEpoch, binBase+newMarker), true
}

// versionBefore returns a version just below fixed, the first version of
// a Debian 11 package that an advisory fixed, for a host that never got
// that fix:
//
//   - "+deb11uN" with N > 1 becomes "+deb11u(N-1)", the previous stable
//     upload: curl 7.74.0-1.3+deb11u2 gives 7.74.0-1.3+deb11u1;
//   - "+deb11u1" is dropped, leaving the version bullseye was released
//     with: dbus 1.12.24-0+deb11u1 gives 1.12.24-0;
//   - "~deb11uN" (a newer upstream rebuilt for bullseye) with N > 1 becomes
//     "~deb11u(N-1)"; with N = 1 there is no earlier build of that upstream,
//     so the result is the made-up "~deb11u0", which sorts just below it:
//     nodejs 12.22.12~dfsg-1~deb11u1 gives 12.22.12~dfsg-1~deb11u0.
//
// ok is false when fixed carries no Debian 11 marker.
func versionBefore(fixed string) (v string, ok bool) {
	epoch, rest := splitEpoch(fixed)
	m := debMarker.FindStringSubmatch(rest)
	if m == nil || m[2] != "11" {
		return "", false
	}
	n, err := strconv.Atoi(m[3])
	if err != nil {
		return "", false
	}
	base := rest[:len(rest)-len(m[0])]
	switch {
	case n > 1:
		return joinEpoch(epoch, base+m[1]+"deb11u"+strconv.Itoa(n-1)), true
	case m[1] == "+":
		return joinEpoch(epoch, base), true
	default:
		return joinEpoch(epoch, base+"~deb11u0"), true
	}
}
