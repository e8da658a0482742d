package fleet

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/version"
)

// Image is a base image: an operating system release with its installed
// packages and the updates its package manager would offer. Hosts are
// images plus a small per-host variation.
//
// An Image returned by Images or Grown is shared: its slices and maps must
// not be modified.
type Image struct {
	// Name identifies the image in a Mix: "debian-12", "debian-11",
	// "ubuntu-22.04", "rocky-9", "alpine-3.20".
	Name string
	// Short prefixes the hostnames of its hosts: "deb12" makes deb12-0042.
	Short string
	// OSID, VersionID, Codename and PrettyName are the os-release fields
	// ID, VERSION_ID, VERSION_CODENAME and PRETTY_NAME (Codename is empty
	// where the release has none: Rocky Linux, Alpine).
	OSID, VersionID, Codename, PrettyName string
	// Ecosystem is the package ecosystem of its packages: deb, rpm or apk.
	Ecosystem string
	// VersionOrder is the internal/version ordering its versions follow.
	VersionOrder version.Ecosystem
	// Arch is the machine architecture as uname -m prints it.
	Arch string
	// Kernel is the running kernel's release, as uname -r prints it.
	Kernel string
	// Packages are the installed packages, in protocol.Inventory.Sort order.
	Packages []protocol.Package
	// Updates are the available updates, in protocol.Inventory.Sort order,
	// at most one per installed package.
	Updates []protocol.Update
	// Synthetic is set on images whose packages are made up (shaped like a
	// real release's, but not read from one).
	Synthetic bool
	// Derived names the packages whose installed version, or whose update's
	// ToVersion, the code derived by a documented heuristic rather than read
	// from the embedded data. Packages added by Grown are not listed: the
	// pool they come from is described in data/README.md.
	Derived []string
	// Provenance says in one sentence where the image's data comes from.
	Provenance string

	osRelease map[string]string
	// pool holds further packages of the release, none of them in
	// Packages, in a fixed order: Grown takes from its front, hosts take
	// extras from the rest (see poolUsed).
	pool     []protocol.Package
	poolUsed int
	// protected names packages a host's variation never removes or
	// downgrades (the C library, the package manager, the kernel...).
	protected map[string]bool
	// idx links packages and updates; see index.
	idx *imageIndex
	// updateArchive is the Archive of the updates a host whose package is
	// older than the image's gets back to the image's version.
	updateArchive string
}

// OSRelease returns a copy of the image's /etc/os-release fields.
func (im *Image) OSRelease() map[string]string { return maps.Clone(im.osRelease) }

// PoolSize returns how many more packages Grown can add to im.
func (im *Image) PoolSize() int { return len(im.pool) - im.poolUsed }

// Grown returns a copy of im with n installed packages, the extra ones taken
// from further real packages of the release (for Debian 12, real source
// packages of bookworm-sources.tsv, installed as a binary of the same name
// and version; for the other images, the same names with versions shaped
// like that release's, see data/README.md). It is for benchmarks that need
// realistic inventories of a given size. Grown returns an error when n is
// smaller than the image or larger than the image plus its pool.
func (im *Image) Grown(n int) (*Image, error) {
	if n < len(im.Packages) {
		return nil, fmt.Errorf("grow image %s to %d packages: it already has %d", im.Name, n, len(im.Packages))
	}
	add := n - len(im.Packages)
	if add > im.PoolSize() {
		return nil, fmt.Errorf("grow image %s to %d packages: at most %d", im.Name, n, len(im.Packages)+im.PoolSize())
	}
	g := *im
	g.Packages = slices.Concat(im.Packages, im.pool[im.poolUsed:im.poolUsed+add])
	sortPackages(g.Packages)
	g.poolUsed = im.poolUsed + add
	g.link()
	return &g, nil
}

// Images returns the five base images, built once from the embedded data:
// Debian 12, Debian 11, Ubuntu 22.04, Rocky Linux 9 and Alpine 3.20, in
// that order. The images are shared; the slice is the caller's.
func Images() ([]*Image, error) {
	ims, err := loadImages()
	return slices.Clone(ims), err
}

// ImageByName returns the base image with the given Name.
func ImageByName(name string) (*Image, error) {
	ims, err := loadImages()
	if err != nil {
		return nil, err
	}
	for _, im := range ims {
		if im.Name == name {
			return im, nil
		}
	}
	return nil, fmt.Errorf("no image named %q", name)
}

// loadImages builds the images on its first call and returns the same ones
// ever after: they are immutable once built.
var loadImages = sync.OnceValues(func() ([]*Image, error) {
	var ims []*Image
	var errs []error
	for _, build := range []func() (*Image, error){debian12, debian11, ubuntu2204, rocky9, alpine320} {
		im, err := build()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := im.check(); err != nil {
			errs = append(errs, err)
			continue
		}
		im.link()
		ims = append(ims, im)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("build fleet images: %w", err)
	}
	return ims, nil
})

// check validates every package and update of an image, its pool, and that
// each update is newer than the installed version it replaces.
func (im *Image) check() error {
	installed := map[[2]string]string{}
	for _, p := range im.Packages {
		if err := validatePackage(p, im.VersionOrder); err != nil {
			return fmt.Errorf("image %s: %w", im.Name, err)
		}
		k := [2]string{p.Name, p.Arch}
		if _, dup := installed[k]; dup {
			return fmt.Errorf("image %s: package %s:%s installed twice", im.Name, p.Name, p.Arch)
		}
		installed[k] = p.Version
	}
	for _, p := range im.pool[im.poolUsed:] {
		if err := validatePackage(p, im.VersionOrder); err != nil {
			return fmt.Errorf("image %s: pool: %w", im.Name, err)
		}
		if _, dup := installed[[2]string{p.Name, p.Arch}]; dup {
			return fmt.Errorf("image %s: pool package %s:%s is installed", im.Name, p.Name, p.Arch)
		}
	}
	for _, u := range im.Updates {
		if err := validateUpdate(u, im.VersionOrder); err != nil {
			return fmt.Errorf("image %s: %w", im.Name, err)
		}
		if v, ok := installed[[2]string{u.Name, u.Arch}]; !ok || v != u.FromVersion {
			return fmt.Errorf("image %s: update of %s:%s from %s: installed version is %q", im.Name, u.Name, u.Arch, u.FromVersion, v)
		}
	}
	if !slices.IsSortedFunc(im.Packages, comparePackages) || !slices.IsSortedFunc(im.Updates, compareUpdates) {
		return fmt.Errorf("image %s: packages or updates not sorted", im.Name)
	}
	return nil
}

// comparePackages is protocol.Inventory.Sort's order of packages.
func comparePackages(a, b protocol.Package) int {
	return cmp.Or(cmp.Compare(a.Ecosystem, b.Ecosystem), cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Arch, b.Arch), cmp.Compare(a.Version, b.Version))
}

// compareUpdates is protocol.Inventory.Sort's order of updates.
func compareUpdates(a, b protocol.Update) int {
	return cmp.Or(cmp.Compare(a.Ecosystem, b.Ecosystem), cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Arch, b.Arch), cmp.Compare(a.ToVersion, b.ToVersion))
}

func sortPackages(p []protocol.Package) { slices.SortFunc(p, comparePackages) }
func sortUpdates(u []protocol.Update)   { slices.SortFunc(u, compareUpdates) }

// newPackage returns a package with SourceName and SourceVersion left
// empty where they equal Name and Version, as protocol.Package asks.
func newPackage(eco, name, ver, arch, src, srcVer string) protocol.Package {
	p := protocol.Package{Ecosystem: eco, Name: name, Version: ver, Arch: arch}
	if src != name {
		p.SourceName = src
	}
	if srcVer != ver {
		p.SourceVersion = srcVer
	}
	return p
}

// source returns p's source name and version, falling back to its own.
func source(p protocol.Package) (name, ver string) {
	return cmp.Or(p.SourceName, p.Name), cmp.Or(p.SourceVersion, p.Version)
}
