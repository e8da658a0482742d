package risk

import (
	"fmt"
	"strings"

	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/severity"
	"github.com/patchbay/patchbay/internal/version"
)

// Class is one of the four classes every update falls into.
type Class string

// The classes, most urgent first. Their values are stable for storage and
// JSON.
const (
	Critical Class = "critical"
	Security Class = "security"
	Bugfix   Class = "bugfix"
	Feature  Class = "feature"
)

// Classes returns the classes, most urgent first.
func Classes() []Class { return []Class{Critical, Security, Bugfix, Feature} }

// Valid reports whether c is one of the four classes.
func (c Class) Valid() bool {
	switch c {
	case Critical, Security, Bugfix, Feature:
		return true
	}
	return false
}

// Classification is an update's class and why, in words a person reads:
// "fixes DSA-5532-1, known exploited (KEV)", "from bookworm-security".
type Classification struct {
	Class  Class  `json:"class"`
	Reason string `json:"reason"`
}

// FixedFinding is what Classify needs of an advisory an update fixes on the
// host (see Fixes).
type FixedFinding struct {
	Advisory string
	KEV      bool
	// CVSS is the advisory's base score, nil when none is known.
	CVSS *float64
	// Severity is the advisory's level by the fallback order of
	// docs/matching.md.
	Severity severity.Level
	// VendorSeverity is the distribution's own rating as it writes it
	// (Ubuntu's priority, Red Hat's "Critical"), "" when it gives none.
	VendorSeverity string
}

// criticalCVSS is the CVSS base score from which a fixed advisory makes an
// update critical: CVSS v3 and v4 call 9.0 and above Critical.
const criticalCVSS = 9.0

// Classify returns u's class, the first of these that applies, and the
// reason. fixes are the advisories u fixes on the host, in the order a
// reason should name them (by id, say).
//
//  1. critical: u fixes an advisory that is known exploited (KEV), has a
//     CVSS base score of 9.0 or more, is rated critical (Severity), or that
//     its vendor rates critical (VendorSeverity); or dnf's updateinfo says
//     security with severity Critical (the vendor's advisory, which u
//     fixes, is rated critical). The reason names the strongest signal in
//     that order, and among CVSS scores the highest.
//  2. security: u fixes any advisory; or dnf's updateinfo type is security;
//     or u comes from a security pocket or origin (apt: Security set by
//     pkgmgr, an archive ending in -security, an origin naming security).
//  3. bugfix: updateinfo type bugfix; or a point release: the same epoch
//     and upstream version with a new Debian revision (split at the last
//     '-'), rpm release or apk -rN; a candidate from a -updates or
//     -proposed-updates pocket (Debian's stable-updates, Ubuntu's
//     jammy-updates); a Debian stable-update version (+debNuM or ~debNuM,
//     as 12.4+deb12u8); a Go module's patch release.
//  4. feature: updateinfo type enhancement or newpackage; a new upstream
//     version; anything else, including versions that do not parse.
//
// When updateinfo gives a type (bugfix, enhancement, newpackage), that
// vendor statement decides between bugfix and feature; the version
// heuristics apply only without it. Classify never fails: an update it
// cannot read is a feature with a reason saying so.
func Classify(u protocol.Update, fixes []FixedFinding) Classification {
	if c, ok := classifyCritical(u, fixes); ok {
		return c
	}
	if c, ok := classifySecurity(u, fixes); ok {
		return c
	}
	switch strings.ToLower(u.AdvisoryType) {
	case "bugfix":
		return Classification{Bugfix, "updateinfo type bugfix" + advisoryIDs(u)}
	case "enhancement", "newpackage":
		return Classification{Feature, "updateinfo type " + strings.ToLower(u.AdvisoryType) + advisoryIDs(u)}
	}
	return classifyVersions(u)
}

// classifyCritical applies rule 1.
func classifyCritical(u protocol.Update, fixes []FixedFinding) (Classification, bool) {
	more := moreAdvisories(len(fixes))
	for _, f := range fixes {
		if f.KEV {
			return Classification{Critical, "fixes " + name(f) + ", known exploited (KEV)" + more}, true
		}
	}
	best := -1
	for i, f := range fixes {
		if f.CVSS != nil && *f.CVSS >= criticalCVSS && (best < 0 || *f.CVSS > *fixes[best].CVSS) {
			best = i
		}
	}
	if best >= 0 {
		return Classification{Critical, fmt.Sprintf("fixes %s, CVSS %.1f%s", name(fixes[best]), *fixes[best].CVSS, more)}, true
	}
	for _, f := range fixes {
		if strings.EqualFold(strings.TrimSpace(f.VendorSeverity), "critical") {
			return Classification{Critical, "fixes " + name(f) + ", vendor severity " + strings.TrimSpace(f.VendorSeverity) + more}, true
		}
	}
	for _, f := range fixes {
		if f.Severity == severity.Critical {
			return Classification{Critical, "fixes " + name(f) + ", severity critical" + more}, true
		}
	}
	if strings.EqualFold(u.AdvisoryType, "security") && strings.EqualFold(u.Severity, "critical") {
		return Classification{Critical, "updateinfo type security, severity " + u.Severity + advisoryIDs(u)}, true
	}
	return Classification{}, false
}

// classifySecurity applies rule 2.
func classifySecurity(u protocol.Update, fixes []FixedFinding) (Classification, bool) {
	if len(fixes) > 0 {
		return Classification{Security, "fixes " + name(fixes[0]) + moreAdvisories(len(fixes))}, true
	}
	if strings.EqualFold(u.AdvisoryType, "security") {
		r := "updateinfo type security"
		if u.Severity != "" {
			r += ", severity " + u.Severity
		}
		return Classification{Security, r + advisoryIDs(u)}, true
	}
	switch {
	case strings.HasSuffix(u.Archive, "-security"):
		return Classification{Security, "from " + u.Archive}, true
	case strings.Contains(strings.ToLower(u.Origin), "security"):
		return Classification{Security, "from security origin " + u.Origin}, true
	case u.Security:
		where := strings.Trim(u.Origin+"/"+u.Archive, "/")
		if where == "" {
			return Classification{Security, "marked security by the package manager"}, true
		}
		return Classification{Security, "from " + where + ", a release the package manager marks as security"}, true
	}
	return Classification{}, false
}

// name returns an advisory's id for a reason.
func name(f FixedFinding) string { return nameOr(f.Advisory) }

// moreAdvisories says how many other advisories an update fixes.
func moreAdvisories(n int) string {
	switch {
	case n <= 1:
		return ""
	case n == 2:
		return ", and 1 more advisory"
	}
	return fmt.Sprintf(", and %d more advisories", n-1)
}

// advisoryIDs returns " (ID, ID)" for dnf's updateinfo ids, "" when none.
func advisoryIDs(u protocol.Update) string {
	if len(u.AdvisoryIDs) == 0 {
		return ""
	}
	return " (" + strings.Join(u.AdvisoryIDs, ", ") + ")"
}

// classifyVersions applies the version and pocket rules of 3 and 4.
func classifyVersions(u protocol.Update) Classification {
	from, to := u.FromVersion, u.ToVersion
	split, relName, err := splitter(u.Ecosystem)
	var fromUp, fromRel, toUp, toRel string
	if err == nil {
		if fromUp, fromRel, err = split(from); err == nil {
			toUp, toRel, err = split(to)
		}
	}
	if err == nil && fromUp == toUp && fromRel != toRel {
		return Classification{Bugfix, fmt.Sprintf("point release: same upstream version %s, %s %s → %s", toUp, relName, fromRel, toRel)}
	}
	if u.Ecosystem == "deb" && updatesPocket(u.Archive) {
		return Classification{Bugfix, fmt.Sprintf("point release from %s: %s → %s", u.Archive, from, to)}
	}
	if u.Ecosystem == "deb" && debStableUpdate(to) {
		return Classification{Bugfix, fmt.Sprintf("point release: Debian stable update %s → %s", from, to)}
	}
	if err != nil {
		return Classification{Feature, fmt.Sprintf("new version %s → %s, no other signal (versions not understood: %v)", from, to, err)}
	}
	if u.Ecosystem == "go" && goPatchRelease(fromUp, toUp) {
		return Classification{Bugfix, fmt.Sprintf("patch release %s → %s", from, to)}
	}
	if fromUp == toUp && fromRel == toRel {
		return Classification{Feature, fmt.Sprintf("same version %s → %s, no other signal", from, to)}
	}
	return Classification{Feature, fmt.Sprintf("new upstream version %s → %s", fromUp, toUp)}
}

// splitter returns the function splitting a version of a package
// ecosystem into the upstream part (with the epoch, if any) and the
// distribution's part, and the distribution part's name for a reason.
func splitter(eco string) (func(string) (string, string, error), string, error) {
	switch eco {
	case "deb":
		return splitDeb, "Debian revision", nil
	case "rpm":
		return splitRPM, "release", nil
	case "apk":
		return splitAPK, "package release", nil
	case "go":
		return splitGo, "", nil
	}
	return nil, "", fmt.Errorf("unknown package ecosystem %q", eco)
}

// splitDeb splits [epoch:]upstream[-revision] as dpkg does, at the first
// ':' and the last '-'. The revision is shown with its '-' ("-1~deb12u2");
// a native package has none.
func splitDeb(s string) (string, string, error) {
	v, err := version.ParseDeb(s)
	if err != nil {
		return "", "", err
	}
	up := v.Upstream
	if v.Epoch != 0 {
		up = fmt.Sprintf("%d:%s", v.Epoch, up)
	}
	rev := ""
	if v.Revision != "" {
		rev = "-" + v.Revision
	}
	return up, rev, nil
}

// splitRPM splits [epoch:]version-release.
func splitRPM(s string) (string, string, error) {
	v, err := version.ParseRPM(s)
	if err != nil {
		return "", "", err
	}
	up := v.Version
	if v.Epoch != "" && strings.TrimLeft(v.Epoch, "0") != "" {
		up = v.Epoch + ":" + up
	}
	return up, v.Release, nil
}

// splitAPK splits an Alpine version at its -rN package release. The
// version must be valid for apk-tools 2 or 3 (an update does not say
// which).
func splitAPK(s string) (string, string, error) {
	if _, err := version.ParseAPK(version.APK2, s); err != nil {
		if _, err3 := version.ParseAPK(version.APK3, s); err3 != nil {
			return "", "", err
		}
	}
	if i := strings.LastIndex(s, "-r"); i > 0 {
		return s[:i], s[i+1:], nil
	}
	return s, "", nil
}

// splitGo checks a Go module version; it has no distribution part.
func splitGo(s string) (string, string, error) {
	if _, err := version.ParseGo(s); err != nil {
		return "", "", err
	}
	return s, "", nil
}

// goPatchRelease reports whether to is a later patch of from's major and
// minor version, neither a pre-release: semantic versioning's bug-fix
// release.
func goPatchRelease(from, to string) bool {
	from, to = strings.TrimPrefix(from, "v"), strings.TrimPrefix(to, "v")
	if strings.ContainsAny(from, "-+") || strings.ContainsAny(to, "-+") {
		return false
	}
	i, j := strings.LastIndexByte(from, '.'), strings.LastIndexByte(to, '.')
	if i < 0 || j < 0 || from[:i] != to[:j] {
		return false
	}
	c, err := version.Compare(version.Go, to, from)
	return err == nil && c > 0
}

// updatesPocket reports whether archive is a stable release's updates
// pocket: Debian's stable-updates and bookworm-updates, Ubuntu's
// jammy-updates, or a -proposed-updates one (the next point release).
func updatesPocket(archive string) bool {
	return strings.HasSuffix(archive, "-updates")
}

// debStableUpdate reports whether a Debian version carries the stable
// update marker Debian's point releases use: "+debNuM" or "~debNuM" (N and
// M digits), as in 12.4+deb12u8 or 3.0.11-1~deb12u2.
func debStableUpdate(v string) bool {
	for i := 0; i+4 < len(v); i++ {
		if (v[i] != '+' && v[i] != '~') || v[i+1:i+4] != "deb" {
			continue
		}
		j := i + 4
		n := digits(v[j:])
		if n == 0 || j+n >= len(v) || v[j+n] != 'u' {
			continue
		}
		if digits(v[j+n+1:]) > 0 {
			return true
		}
	}
	return false
}

// digits returns how many ASCII digits s starts with.
func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
