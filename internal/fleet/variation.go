package fleet

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/patchbay/patchbay/internal/protocol"
)

// imageIndex links an image's packages and updates: for each package the
// index of its update (or -1), for each update the index of its package.
type imageIndex struct {
	updateOf  []int32
	packageOf []int32
}

// link computes im's index. It is called once, when the image is built
// (loadImages, Grown), before the image is shared.
func (im *Image) link() {
	x := &imageIndex{updateOf: make([]int32, len(im.Packages)), packageOf: make([]int32, len(im.Updates))}
	for j := range x.updateOf {
		x.updateOf[j] = -1
	}
	for k, u := range im.Updates {
		j, ok := findPackage(im.Packages, u.Ecosystem, u.Name, u.Arch)
		if !ok {
			j = -1
		} else {
			x.updateOf[j] = int32(k)
		}
		x.packageOf[k] = int32(j)
	}
	im.idx = x
}

// findPackage finds a package by ecosystem, name and arch in a sorted list.
func findPackage(pkgs []protocol.Package, eco, name, arch string) (int, bool) {
	return slices.BinarySearchFunc(pkgs, protocol.Package{Ecosystem: eco, Name: name, Arch: arch},
		func(a, b protocol.Package) int {
			if c := strings.Compare(a.Ecosystem, b.Ecosystem); c != 0 {
				return c
			}
			if c := strings.Compare(a.Name, b.Name); c != 0 {
				return c
			}
			return strings.Compare(a.Arch, b.Arch)
		})
}

// Inventory returns host i's inventory at its current generation (see
// Mutate and Advance), with its hash.
func (f *Fleet) Inventory(i int) protocol.Inventory {
	return f.InventoryAt(i, f.Generation(i))
}

// InventoryAt returns host i's inventory at a generation, with its hash:
// its image's packages and updates with the host's variation applied, then
// one change per generation. It is a pure function of the seed, i and
// generation, and builds the inventory afresh: the caller owns it.
//
// The variation removes, adds or changes the version of about
// Options.Variation of the packages (the share varies from half to one and
// a half times that from host to host): 40% of the varied packages are
// removed, 30% are at another version (already upgraded when the image has
// an update for them, otherwise one step older, with an update back to the
// image's version), and 30% are extras from the image's pool. Packages the
// image protects (the C library, the package manager, openssl...) are
// never removed or changed.
//
// Each generation then applies one change: half the time it installs all
// pending updates of one source package, a quarter of the time it installs
// a package from the pool, a quarter of the time it removes one.
func (f *Fleet) InventoryAt(i, generation int) protocol.Inventory {
	f.check(i)
	im := f.image(i)
	pkgs, updates := f.varied(i, im)
	for g := 1; g <= generation; g++ {
		pkgs, updates = f.mutate(i, g, im, pkgs, updates)
	}
	inv := protocol.Inventory{Packages: pkgs, Updates: updates}
	inv.Hash = protocol.InventoryHash(inv)
	return inv
}

// varied returns host i's generation-0 packages and updates.
func (f *Fleet) varied(i int, im *Image) ([]protocol.Package, []protocol.Update) {
	idx := im.idx
	np := len(im.Packages)
	var k int
	r := f.rng(i, streamVariation)
	if f.opts.Variation > 0 {
		k = int(math.Round(f.opts.Variation * float64(np) * (0.5 + r.Float64())))
	}
	nRemove, nChange := k*4/10, k*3/10
	nExtra := min(k-nRemove-nChange, im.PoolSize())

	touched := make(map[int]bool, nRemove+nChange)
	candidate := func() (int, bool) {
		for range 32 {
			j := r.IntN(np)
			if !touched[j] && !im.protected[im.Packages[j].Name] {
				touched[j] = true
				return j, true
			}
		}
		return 0, false
	}
	removed := make(map[int]bool, nRemove)
	for range nRemove {
		if j, ok := candidate(); ok {
			removed[j] = true
		}
	}
	changed := make(map[int]protocol.Package, nChange)
	var added []protocol.Update
	for range nChange {
		j, ok := candidate()
		if !ok {
			break
		}
		p := im.Packages[j]
		if ku := idx.updateOf[j]; ku >= 0 {
			u := im.Updates[ku]
			p.Version, p.SourceVersion = u.ToVersion, u.SourceVersion
			changed[j] = p
		} else if q, u, ok := im.older(p); ok {
			changed[j] = q
			added = append(added, u)
		}
	}

	pkgs := make([]protocol.Package, 0, np-len(removed)+nExtra+4)
	for j, p := range im.Packages {
		if removed[j] {
			continue
		}
		if q, ok := changed[j]; ok {
			p = q
		}
		pkgs = append(pkgs, p)
	}
	if nExtra > 0 {
		avail := im.PoolSize()
		picked := make(map[int]bool, nExtra)
		extras := make([]protocol.Package, 0, nExtra)
		for len(extras) < nExtra {
			e := r.IntN(avail)
			if !picked[e] {
				picked[e] = true
				extras = append(extras, im.pool[im.poolUsed+e])
			}
		}
		sortPackages(extras)
		pkgs = mergePackages(pkgs, extras)
	}

	updates := make([]protocol.Update, 0, len(im.Updates)+len(added))
	for k, u := range im.Updates {
		j := int(idx.packageOf[k])
		if j >= 0 && (removed[j] || changed[j].Name != "") {
			continue
		}
		updates = append(updates, u)
	}
	updates = append(updates, added...)
	sortUpdates(updates)
	return pkgs, updates
}

// mergePackages returns the sorted lists a and b merged into a new list.
func mergePackages(a, b []protocol.Package) []protocol.Package {
	out := make([]protocol.Package, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if comparePackages(b[0], a[0]) < 0 {
			out, b = append(out, b[0]), b[1:]
		} else {
			out, a = append(out, a[0]), a[1:]
		}
	}
	return append(append(out, a...), b...)
}

// older returns p one step older (see olderVersion) and the update that
// brings it back to the image's version; ok is false when no older
// version can be made.
func (im *Image) older(p protocol.Package) (protocol.Package, protocol.Update, bool) {
	q := p
	var ok bool
	if q.Version, ok = olderVersion(im.Ecosystem, p.Version); !ok {
		return p, protocol.Update{}, false
	}
	if p.SourceVersion != "" {
		if q.SourceVersion, ok = olderVersion(im.Ecosystem, p.SourceVersion); !ok {
			return p, protocol.Update{}, false
		}
	}
	if validatePackage(q, im.VersionOrder) != nil || mustCompare(im.VersionOrder, q.Version, p.Version) >= 0 {
		return p, protocol.Update{}, false
	}
	u := protocol.Update{Ecosystem: p.Ecosystem, Name: p.Name, Arch: p.Arch, FromVersion: q.Version,
		ToVersion: p.Version, SourceName: p.SourceName, SourceVersion: p.SourceVersion}
	switch im.Ecosystem {
	case "deb":
		u.Origin, u.Archive = "Debian", im.updateArchive
		if im.OSID == "ubuntu" {
			u.Origin = "Ubuntu"
		}
		u.Security = strings.HasSuffix(u.Archive, "-security")
	case "rpm":
		u.AdvisoryType = "bugfix"
	}
	return q, u, true
}

// olderVersion returns v one step older, made by decrementing one number:
//   - deb: the last number, after dropping a binNMU suffix
//     (2.38.1-5+deb12u3 gives 2.38.1-5+deb12u2, 3.134 gives 3.133);
//   - rpm: the first number of the release (27.el9 gives 26.el9), when it
//     is above 1;
//   - apk: the package release (-r2 gives -r1), or when that is -r0 the
//     last number of the version.
//
// ok is false when the number is already 0 (or 1 for an rpm release). The
// caller checks that the result is valid and older.
func olderVersion(eco, v string) (string, bool) {
	switch eco {
	case "deb":
		epoch, rest := splitEpoch(v)
		out, ok := decrementDigits(stripBinNMU(rest), false, 1)
		return joinEpoch(epoch, out), ok
	case "rpm":
		epoch, vr := splitEpoch(v)
		ver, rel, ok := strings.Cut(vr, "-")
		if !ok {
			return "", false
		}
		out, ok := decrementDigits(rel, true, 2)
		return joinEpoch(epoch, ver+"-"+out), ok
	case "apk":
		if i := strings.LastIndex(v, "-r"); i >= 0 {
			if out, ok := decrementDigits(v[i+2:], true, 1); ok {
				return v[:i+2] + out, true
			}
			out, ok := decrementDigits(v[:i], false, 1)
			return out + v[i:], ok
		}
		return decrementDigits(v, false, 1)
	}
	return "", false
}

// decrementDigits decrements the first (or last) run of digits in s when
// its value is at least least.
func decrementDigits(s string, first bool, least int) (string, bool) {
	start, end := -1, -1
	for i := 0; i < len(s); i++ {
		j := i
		if !first {
			j = len(s) - 1 - i
		}
		isDigit := '0' <= s[j] && s[j] <= '9'
		if isDigit && start < 0 {
			start, end = j, j+1
		} else if isDigit && first && j == end {
			end = j + 1
		} else if isDigit && !first && j == start-1 {
			start = j
		} else if start >= 0 {
			break
		}
	}
	if start < 0 || end-start > 9 {
		return "", false
	}
	n, err := strconv.Atoi(s[start:end])
	if err != nil || n < least {
		return "", false
	}
	return s[:start] + strconv.Itoa(n-1) + s[end:], true
}

// mutate applies generation g's change to host i's packages and updates.
// It always changes something when anything can change.
func (f *Fleet) mutate(i, g int, im *Image, pkgs []protocol.Package, updates []protocol.Update) ([]protocol.Package, []protocol.Update) {
	r := f.rng(i, streamMutation+uint64(g))
	for range 8 {
		switch op := r.IntN(4); {
		case op < 2 && len(updates) > 0:
			return upgradeSource(pkgs, updates, updates[r.IntN(len(updates))])
		case op < 3 && im.PoolSize() > 0:
			p := im.pool[im.poolUsed+r.IntN(im.PoolSize())]
			if j, found := findPackage(pkgs, p.Ecosystem, p.Name, p.Arch); !found {
				return slices.Insert(pkgs, j, p), updates
			}
		case op == 3 && len(pkgs) > 0:
			j := r.IntN(len(pkgs))
			p := pkgs[j]
			if im.protected[p.Name] {
				continue
			}
			updates = slices.DeleteFunc(updates, func(u protocol.Update) bool {
				return u.Ecosystem == p.Ecosystem && u.Name == p.Name && u.Arch == p.Arch
			})
			return slices.Delete(pkgs, j, j+1), updates
		}
	}
	return pkgs, updates
}

// upgradeSource installs every pending update from the source package of
// u, as a package manager upgrading that source would.
func upgradeSource(pkgs []protocol.Package, updates []protocol.Update, u protocol.Update) ([]protocol.Package, []protocol.Update) {
	src := u.SourceName
	if src == "" {
		src = u.Name
	}
	updates = slices.DeleteFunc(updates, func(v protocol.Update) bool {
		vs := v.SourceName
		if vs == "" {
			vs = v.Name
		}
		if vs != src {
			return false
		}
		if j, ok := findPackage(pkgs, v.Ecosystem, v.Name, v.Arch); ok {
			pkgs[j].Version, pkgs[j].SourceVersion = v.ToVersion, v.SourceVersion
		}
		return true
	})
	return pkgs, updates
}
