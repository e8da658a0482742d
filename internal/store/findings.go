package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/match"
)

// A finding is host × package × advisory. The store keeps them per
// advisory (advisory_hosts: the sorted (host, package) pairs it affects) and
// derives a host's from its evaluated inventory joined with the matcher's
// key_hits; finding_events records what changed after the first
// evaluation. So a fleet-wide evaluation writes a row per advisory and per
// evaluated key, and its size does not grow with hosts × findings.

// FindingEvent is a change of one finding, for the history.
type FindingEvent struct {
	HostID    int64                  `json:"host_id"`
	Advisory  string                 `json:"advisory"`
	PackageID int64                  `json:"-"`
	At        time.Time              `json:"at"`
	Status    patchbay.FindingStatus `json:"status"`
	Installed string                 `json:"installed"`
}

// findingHost is what reading findings needs of a host.
type findingHost struct {
	id       int64
	hostname string
	platform match.Platform
	kernel   string
	inv      int64
	since    int64
	retired  bool
}

func (s *Store) loadFindingHosts(ctx context.Context, ids []int64, into map[int64]findingHost) error {
	return inChunks(ctx, s.readQuerier(), `SELECT id, hostname, findings_key, COALESCE(findings_inventory_id, 0), COALESCE(findings_since, 0),
		retired_at IS NOT NULL FROM hosts WHERE id IN (%s)`, ids, func(rows *sql.Rows) error {
		var h findingHost
		var key string
		if err := rows.Scan(&h.id, &h.hostname, &key, &h.inv, &h.since, &h.retired); err != nil {
			return err
		}
		h.platform, h.kernel = ParseFindingsKey(key)
		into[h.id] = h
		return nil
	})
}

// FindingsKey is what, beside the inventory, decides a host's findings.
func FindingsKey(p match.Platform, kernel string) string {
	if p.Name == "" {
		return "|" + kernel
	}
	return p.String() + "|" + kernel
}

// ParseFindingsKey takes a FindingsKey apart.
func ParseFindingsKey(k string) (match.Platform, string) {
	plat, kernel, _ := strings.Cut(k, "|")
	name, release, _ := strings.Cut(plat, ":")
	return match.Platform{Name: name, Release: release}, kernel
}

// keyHits reads the stored hits of keys, by key.
func (s *Store) keyHits(ctx context.Context, keys []match.Key, advisory string) (map[match.Key][]KeyHit, error) {
	byEco := map[string][]string{}
	want := map[match.Key]bool{}
	for _, k := range keys {
		if !want[k] {
			want[k] = true
			byEco[k.Ecosystem] = append(byEco[k.Ecosystem], k.Name)
		}
	}
	out := map[match.Key][]KeyHit{}
	q, args := "SELECT name, version, advisory_id, fixed, why FROM key_hits WHERE ecosystem = ? AND name IN (%s)", []any{nil}
	if advisory != "" {
		q, args = "SELECT name, version, advisory_id, fixed, why FROM key_hits WHERE ecosystem = ? AND advisory_id = ? AND name IN (%s)", []any{nil, advisory}
	}
	for eco, names := range byEco {
		slices.Sort(names)
		args[0] = eco
		err := inChunks(ctx, s.readQuerier(), q, slices.Compact(names), func(rows *sql.Rows) error {
			h := KeyHit{Key: match.Key{Ecosystem: eco}}
			var fixed, why string
			if err := rows.Scan(&h.Key.Name, &h.Key.Version, &h.Advisory, &fixed, &why); err != nil {
				return err
			}
			if want[h.Key] {
				h.Fixed, h.Why = splitNonEmpty(fixed, " "), splitNonEmpty(why, "\n")
				out[h.Key] = append(out[h.Key], h)
			}
			return nil
		}, args...)
		if err != nil {
			return nil, fmt.Errorf("read evaluations: %w", err)
		}
	}
	return out, nil
}

func splitNonEmpty(s, sep string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, sep)
}

// advisoryInfo is what findings show of their advisory.
type advisoryInfo struct {
	severity   string
	kev        bool
	cvss, epss *float64
	since      int64
}

func (s *Store) advisoryInfo(ctx context.Context, ids []string) (map[string]advisoryInfo, error) {
	out := map[string]advisoryInfo{}
	err := inChunks(ctx, s.readQuerier(), `SELECT a.id, a.severity, a.kev, a.cvss_score, a.epss, COALESCE(ah.since, 0) FROM advisories a
		LEFT JOIN advisory_hosts ah ON ah.advisory_id = a.id WHERE a.id IN (%s)`, ids, func(rows *sql.Rows) error {
		var id string
		var in advisoryInfo
		var kev int
		var cvss, epss sql.NullFloat64
		if err := rows.Scan(&id, &in.severity, &kev, &cvss, &epss, &in.since); err != nil {
			return err
		}
		in.kev = kev != 0
		if cvss.Valid {
			in.cvss = &cvss.Float64
		}
		if epss.Valid {
			in.epss = &epss.Float64
		}
		out[id] = in
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read advisories: %w", err)
	}
	return out, nil
}

// findingEvents returns the events of a host (column "host_id") or an
// advisory ("advisory_id"), oldest first.
func (s *Store) findingEvents(ctx context.Context, column string, value any) ([]FindingEvent, error) {
	rows, err := s.query(ctx, "SELECT host_id, advisory_id, package_id, at, status, installed FROM finding_events WHERE "+column+" = ? ORDER BY at", value)
	if err != nil {
		return nil, fmt.Errorf("read finding history: %w", err)
	}
	defer rows.Close()
	out := []FindingEvent{}
	for rows.Next() {
		var e FindingEvent
		var at int64
		var status string
		if err := rows.Scan(&e.HostID, &e.Advisory, &e.PackageID, &at, &status, &e.Installed); err != nil {
			return nil, classify(err)
		}
		e.At, e.Status = fromMicros(at), patchbay.FindingStatus(status)
		out = append(out, e)
	}
	return out, classify(rows.Err())
}

// FindingHistory returns the changes of a host's findings, oldest first.
func (s *Store) FindingHistory(ctx context.Context, host int64) ([]FindingEvent, error) {
	return s.findingEvents(ctx, "host_id", host)
}

// findingID names one finding: host × package × advisory.
type findingID struct {
	host, pkg int64
	advisory  string
}

// findingItem is a finding being listed: open (hit set) or from the
// history (ev set).
type findingItem struct {
	findingID
	hit *KeyHit
	ev  *FindingEvent
}

// Findings lists findings of one host or one advisory (one of the two is
// required): open ones unless the filter names statuses; fixed and
// withdrawn ones come from the history. Sorted by host, package, advisory.
func (s *Store) Findings(ctx context.Context, f patchbay.FindingFilter) ([]patchbay.Finding, error) {
	if f.HostID == 0 && f.Advisory == "" {
		return nil, patchbay.FieldError(patchbay.EInvalid, "host", "name a host or an advisory")
	}
	statuses := f.Status
	if len(statuses) == 0 {
		statuses = []patchbay.FindingStatus{patchbay.FindingOpen}
	}
	column, value := "advisory_id", any(f.Advisory)
	if f.HostID != 0 {
		column, value = "host_id", f.HostID
	}
	history, err := s.findingEvents(ctx, column, value)
	if err != nil {
		return nil, err
	}
	last := map[findingID]FindingEvent{}
	for _, e := range history {
		last[findingID{e.HostID, e.PackageID, e.Advisory}] = e
	}
	hosts, pkgs := map[int64]findingHost{}, map[int64]patchbay.Package{}
	var items []findingItem
	if slices.Contains(statuses, patchbay.FindingOpen) {
		if items, err = s.openFindings(ctx, f, hosts, pkgs); err != nil {
			return nil, err
		}
	}
	open := map[findingID]bool{}
	for _, it := range items {
		open[it.findingID] = true
	}
	for id, e := range last {
		if e.Status != patchbay.FindingOpen && slices.Contains(statuses, e.Status) && !open[id] {
			items = append(items, findingItem{findingID: id, ev: &e})
		}
	}
	// What the listing shows of hosts, packages and advisories not read yet.
	var hostIDs, pkgIDs []int64
	var advIDs []string
	for _, it := range items {
		if _, ok := hosts[it.host]; !ok {
			hostIDs = append(hostIDs, it.host)
		}
		if _, ok := pkgs[it.pkg]; !ok {
			pkgIDs = append(pkgIDs, it.pkg)
		}
		advIDs = append(advIDs, it.advisory)
	}
	if err := s.loadFindingHosts(ctx, hostIDs, hosts); err != nil {
		return nil, err
	}
	if err := s.loadPackages(ctx, pkgIDs, pkgs); err != nil {
		return nil, err
	}
	slices.Sort(advIDs)
	infos, err := s.advisoryInfo(ctx, slices.Compact(advIDs))
	if err != nil {
		return nil, err
	}
	out := []patchbay.Finding{}
	for _, it := range items {
		h, in := hosts[it.host], infos[it.advisory]
		if h.retired {
			continue
		}
		fd := patchbay.Finding{HostID: it.host, Hostname: h.hostname, Advisory: it.advisory, Package: pkgs[it.pkg],
			Severity: in.severity, CVSS: in.cvss, KEV: in.kev, EPSS: in.epss, Fixed: []string{}, Why: []string{}}
		if it.hit != nil {
			fd.Status = patchbay.FindingOpen
			fd.Matched = it.hit.Key.Ecosystem + " " + it.hit.Key.Name + " " + it.hit.Key.Version
			fd.Fixed, fd.Why = it.hit.Fixed, it.hit.Why
			first := max(h.since, in.since)
			if e, ok := last[it.findingID]; ok && e.Status == patchbay.FindingOpen {
				first = micros(e.At)
			}
			fd.FirstSeen = fromMicros(first)
		} else {
			fd.Status = it.ev.Status
			fd.Package.Version = it.ev.Installed
			at := it.ev.At
			fd.FixedAt = &at
		}
		out = append(out, fd)
	}
	slices.SortFunc(out, func(a, b patchbay.Finding) int {
		return cmp.Or(cmp.Compare(a.HostID, b.HostID), cmp.Compare(a.Package.Name, b.Package.Name), cmp.Compare(a.Package.Arch, b.Package.Arch),
			cmp.Compare(a.Package.SourceName, b.Package.SourceName), cmp.Compare(a.Advisory, b.Advisory))
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// openFindings derives the open findings of f's host (its evaluated
// inventory's packages joined with their keys' hits) or of f's advisory
// (its stored pairs), filling hosts and pkgs with what it read.
func (s *Store) openFindings(ctx context.Context, f patchbay.FindingFilter, hosts map[int64]findingHost, pkgs map[int64]patchbay.Package) ([]findingItem, error) {
	var pairs []Pair
	if f.HostID != 0 {
		if err := s.loadFindingHosts(ctx, []int64{f.HostID}, hosts); err != nil {
			return nil, err
		}
		h, ok := hosts[f.HostID]
		if !ok {
			return nil, patchbay.Errorf(patchbay.ENotFound, "no host %d", f.HostID)
		}
		if h.inv == 0 || h.retired {
			return nil, nil
		}
		ids, err := s.InventoryPackageIDs(ctx, h.inv)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			pairs = append(pairs, MakePair(h.id, id))
		}
	} else {
		m, err := s.AdvisoryPairs(ctx, []string{f.Advisory})
		if err != nil {
			return nil, err
		}
		pairs = m[f.Advisory].Pairs
	}
	hostIDs := make([]int64, 0, len(pairs))
	pkgIDs := make([]int64, 0, len(pairs))
	for _, p := range pairs {
		if len(hostIDs) == 0 || hostIDs[len(hostIDs)-1] != p.Host() {
			hostIDs = append(hostIDs, p.Host())
		}
		pkgIDs = append(pkgIDs, p.Package())
	}
	if err := s.loadFindingHosts(ctx, hostIDs, hosts); err != nil {
		return nil, err
	}
	if err := s.loadPackages(ctx, pkgIDs, pkgs); err != nil {
		return nil, err
	}
	// A host's kernels installed but not running are left out, as the
	// matcher leaves them out (an advisory's pairs never hold them).
	var skip map[int]bool
	if f.HostID != 0 {
		inv := make([]patchbay.Package, len(pairs))
		for i, p := range pairs {
			inv[i] = pkgs[p.Package()]
		}
		skip = match.KernelsNotRunning(inv, hosts[f.HostID].kernel)
	}
	pairKeys := make([]match.Key, len(pairs))
	keys := make([]match.Key, 0, len(pairs))
	for i, p := range pairs {
		h := hosts[p.Host()]
		if h.retired || skip[i] {
			continue
		}
		if k, ok := match.KeyOf(h.platform, pkgs[p.Package()]); ok {
			pairKeys[i] = k
			keys = append(keys, k)
		}
	}
	hits, err := s.keyHits(ctx, keys, f.Advisory)
	if err != nil {
		return nil, err
	}
	var items []findingItem
	for i, p := range pairs {
		for j := range hits[pairKeys[i]] {
			h := &hits[pairKeys[i]][j]
			items = append(items, findingItem{findingID: findingID{p.Host(), p.Package(), h.Advisory}, hit: h})
		}
	}
	return items, nil
}
