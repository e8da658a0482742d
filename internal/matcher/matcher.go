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
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/match"
	"github.com/patchbay/patchbay/internal/nudge"
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
	// OnPass, when set, is told about every pass Run makes that changed
	// something (for metrics).
	OnPass func(Stats)
}

// Defaults.
const (
	DefaultInterval = 2 * time.Second
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
	onPass   func(Stats)
	nudge    nudge.Signal

	mu      sync.Mutex                     // serialises Sync
	invs    map[int64][]int64              // inventory -> sorted package ids
	pkgs    map[int64]patchbay.Package     // interned packages
	byName  map[store.AdvisoryName][]int64 // advisory-side name -> package ids with it
	keyHits map[match.Key][]match.Hit      // evaluations
	records map[string]parsedRecord        // advisories parsed, by id
	kernels map[int64]bool                 // packages that may be kernels
	// byPlatform caches each package's hits by platform: a host's
	// findings are then a lookup per package id.
	byPlatform map[string]map[int64][]match.Hit
}

// New returns a Matcher over st.
func New(st *store.Store, opt Options) *Matcher {
	m := &Matcher{
		st: st, log: opt.Logger, holder: opt.Holder, interval: opt.Interval, onPass: opt.OnPass,
		nudge: nudge.New(),
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.interval <= 0 {
		m.interval = DefaultInterval
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
	m.kernels = map[int64]bool{}
	m.byPlatform = map[string]map[int64][]match.Hit{}
}

// Nudge asks Run to look for changes now: an inventory arrived or
// advisories were imported. It never blocks.
func (m *Matcher) Nudge() { m.nudge.Nudge() }

// Run syncs whenever nudged and every Interval, while this server holds
// the matcher lease, until ctx ends.
func (m *Matcher) Run(ctx context.Context) {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		if ok, err := m.st.TakeLease(ctx, leaseName, m.holder, m.leaseTTL()); err != nil {
			m.log.Warn("matcher lease", "err", err)
		} else if ok {
			if st, err := m.syncLeased(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				m.log.Warn("matcher sync", "err", err)
			} else if st.Hosts > 0 || st.Advisories > 0 {
				if m.onPass != nil {
					m.onPass(st)
				}
				m.log.Info("findings updated", "hosts", st.Hosts, "advisories", st.Advisories, "keys_evaluated", st.KeysEvaluated,
					"opened", st.Opened, "closed", st.Closed, "took", st.Took.Round(time.Millisecond))
			}
		} else {
			m.mu.Lock()
			m.reset() // another server runs it: what this one cached may go stale
			m.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-m.nudge.C():
		case <-t.C:
		}
	}
}

// leaseTTL is how long the matcher lease lasts without renewal.
func (m *Matcher) leaseTTL() time.Duration { return 3*m.interval + 10*time.Second }

// Stats says what one Sync did.
type Stats struct {
	Hosts         int // hosts evaluated again (new inventory, platform or kernel)
	KeysEvaluated int // distinct keys evaluated (not found in the cache)
	Advisories    int // advisory changes taken in
	Opened        int // findings opened (counted in events and first evaluations)
	Closed        int // findings fixed or withdrawn
	Took          time.Duration
}

// state is what a host's findings derive from: an inventory and a
// platform and kernel.
type state struct {
	inv int64
	key string
}

// Sync brings the findings up to date with every inventory and advisory
// committed before it started, in one transaction. It is idempotent and
// safe to interrupt: what it has not applied it finds again next time.
func (m *Matcher) Sync(ctx context.Context) (Stats, error) {
	return m.run(ctx, false)
}

// syncLeased is Sync under the matcher lease: the pass commits only if
// this server still holds it.
func (m *Matcher) syncLeased(ctx context.Context) (Stats, error) {
	return m.run(ctx, true)
}

func (m *Matcher) run(ctx context.Context, leased bool) (Stats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, err := m.sync(ctx, leased)
	if err != nil {
		// What this pass cached may not be stored: start the next from
		// the store alone.
		m.reset()
	}
	return st, err
}

func (m *Matcher) sync(ctx context.Context, leased bool) (Stats, error) {
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
	changed := map[string]bool{}
	for _, id := range changedIDs {
		changed[id] = true
		delete(m.records, id)
	}
	// A replaced record may no longer name a package its old version did:
	// the keys cached with it are invalid too, under their names.
	if len(changed) > 0 {
		seen := map[store.AdvisoryName]bool{}
		for _, n := range names {
			seen[n] = true
		}
		for k, hits := range m.keyHits {
			for _, h := range hits {
				if changed[h.Record.ID] && !seen[nameOfKey(k)] {
					seen[nameOfKey(k)] = true
					names = append(names, nameOfKey(k))
				}
			}
		}
	}
	if len(names) > 0 {
		changedName := map[store.AdvisoryName]bool{}
		for _, n := range names {
			changedName[n] = true
		}
		for k := range m.keyHits {
			if changedName[nameOfKey(k)] {
				delete(m.keyHits, k)
			}
		}
		for _, id := range m.namedPackages(names) {
			for _, c := range m.byPlatform {
				delete(c, id)
			}
		}
	}
	hosts, err := m.st.MatchHosts(ctx)
	if err != nil {
		return st, err
	}
	gone, err := m.loadInventories(ctx, hosts)
	if err != nil {
		return st, err
	}
	// A host whose inventory was replaced since the hosts were read waits
	// for the next pass (its upload nudged one); its findings stay as
	// they are in this one.
	if len(gone) > 0 {
		// Only the matcher drops inventories (after each pass, those no
		// host refers to), so this is another server's doing: start again
		// from the store next time.
		return st, fmt.Errorf("%d inventories vanished during the pass", len(gone))
	}
	full := len(changedIDs) > scopedLimit

	// Which hosts are evaluated again, and which evaluate changed advisories.
	var dirty []store.MatchHost
	var fresh []store.MatchHost // current states that changed advisories are evaluated on
	var affected map[int64]bool
	if len(names) > 0 && !full {
		affected = m.inventoriesNaming(names)
	}
	for _, h := range hosts {
		now := currentState(h)
		if now != (state{h.FindingsInventoryID, h.FindingsKey}) {
			dirty = append(dirty, h)
		}
		if now.inv != 0 && len(changed) > 0 && (full || affected[now.inv]) {
			fresh = append(fresh, h)
		}
	}
	// Hosts evaluated for changed advisories only look at the packages
	// those name, unless the change is a bulk one.
	var only []int64
	if !full {
		only = m.namedPackages(names)
	}
	var work []stateWork
	for _, h := range dirty {
		work = append(work, stateWork{state{h.FindingsInventoryID, h.FindingsKey}, nil}, stateWork{currentState(h), nil})
	}
	for _, h := range fresh {
		work = append(work, stateWork{currentState(h), only})
	}
	evaluated, err := m.evaluateMissing(ctx, work)
	if err != nil {
		return st, err
	}
	st.KeysEvaluated = len(evaluated)

	// New pairs of changed advisories, from every host they may affect.
	// The loops below run once per finding of the fleet, so they look
	// advisories up by record pointer, not by id.
	chg := map[*osv.Record]bool{}
	isChanged := func(r *osv.Record) bool {
		v, ok := chg[r]
		if !ok {
			v = changed[r.ID]
			chg[r] = v
		}
		return v
	}
	type slot struct {
		pairs   []store.Pair
		fixable bool
	}
	slots := map[*osv.Record]*slot{}
	for _, h := range fresh {
		m.eachOf(currentState(h), only, func(rec *osv.Record, pkg int64, hit *match.Hit) {
			if isChanged(rec) {
				sl := slots[rec]
				if sl == nil {
					sl = &slot{}
					slots[rec] = sl
				}
				sl.pairs = append(sl.pairs, store.MakePair(h.ID, pkg))
				sl.fixable = sl.fixable || len(hit.Fixed) > 0
			}
		})
	}
	bucket := map[string][]store.Pair{}
	fixable := map[string]bool{}
	for _, id := range changedIDs {
		bucket[id] = nil
	}
	for rec, sl := range slots {
		bucket[rec.ID], fixable[rec.ID] = sl.pairs, sl.fixable
	}
	// Unchanged advisories touched by hosts that changed.
	isDirty := map[int64]bool{}
	newOf := map[int64][]wantPair{}
	touched := map[string]bool{}
	for _, h := range dirty {
		isDirty[h.ID] = true
		m.each(state{h.FindingsInventoryID, h.FindingsKey}, func(rec *osv.Record, pkg int64, hit *match.Hit) {
			if !isChanged(rec) {
				touched[rec.ID] = true
			}
		})
		m.each(currentState(h), func(rec *osv.Record, pkg int64, hit *match.Hit) {
			if !isChanged(rec) {
				touched[rec.ID] = true
				newOf[h.ID] = append(newOf[h.ID], wantPair{rec.ID, pkg, len(hit.Fixed) > 0})
			}
		})
	}
	ids := slices.Concat(changedIDs, slices.Collect(maps.Keys(touched)))
	old, err := m.st.AdvisoryPairs(ctx, ids)
	if err != nil {
		return st, err
	}
	for adv := range touched {
		prev := old[adv]
		fixable[adv] = prev.Fixable
		if _, ok := bucket[adv]; !ok {
			bucket[adv] = nil // present even when no pair stays
		}
		for _, p := range prev.Pairs {
			if !isDirty[p.Host()] {
				bucket[adv] = append(bucket[adv], p)
			}
		}
	}
	for host, ws := range newOf {
		for _, w := range ws {
			bucket[w.adv] = append(bucket[w.adv], store.MakePair(host, w.pkg))
			fixable[w.adv] = fixable[w.adv] || w.fixable
		}
	}

	// What changed, for the history.
	withdrawn, err := m.st.WithdrawnAmong(ctx, changedIDs)
	if err != nil {
		return st, err
	}
	byID := map[int64]store.MatchHost{}
	for _, h := range hosts {
		byID[h.ID] = h
	}
	u := store.MatchUpdate{Changed: changedIDs}
	if leased {
		u.Lease, u.Holder = leaseName, m.holder
	}
	if newest > done {
		u.Seq = newest
	}
	for adv, pairs := range bucket {
		slices.Sort(pairs)
		pairs = slices.Compact(pairs)
		if touched[adv] {
			// Pairs kept from before may have lost the one with a fix.
			if v, ok := m.fixableOf(adv, pairs, byID); ok {
				fixable[adv] = v
			}
		}
		prev, existed := old[adv]
		if existed && slices.Equal(prev.Pairs, pairs) && prev.Fixable == fixable[adv] {
			continue
		}
		if !existed && len(pairs) == 0 && !changed[adv] {
			continue
		}
		added, removed := diffPairs(prev.Pairs, pairs)
		for _, p := range added {
			h := byID[p.Host()]
			st.Opened++
			// A host or an advisory evaluated for the first time has no
			// event: its findings are first seen at its first evaluation.
			if existed && h.FindingsInventoryID != 0 {
				u.Events = append(u.Events, store.FindingEvent{HostID: p.Host(), Advisory: adv, PackageID: p.Package(),
					Status: patchbay.FindingOpen, Installed: m.pkgs[p.Package()].Version})
			}
		}
		for _, p := range removed {
			h, ok := byID[p.Host()]
			if !ok || h.Retired {
				continue // a retired host's findings go with it
			}
			st.Closed++
			status := patchbay.FindingFixed
			if withdrawn[adv] {
				status = patchbay.FindingWithdrawn
			}
			u.Events = append(u.Events, store.FindingEvent{HostID: p.Host(), Advisory: adv, PackageID: p.Package(),
				Status: status, Installed: m.pkgs[p.Package()].Version})
		}
		u.Advisories = append(u.Advisories, store.AdvisoryHosts{Advisory: adv, Pairs: pairs, Fixable: fixable[adv]})
	}
	for _, h := range dirty {
		now := currentState(h)
		u.Hosts = append(u.Hosts, store.HostEvaluated{HostID: h.ID, InventoryID: now.inv, Key: now.key, Baseline: h.FindingsInventoryID == 0})
	}
	for _, k := range evaluated {
		u.Keys = append(u.Keys, k)
		for _, hit := range m.keyHits[k] {
			u.Hits = append(u.Hits, store.KeyHit{Key: k, Advisory: hit.Record.ID, Fixed: hit.Fixed, Why: hit.Why})
		}
	}
	st.Hosts = len(dirty)
	if len(u.Hosts) > 0 || len(u.Advisories) > 0 || len(u.Keys) > 0 || u.Seq > 0 || len(u.Changed) > 0 {
		if leased {
			// Renewed just before committing, so that a pass longer than
			// the lease still commits when nobody else took it over.
			ok, err := m.st.TakeLease(ctx, leaseName, m.holder, m.leaseTTL())
			if err != nil {
				return st, err
			}
			if !ok {
				return st, store.ErrLeaseLost
			}
		}
		if err := m.st.ApplyMatch(ctx, u); err != nil {
			return st, err
		}
		// Inventories the pass moved hosts off, and any replaced before a
		// pass saw them, go now. Only the matcher drops inventories, so
		// none vanishes during a pass.
		if n, err := m.st.CollectInventories(ctx, time.Minute); err != nil {
			m.log.Warn("collect inventories", "err", err)
		} else if n > 0 {
			m.log.Debug("inventories collected", "n", n)
		}
	}
	st.Took = time.Since(start)
	return st, nil
}

// fixableOf says whether a fixed version is known for one of an
// advisory's pairs, from the cached evaluations; ok is false when one of
// them is not cached (after a restart), and then the caller keeps what it
// knew.
func (m *Matcher) fixableOf(adv string, pairs []store.Pair, hosts map[int64]store.MatchHost) (fixable, ok bool) {
	for _, p := range pairs {
		h, found := hosts[p.Host()]
		if !found {
			return false, false
		}
		plat, _ := store.ParseFindingsKey(currentState(h).key)
		hits, cached := m.platformHits(plat)[p.Package()]
		if !cached {
			return false, false
		}
		for _, hit := range hits {
			if hit.Record.ID == adv && len(hit.Fixed) > 0 {
				return true, true
			}
		}
	}
	return false, true
}

type wantPair struct {
	adv     string
	pkg     int64
	fixable bool
}

// diffPairs returns what b has that a has not, and the reverse; both sorted.
func diffPairs(a, b []store.Pair) (added, removed []store.Pair) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			removed = append(removed, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			added = append(added, b[j])
			j++
		default:
			i++
			j++
		}
	}
	return added, removed
}

// currentState is what h's findings should derive from now: none for a
// retired host.
func currentState(h store.MatchHost) state {
	if h.Retired || h.InventoryID == 0 {
		return state{}
	}
	p, _ := platformOf(h)
	return state{h.InventoryID, store.FindingsKey(p, h.Kernel)}
}

func platformOf(h store.MatchHost) (match.Platform, bool) {
	return match.PlatformOf(map[string]string{"ID": h.OSName, "VERSION_ID": h.OSRelease})
}

// nameOfKey is the advisory-side name a key is evaluated against.
func nameOfKey(k match.Key) store.AdvisoryName {
	return store.AdvisoryName{Ecosystem: osv.ParseEcosystem(k.Ecosystem).Name, Name: k.Name}
}
