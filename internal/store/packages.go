package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/patchbay/patchbay"
)

// PackageHost is one answer of WhichHosts: a host and the matching package
// it has installed.
type PackageHost struct {
	HostID   int64            `json:"host_id"`
	Hostname string           `json:"hostname"`
	Package  patchbay.Package `json:"package"`
}

// WhichHosts answers "which hosts have package name installed", fleet-wide,
// matching binary or source package names. Each distinct inventory is
// decoded once, however many hosts share it.
func (s *Store) WhichHosts(ctx context.Context, name string, limit int) ([]PackageHost, error) {
	pkgs := map[int64]patchbay.Package{}
	rows, err := s.query(ctx, `SELECT id, ecosystem, name, version, arch, source_name, source_version FROM packages
		WHERE name = ? OR source_name = ?`, name, name)
	if err != nil {
		return nil, fmt.Errorf("which hosts have %s: %w", name, err)
	}
	for rows.Next() {
		var id int64
		var p patchbay.Package
		if err := rows.Scan(&id, &p.Ecosystem, &p.Name, &p.Version, &p.Arch, &p.SourceName, &p.SourceVersion); err != nil {
			rows.Close()
			return nil, classify(err)
		}
		pkgs[id] = p
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(pkgs) == 0 {
		return []PackageHost{}, classify(err)
	}
	ids := slices.Sorted(func(yield func(int64) bool) {
		for id := range pkgs {
			if !yield(id) {
				return
			}
		}
	})
	// Inventories in use, each once, then the hosts on those that match.
	rows, err = s.query(ctx, `SELECT i.id, i.package_ids FROM inventories i
		WHERE EXISTS (SELECT 1 FROM hosts h WHERE h.inventory_id = i.id AND h.retired_at IS NULL)`)
	if err != nil {
		return nil, fmt.Errorf("which hosts have %s: %w", name, err)
	}
	matches := map[int64][]int64{} // inventory -> matching package ids
	for rows.Next() {
		var invID int64
		var blob []byte
		if err := rows.Scan(&invID, &blob); err != nil {
			rows.Close()
			return nil, classify(err)
		}
		have, err := decodeIDs(blob)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("inventory %d: %w", invID, err)
		}
		for _, id := range ids {
			if _, ok := slices.BinarySearch(have, id); ok {
				matches[invID] = append(matches[invID], id)
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	if len(matches) == 0 {
		return []PackageHost{}, nil
	}
	invIDs := make([]any, 0, len(matches))
	for id := range matches {
		invIDs = append(invIDs, id)
	}
	var out []PackageHost
	for chunk := range slices.Chunk(invIDs, 500) {
		args := append(chunk, limit-len(out))
		rows, err := s.queryUncached(ctx, "SELECT id, hostname, inventory_id FROM hosts WHERE retired_at IS NULL AND inventory_id IN ("+
			strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",")+") ORDER BY id LIMIT ?", args...)
		if err != nil {
			return nil, fmt.Errorf("which hosts have %s: %w", name, err)
		}
		for rows.Next() {
			var hostID, invID int64
			var hostname string
			if err := rows.Scan(&hostID, &hostname, &invID); err != nil {
				rows.Close()
				return nil, classify(err)
			}
			for _, pid := range matches[invID] {
				out = append(out, PackageHost{HostID: hostID, Hostname: hostname, Package: pkgs[pid]})
			}
		}
		rows.Close()
		if len(out) >= limit {
			break
		}
	}
	slices.SortFunc(out, func(a, b PackageHost) int { return int(a.HostID - b.HostID) })
	if len(out) > limit {
		out = out[:limit]
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
