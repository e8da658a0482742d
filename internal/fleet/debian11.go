package fleet

import (
	"slices"

	"github.com/patchbay/patchbay/internal/version"
)

// debian11 builds the Debian 11 image: the package names of the Debian 12
// sample host, at the versions a bullseye host would have had at
// Debian11CutOff.
//
//   - A package whose source the DSA list names gets the version fixed by
//     the last advisory before the cut-off; when every advisory of that
//     source is later, the version just before the first one
//     (versionBefore). Its binary version follows binaryVersion. It gets an
//     update to the newest fixed version in the list (archive
//     bullseye-security), so the later advisories, real ones, apply to it:
//     openssl is at 1.1.1n-0+deb11u2 (DSA-5139-1, May 2022) and DSA-5169-1
//     and DSA-5343-1 fix it.
//   - Any other package keeps its Debian 12 version without the +deb12uN
//     marker, marked derived. That is not what bullseye shipped (it had
//     older upstreams); it is chosen so that no advisory applies to it that
//     the data does not prove.
//
// Package names are Debian 12's even where bullseye's differ (libssl3 rather
// than libssl1.1): the image keeps one set of names across both releases.
func debian11() (*Image, error) {
	pkgs12, err := debianPackages()
	if err != nil {
		return nil, err
	}
	advs, err := bullseyeAdvisories()
	if err != nil {
		return nil, err
	}
	newest, extra, err := bookwormSources(pkgs12)
	if err != nil {
		return nil, err
	}
	im := &Image{
		Name: "debian-11", Short: "deb11", OSID: "debian", VersionID: "11", Codename: "bullseye",
		PrettyName: "Debian GNU/Linux 11 (bullseye)", Ecosystem: "deb", VersionOrder: version.Deb,
		Arch: "x86_64", Kernel: "5.10.0-14-amd64", updateArchive: "bullseye-security",
		Provenance: "Debian 12's package names at the bullseye versions of the security tracker's DSA list before " +
			Debian11CutOff.Format("2006-01-02") + "; versions of packages the list does not name are derived",
		osRelease: debianOSRelease("11", "bullseye"),
		protected: setOf(debProtected),
	}
	for _, p := range pkgs12 {
		src, srcVer := source(p)
		installedSrc, newestSrc, derived, ok := bullseyeSource(advs[src])
		if !ok {
			im.Packages = append(im.Packages, newPackage("deb", p.Name, stripMarker(p.Version, 12), p.Arch,
				src, stripMarker(srcVer, 12)))
			im.Derived = append(im.Derived, p.Name)
			continue
		}
		bin, binOK := binaryVersion(p.Version, srcVer, installedSrc, 12)
		if !binOK {
			bin, derived = installedSrc, true
		}
		q := newPackage("deb", p.Name, bin, p.Arch, src, installedSrc)
		im.Packages = append(im.Packages, q)
		if mustCompare(version.Deb, newestSrc, installedSrc) > 0 {
			to, toOK := binaryVersion(p.Version, srcVer, newestSrc, 12)
			if !toOK {
				to, derived = newestSrc, true
			}
			im.Updates = append(im.Updates, debUpdate(q, to, src, newestSrc, "bullseye-security"))
		}
		if derived {
			im.Derived = append(im.Derived, p.Name)
		}
	}
	for _, name := range extra {
		v := stripMarker(newest[name], 12)
		im.pool = append(im.pool, newPackage("deb", name, v, poolArch(name), name, v))
	}
	sortPackages(im.Packages)
	sortUpdates(im.Updates)
	return im, nil
}

// bullseyeSource returns the source version a bullseye host has at the
// cut-off, given the advisories of its source (oldest first), and the
// newest fixed version of all of them. derived is set when the installed
// version is made by versionBefore; ok is false when there are no
// advisories (or none whose version versionBefore understands).
func bullseyeSource(advs []advisory) (installed, newest string, derived, ok bool) {
	if len(advs) == 0 {
		return "", "", false, false
	}
	for _, a := range advs {
		if a.Date.Before(Debian11CutOff) {
			installed = a.Fixed
		}
		if newest == "" || mustCompare(version.Deb, a.Fixed, newest) > 0 {
			newest = a.Fixed
		}
	}
	if installed == "" {
		v, ok := versionBefore(advs[0].Fixed)
		if !ok {
			return "", "", false, false
		}
		installed, derived = v, true
	}
	return installed, newest, derived, true
}

// laterAdvisories returns the advisories of a source fixed in a version
// newer than installed: those that apply to a host with that version.
func laterAdvisories(advs []advisory, installed string) []advisory {
	return slices.DeleteFunc(slices.Clone(advs), func(a advisory) bool {
		return mustCompare(version.Deb, a.Fixed, installed) <= 0
	})
}
