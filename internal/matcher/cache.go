package matcher

import (
	"cmp"
	"context"
	"maps"
	"slices"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/match"
	"github.com/patchbay/patchbay/internal/osv"
	"github.com/patchbay/patchbay/internal/store"
)

type parsedRecord struct {
	seq int64
	rec *osv.Record
}

// loadInventories caches the package ids of the hosts' inventories (the
// current ones and those their findings reflect) and the packages they
// hold, and indexes packages by their advisory-side names.
func (m *Matcher) loadInventories(ctx context.Context, hosts []store.MatchHost) (gone map[int64]bool, err error) {
	var want []int64
	for _, h := range hosts {
		for _, inv := range []int64{h.InventoryID, h.FindingsInventoryID} {
			if _, ok := m.invs[inv]; !ok && inv != 0 {
				want = append(want, inv)
			}
		}
	}
	slices.Sort(want)
	want = slices.Compact(want)
	got, err := m.st.InventoriesPackageIDs(ctx, want)
	if err != nil {
		return nil, err
	}
	gone = map[int64]bool{}
	var missing []int64
	for _, inv := range want {
		ids, ok := got[inv]
		if !ok {
			// Replaced by a newer upload since the hosts were read: the
			// next pass evaluates the host on that one.
			gone[inv] = true
			continue
		}
		m.invs[inv] = ids
		for _, id := range ids {
			if _, ok := m.pkgs[id]; !ok {
				missing = append(missing, id)
			}
		}
	}
	if len(missing) == 0 {
		return gone, nil
	}
	slices.Sort(missing)
	missing = slices.Compact(missing)
	pkgs, err := m.st.PackagesByID(ctx, missing)
	if err != nil {
		return nil, err
	}
	for id, p := range pkgs {
		m.pkgs[id] = p
		for _, n := range advisoryNames(p) {
			m.byName[n] = append(m.byName[n], id)
		}
		if match.IsKernel(p) {
			m.kernels[id] = true
		}
	}
	return gone, nil
}

// advisoryNames are the names advisories may use for p: its source and
// binary names for distribution packages (which one a platform's
// advisories use depends on the platform), the module path for Go.
func advisoryNames(p patchbay.Package) []store.AdvisoryName {
	switch p.Ecosystem {
	case "go":
		return []store.AdvisoryName{{Ecosystem: "Go", Name: p.Name}}
	case "deb", "rpm", "apk":
		src, _ := p.Source()
		var out []store.AdvisoryName
		for _, eco := range distroEcosystems[p.Ecosystem] {
			out = append(out, store.AdvisoryName{Ecosystem: eco, Name: src})
			if src != p.Name {
				out = append(out, store.AdvisoryName{Ecosystem: eco, Name: p.Name})
			}
		}
		return out
	}
	return nil
}

// distroEcosystems are the OSV ecosystems whose advisories may apply to a
// package ecosystem.
var distroEcosystems = map[string][]string{
	"deb": {"Debian", "Ubuntu"},
	"rpm": {"Rocky Linux", "AlmaLinux", "Red Hat", "SUSE", "openSUSE"},
	"apk": {"Alpine"},
}

// inventoriesNaming returns the cached inventories holding a package that
// advisories of one of names would name.
func (m *Matcher) inventoriesNaming(names []store.AdvisoryName) map[int64]bool {
	var ids []int64
	for _, n := range names {
		ids = append(ids, m.byName[n]...)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := map[int64]bool{}
	if len(ids) == 0 {
		return out
	}
	for inv, have := range m.invs {
		for _, id := range ids {
			if _, ok := slices.BinarySearch(have, id); ok {
				out[inv] = true
				break
			}
		}
	}
	return out
}

// each calls fn with every (advisory, package, hit) of a state, from the
// cached evaluations (evaluateMissing has evaluated its keys), leaving out
// kernels installed but not running.
func (m *Matcher) each(st state, fn func(rec *osv.Record, pkg int64, hit *match.Hit)) {
	m.eachOf(st, nil, fn)
}

// eachOf is each over the packages of only (sorted ids) that the state's
// inventory holds; nil means all of them.
func (m *Matcher) eachOf(st state, only []int64, fn func(rec *osv.Record, pkg int64, hit *match.Hit)) {
	if st.inv == 0 {
		return
	}
	p, kernel := store.ParseFindingsKey(st.key)
	inv := m.invs[st.inv]
	ids := inv
	if only != nil {
		ids = intersect(inv, only)
	}
	var skip map[int64]bool
	for _, id := range ids {
		if m.kernels[id] {
			skip = m.kernelSkip(inv, kernel)
			break
		}
	}
	c := m.platformHits(p)
	for _, id := range ids {
		if skip[id] {
			continue
		}
		hits := c[id]
		for i := range hits {
			fn(hits[i].Record, id, &hits[i])
		}
	}
}

// intersect returns the ids of small that sorted holds.
func intersect(sorted, small []int64) []int64 {
	var out []int64
	for _, id := range small {
		if _, ok := slices.BinarySearch(sorted, id); ok {
			out = append(out, id)
		}
	}
	return out
}

// namedPackages returns the sorted ids of the packages advisories of names
// would name.
func (m *Matcher) namedPackages(names []store.AdvisoryName) []int64 {
	ids := []int64{}
	for _, n := range names {
		ids = append(ids, m.byName[n]...)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// platformHits is the per-platform cache of each package's hits.
func (m *Matcher) platformHits(p match.Platform) map[int64][]match.Hit {
	k := p.Name + ":" + p.Release
	c, ok := m.byPlatform[k]
	if !ok {
		c = map[int64][]match.Hit{}
		m.byPlatform[k] = c
	}
	return c
}

// kernelSkip returns the kernel packages among ids that are installed but
// not running.
func (m *Matcher) kernelSkip(ids []int64, running string) map[int64]bool {
	var cand []int64
	for _, id := range ids {
		if m.kernels[id] {
			cand = append(cand, id)
		}
	}
	if len(cand) < 2 {
		return nil
	}
	pkgs := make([]patchbay.Package, len(cand))
	for i, id := range cand {
		pkgs[i] = m.pkgs[id]
	}
	out := map[int64]bool{}
	for i := range match.KernelsNotRunning(pkgs, running) {
		out[cand[i]] = true
	}
	return out
}

// stateWork is a state to evaluate, on all its packages (ids nil) or on
// those of ids (sorted) it holds.
type stateWork struct {
	st  state
	ids []int64
}

type pkgRef struct {
	c  map[int64][]match.Hit
	id int64
}

// evaluateMissing evaluates the keys of the work's packages that are not
// in the cache, loading only the advisories that name them, fills the
// per-platform caches, and returns the keys it evaluated. A package's key
// is computed once per platform, however many inventories hold it.
func (m *Matcher) evaluateMissing(ctx context.Context, work []stateWork) ([]match.Key, error) {
	missing := map[match.Key][]pkgRef{}
	seen := map[state]bool{}
	for _, w := range work {
		if w.st.inv == 0 || (w.ids == nil && seen[w.st]) {
			continue
		}
		if w.ids == nil {
			seen[w.st] = true
		}
		p, _ := store.ParseFindingsKey(w.st.key)
		c := m.platformHits(p)
		ids := m.invs[w.st.inv]
		if w.ids != nil {
			ids = intersect(ids, w.ids)
		}
		for _, id := range ids {
			if _, ok := c[id]; ok {
				continue
			}
			k, ok := match.KeyOf(p, m.pkgs[id])
			if !ok {
				c[id] = nil
				continue
			}
			if hits, ok := m.keyHits[k]; ok {
				c[id] = hits
				continue
			}
			// Held as none until evaluated below, so that no other
			// inventory adds it again.
			c[id] = nil
			missing[k] = append(missing[k], pkgRef{c, id})
		}
	}
	if len(missing) == 0 {
		return nil, nil
	}
	nameSet := map[store.AdvisoryName]bool{}
	for k := range missing {
		nameSet[nameOfKey(k)] = true
	}
	names := slices.SortedFunc(maps.Keys(nameSet), func(a, b store.AdvisoryName) int {
		return cmp.Or(cmp.Compare(a.Ecosystem, b.Ecosystem), cmp.Compare(a.Name, b.Name))
	})
	stored, err := m.st.AdvisoriesNaming(ctx, names)
	if err != nil {
		m.byPlatform = map[string]map[int64][]match.Hit{} // drop the placeholders
		return nil, err
	}
	recs := make([]*osv.Record, 0, len(stored))
	for _, a := range stored {
		if pr, ok := m.records[a.ID]; ok && pr.seq == a.Seq {
			recs = append(recs, pr.rec)
			continue
		}
		r, err := osv.Parse(a.Record)
		if err != nil { // stored records were parsed on import; this is corruption
			m.log.Error("stored advisory does not parse", "id", a.ID, "err", err)
			continue
		}
		m.records[a.ID] = parsedRecord{seq: a.Seq, rec: r}
		recs = append(recs, r)
	}
	ix := match.NewIndex(recs)
	out := make([]match.Key, 0, len(missing))
	for k, refs := range missing {
		hits, errs := ix.Evaluate(k)
		for _, err := range errs {
			m.log.Warn("evaluation error", "ecosystem", k.Ecosystem, "package", k.Name, "version", k.Version, "err", err)
		}
		m.keyHits[k] = hits
		for _, r := range refs {
			r.c[r.id] = hits
		}
		out = append(out, k)
	}
	return out, nil
}
