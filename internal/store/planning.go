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
	"github.com/patchbay/patchbay/internal/match"
	"github.com/patchbay/patchbay/internal/protocol"
)

// PlanData is everything the planner reads to build the work queue, in a
// handful of bulk queries: a fleet of 10,000 hosts is a few dozen queries,
// not one per host.
type PlanData struct {
	Hosts []patchbay.Host
	// Per host id: the inventory its findings were evaluated on, the
	// updates that inventory offers, and its open findings.
	Updates  map[int64][]PlanUpdate
	Findings map[int64][]PlanFinding
	// Advisories holds what the planner needs of every advisory with an
	// open finding.
	Advisories map[string]PlanAdvisory
	// FirstSeen holds the stored queue's first sightings, by host and
	// update id, so that deferral counts from the first time a host
	// offered an update.
	FirstSeen map[[2]int64]time.Time
}

// PlanUpdate is an available update with its interned id.
type PlanUpdate struct {
	ID int64
	protocol.Update
}

// PlanFinding is an open finding as the planner sees it.
type PlanFinding struct {
	Package   patchbay.Package
	Advisory  string
	Fixed     []string
	Ecosystem string // the advisory ecosystem it was matched in ("Debian:12")
	FirstSeen time.Time
}

// PlanAdvisory is what scoring and classification need of an advisory.
type PlanAdvisory struct {
	Severity string
	CVSS     *float64
	KEV      bool
	EPSS     *float64
}

// LoadPlanData reads the planner's inputs for every host in service, or
// for the hosts named by only.
func (s *Store) LoadPlanData(ctx context.Context, only ...int64) (*PlanData, error) {
	var hosts []patchbay.Host
	if len(only) == 0 {
		var err error
		if hosts, err = s.Hosts(ctx, patchbay.HostFilter{Limit: 1 << 30}); err != nil {
			return nil, err
		}
	}
	for _, id := range only {
		h, err := s.Host(ctx, id)
		if err != nil {
			return nil, err
		}
		hosts = append(hosts, *h)
	}
	d := &PlanData{Hosts: hosts, Updates: map[int64][]PlanUpdate{}, Findings: map[int64][]PlanFinding{},
		Advisories: map[string]PlanAdvisory{}, FirstSeen: map[[2]int64]time.Time{}}
	fh := map[int64]findingHost{}
	ids := make([]int64, len(hosts))
	for i, h := range hosts {
		ids[i] = h.ID
	}
	if err := s.loadFindingHosts(ctx, ids, fh); err != nil {
		return nil, err
	}
	if err := s.loadPlanUpdates(ctx, fh, d); err != nil {
		return nil, err
	}
	if err := s.loadPlanFindings(ctx, fh, d); err != nil {
		return nil, err
	}
	q, args := "SELECT host_id, update_id, first_seen FROM host_updates", []any(nil)
	if len(only) == 1 {
		q, args = q+" WHERE host_id = ?", []any{only[0]}
	}
	rows, err := s.queryUncached(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read work queue: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h, u, at int64
		if err := rows.Scan(&h, &u, &at); err != nil {
			return nil, fmt.Errorf("read work queue: %w", classify(err))
		}
		d.FirstSeen[[2]int64{h, u}] = fromMicros(at)
	}
	return d, classify(rows.Err())
}

// loadPlanUpdates reads the updates of the inventories hosts' findings
// were evaluated on.
func (s *Store) loadPlanUpdates(ctx context.Context, fh map[int64]findingHost, d *PlanData) error {
	var invs []int64
	for _, h := range fh {
		if h.inv != 0 {
			invs = append(invs, h.inv)
		}
	}
	slices.Sort(invs)
	invs = slices.Compact(invs)
	updIDs := map[int64][]int64{}
	var all []int64
	err := inChunks(ctx, s.readQuerier(), "SELECT id, update_ids FROM inventories WHERE id IN (%s)", invs, func(rows *sql.Rows) error {
		var id int64
		var blob []byte
		if err := rows.Scan(&id, &blob); err != nil {
			return err
		}
		ids, err := decodeIDs(blob)
		if err != nil {
			return fmt.Errorf("inventory %d: %w", id, err)
		}
		updIDs[id] = ids
		all = append(all, ids...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read inventories: %w", err)
	}
	slices.Sort(all)
	upds := map[int64]protocol.Update{}
	err = inChunks(ctx, s.readQuerier(), `SELECT id, ecosystem, name, arch, from_version, to_version, source_name, source_version, origin,
		archive, security, advisory_type, severity, advisory_ids FROM updates WHERE id IN (%s)`, slices.Compact(all), func(rows *sql.Rows) error {
		var id int64
		var u protocol.Update
		var sec int
		var advIDs string
		if err := rows.Scan(&id, &u.Ecosystem, &u.Name, &u.Arch, &u.FromVersion, &u.ToVersion, &u.SourceName, &u.SourceVersion,
			&u.Origin, &u.Archive, &sec, &u.AdvisoryType, &u.Severity, &advIDs); err != nil {
			return err
		}
		u.Security = sec != 0
		if advIDs != "" {
			u.AdvisoryIDs = strings.Split(advIDs, ",")
		}
		upds[id] = u
		return nil
	})
	if err != nil {
		return fmt.Errorf("read updates: %w", err)
	}
	for _, h := range fh {
		for _, id := range updIDs[h.inv] {
			d.Updates[h.id] = append(d.Updates[h.id], PlanUpdate{ID: id, Update: upds[id]})
		}
	}
	return nil
}

// loadPlanFindings derives every host's open findings from the advisories'
// stored pairs and the matcher's key hits, with their first sightings.
func (s *Store) loadPlanFindings(ctx context.Context, fh map[int64]findingHost, d *PlanData) error {
	type pairAdv struct {
		pair     Pair
		advisory string
	}
	var pairs []pairAdv
	since := map[string]int64{}
	rows, err := s.queryUncached(ctx, `SELECT ah.advisory_id, ah.pairs, ah.since, a.severity, a.cvss_score, a.kev, a.epss
		FROM advisory_hosts ah JOIN advisories a ON a.id = ah.advisory_id WHERE ah.hosts > 0`)
	if err != nil {
		return fmt.Errorf("read findings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var blob []byte
		var adv PlanAdvisory
		var sinceAt int64
		var cvss, epss sql.NullFloat64
		var kev int
		if err := rows.Scan(&id, &blob, &sinceAt, &adv.Severity, &cvss, &kev, &epss); err != nil {
			return fmt.Errorf("read findings: %w", classify(err))
		}
		ps, err := decodePairs(blob)
		if err != nil {
			return fmt.Errorf("findings of %s: %w", id, err)
		}
		if cvss.Valid {
			adv.CVSS = &cvss.Float64
		}
		if epss.Valid {
			adv.EPSS = &epss.Float64
		}
		adv.KEV = kev != 0
		d.Advisories[id], since[id] = adv, sinceAt
		for _, p := range ps {
			if _, ok := fh[p.Host()]; ok {
				pairs = append(pairs, pairAdv{p, id})
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read findings: %w", classify(err))
	}
	rows.Close()
	pkgIDs := make([]int64, len(pairs))
	for i, p := range pairs {
		pkgIDs[i] = p.pair.Package()
	}
	slices.Sort(pkgIDs)
	pkgs, err := s.PackagesByID(ctx, slices.Compact(pkgIDs))
	if err != nil {
		return err
	}
	keys := make([]match.Key, len(pairs))
	for i, p := range pairs {
		keys[i], _ = match.KeyOf(fh[p.pair.Host()].platform, pkgs[p.pair.Package()])
	}
	hits, err := s.keyHits(ctx, keys, "")
	if err != nil {
		return err
	}
	reopened, err := s.lastOpenEvents(ctx)
	if err != nil {
		return err
	}
	for i, p := range pairs {
		h := fh[p.pair.Host()]
		for _, hit := range hits[keys[i]] {
			if hit.Advisory != p.advisory {
				continue
			}
			first := max(h.since, since[p.advisory])
			if at, ok := reopened[findingID{h.id, p.pair.Package(), p.advisory}]; ok {
				first = at
			}
			d.Findings[h.id] = append(d.Findings[h.id], PlanFinding{Package: pkgs[p.pair.Package()], Advisory: p.advisory,
				Fixed: hit.Fixed, Ecosystem: keys[i].Ecosystem, FirstSeen: fromMicros(first)})
		}
	}
	return nil
}

// lastOpenEvents returns, for every finding whose last event opened it,
// that event's time: a finding that opened after its host's first
// evaluation, or opened again, counts its age from then.
func (s *Store) lastOpenEvents(ctx context.Context) (map[findingID]int64, error) {
	rows, err := s.queryUncached(ctx, "SELECT host_id, package_id, advisory_id, at, status FROM finding_events ORDER BY at")
	if err != nil {
		return nil, fmt.Errorf("read finding history: %w", err)
	}
	defer rows.Close()
	out := map[findingID]int64{}
	for rows.Next() {
		var id findingID
		var at int64
		var status string
		if err := rows.Scan(&id.host, &id.pkg, &id.advisory, &at, &status); err != nil {
			return nil, fmt.Errorf("read finding history: %w", classify(err))
		}
		if status == string(patchbay.FindingOpen) {
			out[id] = at
		} else {
			delete(out, id)
		}
	}
	return out, classify(rows.Err())
}

// QueueRow is one stored entry of the work queue.
type QueueRow struct {
	HostID, UpdateID int64
	Class            string
	ClassReason      string
	Risk             int
	Fixes, Excepted  []string
	KEV              bool
	Severity         string
	FirstSeen        time.Time
}

// queueValue is a stored queue row's columns after its key.
type queueValue struct {
	class, reason, fixes, excepted, severity string
	risk                                     int
	kev                                      int
	first                                    int64
}

func (r *QueueRow) value() queueValue {
	return queueValue{r.Class, r.ClassReason, strings.Join(r.Fixes, ","), strings.Join(r.Excepted, ","), r.Severity, r.Risk,
		boolInt(r.KEV), micros(r.FirstSeen)}
}

// readQueue reads the stored queue into old.
func (t *Tx) readQueue(ctx context.Context, old map[[2]int64]queueValue) error {
	rs, err := t.queryRows(ctx, "SELECT host_id, update_id, class, class_reason, risk, fixes, excepted, kev, severity, first_seen FROM host_updates")
	if err != nil {
		return fmt.Errorf("read work queue: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var k [2]int64
		var v queueValue
		if err := rs.Scan(&k[0], &k[1], &v.class, &v.reason, &v.risk, &v.fixes, &v.excepted, &v.kev, &v.severity, &v.first); err != nil {
			return fmt.Errorf("read work queue: %w", classify(err))
		}
		old[k] = v
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("read work queue: %w", classify(err))
	}
	return nil
}

// HostSLA is one host's findings against its SLA.
type HostSLA struct {
	HostID                           int64
	Open, Overdue, DueSoon, Excepted int
	OldestDue                        *time.Time
}

// ReplaceQueue makes the stored work queue and SLA state equal to rows and
// slas, in one transaction, writing only what changed. prev, when not nil,
// is what the caller knows the stored queue holds (the rows it stored
// last, with no other writer since: the planner's lease); otherwise the
// stored queue is read to compare. It returns how many queue rows it wrote
// and deleted.
func (s *Store) ReplaceQueue(ctx context.Context, prev, rows []QueueRow, slas []HostSLA) (written, deleted int, err error) {
	err = s.inTx(ctx, func(tx *Tx) error {
		written, deleted = 0, 0
		old := make(map[[2]int64]queueValue, max(len(prev), len(rows)))
		if prev != nil {
			for _, r := range prev {
				old[[2]int64{r.HostID, r.UpdateID}] = r.value()
			}
		} else if err := tx.readQueue(ctx, old); err != nil {
			return err
		}
		var ins [][]any
		for _, r := range rows {
			k := [2]int64{r.HostID, r.UpdateID}
			v := r.value()
			o, ok := old[k]
			delete(old, k)
			if ok && o == v {
				continue
			}
			ins = append(ins, []any{k[0], k[1], v.class, v.reason, v.risk, v.fixes, v.excepted, v.kev, v.severity, v.first})
		}
		// Rows gone, by host, many to a statement: the day's rebuild, when
		// every age turns, changes most of the queue.
		gone := map[int64][]int64{}
		for k := range old {
			gone[k[0]] = append(gone[k[0]], k[1])
		}
		for host, ids := range gone {
			for chunk := range slices.Chunk(ids, maxParams-1) {
				args := append([]any{host}, anySlice(chunk)...)
				if _, err := tx.tx.ExecContext(tx.ctx(ctx), s.rebind("DELETE FROM host_updates WHERE host_id = ? AND update_id IN ("+placeholders(len(chunk))+")"),
					args...); err != nil {
					return fmt.Errorf("update work queue: %w", classify(err))
				}
			}
			deleted += len(ids)
		}
		written = len(ins)
		// Changed rows are written over in place (no delete first).
		if err := tx.insertRows(ctx, "host_updates", []string{"host_id", "update_id", "class", "class_reason", "risk", "fixes", "excepted",
			"kev", "severity", "first_seen"}, ins, ` ON CONFLICT (host_id, update_id) DO UPDATE SET class = excluded.class,
			class_reason = excluded.class_reason, risk = excluded.risk, fixes = excluded.fixes, excepted = excluded.excepted,
			kev = excluded.kev, severity = excluded.severity, first_seen = excluded.first_seen`); err != nil {
			return fmt.Errorf("write work queue: %w", err)
		}
		if _, err := tx.exec(ctx, "DELETE FROM host_sla"); err != nil {
			return fmt.Errorf("write SLA state: %w", err)
		}
		sla := make([][]any, len(slas))
		for i, h := range slas {
			sla[i] = []any{h.HostID, h.Open, h.Overdue, h.DueSoon, h.Excepted, nullTime(h.OldestDue)}
		}
		if err := tx.insertRows(ctx, "host_sla", []string{"host_id", "open", "overdue", "due_soon", "excepted", "oldest_due"}, sla, ""); err != nil {
			return fmt.Errorf("write SLA state: %w", err)
		}
		s.fail("queue-commit")
		return nil
	})
	return written, deleted, err
}

const queueColumns = `q.host_id, q.update_id, h.hostname, h.owner, u.ecosystem, u.name, u.arch, u.from_version, u.to_version, u.source_version,
	u.origin, u.archive, q.class, q.class_reason, q.risk, q.fixes, q.excepted, q.kev, q.severity, q.first_seen`

const queueFrom = " FROM host_updates q JOIN hosts h ON h.id = q.host_id JOIN updates u ON u.id = q.update_id"

func scanQueue(r rowScanner) (patchbay.HostUpdate, error) {
	var u patchbay.HostUpdate
	var upd int64
	var fixes, excepted string
	var kev int
	var first int64
	if err := r.Scan(&u.HostID, &upd, &u.Hostname, &u.Owner, &u.Ecosystem, &u.Name, &u.Arch, &u.FromVersion, &u.ToVersion, &u.SourceVersion,
		&u.Origin, &u.Archive, &u.Class, &u.ClassReason, &u.Risk, &fixes, &excepted, &kev, &u.Severity, &first); err != nil {
		return u, err
	}
	u.ID = QueueID(u.HostID, upd)
	u.Fixes, u.Excepted = splitNonEmpty(fixes, ","), splitNonEmpty(excepted, ",")
	if len(u.Excepted) == 0 {
		u.Excepted = nil
	}
	u.KEV, u.FirstSeen = kev != 0, fromMicros(first)
	return u, nil
}

// QueueID names a work queue entry: "HOST-UPDATE".
func QueueID(host, update int64) string { return fmt.Sprintf("%d-%d", host, update) }

// ParseQueueID takes a work queue id ("HOST-UPDATE") apart.
func ParseQueueID(id string) (host, update int64, err error) {
	if _, err := fmt.Sscanf(id, "%d-%d", &host, &update); err != nil || host <= 0 || update <= 0 || QueueID(host, update) != id {
		return 0, 0, patchbay.FieldError(patchbay.EInvalid, "id", "%q is not an update id such as 12-345 (host-update)", truncateText(id, 40))
	}
	return host, update, nil
}

func truncateText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// QueueEntry returns one entry of the work queue.
func (s *Store) QueueEntry(ctx context.Context, id string) (*patchbay.HostUpdate, error) {
	host, upd, err := ParseQueueID(id)
	if err != nil {
		return nil, err
	}
	u, err := scanQueue(s.queryRow(ctx, "SELECT "+queueColumns+queueFrom+" WHERE q.host_id = ? AND q.update_id = ?", host, upd))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, patchbay.Errorf(patchbay.ENotFound, "no update %s in the work queue", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load update %s: %w", id, classify(err))
	}
	return &u, nil
}

// Queue lists the work queue: highest risk first (or by host with Sort
// "host"), a page of f.Limit after f.Cursor. It returns the cursor of the
// next page, "" after the last.
func (s *Store) Queue(ctx context.Context, f patchbay.UpdateFilter) ([]patchbay.HostUpdate, string, error) {
	var where []string
	var args []any
	if len(f.Classes) > 0 {
		where = append(where, "q.class IN ("+placeholders(len(f.Classes))+")")
		args = append(args, anys(f.Classes)...)
	}
	if f.HostID != 0 {
		where = append(where, "q.host_id = ?")
		args = append(args, f.HostID)
	}
	if f.Owner != "" {
		where = append(where, "h.owner = ?")
		args = append(args, f.Owner)
	}
	byHost := f.Sort == "host"
	if f.Cursor != "" {
		var risk, host, upd int64
		if _, err := fmt.Sscanf(f.Cursor, "%d.%d.%d", &risk, &host, &upd); err != nil {
			return nil, "", patchbay.FieldError(patchbay.EInvalid, "cursor", "not a cursor this listing gave")
		}
		if byHost {
			where = append(where, "(q.host_id > ? OR (q.host_id = ? AND q.update_id > ?))")
			args = append(args, host, host, upd)
		} else {
			where = append(where, "(q.risk < ? OR (q.risk = ? AND (q.host_id > ? OR (q.host_id = ? AND q.update_id > ?))))")
			args = append(args, risk, risk, host, host, upd)
		}
	}
	q := "SELECT " + queueColumns + queueFrom
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if byHost {
		q += " ORDER BY q.host_id, q.update_id"
	} else {
		q += " ORDER BY q.risk DESC, q.host_id, q.update_id"
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += fmt.Sprintf(" LIMIT %d", limit+1)
	rows, err := s.queryUncached(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list work queue: %w", err)
	}
	defer rows.Close()
	out := []patchbay.HostUpdate{}
	for rows.Next() {
		u, err := scanQueue(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list work queue: %w", classify(err))
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list work queue: %w", classify(err))
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		host, upd, _ := ParseQueueID(last.ID)
		next = fmt.Sprintf("%d.%d.%d", last.Risk, host, upd)
	}
	return out, next, nil
}

// SLAReport sums the hosts' SLA state by owner ("" for hosts without one),
// most overdue first.
func (s *Store) SLAReport(ctx context.Context) ([]patchbay.SLAReport, error) {
	rows, err := s.queryUncached(ctx, `SELECT h.owner, COUNT(*), SUM(l.open), SUM(l.overdue), SUM(l.due_soon), SUM(l.excepted), MIN(l.oldest_due)
		FROM host_sla l JOIN hosts h ON h.id = l.host_id WHERE h.retired_at IS NULL GROUP BY h.owner ORDER BY SUM(l.overdue) DESC, h.owner`)
	if err != nil {
		return nil, fmt.Errorf("SLA report: %w", err)
	}
	defer rows.Close()
	out := []patchbay.SLAReport{}
	for rows.Next() {
		var r patchbay.SLAReport
		var oldest sql.NullInt64
		if err := rows.Scan(&r.Owner, &r.Hosts, &r.Open, &r.Overdue, &r.DueSoon, &r.Excepted, &oldest); err != nil {
			return nil, fmt.Errorf("SLA report: %w", classify(err))
		}
		if oldest.Valid {
			t := fromMicros(oldest.Int64)
			r.OldestDue = &t
		}
		out = append(out, r)
	}
	return out, classify(rows.Err())
}

// PlanStamp summarises what the work queue is computed from, in one cheap
// query: the audit trail's head (every change a person or an import makes:
// hosts' labels and owners, policies, exceptions, feeds), the matcher's
// progress through advisory changes, and what hosts' findings were last
// evaluated on. When the stamp is unchanged, so are the planner's inputs,
// except for the clock.
func (s *Store) PlanStamp(ctx context.Context) (string, error) {
	var audit, seq, hosts, invs, since, facts int64
	err := s.queryRow(ctx, `SELECT (SELECT seq FROM audit_head WHERE id = 1), (SELECT advisory_seq FROM matcher_state WHERE id = 1),
		COUNT(*), COALESCE(SUM(findings_inventory_id), 0), COALESCE(MAX(findings_since), 0), COALESCE(MAX(plan_facts_at), 0)
		FROM hosts WHERE retired_at IS NULL`).
		Scan(&audit, &seq, &hosts, &invs, &since, &facts)
	if err != nil {
		return "", fmt.Errorf("planner inputs: %w", classify(err))
	}
	return fmt.Sprintf("%d/%d/%d/%d/%d/%d", audit, seq, hosts, invs, since, facts), nil
}

// UnmatchedHosts counts the hosts in service with an inventory the matcher
// has not evaluated yet, not even an earlier one: the planner holds no
// updates for them.
func (s *Store) UnmatchedHosts(ctx context.Context) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM hosts WHERE retired_at IS NULL AND inventory_id IS NOT NULL
		AND COALESCE(findings_inventory_id, 0) = 0`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("hosts the matcher has not evaluated: %w", classify(err))
	}
	return n, nil
}

// anySlice returns ids as statement arguments.
func anySlice(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}
