package fleet

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/version"
)

// Debian11CutOff is the date the Debian 11 image stands at: each of its
// packages whose source the security tracker's DSA list names has the
// version fixed by the last advisory before this date, so the advisories
// from this date on (DSA-5161-1 to DSA-5380-1, June 2022 to March 2023)
// apply to it.
var Debian11CutOff = time.Date(2022, 6, 1, 0, 0, 0, 0, time.UTC)

// debProtected are packages a host's variation never removes or downgrades.
var debProtected = []string{"apt", "base-files", "bash", "coreutils", "dpkg", "libc6", "libssl3", "libsystemd0",
	"login", "openssl", "passwd", "systemd", "util-linux", "zlib1g", "curl", "libcurl4", "linux-libc-dev"}

// debianPackages reads data/debian12.tsv: the installed packages of a real
// Debian 12 host, as pkgdb's dpkg reader returns them.
func debianPackages() ([]protocol.Package, error) {
	recs, err := readTSV("debian12.tsv", 5, false)
	if err != nil {
		return nil, err
	}
	pkgs := make([]protocol.Package, 0, len(recs))
	for _, r := range recs {
		f := r.fields
		pkgs = append(pkgs, newPackage("deb", f[0], f[2], f[1], f[3], f[4]))
	}
	sortPackages(pkgs)
	return pkgs, nil
}

// bookwormSources reads data/bookworm-sources.tsv: the newest version of
// each source it lists, and the names of the sources the sample host does
// not have, in the pool's order (by FNV-1a hash of the name, as
// TestGenerateData chose them).
func bookwormSources(installed []protocol.Package) (newest map[string]string, extra []string, err error) {
	recs, err := readTSV("bookworm-sources.tsv", 2, false)
	if err != nil {
		return nil, nil, err
	}
	have := map[string]bool{}
	for _, p := range installed {
		src, _ := source(p)
		have[src] = true
	}
	newest = make(map[string]string, len(recs))
	for _, r := range recs {
		newest[r.fields[0]] = r.fields[1]
		if !have[r.fields[0]] {
			extra = append(extra, r.fields[0])
		}
	}
	slices.SortFunc(extra, func(a, b string) int {
		if c := compareUint(fnv64a(a), fnv64a(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return newest, extra, nil
}

func fnv64a(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func compareUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// poolArch guesses the architecture of a binary named after a source
// package: architecture-independent for documentation, data, fonts and
// language modules, amd64 otherwise.
func poolArch(name string) string {
	for _, s := range []string{"-doc", "-data", "-common"} {
		if strings.HasSuffix(name, s) {
			return "all"
		}
	}
	for _, p := range []string{"fonts-", "node-", "python-", "ruby-", "golang-", "php-"} {
		if strings.HasPrefix(name, p) {
			return "all"
		}
	}
	if strings.HasPrefix(name, "lib") && strings.HasSuffix(name, "-perl") || strings.HasSuffix(name, "-java") {
		return "all"
	}
	return "amd64"
}

// debian12 builds the Debian 12 image: the 717 packages of a real host, and
// an update for each package whose source has a newer version in Debian
// 12's source list. The update's ToVersion is derived with binaryVersion
// (a binary whose version cannot be derived gets no update); its Archive is
// bookworm-security when the new version carries a "+deb12uN" or
// "~deb12uN" marker and bookworm otherwise. That is a heuristic: point
// releases use the same marker, so it overcounts security updates, and a
// new upstream in the security archive without a marker (the kernel) is
// counted as bookworm.
func debian12() (*Image, error) {
	pkgs, err := debianPackages()
	if err != nil {
		return nil, err
	}
	newest, extra, err := bookwormSources(pkgs)
	if err != nil {
		return nil, err
	}
	im := &Image{
		Name: "debian-12", Short: "deb12", OSID: "debian", VersionID: "12", Codename: "bookworm",
		PrettyName: "Debian GNU/Linux 12 (bookworm)", Ecosystem: "deb", VersionOrder: version.Deb,
		Arch: "x86_64", Kernel: "6.1.0-37-amd64", Packages: pkgs, updateArchive: "bookworm-security",
		Provenance: "the dpkg status of a real Debian 12 host; updates from Debian 12's source list of 2026-12-04",
		osRelease:  debianOSRelease("12", "bookworm"),
		protected:  setOf(debProtected),
	}
	for _, p := range pkgs {
		src, srcVer := source(p)
		to, ok := newest[src]
		if !ok || mustCompare(version.Deb, to, srcVer) <= 0 {
			continue
		}
		binTo, ok := binaryVersion(p.Version, srcVer, to, 12)
		if !ok || mustCompare(version.Deb, binTo, p.Version) <= 0 {
			continue
		}
		archive := "bookworm"
		if hasMarker(to, 12) {
			archive = "bookworm-security"
		}
		im.Updates = append(im.Updates, debUpdate(p, binTo, src, to, archive))
		if binTo != to {
			im.Derived = append(im.Derived, p.Name)
		}
	}
	for _, name := range extra {
		im.pool = append(im.pool, newPackage("deb", name, newest[name], poolArch(name), name, newest[name]))
	}
	sortUpdates(im.Updates)
	return im, nil
}

// debUpdate returns the update of an installed deb package to binary
// version to, built from source src at srcTo.
func debUpdate(p protocol.Package, to, src, srcTo, archive string) protocol.Update {
	u := protocol.Update{Ecosystem: "deb", Name: p.Name, Arch: p.Arch, FromVersion: p.Version, ToVersion: to,
		Origin: "Debian", Archive: archive, Security: strings.HasSuffix(archive, "-security")}
	if src != p.Name {
		u.SourceName = src
	}
	if srcTo != to {
		u.SourceVersion = srcTo
	}
	return u
}

// debianOSRelease returns Debian's /etc/os-release fields for a release.
func debianOSRelease(ver, codename string) map[string]string {
	return map[string]string{
		"PRETTY_NAME":      "Debian GNU/Linux " + ver + " (" + codename + ")",
		"NAME":             "Debian GNU/Linux",
		"VERSION_ID":       ver,
		"VERSION":          ver + " (" + codename + ")",
		"VERSION_CODENAME": codename,
		"ID":               "debian",
		"HOME_URL":         "https://www.debian.org/",
		"SUPPORT_URL":      "https://www.debian.org/support",
		"BUG_REPORT_URL":   "https://bugs.debian.org/",
	}
}

// mustCompare compares two versions the caller has already validated, or
// that come from the embedded data; an unparsable one sorts first, and
// Image.check reports it.
func mustCompare(order version.Ecosystem, a, b string) int {
	c, err := version.Compare(order, a, b)
	if err != nil {
		if _, errA := version.Parse(order, a); errA != nil {
			return -1
		}
		return 1
	}
	return c
}

func setOf(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// advisory is one Debian 11 fix of the security tracker's DSA list.
type advisory struct {
	Date   time.Time
	ID     string // DSA-5343-1
	Source string
	Fixed  string // the first fixed version in bullseye
}

// bullseyeAdvisories reads data/bullseye-dsa.tsv, oldest first, grouped by
// source package.
func bullseyeAdvisories() (map[string][]advisory, error) {
	recs, err := readTSV("bullseye-dsa.tsv", 4, false)
	if err != nil {
		return nil, err
	}
	bySource := map[string][]advisory{}
	for _, r := range recs {
		d, err := time.Parse(time.DateOnly, r.fields[0])
		if err != nil {
			return nil, fmt.Errorf("data/bullseye-dsa.tsv:%d: %w", r.line, err)
		}
		a := advisory{Date: d, ID: r.fields[1], Source: r.fields[2], Fixed: r.fields[3]}
		bySource[a.Source] = append(bySource[a.Source], a)
	}
	return bySource, nil
}
