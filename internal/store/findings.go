package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
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

// Pair packs a host id and a package id, the unit of advisory_hosts.
type Pair uint64

// MakePair packs host and pkg (both below 2³²).
func MakePair(host, pkg int64) Pair { return Pair(uint64(host)<<32 | uint64(pkg)) }

// Host returns the pair's host id.
func (p Pair) Host() int64 { return int64(p >> 32) }

// Package returns the pair's package id.
func (p Pair) Package() int64 { return int64(p & 0xffffffff) }

func encodePairs(ps []Pair) []byte {
	ids := make([]int64, len(ps))
	for i, p := range ps {
		ids[i] = int64(p)
	}
	return encodeIDs(ids)
}

func decodePairs(b []byte) ([]Pair, error) {
	ids, err := decodeIDs(b)
	if err != nil {
		return nil, err
	}
	out := make([]Pair, len(ids))
	for i, id := range ids {
		out[i] = Pair(id)
	}
	return out, nil
}

// MatchHost is what the matcher needs of a host: its inventory, the facts
// that pick advisories (OS and release, running kernel), and what its
// findings were last computed from.
type MatchHost struct {
	ID                  int64
	InventoryID         int64 // 0 for a retired host
	OSName, OSRelease   string
	Kernel              string
	Retired             bool
	FindingsInventoryID int64  // 0 before the first evaluation
	FindingsKey         string // "PLATFORM|KERNEL" the findings reflect
}

// MatchHosts returns the hosts in service that have an inventory, and the
// retired hosts that still have findings.
func (s *Store) MatchHosts(ctx context.Context) ([]MatchHost, error) {
	rows, err := s.query(ctx, `SELECT id, COALESCE(inventory_id, 0), os_name, os_release, kernel, retired_at IS NOT NULL,
		COALESCE(findings_inventory_id, 0), findings_key
		FROM hosts WHERE (retired_at IS NULL AND inventory_id IS NOT NULL) OR findings_inventory_id IS NOT NULL ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("hosts to match: %w", err)
	}
	defer rows.Close()
	var out []MatchHost
	for rows.Next() {
		var h MatchHost
		if err := rows.Scan(&h.ID, &h.InventoryID, &h.OSName, &h.OSRelease, &h.Kernel, &h.Retired, &h.FindingsInventoryID, &h.FindingsKey); err != nil {
			return nil, classify(err)
		}
		if h.Retired {
			h.InventoryID = 0
		}
		out = append(out, h)
	}
	return out, classify(rows.Err())
}

// InventoryPackageIDs returns the sorted package ids of a stored inventory.
// An inventory's content never changes, so callers may cache the answer.
func (s *Store) InventoryPackageIDs(ctx context.Context, invID int64) ([]int64, error) {
	var blob []byte
	if err := s.queryRow(ctx, "SELECT package_ids FROM inventories WHERE id = ?", invID).Scan(&blob); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, patchbay.Errorf(patchbay.ENotFound, "no inventory %d", invID)
		}
		return nil, fmt.Errorf("inventory %d: %w", invID, classify(err))
	}
	ids, err := decodeIDs(blob)
	if err != nil {
		return nil, fmt.Errorf("inventory %d: %w", invID, err)
	}
	return ids, nil
}

// InventoriesPackageIDs returns the sorted package ids of stored
// inventories, 500 per query; an inventory that does not exist is left out.
func (s *Store) InventoriesPackageIDs(ctx context.Context, invIDs []int64) (map[int64][]int64, error) {
	out := make(map[int64][]int64, len(invIDs))
	err := inChunks(ctx, s.readQuerier(), "SELECT id, package_ids FROM inventories WHERE id IN (%s)", invIDs, func(rows *sql.Rows) error {
		var id int64
		var blob []byte
		if err := rows.Scan(&id, &blob); err != nil {
			return err
		}
		ids, err := decodeIDs(blob)
		if err != nil {
			return fmt.Errorf("inventory %d: %w", id, err)
		}
		out[id] = ids
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load inventories: %w", err)
	}
	return out, nil
}

// PackagesByID returns the interned packages with the given ids. Interned
// packages never change, so callers may cache the answer.
func (s *Store) PackagesByID(ctx context.Context, ids []int64) (map[int64]patchbay.Package, error) {
	out := make(map[int64]patchbay.Package, len(ids))
	return out, s.loadPackages(ctx, ids, out)
}

// loadPackages reads the interned packages with the given ids into into.
func (s *Store) loadPackages(ctx context.Context, ids []int64, into map[int64]patchbay.Package) error {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	err := inChunks(ctx, s.readQuerier(), "SELECT id, ecosystem, name, version, arch, source_name, source_version FROM packages WHERE id IN (%s)",
		ids, func(rows *sql.Rows) error {
			var id int64
			var p patchbay.Package
			if err := rows.Scan(&id, &p.Ecosystem, &p.Name, &p.Version, &p.Arch, &p.SourceName, &p.SourceVersion); err != nil {
				return err
			}
			into[id] = p
			return nil
		})
	if err != nil {
		return fmt.Errorf("load packages: %w", err)
	}
	return nil
}

// MatcherSeq returns the advisory seq the matcher has finished.
func (s *Store) MatcherSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.queryRow(ctx, "SELECT advisory_seq FROM matcher_state WHERE id = 1").Scan(&seq); err != nil {
		return 0, fmt.Errorf("matcher state: %w", classify(err))
	}
	return seq, nil
}

// AdvisoryPairs returns the stored pairs of advisories; an advisory never
// evaluated has no entry.
func (s *Store) AdvisoryPairs(ctx context.Context, ids []string) (map[string]AdvisoryHosts, error) {
	out := map[string]AdvisoryHosts{}
	err := inChunks(ctx, s.readQuerier(), "SELECT advisory_id, pairs, fixable FROM advisory_hosts WHERE advisory_id IN (%s)", ids,
		func(rows *sql.Rows) error {
			var a AdvisoryHosts
			var blob []byte
			var fixable int
			if err := rows.Scan(&a.Advisory, &blob, &fixable); err != nil {
				return err
			}
			var err error
			if a.Pairs, err = decodePairs(blob); err != nil {
				return fmt.Errorf("advisory %s hosts: %w", a.Advisory, err)
			}
			a.Fixable = fixable != 0
			out[a.Advisory] = a
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("read advisory hosts: %w", err)
	}
	return out, nil
}

// WithdrawnAmong returns which of ids are withdrawn advisories.
func (s *Store) WithdrawnAmong(ctx context.Context, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	err := inChunks(ctx, s.readQuerier(), "SELECT id FROM advisories WHERE withdrawn IS NOT NULL AND id IN (%s)", ids, func(rows *sql.Rows) error {
		var id string
		err := rows.Scan(&id)
		out[id] = true
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read advisories: %w", err)
	}
	return out, nil
}

// KeyHit is one stored evaluation: an advisory affecting a key.
type KeyHit struct {
	Key      match.Key
	Advisory string
	Fixed    []string
	Why      []string
}

// HostEvaluated records what a host's findings now reflect.
type HostEvaluated struct {
	HostID         int64
	InventoryID    int64  // 0: the host has no findings any more (retired)
	OldInventoryID int64  // what its findings reflected until now
	Key            string // "PLATFORM|KERNEL"
	Baseline       bool   // its first evaluation: its findings are first seen now
}

// AdvisoryHosts is an advisory's new list of (host, package) pairs.
type AdvisoryHosts struct {
	Advisory string
	Pairs    []Pair // sorted, unique
	Fixable  bool
}

// FindingEvent is a change of one finding, for the history.
type FindingEvent struct {
	HostID    int64                  `json:"host_id"`
	Advisory  string                 `json:"advisory"`
	PackageID int64                  `json:"-"`
	At        time.Time              `json:"at"`
	Status    patchbay.FindingStatus `json:"status"`
	Installed string                 `json:"installed"`
}

// MatchUpdate is one matcher pass, applied in one transaction: a server
// killed during it leaves the findings as they were before.
type MatchUpdate struct {
	Hosts      []HostEvaluated
	Advisories []AdvisoryHosts
	Events     []FindingEvent
	// Keys are the keys evaluated in this pass: their stored hits are
	// replaced by Hits.
	Keys []match.Key
	Hits []KeyHit
	// Changed are advisories changed since the last pass: their stale hits
	// of keys not evaluated again are dropped.
	Changed []string
	Seq     int64 // when positive, the advisory seq now finished
	// Lease, when set, names the lease the pass ran under ("matcher") and
	// Holder its holder: the pass commits only if the holder still has it,
	// so a server that lost the lease mid-pass (a pass longer than the
	// lease, a stalled process) cannot overwrite another's work.
	Lease, Holder string
}

// ErrLeaseLost is returned by ApplyMatch when the pass's lease went to
// another server.
var ErrLeaseLost = errors.New("the lease went to another server during the pass")

// ApplyMatch stores a matcher pass.
func (s *Store) ApplyMatch(ctx context.Context, u MatchUpdate) error {
	now := micros(s.now())
	err := s.inTx(ctx, func(tx *Tx) error {
		if u.Lease != "" {
			q := "SELECT holder, expires_at FROM leases WHERE name = ?"
			if s.loc.Engine == Postgres {
				q += " FOR UPDATE"
			}
			var holder string
			var exp int64
			if err := tx.queryRow(ctx, q, u.Lease).Scan(&holder, &exp); err != nil || holder != u.Holder || exp <= now {
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("check lease %s: %w", u.Lease, classify(err))
				}
				return ErrLeaseLost
			}
		}
		for chunk := range slices.Chunk(u.Changed, 500) {
			if _, err := tx.tx.ExecContext(ctx, tx.s.rebind("DELETE FROM key_hits WHERE advisory_id IN ("+placeholders(len(chunk))+")"), anys(chunk)...); err != nil {
				return fmt.Errorf("drop stale evaluations: %w", classify(err))
			}
		}
		for chunk := range slices.Chunk(u.Keys, 300) {
			args := make([]any, 0, 3*len(chunk))
			for _, k := range chunk {
				args = append(args, k.Ecosystem, k.Name, k.Version)
			}
			q := "DELETE FROM key_hits WHERE (ecosystem, name, version) IN (VALUES " +
				strings.TrimSuffix(strings.Repeat("(?, ?, ?),", len(chunk)), ",") + ")"
			if _, err := tx.tx.ExecContext(ctx, tx.s.rebind(q), args...); err != nil {
				return fmt.Errorf("replace evaluations: %w", classify(err))
			}
		}
		var hitRows [][]any
		for _, h := range u.Hits {
			hitRows = append(hitRows, []any{h.Key.Ecosystem, h.Key.Name, h.Key.Version, h.Advisory,
				truncate(strings.Join(h.Fixed, " "), 1000), truncate(strings.Join(h.Why, "\n"), 4000)})
		}
		if err := tx.insertRows(ctx, "key_hits", []string{"ecosystem", "name", "version", "advisory_id", "fixed", "why"}, hitRows,
			"ON CONFLICT DO NOTHING"); err != nil {
			return err
		}
		var advRows [][]any
		for _, a := range u.Advisories {
			hosts := 0
			for i, p := range a.Pairs {
				if i == 0 || p.Host() != a.Pairs[i-1].Host() {
					hosts++
				}
			}
			advRows = append(advRows, []any{a.Advisory, encodePairs(a.Pairs), hosts, boolInt(a.Fixable), now})
		}
		if err := tx.insertRows(ctx, "advisory_hosts", []string{"advisory_id", "pairs", "hosts", "fixable", "since"}, advRows,
			"ON CONFLICT (advisory_id) DO UPDATE SET pairs = excluded.pairs, hosts = excluded.hosts, fixable = excluded.fixable"); err != nil {
			return err
		}
		var evRows [][]any
		for _, e := range u.Events {
			evRows = append(evRows, []any{e.HostID, e.Advisory, e.PackageID, now, string(e.Status), e.Installed})
		}
		if err := tx.insertRows(ctx, "finding_events", []string{"host_id", "advisory_id", "package_id", "at", "status", "installed"}, evRows, ""); err != nil {
			return err
		}
		for chunk := range slices.Chunk(u.Hosts, 500) {
			args := []any{now}
			for _, h := range chunk {
				var inv any
				if h.InventoryID != 0 {
					inv = h.InventoryID
				}
				args = append(args, h.HostID, inv, h.Key, boolInt(h.Baseline))
			}
			// One statement per 500 hosts; the casts type the VALUES
			// columns for PostgreSQL.
			q := `UPDATE hosts SET findings_inventory_id = v.column2, findings_key = v.column3,
				findings_since = CASE WHEN v.column4 = 1 THEN ? ELSE hosts.findings_since END
				FROM (VALUES ` + strings.TrimSuffix(strings.Repeat("(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS INTEGER)),", len(chunk)), ",") +
				`) AS v WHERE hosts.id = v.column1`
			if _, err := tx.tx.ExecContext(ctx, tx.s.rebind(q), args...); err != nil {
				return fmt.Errorf("mark hosts evaluated: %w", classify(err))
			}
		}
		if u.Seq > 0 {
			if _, err := tx.exec(ctx, "UPDATE matcher_state SET advisory_seq = ? WHERE id = 1 AND advisory_seq < ?", u.Seq, u.Seq); err != nil {
				return fmt.Errorf("matcher progress: %w", err)
			}
		}
		s.fail("findings-commit")
		return nil
	})
	if err != nil {
		return fmt.Errorf("apply findings: %w", err)
	}
	return nil
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
	severity string
	kev      bool
	epss     *float64
	since    int64
}

func (s *Store) advisoryInfo(ctx context.Context, ids []string) (map[string]advisoryInfo, error) {
	out := map[string]advisoryInfo{}
	err := inChunks(ctx, s.readQuerier(), `SELECT a.id, a.severity, a.kev, a.epss, COALESCE(ah.since, 0) FROM advisories a
		LEFT JOIN advisory_hosts ah ON ah.advisory_id = a.id WHERE a.id IN (%s)`, ids, func(rows *sql.Rows) error {
		var id string
		var in advisoryInfo
		var kev int
		var epss sql.NullFloat64
		if err := rows.Scan(&id, &in.severity, &kev, &epss, &in.since); err != nil {
			return err
		}
		in.kev = kev != 0
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
			Severity: in.severity, KEV: in.kev, EPSS: in.epss, Fixed: []string{}, Why: []string{}}
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

// TakeLease takes or renews the named lease for holder until now+ttl; it
// reports whether holder has it. A lease held by another and not expired
// is refused. Several servers sharing a database use it so that one at a
// time runs the matcher (and, later, the scheduler).
func (s *Store) TakeLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := s.now()
	var got bool
	err := s.inTx(ctx, func(tx *Tx) error {
		// Each statement decides by its own WHERE, so two servers racing
		// for the lease cannot both win: the loser changes no row.
		r, err := tx.exec(ctx, "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
			name, holder, micros(now.Add(ttl)))
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 1 {
			got = true
			return nil
		}
		r, err = tx.exec(ctx, "UPDATE leases SET holder = ?, expires_at = ? WHERE name = ? AND (holder = ? OR expires_at <= ?)",
			holder, micros(now.Add(ttl)), name, holder, micros(now))
		if err != nil {
			return err
		}
		n, _ := r.RowsAffected()
		got = n == 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", name, err)
	}
	return got, nil
}
