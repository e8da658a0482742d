package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/match"
)

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
