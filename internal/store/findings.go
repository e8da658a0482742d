package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/patchbay/patchbay"
)

// MatchHost is what the matcher needs of a host: its inventory, the facts
// that pick advisories (OS and release, running kernel), and what its
// findings were last computed from.
type MatchHost struct {
	ID                  int64
	InventoryID         int64
	OSName, OSRelease   string
	Kernel              string
	FindingsInventoryID int64  // 0 before the first evaluation
	FindingsKey         string // the platform and kernel the findings reflect
}

// MatchHosts returns every host in service that has an inventory.
func (s *Store) MatchHosts(ctx context.Context) ([]MatchHost, error) {
	rows, err := s.query(ctx, `SELECT id, inventory_id, os_name, os_release, kernel, COALESCE(findings_inventory_id, 0), findings_key
		FROM hosts WHERE retired_at IS NULL AND inventory_id IS NOT NULL ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("hosts to match: %w", err)
	}
	defer rows.Close()
	var out []MatchHost
	for rows.Next() {
		var h MatchHost
		if err := rows.Scan(&h.ID, &h.InventoryID, &h.OSName, &h.OSRelease, &h.Kernel, &h.FindingsInventoryID, &h.FindingsKey); err != nil {
			return nil, classify(err)
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

// PackagesByID returns the interned packages with the given ids. Interned
// packages never change, so callers may cache the answer.
func (s *Store) PackagesByID(ctx context.Context, ids []int64) (map[int64]patchbay.Package, error) {
	out := make(map[int64]patchbay.Package, len(ids))
	err := inChunks(ctx, s.readQuerier(), "SELECT id, ecosystem, name, version, arch, source_name, source_version FROM packages WHERE id IN (%s)",
		ids, func(rows *sql.Rows) error {
			var id int64
			var p patchbay.Package
			if err := rows.Scan(&id, &p.Ecosystem, &p.Name, &p.Version, &p.Arch, &p.SourceName, &p.SourceVersion); err != nil {
				return err
			}
			out[id] = p
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("load packages: %w", err)
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

// WantFinding is a finding the matcher computed for a host.
type WantFinding struct {
	Advisory string
	Package  patchbay.Package // for ecosystem go, SourceName is the binary's path
	Matched  string
	Fixed    []string
	Why      []string
}

func (w WantFinding) key() findingKey {
	loc := ""
	if w.Package.Ecosystem == "go" {
		loc = w.Package.SourceName
	}
	return findingKey{w.Advisory, w.Package.Ecosystem, w.Package.Name, w.Package.Arch, loc}
}

type findingKey struct{ advisory, ecosystem, pkg, arch, location string }

// HostFindings is the matcher's answer for one host: every finding it has
// (Scope nil), or every finding of the advisories in Scope.
type HostFindings struct {
	HostID      int64
	InventoryID int64  // what the findings reflect; stored when Scope is nil
	Key         string // the platform and kernel; stored when Scope is nil
	Scope       []string
	Want        []WantFinding
}

// FindingChanges counts what ApplyFindings changed.
type FindingChanges struct {
	Opened, Reopened, Updated, Fixed, Withdrawn int
}

// Add adds o's counts to c.
func (c *FindingChanges) Add(o FindingChanges) {
	c.Opened += o.Opened
	c.Reopened += o.Reopened
	c.Updated += o.Updated
	c.Fixed += o.Fixed
	c.Withdrawn += o.Withdrawn
}

type storedFinding struct {
	id                        int64
	status                    string
	installed, matched, fixed string
	why                       string
	withdrawn                 bool
	advisory, ecosystem, pkg  string
	arch, location            string
}

// ApplyFindings brings the stored findings of a batch of hosts to what the
// matcher computed, in one transaction: new findings open, findings no
// longer computed are fixed (or withdrawn, when their advisory is), fixed
// ones computed again reopen, and every status change is kept in the
// history. When seq is positive, the matcher's progress is set to it in the
// same transaction.
func (s *Store) ApplyFindings(ctx context.Context, batch []HostFindings, seq int64) (FindingChanges, error) {
	var ch FindingChanges
	now := micros(s.now())
	err := s.inTx(ctx, func(tx *Tx) error {
		ch = FindingChanges{}
		existing, err := tx.storedFindings(ctx, batch)
		if err != nil {
			return err
		}
		var inserts, history [][]any
		for _, hf := range batch {
			have := existing[hf.HostID]
			seen := make(map[findingKey]bool, len(hf.Want))
			for _, w := range hf.Want {
				k := w.key()
				if seen[k] {
					continue
				}
				seen[k] = true
				fixed, why := strings.Join(w.Fixed, " "), strings.Join(w.Why, "\n")
				old, ok := have[k]
				switch {
				case !ok:
					inserts = append(inserts, []any{hf.HostID, w.Advisory, k.ecosystem, k.pkg, k.arch, k.location, w.Package.Version,
						truncate(w.Matched, 500), truncate(fixed, 1000), truncate(why, 4000), string(patchbay.FindingOpen), now, now})
					ch.Opened++
				case old.status != string(patchbay.FindingOpen):
					if _, err := tx.exec(ctx, `UPDATE findings SET status = 'open', fixed_at = NULL, installed = ?, matched = ?, fixed = ?, why = ?, changed_at = ?
						WHERE id = ?`, w.Package.Version, truncate(w.Matched, 500), truncate(fixed, 1000), truncate(why, 4000), now, old.id); err != nil {
						return fmt.Errorf("reopen finding %d: %w", old.id, err)
					}
					history = append(history, []any{old.id, now, string(patchbay.FindingOpen), w.Package.Version})
					ch.Reopened++
				case old.installed != w.Package.Version || old.matched != truncate(w.Matched, 500) || old.fixed != truncate(fixed, 1000) || old.why != truncate(why, 4000):
					if _, err := tx.exec(ctx, "UPDATE findings SET installed = ?, matched = ?, fixed = ?, why = ?, changed_at = ? WHERE id = ?",
						w.Package.Version, truncate(w.Matched, 500), truncate(fixed, 1000), truncate(why, 4000), now, old.id); err != nil {
						return fmt.Errorf("update finding %d: %w", old.id, err)
					}
					ch.Updated++
				}
			}
			for k, old := range have {
				if seen[k] || old.status != string(patchbay.FindingOpen) {
					continue
				}
				status := patchbay.FindingFixed
				if old.withdrawn {
					status = patchbay.FindingWithdrawn
					ch.Withdrawn++
				} else {
					ch.Fixed++
				}
				if _, err := tx.exec(ctx, "UPDATE findings SET status = ?, fixed_at = ?, changed_at = ? WHERE id = ?", string(status), now, now, old.id); err != nil {
					return fmt.Errorf("close finding %d: %w", old.id, err)
				}
				history = append(history, []any{old.id, now, string(status), old.installed})
			}
			if hf.Scope == nil {
				if _, err := tx.exec(ctx, "UPDATE hosts SET findings_inventory_id = ?, findings_key = ? WHERE id = ?", hf.InventoryID, hf.Key, hf.HostID); err != nil {
					return fmt.Errorf("mark host %d evaluated: %w", hf.HostID, err)
				}
			}
		}
		if err := tx.insertRows(ctx, "findings", []string{"host_id", "advisory_id", "ecosystem", "package", "arch", "location", "installed",
			"matched", "fixed", "why", "status", "first_seen", "changed_at"}, inserts, ""); err != nil {
			return err
		}
		if err := tx.insertRows(ctx, "finding_history", []string{"finding_id", "at", "status", "installed"}, history, ""); err != nil {
			return err
		}
		if seq > 0 {
			if _, err := tx.exec(ctx, "UPDATE matcher_state SET advisory_seq = ? WHERE id = 1 AND advisory_seq < ?", seq, seq); err != nil {
				return fmt.Errorf("matcher progress: %w", err)
			}
		}
		s.fail("findings-commit")
		return nil
	})
	if err != nil {
		return FindingChanges{}, fmt.Errorf("apply findings: %w", err)
	}
	return ch, nil
}

// SetMatcherSeq records the matcher's progress when it had no findings to
// change.
func (s *Store) SetMatcherSeq(ctx context.Context, seq int64) error {
	return s.inTx(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, "UPDATE matcher_state SET advisory_seq = ? WHERE id = 1 AND advisory_seq < ?", seq, seq)
		return err
	})
}

// storedFindings reads the findings of the batch's hosts, within its
// scopes, keyed by host.
func (t *Tx) storedFindings(ctx context.Context, batch []HostFindings) (map[int64]map[findingKey]storedFinding, error) {
	out := map[int64]map[findingKey]storedFinding{}
	// Hosts evaluated whole are read together; scoped ones by scope.
	var whole []int64
	byScope := map[string][]int64{}
	scopes := map[string][]string{}
	for _, hf := range batch {
		out[hf.HostID] = map[findingKey]storedFinding{}
		if hf.Scope == nil {
			whole = append(whole, hf.HostID)
			continue
		}
		k := strings.Join(hf.Scope, "\x00")
		byScope[k] = append(byScope[k], hf.HostID)
		scopes[k] = hf.Scope
	}
	read := func(hosts []int64, scope []string) error {
		for chunk := range slices.Chunk(hosts, 400) {
			args := anys(chunk)
			q := `SELECT f.id, f.host_id, f.status, f.installed, f.matched, f.fixed, f.why, a.withdrawn IS NOT NULL,
				f.advisory_id, f.ecosystem, f.package, f.arch, f.location
				FROM findings f LEFT JOIN advisories a ON a.id = f.advisory_id WHERE f.host_id IN (` + placeholders(len(chunk)) + ")"
			if scope != nil {
				q += " AND f.advisory_id IN (" + placeholders(len(scope)) + ")"
				args = append(args, anys(scope)...)
			}
			rows, err := t.tx.QueryContext(ctx, t.s.rebind(q), args...)
			if err != nil {
				return fmt.Errorf("read findings: %w", classify(err))
			}
			for rows.Next() {
				var f storedFinding
				var host int64
				if err := rows.Scan(&f.id, &host, &f.status, &f.installed, &f.matched, &f.fixed, &f.why, &f.withdrawn,
					&f.advisory, &f.ecosystem, &f.pkg, &f.arch, &f.location); err != nil {
					rows.Close()
					return classify(err)
				}
				out[host][findingKey{f.advisory, f.ecosystem, f.pkg, f.arch, f.location}] = f
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return classify(err)
			}
		}
		return nil
	}
	if err := read(whole, nil); err != nil {
		return nil, err
	}
	for k, hosts := range byScope {
		for scope := range slices.Chunk(scopes[k], 500) {
			if err := read(hosts, scope); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// findingColumns are the columns scanFinding reads.
const findingColumns = `f.id, f.host_id, h.hostname, f.advisory_id, f.ecosystem, f.package, f.arch, f.location, f.installed,
	f.matched, f.fixed, f.why, f.status, f.first_seen, f.fixed_at, COALESCE(a.severity, 'unknown'), COALESCE(a.kev, 0), a.epss`

func scanFinding(sc interface{ Scan(...any) error }) (patchbay.Finding, error) {
	var f patchbay.Finding
	var loc, fixed, why, status string
	var first int64
	var fixedAt sql.NullInt64
	var kev int
	var epss sql.NullFloat64
	if err := sc.Scan(&f.ID, &f.HostID, &f.Hostname, &f.Advisory, &f.Package.Ecosystem, &f.Package.Name, &f.Package.Arch, &loc,
		&f.Package.Version, &f.Matched, &fixed, &why, &status, &first, &fixedAt, &f.Severity, &kev, &epss); err != nil {
		return f, err
	}
	if loc != "" {
		f.Package.SourceName = loc
	}
	f.Fixed, f.Why = splitNonEmpty(fixed, " "), splitNonEmpty(why, "\n")
	f.Status = patchbay.FindingStatus(status)
	f.FirstSeen, f.FixedAt = fromMicros(first), optTime(fixedAt)
	f.KEV = kev != 0
	if epss.Valid {
		f.EPSS = &epss.Float64
	}
	return f, nil
}

func splitNonEmpty(s, sep string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, sep)
}

// Findings lists findings by id, open ones unless the filter names
// statuses, of hosts in service.
func (s *Store) Findings(ctx context.Context, f patchbay.FindingFilter) ([]patchbay.Finding, error) {
	where := []string{"f.id > ?", "h.retired_at IS NULL"}
	args := []any{f.Cursor}
	statuses := f.Status
	if len(statuses) == 0 {
		statuses = []patchbay.FindingStatus{patchbay.FindingOpen}
	}
	where = append(where, "f.status IN ("+placeholders(len(statuses))+")")
	args = append(args, anys(statuses)...)
	if f.HostID != 0 {
		where = append(where, "f.host_id = ?")
		args = append(args, f.HostID)
	}
	if f.Advisory != "" {
		where = append(where, "f.advisory_id = ?")
		args = append(args, f.Advisory)
	}
	args = append(args, f.Limit)
	rows, err := s.query(ctx, "SELECT "+findingColumns+` FROM findings f JOIN hosts h ON h.id = f.host_id
		LEFT JOIN advisories a ON a.id = f.advisory_id WHERE `+strings.Join(where, " AND ")+" ORDER BY f.id LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("list findings: %w", err)
	}
	defer rows.Close()
	out := []patchbay.Finding{}
	for rows.Next() {
		fd, err := scanFinding(rows)
		if err != nil {
			return nil, fmt.Errorf("list findings: %w", classify(err))
		}
		out = append(out, fd)
	}
	return out, classify(rows.Err())
}

// FindingHistory returns the status changes of a finding after it opened.
func (s *Store) FindingHistory(ctx context.Context, id int64) ([]FindingEvent, error) {
	rows, err := s.query(ctx, "SELECT at, status, installed FROM finding_history WHERE finding_id = ? ORDER BY at", id)
	if err != nil {
		return nil, fmt.Errorf("finding %d history: %w", id, err)
	}
	defer rows.Close()
	out := []FindingEvent{}
	for rows.Next() {
		var e FindingEvent
		var at int64
		if err := rows.Scan(&at, &e.Status, &e.Installed); err != nil {
			return nil, classify(err)
		}
		e.At = fromMicros(at)
		out = append(out, e)
	}
	return out, classify(rows.Err())
}

// FindingEvent is one status change of a finding.
type FindingEvent struct {
	At        time.Time              `json:"at"`
	Status    patchbay.FindingStatus `json:"status"`
	Installed string                 `json:"installed"`
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
