package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/feed"
	"github.com/patchbay/patchbay/internal/severity"
)

// StoredAdvisory is an advisory's record as stored, for the matcher and
// for export.
type StoredAdvisory struct {
	ID       string
	Modified time.Time
	Seq      int64
	Record   []byte // canonical OSV JSON
}

// AdvisoryName is an (ecosystem name, package name) pair advisories name.
type AdvisoryName struct {
	Ecosystem string // "Debian", "Go"
	Name      string
}

// AdvisoriesNaming returns the stored advisories that name any of names.
func (s *Store) AdvisoriesNaming(ctx context.Context, names []AdvisoryName) ([]StoredAdvisory, error) {
	var out []StoredAdvisory
	seen := map[string]bool{}
	for chunk := range slices.Chunk(names, 400) {
		var cond []string
		var args []any
		for _, n := range chunk {
			cond = append(cond, "(n.ecosystem = ? AND n.name = ?)")
			args = append(args, n.Ecosystem, n.Name)
		}
		rows, err := s.queryUncached(ctx, `SELECT a.id, a.modified, a.seq, a.record FROM advisory_names n JOIN advisories a ON a.id = n.advisory_id
			WHERE `+strings.Join(cond, " OR "), args...)
		if err != nil {
			return nil, fmt.Errorf("advisories by name: %w", err)
		}
		for rows.Next() {
			var a StoredAdvisory
			var mod int64
			if err := rows.Scan(&a.ID, &mod, &a.Seq, &a.Record); err != nil {
				rows.Close()
				return nil, classify(err)
			}
			a.Modified = fromMicros(mod)
			if !seen[a.ID] {
				seen[a.ID] = true
				out = append(out, a)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, classify(err)
		}
	}
	return out, nil
}

// AdvisoryChanges returns the names of the advisories changed after seq,
// the ids of those advisories, and the newest seq committed.
func (s *Store) AdvisoryChanges(ctx context.Context, after int64) (names []AdvisoryName, ids []string, newest int64, err error) {
	if err := s.queryRow(ctx, "SELECT seq FROM advisory_seq WHERE id = 1").Scan(&newest); err != nil {
		return nil, nil, 0, fmt.Errorf("advisory changes: %w", classify(err))
	}
	if newest <= after {
		return nil, nil, newest, nil
	}
	rows, err := s.query(ctx, `SELECT a.id, n.ecosystem, n.name FROM advisories a LEFT JOIN advisory_names n ON n.advisory_id = a.id
		WHERE a.seq > ? AND a.seq <= ? ORDER BY a.id`, after, newest)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("advisory changes: %w", err)
	}
	defer rows.Close()
	seenName := map[AdvisoryName]bool{}
	for rows.Next() {
		var id string
		var eco, name sql.NullString
		if err := rows.Scan(&id, &eco, &name); err != nil {
			return nil, nil, 0, classify(err)
		}
		if len(ids) == 0 || ids[len(ids)-1] != id {
			ids = append(ids, id)
		}
		n := AdvisoryName{eco.String, name.String}
		if eco.Valid && !seenName[n] {
			seenName[n] = true
			names = append(names, n)
		}
	}
	return names, ids, newest, classify(rows.Err())
}

// EachAdvisory calls fn with every stored advisory, in id order, for
// export. It reads in pages, so it holds no transaction open while fn works.
func (s *Store) EachAdvisory(ctx context.Context, fn func(StoredAdvisory) error) error {
	after := ""
	for {
		rows, err := s.query(ctx, "SELECT id, modified, seq, record FROM advisories WHERE id > ? ORDER BY id LIMIT 1000", after)
		if err != nil {
			return fmt.Errorf("export advisories: %w", err)
		}
		var page []StoredAdvisory
		for rows.Next() {
			var a StoredAdvisory
			var mod int64
			if err := rows.Scan(&a.ID, &mod, &a.Seq, &a.Record); err != nil {
				rows.Close()
				return classify(err)
			}
			a.Modified = fromMicros(mod)
			page = append(page, a)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return classify(err)
		}
		for _, a := range page {
			if err := fn(a); err != nil {
				return err
			}
		}
		if len(page) < 1000 {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// KEVCatalog returns the stored KEV entries, as one catalog, for export.
func (s *Store) KEVCatalog(ctx context.Context) (*feed.KEVCatalog, error) {
	rows, err := s.query(ctx, "SELECT cve, vendor, product, name, date_added, due_date, ransomware, catalog FROM kev ORDER BY date_added, cve")
	if err != nil {
		return nil, fmt.Errorf("read KEV: %w", err)
	}
	defer rows.Close()
	c := &feed.KEVCatalog{}
	for rows.Next() {
		var e feed.KEVEntry
		var added int64
		var due sql.NullInt64
		var ransom, version string
		if err := rows.Scan(&e.CVE, &e.VendorProject, &e.Product, &e.VulnerabilityName, &added, &due, &ransom, &version); err != nil {
			return nil, classify(err)
		}
		e.DateAdded = fromMicros(added)
		if due.Valid {
			e.DueDate = fromMicros(due.Int64)
		}
		e.KnownRansomwareUse = ransom == "Known"
		c.Entries = append(c.Entries, e)
		c.Version = max(c.Version, version)
	}
	return c, classify(rows.Err())
}

// EPSSScores returns the stored EPSS scores, for export; ScoreDate is the
// newest of them.
func (s *Store) EPSSScores(ctx context.Context) (*feed.EPSSScores, error) {
	rows, err := s.query(ctx, "SELECT cve, score, percentile, score_date, model FROM epss")
	if err != nil {
		return nil, fmt.Errorf("read EPSS: %w", err)
	}
	defer rows.Close()
	e := &feed.EPSSScores{Scores: map[string]feed.EPSSScore{}}
	for rows.Next() {
		var cve string
		var sc feed.EPSSScore
		var at int64
		var model string
		if err := rows.Scan(&cve, &sc.EPSS, &sc.Percentile, &at, &model); err != nil {
			return nil, classify(err)
		}
		e.Scores[cve] = sc
		if t := fromMicros(at); t.After(e.ScoreDate) {
			e.ScoreDate, e.ModelVersion = t, model
		}
	}
	return e, classify(rows.Err())
}

// advisoryColumns are the columns scanAdvisory reads, from advisories a.
const advisoryColumns = `a.id, a.summary, a.modified, a.published, a.withdrawn, a.source, a.severity, a.severity_why,
	a.cvss_score, a.kev, a.kev_due, a.epss`

func scanAdvisory(sc interface{ Scan(...any) error }, extra ...any) (patchbay.Advisory, error) {
	var a patchbay.Advisory
	var mod int64
	var pub, wd, due sql.NullInt64
	var cvss, epss sql.NullFloat64
	var kev int
	dest := append([]any{&a.ID, &a.Summary, &mod, &pub, &wd, &a.Source, &a.Severity, &a.SeverityWhy, &cvss, &kev, &due, &epss}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return a, err
	}
	a.Modified = fromMicros(mod)
	a.Published, a.Withdrawn, a.KEVDue = optTime(pub), optTime(wd), optTime(due)
	a.KEV = kev != 0
	if cvss.Valid {
		a.CVSS = &cvss.Float64
	}
	if epss.Valid {
		a.EPSS = &epss.Float64
	}
	a.CVEs = []string{}
	return a, nil
}

// severityAtLeast returns the levels at or above min, by severity's order
// (unknown ranks above critical: never silently low).
func severityAtLeast(min string) ([]any, error) {
	lv, err := severity.ParseLevel(min)
	if err != nil {
		return nil, patchbay.FieldError(patchbay.EUnprocessable, "severity", "%v", err)
	}
	var out []any
	for _, l := range []severity.Level{severity.Unknown, severity.Critical, severity.High, severity.Medium, severity.Low, severity.None} {
		if severity.Compare(l, lv) >= 0 {
			out = append(out, string(l))
		}
	}
	return out, nil
}

// Advisories lists advisories by id: by default those with open findings,
// each with the number of hosts affected and whether a fix is known.
func (s *Store) Advisories(ctx context.Context, f patchbay.AdvisoryFilter) ([]patchbay.Advisory, error) {
	where := []string{"a.id > ?"}
	args := []any{f.Cursor}
	if f.MinSeverity != "" {
		levels, err := severityAtLeast(f.MinSeverity)
		if err != nil {
			return nil, err
		}
		where = append(where, "a.severity IN ("+placeholders(len(levels))+")")
		args = append(args, levels...)
	}
	if f.KEV {
		where = append(where, "a.kev = 1")
	}
	if !f.All {
		where = append(where, "ah.hosts > 0")
	}
	if f.HostID != 0 {
		fs, err := s.Findings(ctx, patchbay.FindingFilter{HostID: f.HostID})
		if err != nil {
			return nil, err
		}
		ids := map[string]bool{}
		for _, fd := range fs {
			ids[fd.Advisory] = true
		}
		if len(ids) == 0 {
			return []patchbay.Advisory{}, nil
		}
		list := slices.Sorted(maps.Keys(ids))
		where = append(where, "a.id IN ("+placeholders(len(list))+")")
		args = append(args, anys(list)...)
	}
	args = append(args, f.Limit)
	rows, err := s.queryUncached(ctx, "SELECT "+advisoryColumns+`, COALESCE(ah.hosts, 0), COALESCE(ah.fixable, 0)
		FROM advisories a LEFT JOIN advisory_hosts ah ON ah.advisory_id = a.id WHERE `+strings.Join(where, " AND ")+" ORDER BY a.id LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("list advisories: %w", err)
	}
	defer rows.Close()
	out := []patchbay.Advisory{}
	for rows.Next() {
		var hosts, fixable int
		a, err := scanAdvisory(rows, &hosts, &fixable)
		if err != nil {
			return nil, fmt.Errorf("list advisories: %w", classify(err))
		}
		a.HostsAffected, a.FixAvailable = hosts, fixable != 0
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list advisories: %w", classify(err))
	}
	return out, s.loadCVEs(ctx, out)
}

// loadCVEs fills the CVE ids of advisories.
func (s *Store) loadCVEs(ctx context.Context, advs []patchbay.Advisory) error {
	byID := map[string]int{}
	ids := make([]string, len(advs))
	for i, a := range advs {
		byID[a.ID], ids[i] = i, a.ID
	}
	err := inChunks(ctx, s.readQuerier(), "SELECT advisory_id, cve FROM advisory_cves WHERE advisory_id IN (%s) ORDER BY cve", ids,
		func(rows *sql.Rows) error {
			var id, cve string
			if err := rows.Scan(&id, &cve); err != nil {
				return err
			}
			advs[byID[id]].CVEs = append(advs[byID[id]].CVEs, cve)
			return nil
		})
	if err != nil {
		return fmt.Errorf("load CVEs: %w", err)
	}
	return nil
}

// AdvisoryDetail is one advisory with its record and every open finding.
type AdvisoryDetail struct {
	patchbay.Advisory
	Record   json.RawMessage    `json:"record"`
	Findings []patchbay.Finding `json:"findings"`
}

// Advisory returns the advisories id names: the one with that id, or, for a
// CVE id, every advisory linked to it (its own record first). ENotFound
// when there is none.
func (s *Store) Advisory(ctx context.Context, id string) ([]AdvisoryDetail, error) {
	q := "SELECT " + advisoryColumns + ", a.record FROM advisories a WHERE a.id = ?"
	args := []any{id}
	if cve, ok := feed.NormalizeCVE(id); ok {
		q = "SELECT " + advisoryColumns + ", a.record FROM advisories a WHERE a.id = ? OR a.id IN (SELECT advisory_id FROM advisory_cves WHERE cve = ?) ORDER BY a.id"
		args = []any{cve, cve}
		id = cve
	}
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("advisory %s: %w", id, err)
	}
	var out []AdvisoryDetail
	for rows.Next() {
		var d AdvisoryDetail
		var rec []byte
		if d.Advisory, err = scanAdvisory(rows, &rec); err != nil {
			rows.Close()
			return nil, fmt.Errorf("advisory %s: %w", id, classify(err))
		}
		d.Record = rec
		out = append(out, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("advisory %s: %w", id, classify(err))
	}
	if len(out) == 0 {
		return nil, patchbay.Errorf(patchbay.ENotFound, "no advisory %s", id)
	}
	slices.SortStableFunc(out, func(a, b AdvisoryDetail) int { return cmp.Compare(boolRank(a.ID != id), boolRank(b.ID != id)) })
	advs := make([]patchbay.Advisory, len(out))
	for i := range out {
		advs[i] = out[i].Advisory
	}
	if err := s.loadCVEs(ctx, advs); err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Advisory = advs[i]
		fs, err := s.Findings(ctx, patchbay.FindingFilter{Advisory: out[i].ID})
		if err != nil {
			return nil, err
		}
		out[i].Findings = fs
		hosts := map[int64]bool{}
		for _, f := range fs {
			hosts[f.HostID] = true
			out[i].FixAvailable = out[i].FixAvailable || len(f.Fixed) > 0
		}
		out[i].HostsAffected = len(hosts)
	}
	return out, nil
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// HostsAffectedBy returns the ids of the hosts in service with an open
// finding of the advisory with that id or of an advisory linked to that
// CVE, sorted.
func (s *Store) HostsAffectedBy(ctx context.Context, id string) ([]int64, error) {
	if cve, ok := feed.NormalizeCVE(id); ok {
		id = cve
	}
	rows, err := s.query(ctx, `SELECT ah.pairs FROM advisory_hosts ah
		WHERE ah.advisory_id = ? OR ah.advisory_id IN (SELECT advisory_id FROM advisory_cves WHERE cve = ?)`, id, id)
	if err != nil {
		return nil, fmt.Errorf("hosts affected by %s: %w", id, err)
	}
	var hosts []int64
	for rows.Next() {
		var blob []byte
		if err := rows.Scan(&blob); err != nil {
			rows.Close()
			return nil, classify(err)
		}
		ps, err := decodePairs(blob)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("hosts affected by %s: %w", id, err)
		}
		for _, p := range ps {
			if len(hosts) == 0 || hosts[len(hosts)-1] != p.Host() {
				hosts = append(hosts, p.Host())
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	slices.Sort(hosts)
	hosts = slices.Compact(hosts)
	if len(hosts) == 0 {
		return []int64{}, nil
	}
	// Leave out hosts retired since the matcher's last pass.
	var retired []int64
	err = inChunks(ctx, s.readQuerier(), "SELECT id FROM hosts WHERE retired_at IS NOT NULL AND id IN (%s)", hosts, func(rows *sql.Rows) error {
		var h int64
		if err := rows.Scan(&h); err != nil {
			return err
		}
		retired = append(retired, h)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hosts affected by %s: %w", id, err)
	}
	return slices.DeleteFunc(hosts, func(h int64) bool { _, gone := slices.BinarySearch(retired, h); return gone }), nil
}
