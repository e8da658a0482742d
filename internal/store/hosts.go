package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/patchbay/patchbay"
)

const hostColumns = `h.id, h.hostname, h.machine_id, h.os_family, h.os_name, h.os_release, h.os_codename,
	h.kernel, h.arch, h.criticality, h.owner, h.agent_version, h.reboot_required, h.created_at, h.last_seen_at, h.retired_at,
	h.boot_time, h.time_zone, h.possible_duplicate_of, h.merged_into`

func scanHost(sc interface{ Scan(...any) error }, extra ...any) (patchbay.Host, error) {
	var h patchbay.Host
	var reboot int
	var created int64
	var seen, retired, boot, dup, merged sql.NullInt64
	dest := append([]any{&h.ID, &h.Hostname, &h.MachineID, &h.OSFamily, &h.OSName, &h.OSRelease, &h.OSCodename,
		&h.Kernel, &h.Arch, &h.Criticality, &h.Owner, &h.AgentVersion, &reboot, &created, &seen, &retired,
		&boot, &h.TimeZone, &dup, &merged}, extra...)
	err := sc.Scan(dest...)
	h.RebootRequired = reboot != 0
	h.CreatedAt = fromMicros(created)
	h.LastSeenAt, h.RetiredAt, h.BootTime = optTime(seen), optTime(retired), optTime(boot)
	if dup.Valid {
		h.PossibleDuplicateOf = &dup.Int64
	}
	if merged.Valid {
		h.MergedInto = &merged.Int64
	}
	h.Labels, h.Groups = []string{}, []string{}
	return h, err
}

// CreateHost records a host with its labels and groups. Agents enroll
// through Enroll; this is for imports and tests.
func (s *Store) CreateHost(ctx context.Context, actor string, h patchbay.Host) (*patchbay.Host, error) {
	if h.Criticality == "" {
		h.Criticality = patchbay.CriticalityMedium
	}
	h.CreatedAt = fromMicros(micros(s.now()))
	err := s.inTx(ctx, func(tx *Tx) error {
		err := tx.queryRow(ctx, `INSERT INTO hosts (hostname, machine_id, os_family, os_name, os_release, os_codename,
			kernel, arch, criticality, owner, agent_version, reboot_required, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			h.Hostname, h.MachineID, h.OSFamily, h.OSName, h.OSRelease, h.OSCodename, h.Kernel, h.Arch,
			h.Criticality, h.Owner, h.AgentVersion, boolInt(h.RebootRequired), micros(h.CreatedAt)).Scan(&h.ID)
		if err != nil {
			return fmt.Errorf("create host %s: %w", h.Hostname, classify(err))
		}
		if err := tx.setTags(ctx, h.ID, h.Labels, h.Groups); err != nil {
			return err
		}
		return tx.audit(ctx, Change{Actor: actor, Action: "host.create", ObjectType: "host", ObjectID: idString(h.ID),
			After: map[string]any{"hostname": h.Hostname, "labels": h.Labels, "groups": h.Groups}})
	})
	if err != nil {
		return nil, err
	}
	return &h, nil
}

// setTags replaces a host's labels and groups.
func (t *Tx) setTags(ctx context.Context, hostID int64, labels, groups []string) error {
	if err := t.setTagKind(ctx, hostID, "label", labels); err != nil {
		return err
	}
	return t.setTagKind(ctx, hostID, "group", groups)
}

// setTagKind replaces a host's tags of one kind ("label" or "group").
func (t *Tx) setTagKind(ctx context.Context, hostID int64, kind string, values []string) error {
	if _, err := t.exec(ctx, "DELETE FROM host_tags WHERE host_id = ? AND kind = ?", hostID, kind); err != nil {
		return fmt.Errorf("tag host %d: %w", hostID, err)
	}
	for _, v := range slices.Compact(slices.Sorted(slices.Values(values))) {
		if _, err := t.exec(ctx, "INSERT INTO host_tags (host_id, kind, value) VALUES (?, ?, ?)", hostID, kind, v); err != nil {
			return fmt.Errorf("tag host %d with %s %q: %w", hostID, kind, v, err)
		}
	}
	return nil
}

// Hosts lists hosts matching f in id order, at most f.Limit of them, after
// f.Cursor.
func (s *Store) Hosts(ctx context.Context, f patchbay.HostFilter) ([]patchbay.Host, error) {
	where := []string{"h.id > ?"}
	args := []any{f.Cursor}
	add := func(cond string, a ...any) { where, args = append(where, cond), append(args, a...) }
	if f.Retired {
		add("h.retired_at IS NOT NULL")
	} else {
		add("h.retired_at IS NULL")
	}
	if f.Owner != "" {
		add("h.owner = ?", f.Owner)
	}
	if f.OS != "" {
		add("(h.os_name = ? OR h.os_release = ? OR h.os_name || ' ' || h.os_release = ? OR h.os_family = ?)", f.OS, f.OS, f.OS, f.OS)
	}
	if !f.SeenBefore.IsZero() {
		add("(h.last_seen_at IS NULL OR h.last_seen_at < ?)", micros(f.SeenBefore))
	}
	if !f.SeenSince.IsZero() {
		add("h.last_seen_at >= ?", micros(f.SeenSince))
	}
	if f.RebootRequired != nil {
		add("h.reboot_required = ?", boolInt(*f.RebootRequired))
	}
	if f.Duplicates {
		add("h.possible_duplicate_of IS NOT NULL")
	}
	if f.Label != "" {
		add("EXISTS (SELECT 1 FROM host_tags t WHERE t.host_id = h.id AND t.kind = 'label' AND t.value = ?)", f.Label)
	}
	if f.Group != "" {
		add("EXISTS (SELECT 1 FROM host_tags t WHERE t.host_id = h.id AND t.kind = 'group' AND t.value = ?)", f.Group)
	}
	args = append(args, f.Limit)
	rows, err := s.query(ctx, "SELECT "+hostColumns+" FROM hosts h WHERE "+strings.Join(where, " AND ")+" ORDER BY h.id LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	defer rows.Close()
	var out []patchbay.Host
	byID := map[int64]int{}
	for rows.Next() {
		h, err := scanHost(rows)
		if err != nil {
			return nil, fmt.Errorf("list hosts: %w", classify(err))
		}
		byID[h.ID] = len(out)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list hosts: %w", classify(err))
	}
	if len(out) == 0 {
		return out, nil
	}
	if err := s.loadTags(ctx, out, byID); err != nil {
		return nil, err
	}
	return out, nil
}

// loadTags fills the labels and groups of hosts: one query for a page
// (of at most 500 hosts; more take one query per 500).
func (s *Store) loadTags(ctx context.Context, hosts []patchbay.Host, byID map[int64]int) error {
	ids := make([]int64, len(hosts))
	for i, h := range hosts {
		ids[i] = h.ID
	}
	err := inChunks(ctx, s.readQuerier(), "SELECT host_id, kind, value FROM host_tags WHERE host_id IN (%s) ORDER BY host_id, kind, value",
		ids, func(rows *sql.Rows) error {
			var id int64
			var kind, value string
			if err := rows.Scan(&id, &kind, &value); err != nil {
				return err
			}
			if i, ok := byID[id]; ok {
				if kind == "label" {
					hosts[i].Labels = append(hosts[i].Labels, value)
				} else {
					hosts[i].Groups = append(hosts[i].Groups, value)
				}
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("list host tags: %w", classify(err))
	}
	return nil
}

// Host returns one host with its facts and inventory summary.
func (s *Store) Host(ctx context.Context, id int64) (*patchbay.Host, error) {
	var facts string
	var invHash sql.NullString
	var invAt sql.NullInt64
	var pkgs, upds sql.NullInt64
	var invErrs sql.NullString
	h, err := scanHost(s.queryRow(ctx, "SELECT "+hostColumns+`, h.facts, i.hash, h.inventory_at, i.package_count, i.update_count, i.errors
		FROM hosts h LEFT JOIN inventories i ON i.id = h.inventory_id WHERE h.id = ?`, id),
		&facts, &invHash, &invAt, &pkgs, &upds, &invErrs)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, patchbay.Errorf(patchbay.ENotFound, "no host %d", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load host %d: %w", id, classify(err))
	}
	h.Facts = json.RawMessage(facts)
	if invHash.Valid {
		h.Inventory = &patchbay.InventorySummary{Hash: invHash.String, ReceivedAt: fromMicros(invAt.Int64),
			Packages: int(pkgs.Int64), Updates: int(upds.Int64)}
		if invErrs.String != "[]" {
			h.Inventory.Errors = json.RawMessage(invErrs.String)
		}
	}
	hs := []patchbay.Host{h}
	if err := s.loadTags(ctx, hs, map[int64]int{h.ID: 0}); err != nil {
		return nil, err
	}
	return &hs[0], nil
}

// HostUpdate is a change to a host's metadata; nil fields stay as they are.
type HostUpdate struct {
	Labels      *[]string
	Groups      *[]string
	Criticality *patchbay.Criticality
	Owner       *string
}

// UpdateHost changes a host's labels, groups, criticality or owner.
func (s *Store) UpdateHost(ctx context.Context, actor string, id int64, up HostUpdate) (*patchbay.Host, error) {
	if up.Labels != nil {
		if err := patchbay.ValidateTags("labels", *up.Labels); err != nil {
			return nil, err
		}
	}
	if up.Groups != nil {
		if err := patchbay.ValidateTags("groups", *up.Groups); err != nil {
			return nil, err
		}
	}
	if up.Criticality != nil {
		if _, err := patchbay.ParseCriticality("criticality", string(*up.Criticality)); err != nil {
			return nil, err
		}
	}
	if up.Owner != nil {
		if err := patchbay.ValidateText("owner", *up.Owner, 128); err != nil {
			return nil, err
		}
	}
	// Read and write in one transaction, and write only what the request
	// names: two edits of different fields at once both stand.
	err := s.inTx(ctx, func(tx *Tx) error {
		before, err := tx.hostMeta(ctx, id)
		if err != nil {
			return err
		}
		after := before
		if up.Labels != nil {
			after.Labels = slices.Compact(slices.Sorted(slices.Values(*up.Labels)))
			if err := tx.setTagKind(ctx, id, "label", after.Labels); err != nil {
				return err
			}
		}
		if up.Groups != nil {
			after.Groups = slices.Compact(slices.Sorted(slices.Values(*up.Groups)))
			if err := tx.setTagKind(ctx, id, "group", after.Groups); err != nil {
				return err
			}
		}
		if up.Criticality != nil {
			after.Criticality = *up.Criticality
			if _, err := tx.exec(ctx, "UPDATE hosts SET criticality = ? WHERE id = ?", after.Criticality, id); err != nil {
				return fmt.Errorf("update host %d: %w", id, err)
			}
		}
		if up.Owner != nil {
			after.Owner = *up.Owner
			if _, err := tx.exec(ctx, "UPDATE hosts SET owner = ? WHERE id = ?", after.Owner, id); err != nil {
				return fmt.Errorf("update host %d: %w", id, err)
			}
		}
		return tx.audit(ctx, Change{Actor: actor, Action: "host.update", ObjectType: "host", ObjectID: idString(id),
			Before: hostMeta(&before), After: hostMeta(&after)})
	})
	if err != nil {
		return nil, err
	}
	return s.Host(ctx, id)
}

// hostMeta reads, within t, what UpdateHost may change of a host.
func (t *Tx) hostMeta(ctx context.Context, id int64) (patchbay.Host, error) {
	h := patchbay.Host{ID: id, Labels: []string{}, Groups: []string{}}
	err := t.queryRow(ctx, "SELECT hostname, criticality, owner FROM hosts WHERE id = ?", id).Scan(&h.Hostname, &h.Criticality, &h.Owner)
	if errors.Is(err, sql.ErrNoRows) {
		return h, patchbay.Errorf(patchbay.ENotFound, "no host %d", id)
	}
	if err != nil {
		return h, fmt.Errorf("load host %d: %w", id, classify(err))
	}
	rows, err := t.queryRows(ctx, "SELECT kind, value FROM host_tags WHERE host_id = ? ORDER BY kind, value", id)
	if err != nil {
		return h, fmt.Errorf("load tags of host %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, value string
		if err := rows.Scan(&kind, &value); err != nil {
			return h, classify(err)
		}
		if kind == "label" {
			h.Labels = append(h.Labels, value)
		} else {
			h.Groups = append(h.Groups, value)
		}
	}
	return h, classify(rows.Err())
}

func hostMeta(h *patchbay.Host) map[string]any {
	return map[string]any{"hostname": h.Hostname, "labels": h.Labels, "groups": h.Groups, "criticality": h.Criticality, "owner": h.Owner}
}

// RetireHost retires a host: its token stops working at once; its record
// and history stay.
func (s *Store) RetireHost(ctx context.Context, actor string, id int64) (*patchbay.Host, error) {
	err := s.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, "UPDATE hosts SET retired_at = ?, token_hash = NULL WHERE id = ? AND retired_at IS NULL", micros(s.now()), id)
		if err != nil {
			return fmt.Errorf("retire host %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return patchbay.Errorf(patchbay.ENotFound, "no active host %d", id)
		}
		return tx.audit(ctx, Change{Actor: actor, Action: "host.retire", ObjectType: "host", ObjectID: idString(id)})
	})
	if err != nil {
		return nil, err
	}
	return s.Host(ctx, id)
}

// ResolveDuplicate settles a host flagged as a possible duplicate. keep:
// they are different machines (cloned VMs); the flag is cleared. Otherwise
// merge: the duplicate is the same machine re-enrolled, so the original
// host takes over its token, facts and inventory and the duplicate is
// retired as merged into it.
func (s *Store) ResolveDuplicate(ctx context.Context, actor string, id int64, keep bool) (*patchbay.Host, error) {
	var target int64 = id
	err := s.inTx(ctx, func(tx *Tx) error {
		var orig sql.NullInt64
		err := tx.queryRow(ctx, "SELECT possible_duplicate_of FROM hosts WHERE id = ? AND retired_at IS NULL", id).Scan(&orig)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !orig.Valid) {
			return patchbay.Errorf(patchbay.EConflict, "host %d is not an active host flagged as a possible duplicate", id)
		}
		if err != nil {
			return fmt.Errorf("load host %d: %w", id, classify(err))
		}
		if keep {
			if _, err := tx.exec(ctx, "UPDATE hosts SET possible_duplicate_of = NULL WHERE id = ?", id); err != nil {
				return fmt.Errorf("keep host %d: %w", id, err)
			}
			return tx.audit(ctx, Change{Actor: actor, Action: "host.keep-duplicate", ObjectType: "host", ObjectID: idString(id),
				Before: map[string]any{"possible_duplicate_of": orig.Int64}})
		}
		target = orig.Int64
		now := micros(s.now())
		// Move the token first: token_hash is unique.
		var token []byte
		var invID, invAt sql.NullInt64
		var reported, facts string
		if err := tx.queryRow(ctx, "SELECT token_hash, inventory_id, inventory_at, reported_hash, facts FROM hosts WHERE id = ?", id).
			Scan(&token, &invID, &invAt, &reported, &facts); err != nil {
			return fmt.Errorf("merge host %d: %w", id, classify(err))
		}
		if _, err := tx.exec(ctx, "UPDATE hosts SET token_hash = NULL, retired_at = ?, merged_into = ?, possible_duplicate_of = NULL WHERE id = ?",
			now, target, id); err != nil {
			return fmt.Errorf("merge host %d: %w", id, err)
		}
		// facts_hash is cleared so the next check-in rewrites the facts columns.
		if _, err := tx.exec(ctx, `UPDATE hosts SET token_hash = ?, inventory_id = ?, inventory_at = ?, reported_hash = ?, facts = ?,
			facts_hash = '', retired_at = NULL WHERE id = ?`, token, invID, invAt, reported, facts, target); err != nil {
			return fmt.Errorf("merge host %d into %d: %w", id, target, err)
		}
		return tx.audit(ctx, Change{Actor: actor, Action: "host.merge", ObjectType: "host", ObjectID: idString(id),
			After: map[string]any{"merged_into": target}})
	})
	if err != nil {
		return nil, err
	}
	return s.Host(ctx, target)
}
