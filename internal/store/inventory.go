package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
)

// internCache maps package and update keys to their ids. Interned rows
// never change, so the cache cannot go stale; ids enter it only after
// their transaction committed. It grows with the fleet's distinct packages
// (a few hundred bytes each).
type internCache struct {
	mu       sync.RWMutex
	packages map[patchbay.Package]int64
	updates  map[[32]byte]int64
}

// lookupPackages fills ids with the cached id of each package and returns
// the indexes of those not cached, under one read lock.
func (c *internCache) lookupPackages(pkgs []patchbay.Package, ids []int64) (missing []int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for i, p := range pkgs {
		if id, ok := c.packages[p]; ok {
			ids[i] = id
		} else {
			missing = append(missing, i)
		}
	}
	return missing
}

func (c *internCache) update(key [32]byte) (int64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	id, ok := c.updates[key]
	return id, ok
}

// add records ids that committed. Package keys are copied: their strings
// are slices of a whole upload, which the cache must not keep alive.
func (c *internCache) add(pkgs map[patchbay.Package]int64, upds map[[32]byte]int64) {
	if len(pkgs) == 0 && len(upds) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.packages == nil {
		c.packages, c.updates = map[patchbay.Package]int64{}, map[[32]byte]int64{}
	}
	for k, id := range pkgs {
		k = patchbay.Package{Ecosystem: strings.Clone(k.Ecosystem), Name: strings.Clone(k.Name), Version: strings.Clone(k.Version),
			Arch: strings.Clone(k.Arch), SourceName: strings.Clone(k.SourceName), SourceVersion: strings.Clone(k.SourceVersion)}
		c.packages[k] = id
	}
	for k, id := range upds {
		c.updates[k] = id
	}
}

// sourceEcosystem says which part of an inventory a failed source held, so
// the last good part can be kept: a failed dpkg read keeps the host's
// previous deb packages rather than reporting none.
var sourceEcosystem = map[string]string{"dpkg": "deb", "rpm": "rpm", "apk": "apk"}

// PutInventory stores a host's full inventory in one transaction, interning
// packages and updates fleet-wide and sharing identical inventories between
// hosts. When some sources failed (inv.Errors), the host's previous packages
// of those sources are kept and the errors are stored with them. The agent's
// hash must match the content.
func (s *Store) PutInventory(ctx context.Context, hs *HostSession, inv protocol.Inventory) error {
	if err := validateInventory(inv); err != nil {
		return err
	}
	if got := protocol.InventoryHash(inv); got != inv.Hash {
		return patchbay.FieldError(patchbay.EUnprocessable, "hash", "does not match the inventory's content (got %s)", got)
	}
	reported := inv.Hash
	now := s.now()
	var newPkgs map[patchbay.Package]int64
	var newUpds map[[32]byte]int64
	err := s.inTx(ctx, func(tx *Tx) error {
		newPkgs, newUpds = map[patchbay.Package]int64{}, map[[32]byte]int64{}
		if len(inv.Errors) > 0 {
			if err := tx.keepFailedSources(ctx, hs.HostID, &inv); err != nil {
				return err
			}
		}
		pkgIDs := make([]int64, len(inv.Packages))
		for _, i := range s.interned.lookupPackages(inv.Packages, pkgIDs) {
			id, err := tx.internPackage(ctx, inv.Packages[i], newPkgs)
			if err != nil {
				return err
			}
			pkgIDs[i] = id
		}
		updIDs := make([]int64, 0, len(inv.Updates))
		for _, u := range inv.Updates {
			id, err := tx.internUpdate(ctx, u, newUpds)
			if err != nil {
				return err
			}
			updIDs = append(updIDs, id)
		}
		errs := "[]"
		if len(inv.Errors) > 0 {
			b, _ := json.Marshal(inv.Errors)
			errs = string(b)
		}
		content := reported
		if len(inv.Errors) > 0 {
			content = protocol.InventoryHash(inv) // the kept parts changed it
		}
		var invID int64
		err := tx.queryRow(ctx, `INSERT INTO inventories (hash, package_ids, update_ids, package_count, update_count, errors, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING RETURNING id`,
			content, encodeIDs(pkgIDs), encodeIDs(updIDs), len(pkgIDs), len(updIDs), errs, micros(now)).Scan(&invID)
		if errors.Is(err, sql.ErrNoRows) {
			err = tx.queryRow(ctx, "SELECT id FROM inventories WHERE hash = ?", content).Scan(&invID)
		}
		if err != nil {
			return fmt.Errorf("store inventory of host %d: %w", hs.HostID, classify(err))
		}
		if err := tx.attachInventory(ctx, hs.HostID, invID, reported, now); err != nil {
			return err
		}
		s.fail("inventory-commit")
		return nil
	})
	if err != nil {
		return err
	}
	s.interned.add(newPkgs, newUpds)
	s.seen.mark(hs.HostID, now)
	return nil
}

// attachInventory points a host at a stored inventory. The one it had is
// left: the matcher still needs an inventory a host's findings reflect, to
// tell what changed, and it drops inventories no host refers to after each
// pass (CollectInventories), so that an upload never removes an inventory
// a pass in progress is reading.
func (t *Tx) attachInventory(ctx context.Context, hostID, invID int64, reported string, now time.Time) error {
	if _, err := t.exec(ctx, "UPDATE hosts SET inventory_id = ?, inventory_at = ?, reported_hash = ?, last_seen_at = ? WHERE id = ?",
		invID, micros(now), reported, micros(now), hostID); err != nil {
		return fmt.Errorf("attach inventory to host %d: %w", hostID, err)
	}
	return nil
}

// CollectInventories drops the inventories no host refers to, as its
// current inventory or as the one its findings reflect, that are older than
// grace; it returns how many.
func (s *Store) CollectInventories(ctx context.Context, grace time.Duration) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *Tx) error {
		r, err := tx.exec(ctx, `DELETE FROM inventories WHERE created_at < ? AND NOT EXISTS
			(SELECT 1 FROM hosts h WHERE h.inventory_id = inventories.id OR h.findings_inventory_id = inventories.id)`, micros(s.now().Add(-grace)))
		if err != nil {
			return fmt.Errorf("collect inventories: %w", err)
		}
		n, _ = r.RowsAffected()
		return nil
	})
	return n, err
}

// keepFailedSources replaces, in inv, the part of each failed source with
// what the host's stored inventory holds for it.
func (t *Tx) keepFailedSources(ctx context.Context, hostID int64, inv *protocol.Inventory) error {
	failed := map[string]bool{}
	keepUpdates := false
	for _, e := range inv.Errors {
		if eco, ok := sourceEcosystem[e.Source]; ok {
			failed[eco] = true
		} else if strings.HasSuffix(e.Source, "-updates") {
			keepUpdates = true
		}
	}
	if len(failed) == 0 && !keepUpdates {
		return nil
	}
	prevPkgs, prevUpds, err := t.s.hostInventory(ctx, t, hostID)
	if err != nil {
		return err
	}
	inv.Packages = slices.DeleteFunc(inv.Packages, func(p protocol.Package) bool { return failed[p.Ecosystem] })
	for _, p := range prevPkgs {
		if failed[p.Ecosystem] {
			inv.Packages = append(inv.Packages, p)
		}
	}
	if keepUpdates {
		inv.Updates = prevUpds
	}
	return nil
}

// internPackage returns the id of a package not in the cache, inserting it
// when it is new to the store.
func (t *Tx) internPackage(ctx context.Context, p patchbay.Package, fresh map[patchbay.Package]int64) (int64, error) {
	if id, ok := fresh[p]; ok {
		return id, nil
	}
	var id int64
	err := t.queryRow(ctx, `INSERT INTO packages (ecosystem, name, version, arch, source_name, source_version)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (ecosystem, name, version, arch, source_name, source_version) DO NOTHING RETURNING id`,
		p.Ecosystem, p.Name, p.Version, p.Arch, p.SourceName, p.SourceVersion).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		err = t.queryRow(ctx, `SELECT id FROM packages WHERE ecosystem = ? AND name = ? AND version = ? AND arch = ?
			AND source_name = ? AND source_version = ?`, p.Ecosystem, p.Name, p.Version, p.Arch, p.SourceName, p.SourceVersion).Scan(&id)
	}
	if err != nil {
		return 0, fmt.Errorf("intern package %s %s: %w", p.Name, p.Version, classify(err))
	}
	fresh[p] = id
	return id, nil
}

func updateKey(u protocol.Update) [32]byte {
	sec := "0"
	if u.Security {
		sec = "1"
	}
	return sha256.Sum256([]byte(strings.Join([]string{u.Ecosystem, u.Name, u.Arch, u.FromVersion, u.ToVersion, u.SourceName,
		u.SourceVersion, u.Origin, u.Archive, sec, u.AdvisoryType, u.Severity, strings.Join(u.AdvisoryIDs, ",")}, "\x00")))
}

func (t *Tx) internUpdate(ctx context.Context, u protocol.Update, fresh map[[32]byte]int64) (int64, error) {
	key := updateKey(u)
	if id, ok := t.s.interned.update(key); ok {
		return id, nil
	}
	if id, ok := fresh[key]; ok {
		return id, nil
	}
	var id int64
	err := t.queryRow(ctx, `INSERT INTO updates (key, ecosystem, name, arch, from_version, to_version, source_name, source_version,
		origin, archive, security, advisory_type, severity, advisory_ids) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (key) DO NOTHING RETURNING id`,
		key[:], u.Ecosystem, u.Name, u.Arch, u.FromVersion, u.ToVersion, u.SourceName, u.SourceVersion, u.Origin, u.Archive,
		boolInt(u.Security), u.AdvisoryType, u.Severity, strings.Join(u.AdvisoryIDs, ",")).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		err = t.queryRow(ctx, "SELECT id FROM updates WHERE key = ?", key[:]).Scan(&id)
	}
	if err != nil {
		return 0, fmt.Errorf("intern update %s %s: %w", u.Name, u.ToVersion, classify(err))
	}
	fresh[key] = id
	return id, nil
}

// encodeIDs writes sorted ids as varint deltas: a 2,000-package inventory
// takes about 4 KB.
func encodeIDs(ids []int64) []byte {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	buf := make([]byte, 0, len(ids)*2+8)
	var prev int64
	for _, id := range ids {
		buf = binary.AppendUvarint(buf, uint64(id-prev))
		prev = id
	}
	return buf
}

func decodeIDs(b []byte) ([]int64, error) {
	ids := make([]int64, 0, len(b)/2)
	var prev int64
	for len(b) > 0 {
		d, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("corrupt id list")
		}
		prev += int64(d)
		ids = append(ids, prev)
		b = b[n:]
	}
	return ids, nil
}

// querier is what reads need: the store's pool or a transaction.
type querier interface {
	queryRow(ctx context.Context, q string, args ...any) rowScanner
	queryRows(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

type rowScanner interface{ Scan(...any) error }

func (s *Store) readQuerier() querier { return storeQuerier{s} }

type storeQuerier struct{ s *Store }

func (q storeQuerier) queryRow(ctx context.Context, sql string, args ...any) rowScanner {
	return q.s.queryRow(ctx, sql, args...)
}
func (q storeQuerier) queryRows(ctx context.Context, sql string, args ...any) (*sql.Rows, error) {
	return q.s.queryUncached(ctx, sql, args...)
}

func (t *Tx) queryRows(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	rows, err := t.tx.QueryContext(t.ctx(ctx), t.s.rebind(q), args...)
	return rows, classify(err)
}

type txQuerier struct{ t *Tx }

func (q txQuerier) queryRow(ctx context.Context, sql string, args ...any) rowScanner {
	return q.t.queryRow(ctx, sql, args...)
}
func (q txQuerier) queryRows(ctx context.Context, sql string, args ...any) (*sql.Rows, error) {
	return q.t.queryRows(ctx, sql, args...)
}

// hostInventory returns the packages and updates of a host's stored
// inventory (none before its first upload), through tx when it is not nil.
// A host that does not exist is ENotFound.
func (s *Store) hostInventory(ctx context.Context, tx *Tx, hostID int64) ([]patchbay.Package, []protocol.Update, error) {
	var q querier = s.readQuerier()
	if tx != nil {
		q = txQuerier{tx}
	}
	var pkgBlob, updBlob []byte
	err := q.queryRow(ctx, `SELECT i.package_ids, i.update_ids FROM hosts h LEFT JOIN inventories i ON i.id = h.inventory_id WHERE h.id = ?`, hostID).
		Scan(&pkgBlob, &updBlob)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, patchbay.Errorf(patchbay.ENotFound, "no host %d", hostID)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load inventory of host %d: %w", hostID, classify(err))
	}
	pkgIDs, err := decodeIDs(pkgBlob)
	if err != nil {
		return nil, nil, fmt.Errorf("load inventory of host %d: %w", hostID, err)
	}
	updIDs, err := decodeIDs(updBlob)
	if err != nil {
		return nil, nil, fmt.Errorf("load inventory of host %d: %w", hostID, err)
	}
	var pkgs []patchbay.Package
	err = inChunks(ctx, q, "SELECT ecosystem, name, version, arch, source_name, source_version FROM packages WHERE id IN (%s) ORDER BY ecosystem, name, arch, version",
		pkgIDs, func(rows *sql.Rows) error {
			var p patchbay.Package
			if err := rows.Scan(&p.Ecosystem, &p.Name, &p.Version, &p.Arch, &p.SourceName, &p.SourceVersion); err != nil {
				return err
			}
			pkgs = append(pkgs, p)
			return nil
		})
	if err != nil {
		return nil, nil, fmt.Errorf("load packages of host %d: %w", hostID, err)
	}
	var upds []protocol.Update
	err = inChunks(ctx, q, `SELECT ecosystem, name, arch, from_version, to_version, source_name, source_version, origin, archive,
		security, advisory_type, severity, advisory_ids FROM updates WHERE id IN (%s) ORDER BY ecosystem, name, arch, to_version`,
		updIDs, func(rows *sql.Rows) error {
			var u protocol.Update
			var sec int
			var ids string
			if err := rows.Scan(&u.Ecosystem, &u.Name, &u.Arch, &u.FromVersion, &u.ToVersion, &u.SourceName, &u.SourceVersion,
				&u.Origin, &u.Archive, &sec, &u.AdvisoryType, &u.Severity, &ids); err != nil {
				return err
			}
			u.Security = sec != 0
			if ids != "" {
				u.AdvisoryIDs = strings.Split(ids, ",")
			}
			upds = append(upds, u)
			return nil
		})
	if err != nil {
		return nil, nil, fmt.Errorf("load updates of host %d: %w", hostID, err)
	}
	return pkgs, upds, nil
}

// HostPackages returns the installed packages and available updates of a
// host's stored inventory; ENotFound for a host that does not exist.
func (s *Store) HostPackages(ctx context.Context, hostID int64) ([]patchbay.Package, []protocol.Update, error) {
	return s.hostInventory(ctx, nil, hostID)
}

// validateInventory bounds what an agent may send.
func validateInventory(inv protocol.Inventory) error {
	if len(inv.Packages) > protocol.MaxPackages {
		return patchbay.FieldError(patchbay.ETooLarge, "packages", "more than %d packages", protocol.MaxPackages)
	}
	if len(inv.Updates) > protocol.MaxUpdates {
		return patchbay.FieldError(patchbay.ETooLarge, "updates", "more than %d updates", protocol.MaxUpdates)
	}
	if len(inv.Errors) > protocol.MaxSourceErrors {
		return patchbay.FieldError(patchbay.EUnprocessable, "errors", "more than %d source errors", protocol.MaxSourceErrors)
	}
	for i, p := range inv.Packages {
		if err := patchbay.ValidatePackage(fmt.Sprintf("packages[%d]", i), p); err != nil {
			return err
		}
	}
	for i, u := range inv.Updates {
		if err := validateUpdate(fmt.Sprintf("updates[%d]", i), u); err != nil {
			return err
		}
	}
	for i, e := range inv.Errors {
		if e.Source == "" || len(e.Source) > 32 || len(e.Message) > 4096 {
			return patchbay.FieldError(patchbay.EUnprocessable, fmt.Sprintf("errors[%d]", i), "a source error needs a source (≤ 32 bytes) and a message (≤ 4 KiB)")
		}
	}
	return nil
}

func validateUpdate(field string, u protocol.Update) error {
	p := patchbay.Package{Ecosystem: u.Ecosystem, Name: u.Name, Version: u.ToVersion, Arch: u.Arch, SourceName: u.SourceName, SourceVersion: u.SourceVersion}
	if err := patchbay.ValidatePackage(field, p); err != nil {
		return err
	}
	for name, v := range map[string]string{"from_version": u.FromVersion, "origin": u.Origin, "archive": u.Archive,
		"advisory_type": u.AdvisoryType, "severity": u.Severity} {
		if err := patchbay.ValidateText(field+"."+name, v, 256); err != nil {
			return err
		}
	}
	if len(u.AdvisoryIDs) > 64 {
		return patchbay.FieldError(patchbay.EUnprocessable, field+".advisory_ids", "more than 64 ids")
	}
	for _, id := range u.AdvisoryIDs {
		if id == "" || strings.Contains(id, ",") {
			return patchbay.FieldError(patchbay.EUnprocessable, field+".advisory_ids", "ids must be non-empty and hold no comma")
		}
		if err := patchbay.ValidateText(field+".advisory_ids", id, 128); err != nil {
			return err
		}
	}
	return nil
}
