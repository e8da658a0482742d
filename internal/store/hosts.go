package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/patchbay/patchbay"
)

const hostColumns = `h.id, h.hostname, h.machine_id, h.os_family, h.os_name, h.os_release, h.os_codename,
	h.kernel, h.arch, h.criticality, h.owner, h.agent_version, h.reboot_required, h.created_at, h.last_seen_at, h.retired_at`

func scanHost(sc interface{ Scan(...any) error }) (patchbay.Host, error) {
	var h patchbay.Host
	var reboot int
	var created int64
	var seen, retired sql.NullInt64
	err := sc.Scan(&h.ID, &h.Hostname, &h.MachineID, &h.OSFamily, &h.OSName, &h.OSRelease, &h.OSCodename,
		&h.Kernel, &h.Arch, &h.Criticality, &h.Owner, &h.AgentVersion, &reboot, &created, &seen, &retired)
	h.RebootRequired = reboot != 0
	h.CreatedAt = fromMicros(created)
	h.LastSeenAt, h.RetiredAt = optTime(seen), optTime(retired)
	h.Labels, h.Groups = []string{}, []string{}
	return h, err
}

// CreateHost records a host with its labels and groups.
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
		for kind, values := range map[string][]string{"label": h.Labels, "group": h.Groups} {
			for _, v := range values {
				if _, err := tx.exec(ctx, "INSERT INTO host_tags (host_id, kind, value) VALUES (?, ?, ?)", h.ID, kind, v); err != nil {
					return fmt.Errorf("create host %s: %s %q: %w", h.Hostname, kind, v, err)
				}
			}
		}
		return tx.audit(ctx, Change{Actor: actor, Action: "host.create", ObjectType: "host", ObjectID: idString(h.ID),
			After: map[string]any{"hostname": h.Hostname, "labels": h.Labels, "groups": h.Groups}})
	})
	if err != nil {
		return nil, err
	}
	return &h, nil
}

// Hosts lists hosts matching f in id order, at most f.Limit of them, after
// f.Cursor.
func (s *Store) Hosts(ctx context.Context, f patchbay.HostFilter) ([]patchbay.Host, error) {
	where := []string{"h.id > ?"}
	args := []any{f.Cursor}
	if f.Owner != "" {
		where, args = append(where, "h.owner = ?"), append(args, f.Owner)
	}
	for kind, v := range map[string]string{"label": f.Label, "group": f.Group} {
		if v != "" {
			where = append(where, "EXISTS (SELECT 1 FROM host_tags t WHERE t.host_id = h.id AND t.kind = ? AND t.value = ?)")
			args = append(args, kind, v)
		}
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

// loadTags fills the labels and groups of hosts, one query for the page.
func (s *Store) loadTags(ctx context.Context, hosts []patchbay.Host, byID map[int64]int) error {
	rows, err := s.query(ctx, "SELECT host_id, kind, value FROM host_tags WHERE host_id BETWEEN ? AND ? ORDER BY host_id, kind, value",
		hosts[0].ID, hosts[len(hosts)-1].ID)
	if err != nil {
		return fmt.Errorf("list host tags: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var kind, value string
		if err := rows.Scan(&id, &kind, &value); err != nil {
			return fmt.Errorf("list host tags: %w", classify(err))
		}
		i, ok := byID[id]
		if !ok {
			continue
		}
		if kind == "label" {
			hosts[i].Labels = append(hosts[i].Labels, value)
		} else {
			hosts[i].Groups = append(hosts[i].Groups, value)
		}
	}
	return classify(rows.Err())
}
