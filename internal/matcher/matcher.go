// Package matcher keeps the fleet's findings current. It evaluates each
// distinct (ecosystem release, package, version) once, whatever the number
// of hosts that share it, and works incrementally: a host whose inventory
// (or platform, or running kernel) changed is evaluated again, whole; an
// advisory that was added, replaced or withdrawn re-evaluates only the
// packages it names, on the hosts that have them. Its progress lives in the
// store (each host's evaluated inventory, the advisory seq finished), so a
// server killed at any instant resumes where the store says, and one server
// at a time runs it, holding a lease.
package matcher

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/match"
	"github.com/patchbay/patchbay/internal/osv"
	"github.com/patchbay/patchbay/internal/store"
)

// Options configure a Matcher.
type Options struct {
	Logger *slog.Logger
	// Holder names this server for the lease ("host:pid").
	Holder string
	// Interval is how often Run looks for changes made by other servers
	// (DefaultInterval when zero); changes on this one nudge it at once.
	Interval time.Duration
	// Batch is how many hosts one transaction updates (DefaultBatch when zero).
	Batch int
}

// Defaults.
const (
	DefaultInterval = 2 * time.Second
	DefaultBatch    = 500
	leaseName       = "matcher"
	// scopedLimit is the most changed advisories evaluated scoped to
	// themselves; past it (a bulk import) affected hosts are evaluated whole.
	scopedLimit = 2000
)

// Matcher evaluates findings. Its caches hold only what never changes for
// an id (inventories, interned packages) and evaluation results that it
// drops when an advisory they depend on changes.
type Matcher struct {
	st       *store.Store
	log      *slog.Logger
	holder   string
	interval time.Duration
	batch    int
	nudge    chan struct{}

	mu      sync.Mutex                     // serialises Sync
	invs    map[int64][]int64              // inventory -> sorted package ids
	pkgs    map[int64]patchbay.Package     // interned packages
	byName  map[store.AdvisoryName][]int64 // advisory-side name -> package ids with it
	keyHits map[match.Key][]match.Hit      // evaluations
	records map[string]parsedRecord        // advisories parsed, by id
}

type parsedRecord struct {
	seq int64
	rec *osv.Record
}

// New returns a Matcher over st.
func New(st *store.Store, opt Options) *Matcher {
	m := &Matcher{
		st: st, log: opt.Logger, holder: opt.Holder, interval: opt.Interval, batch: opt.Batch,
		nudge: make(chan struct{}, 1),
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.interval <= 0 {
		m.interval = DefaultInterval
	}
	if m.batch <= 0 {
		m.batch = DefaultBatch
	}
	m.reset()
	return m
}

func (m *Matcher) reset() {
	m.invs = map[int64][]int64{}
	m.pkgs = map[int64]patchbay.Package{}
	m.byName = map[store.AdvisoryName][]int64{}
	m.keyHits = map[match.Key][]match.Hit{}
	m.records = map[string]parsedRecord{}
}

// Nudge asks Run to look for changes now: an inventory arrived or
// advisories were imported. It never blocks.
func (m *Matcher) Nudge() {
	select {
	case m.nudge <- struct{}{}:
	default:
	}
}

// Run syncs whenever nudged and every Interval, while this server holds
// the matcher lease, until ctx ends.
func (m *Matcher) Run(ctx context.Context) {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		ttl := 3*m.interval + 10*time.Second
		if ok, err := m.st.TakeLease(ctx, leaseName, m.holder, ttl); err != nil {
			m.log.Warn("matcher lease", "err", err)
		} else if ok {
			if st, err := m.Sync(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				m.log.Warn("matcher sync", "err", err)
			} else if st.Hosts > 0 {
				m.log.Info("findings updated", "hosts", st.Hosts, "keys_evaluated", st.KeysEvaluated,
					"opened", st.Opened+st.Reopened, "fixed", st.Fixed, "withdrawn", st.Withdrawn, "took", st.Took.Round(time.Millisecond))
			}
		} else {
			m.mu.Lock()
			m.reset() // another server runs it: what this one cached may go stale
			m.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-m.nudge:
		case <-t.C:
		}
	}
}

// Stats says what one Sync did.
type Stats struct {
	Hosts         int // hosts whose findings were evaluated (whole or scoped)
	KeysEvaluated int // distinct keys evaluated (not found in the cache)
	Advisories    int // advisory changes taken in
	store.FindingChanges
	Took time.Duration
}

// Sync brings the findings up to date with every inventory and advisory
// committed before it started. It is idempotent and safe to interrupt:
// what it has not applied it finds again next time.
func (m *Matcher) Sync(ctx context.Context) (Stats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	start := time.Now()
	var st Stats
	done, err := m.st.MatcherSeq(ctx)
	if err != nil {
		return st, err
	}
	names, changedIDs, newest, err := m.st.AdvisoryChanges(ctx, done)
	if err != nil {
		return st, err
	}
	st.Advisories = len(changedIDs)
	for _, id := range changedIDs {
		delete(m.records, id)
	}
	changedName := map[store.AdvisoryName]bool{}
	for _, n := range names {
		changedName[n] = true
	}
	for k := range m.keyHits {
		if changedName[nameOfKey(k)] {
			delete(m.keyHits, k)
		}
	}
	hosts, err := m.st.MatchHosts(ctx)
	if err != nil {
		return st, err
	}
	if err := m.loadInventories(ctx, hosts); err != nil {
		return st, err
	}

	// Hosts to evaluate whole, and hosts touched by the advisory changes.
	var whole, scoped []store.MatchHost
	var affected map[int64]bool // inventories holding a package of a changed name
	if len(names) > 0 {
		affected = m.inventoriesNaming(names)
	}
	for _, h := range hosts {
		switch {
		case h.FindingsInventoryID != h.InventoryID || h.FindingsKey != hostKey(h):
			whole = append(whole, h)
		case affected[h.InventoryID] && len(changedIDs) > scopedLimit:
			whole = append(whole, h)
		case affected[h.InventoryID]:
			scoped = append(scoped, h)
		}
	}
	if err := m.evaluateMissing(ctx, append(slices.Clone(whole), scoped...), &st); err != nil {
		return st, err
	}

	var batch []store.HostFindings
	wants := map[string][]store.WantFinding{} // by inventory and host key: shared by identical hosts
	flush := func(seq int64) error {
		if len(batch) == 0 && seq == 0 {
			return nil
		}
		ch, err := m.st.ApplyFindings(ctx, batch, seq)
		if err != nil {
			return err
		}
		st.FindingChanges.Add(ch)
		st.Hosts += len(batch)
		batch = batch[:0]
		return nil
	}
	for _, h := range whole {
		wk := fmt.Sprint(h.InventoryID, "|", hostKey(h))
		want, ok := wants[wk]
		if !ok {
			want = m.want(h, nil)
			wants[wk] = want
		}
		batch = append(batch, store.HostFindings{HostID: h.ID, InventoryID: h.InventoryID, Key: hostKey(h), Want: want})
		if len(batch) >= m.batch {
			if err := flush(0); err != nil {
				return st, err
			}
		}
	}
	if len(scoped) > 0 {
		scope := map[string]bool{}
		for _, id := range changedIDs {
			scope[id] = true
		}
		for _, h := range scoped {
			batch = append(batch, store.HostFindings{HostID: h.ID, Scope: changedIDs, Want: m.want(h, scope)})
			if len(batch) >= m.batch {
				if err := flush(0); err != nil {
					return st, err
				}
			}
		}
	}
	// The last transaction also records the advisory changes as done.
	seq := int64(0)
	if newest > done {
		seq = newest
	}
	if err := flush(seq); err != nil {
		return st, err
	}
	st.Took = time.Since(start)
	return st, nil
}

// hostKey is what, beside the inventory, decides a host's findings.
func hostKey(h store.MatchHost) string {
	p, _ := platformOf(h)
	return p.String() + "|" + h.Kernel
}

func platformOf(h store.MatchHost) (match.Platform, bool) {
	return match.PlatformOf(map[string]string{"ID": h.OSName, "VERSION_ID": h.OSRelease})
}

// nameOfKey is the advisory-side name a key is evaluated against.
func nameOfKey(k match.Key) store.AdvisoryName {
	return store.AdvisoryName{Ecosystem: osv.ParseEcosystem(k.Ecosystem).Name, Name: k.Name}
}

// loadInventories caches the package ids of the hosts' inventories and the
// packages they hold, and indexes packages by their advisory-side names.
func (m *Matcher) loadInventories(ctx context.Context, hosts []store.MatchHost) error {
	var missing []int64
	for _, h := range hosts {
		if _, ok := m.invs[h.InventoryID]; ok {
			continue
		}
		ids, err := m.st.InventoryPackageIDs(ctx, h.InventoryID)
		if err != nil {
			return err
		}
		m.invs[h.InventoryID] = ids
		for _, id := range ids {
			if _, ok := m.pkgs[id]; !ok {
				missing = append(missing, id)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	missing = slices.Compact(missing)
	got, err := m.st.PackagesByID(ctx, missing)
	if err != nil {
		return err
	}
	for id, p := range got {
		m.pkgs[id] = p
		for _, n := range advisoryNames(p) {
			m.byName[n] = append(m.byName[n], id)
		}
	}
	return nil
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

// keysOf returns the keys of a host's packages, by package id, leaving out
// kernels installed but not running.
func (m *Matcher) keysOf(h store.MatchHost) ([]int64, []match.Key) {
	p, _ := platformOf(h)
	ids := m.invs[h.InventoryID]
	pkgs := make([]patchbay.Package, len(ids))
	for i, id := range ids {
		pkgs[i] = m.pkgs[id]
	}
	skip := match.KernelsNotRunning(pkgs, h.Kernel)
	outIDs := make([]int64, 0, len(ids))
	keys := make([]match.Key, 0, len(ids))
	for i, pkg := range pkgs {
		if skip[i] {
			continue
		}
		if k, ok := match.KeyOf(p, pkg); ok {
			outIDs = append(outIDs, ids[i])
			keys = append(keys, k)
		}
	}
	return outIDs, keys
}

// evaluateMissing evaluates the keys of hosts not in the cache, loading
// only the advisories that name them.
func (m *Matcher) evaluateMissing(ctx context.Context, hosts []store.MatchHost, st *Stats) error {
	missing := map[match.Key]bool{}
	seenInv := map[string]bool{}
	for _, h := range hosts {
		k := fmt.Sprint(h.InventoryID, "|", hostKey(h))
		if seenInv[k] {
			continue
		}
		seenInv[k] = true
		_, keys := m.keysOf(h)
		for _, key := range keys {
			if _, ok := m.keyHits[key]; !ok {
				missing[key] = true
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	nameSet := map[store.AdvisoryName]bool{}
	for k := range missing {
		nameSet[nameOfKey(k)] = true
	}
	names := slices.SortedFunc(maps.Keys(nameSet), func(a, b store.AdvisoryName) int {
		if a.Ecosystem != b.Ecosystem {
			return cmp.Compare(a.Ecosystem, b.Ecosystem)
		}
		return cmp.Compare(a.Name, b.Name)
	})
	stored, err := m.st.AdvisoriesNaming(ctx, names)
	if err != nil {
		return err
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
	for k := range missing {
		hits, errs := ix.Evaluate(k)
		for _, err := range errs {
			m.log.Warn("evaluation error", "ecosystem", k.Ecosystem, "package", k.Name, "version", k.Version, "err", err)
		}
		m.keyHits[k] = hits
		st.KeysEvaluated++
	}
	return nil
}

// want returns the findings of host h from the cached evaluations; with
// scope, only those of advisories in it.
func (m *Matcher) want(h store.MatchHost, scope map[string]bool) []store.WantFinding {
	ids, keys := m.keysOf(h)
	var out []store.WantFinding
	for i, k := range keys {
		for _, hit := range m.keyHits[k] {
			if scope != nil && !scope[hit.Record.ID] {
				continue
			}
			out = append(out, store.WantFinding{
				Advisory: hit.Record.ID,
				Package:  m.pkgs[ids[i]],
				Matched:  k.Ecosystem + " " + k.Name + " " + k.Version,
				Fixed:    hit.Fixed,
				Why:      hit.Why,
			})
		}
	}
	return out
}
