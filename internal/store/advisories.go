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
	"github.com/patchbay/patchbay/internal/osv"
	"github.com/patchbay/patchbay/internal/severity"
)

// AdvisoryImport is one import: records of one feed, and/or a KEV catalog,
// and/or EPSS scores. It is stored in one transaction: all of it or none.
type AdvisoryImport struct {
	Source   string // the feed's name, for the history: a file, URL or bundle
	Kind     string // osv, debian-tracker, kev, epss, bundle
	Records  []*osv.Record
	KEV      *feed.KEVCatalog
	EPSS     *feed.EPSSScores
	Problems int // records the caller could not use, for the history
}

// ImportSummary says what an import did. A record is Added when its id was
// new, Replaced when its modified time is newer than the stored one,
// Unchanged when equal, and Older (kept as stored) when older.
type ImportSummary struct {
	Added     int   `json:"added"`
	Replaced  int   `json:"replaced"`
	Unchanged int   `json:"unchanged"`
	Older     int   `json:"older"`
	Problems  int   `json:"problems"`
	KEV       int   `json:"kev"`
	EPSS      int   `json:"epss"`
	Seq       int64 `json:"-"` // the advisory change it committed as; 0 when no record changed
}

// Add adds o's counts to s.
func (s *ImportSummary) Add(o ImportSummary) {
	s.Added += o.Added
	s.Replaced += o.Replaced
	s.Unchanged += o.Unchanged
	s.Older += o.Older
	s.Problems += o.Problems
	s.KEV += o.KEV
	s.EPSS += o.EPSS
}

// maxParams bounds the parameters of one multi-row statement (PostgreSQL
// allows 65,535, SQLite 32,766).
const maxParams = 4000

// insertRows inserts rows into table in multi-row statements; suffix is
// appended to each (an ON CONFLICT clause).
func (t *Tx) insertRows(ctx context.Context, table string, cols []string, rows [][]any, suffix string) error {
	if len(rows) == 0 {
		return nil
	}
	per := max(1, maxParams/len(cols))
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	for chunk := range slices.Chunk(rows, per) {
		args := make([]any, 0, len(chunk)*len(cols))
		for _, r := range chunk {
			args = append(args, r...)
		}
		q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " +
			strings.TrimSuffix(strings.Repeat(one+",", len(chunk)), ",") + " " + suffix
		// Statements of a full chunk repeat and are worth preparing; the
		// last, shorter one runs unprepared.
		var err error
		if len(chunk) == per {
			_, err = t.exec(ctx, q, args...)
		} else {
			_, err = t.tx.ExecContext(ctx, t.s.rebind(q), args...)
			err = classify(err)
		}
		if err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
	}
	return nil
}

// placeholders returns "?,?,…" for n values.
func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

func anys[T any](vs []T) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// ImportAdvisories stores an import in one transaction. Records replace
// stored ones only when their modified time is newer, so importing the same
// feed twice changes nothing and an older copy never overwrites a newer
// one. KEV entries and EPSS scores replace earlier ones for their CVEs, and
// the advisories linked to those CVEs are re-enriched. The import is
// audited as one event.
func (s *Store) ImportAdvisories(ctx context.Context, actor string, in AdvisoryImport) (ImportSummary, error) {
	sum := ImportSummary{Problems: in.Problems}
	now := s.now()
	err := s.inTx(ctx, func(tx *Tx) error {
		sum = ImportSummary{Problems: in.Problems}
		if err := tx.importRecords(ctx, in.Source, in.Records, now, &sum); err != nil {
			return err
		}
		if in.KEV != nil {
			if err := tx.importKEV(ctx, in.KEV, &sum); err != nil {
				return err
			}
		}
		if in.EPSS != nil {
			if err := tx.importEPSS(ctx, in.EPSS, &sum); err != nil {
				return err
			}
		}
		if _, err := tx.exec(ctx, `INSERT INTO feed_imports (source, kind, actor, at, added, replaced, unchanged, older, problems, kev, epss)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, truncate(in.Source, 500), in.Kind, actor, micros(now),
			sum.Added, sum.Replaced, sum.Unchanged, sum.Older, sum.Problems, sum.KEV, sum.EPSS); err != nil {
			return fmt.Errorf("record import: %w", err)
		}
		return tx.audit(ctx, Change{Actor: actor, Action: "feeds.import", ObjectType: "feed", ObjectID: truncate(in.Source, 200),
			After: map[string]any{"kind": in.Kind, "summary": sum}})
	})
	if err != nil {
		return ImportSummary{}, fmt.Errorf("import %s: %w", in.Source, err)
	}
	return sum, nil
}

// importRecords adds and replaces advisories. The advisories whose record
// changed take the next seq, so the matcher sees them.
func (t *Tx) importRecords(ctx context.Context, source string, recs []*osv.Record, now time.Time, sum *ImportSummary) error {
	if len(recs) == 0 {
		return nil
	}
	// Imports take turns from here: on PostgreSQL two could otherwise both
	// read a record's stored modified time and the older one win. (SQLite
	// transactions here already hold the one write lock.)
	if t.s.loc.Engine == Postgres {
		var seq int64
		if err := t.queryRow(ctx, "SELECT seq FROM advisory_seq WHERE id = 1 FOR UPDATE").Scan(&seq); err != nil {
			return fmt.Errorf("lock advisory imports: %w", classify(err))
		}
	}
	stored := map[string]int64{} // id -> modified
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	err := inChunks(ctx, txQuerier{t}, "SELECT id, modified FROM advisories WHERE id IN (%s)", ids, func(rows *sql.Rows) error {
		var id string
		var mod int64
		err := rows.Scan(&id, &mod)
		stored[id] = mod
		return err
	})
	if err != nil {
		return fmt.Errorf("read stored advisories: %w", classify(err))
	}
	// The same id twice in one import: the newest copy is the one
	// imported, the others count as older.
	byID := make(map[string]*osv.Record, len(recs))
	var order []string
	for _, r := range recs {
		prev, ok := byID[r.ID]
		switch {
		case !ok:
			order = append(order, r.ID)
			byID[r.ID] = r
		case r.Modified.After(prev.Modified):
			byID[r.ID] = r
			sum.Older++
		default:
			sum.Older++
		}
	}
	var changed []*osv.Record
	var replaced []string
	for _, id := range order {
		r := byID[id]
		mod, ok := stored[r.ID]
		switch {
		case !ok:
			sum.Added++
		case micros(r.Modified) > mod:
			sum.Replaced++
			replaced = append(replaced, r.ID)
		case micros(r.Modified) == mod:
			sum.Unchanged++
			continue
		default:
			sum.Older++
			continue
		}
		changed = append(changed, r)
	}
	if len(changed) == 0 {
		return nil
	}
	seq, err := t.nextAdvisorySeq(ctx)
	if err != nil {
		return err
	}
	sum.Seq = seq
	for chunk := range slices.Chunk(replaced, 500) {
		if _, err := t.tx.ExecContext(ctx, t.s.rebind("DELETE FROM advisory_names WHERE advisory_id IN ("+placeholders(len(chunk))+")"), anys(chunk)...); err != nil {
			return fmt.Errorf("replace advisories: %w", classify(err))
		}
		if _, err := t.tx.ExecContext(ctx, t.s.rebind("DELETE FROM advisory_cves WHERE advisory_id IN ("+placeholders(len(chunk))+")"), anys(chunk)...); err != nil {
			return fmt.Errorf("replace advisories: %w", classify(err))
		}
		if _, err := t.tx.ExecContext(ctx, t.s.rebind("DELETE FROM advisories WHERE id IN ("+placeholders(len(chunk))+")"), anys(chunk)...); err != nil {
			return fmt.Errorf("replace advisories: %w", classify(err))
		}
	}
	linked := t.linkedRecords(ctx, byID)
	var advRows, nameRows, cveRows [][]any
	var newCVERecords []string
	for _, r := range changed {
		js, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode advisory %s: %w", r.ID, err)
		}
		var published, withdrawn any
		if !r.Published.IsZero() {
			published = micros(r.Published)
		}
		if !r.Withdrawn.IsZero() {
			withdrawn = micros(r.Withdrawn)
		}
		advRows = append(advRows, append(append([]any{r.ID, micros(r.Modified), published, withdrawn, truncate(r.Summary, 1000)},
			severityColumns(severity.Of(r, linked))...), truncate(source, 500), js, micros(now), seq))
		seen := map[[2]string]bool{}
		for _, af := range r.Affected {
			if af.Package == nil {
				continue
			}
			k := [2]string{osv.ParseEcosystem(af.Package.Ecosystem).Name, af.Package.Name}
			if !seen[k] {
				seen[k] = true
				nameRows = append(nameRows, []any{k[0], k[1], r.ID})
			}
		}
		for _, c := range feed.CVEsOf(r) {
			cveRows = append(cveRows, []any{c, r.ID})
		}
		if c, ok := feed.NormalizeCVE(r.ID); ok {
			newCVERecords = append(newCVERecords, c)
		}
	}
	if err := t.insertRows(ctx, "advisories", []string{"id", "modified", "published", "withdrawn", "summary", "severity", "severity_step",
		"severity_why", "cvss_score", "source", "record", "imported_at", "seq"}, advRows, ""); err != nil {
		return err
	}
	if err := t.insertRows(ctx, "advisory_names", []string{"ecosystem", "name", "advisory_id"}, nameRows, "ON CONFLICT DO NOTHING"); err != nil {
		return err
	}
	if err := t.insertRows(ctx, "advisory_cves", []string{"cve", "advisory_id"}, cveRows, "ON CONFLICT DO NOTHING"); err != nil {
		return err
	}
	changedIDs := make([]string, len(changed))
	for i, r := range changed {
		changedIDs[i] = r.ID
	}
	if err := t.enrich(ctx, "id IN (%s)", changedIDs); err != nil {
		return err
	}
	return t.reassessLinked(ctx, newCVERecords, byID)
}

// nextAdvisorySeq takes the next advisory change number. The counter row
// stays locked until the transaction ends, so seqs become visible in order.
func (t *Tx) nextAdvisorySeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := t.queryRow(ctx, "UPDATE advisory_seq SET seq = seq + 1 WHERE id = 1 RETURNING seq").Scan(&seq); err != nil {
		return 0, fmt.Errorf("next advisory seq: %w", classify(err))
	}
	return seq, nil
}

// linkedRecords returns severity's lookup of a linked CVE record: one in
// this import, else one stored.
func (t *Tx) linkedRecords(ctx context.Context, batch map[string]*osv.Record) func(string) *osv.Record {
	return func(cve string) *osv.Record {
		if r, ok := batch[cve]; ok {
			return r
		}
		var js []byte
		if err := t.queryRow(ctx, "SELECT record FROM advisories WHERE id = ?", cve).Scan(&js); err != nil {
			return nil
		}
		r, err := osv.Parse(js)
		if err != nil {
			return nil
		}
		return r
	}
}

// reassessLinked rates again the stored advisories that link one of the
// CVE records just imported and had no rating of their own (severity's
// third step).
func (t *Tx) reassessLinked(ctx context.Context, cves []string, batch map[string]*osv.Record) error {
	var recs []*osv.Record
	err := inChunks(ctx, txQuerier{t}, `SELECT a.record FROM advisories a JOIN advisory_cves c ON c.advisory_id = a.id
		WHERE c.cve IN (%s) AND a.id <> c.cve AND a.severity_step IN ('none', 'linked')`, cves, func(rows *sql.Rows) error {
		var js []byte
		if err := rows.Scan(&js); err != nil {
			return err
		}
		if r, err := osv.Parse(js); err == nil {
			recs = append(recs, r)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reassess linked advisories: %w", classify(err))
	}
	linked := t.linkedRecords(ctx, batch)
	for _, r := range recs {
		if _, err := t.exec(ctx, "UPDATE advisories SET severity = ?, severity_step = ?, severity_why = ?, cvss_score = ? WHERE id = ?",
			append(severityColumns(severity.Of(r, linked)), r.ID)...); err != nil {
			return fmt.Errorf("reassess %s: %w", r.ID, err)
		}
	}
	return nil
}

// severityColumns are an assessment's severity, severity_step,
// severity_why and cvss_score columns.
func severityColumns(a severity.Assessment) []any {
	var score any
	if a.CVSS != nil {
		score = a.CVSS.Base
	}
	return []any{string(a.Level), string(a.Step), truncate(a.String(), 1000), score}
}

// enrich recomputes the KEV and EPSS columns of the advisories selected by
// where (with one %s for the ids' placeholders).
func (t *Tx) enrich(ctx context.Context, where string, ids []string) error {
	var have int
	if err := t.queryRow(ctx, "SELECT CASE WHEN EXISTS (SELECT 1 FROM kev) OR EXISTS (SELECT 1 FROM epss) THEN 1 ELSE 0 END").Scan(&have); err != nil {
		return fmt.Errorf("enrich advisories: %w", classify(err))
	}
	if have == 0 {
		return nil // nothing to enrich with: the columns keep their defaults
	}
	for chunk := range slices.Chunk(ids, 500) {
		q := `UPDATE advisories SET
			kev = CASE WHEN EXISTS (SELECT 1 FROM advisory_cves c JOIN kev k ON k.cve = c.cve WHERE c.advisory_id = advisories.id) THEN 1 ELSE 0 END,
			kev_due = (SELECT MIN(k.due_date) FROM advisory_cves c JOIN kev k ON k.cve = c.cve WHERE c.advisory_id = advisories.id),
			epss = (SELECT MAX(e.score) FROM advisory_cves c JOIN epss e ON e.cve = c.cve WHERE c.advisory_id = advisories.id)
			WHERE ` + fmt.Sprintf(where, placeholders(len(chunk)))
		if _, err := t.tx.ExecContext(ctx, t.s.rebind(q), anys(chunk)...); err != nil {
			return fmt.Errorf("enrich advisories: %w", classify(err))
		}
	}
	return nil
}

// importKEV replaces the KEV entries of the catalog's CVEs and re-enriches
// the advisories linked to them.
func (t *Tx) importKEV(ctx context.Context, c *feed.KEVCatalog, sum *ImportSummary) error {
	var rows [][]any
	var cves []string
	for cve, e := range c.ByCVE() {
		var due any
		if !e.DueDate.IsZero() {
			due = micros(e.DueDate)
		}
		ransom := "Unknown"
		if e.KnownRansomwareUse {
			ransom = "Known"
		}
		rows = append(rows, []any{cve, e.VendorProject, e.Product, e.VulnerabilityName, micros(e.DateAdded), due, ransom, c.Version})
		cves = append(cves, cve)
	}
	slices.Sort(cves)
	if err := t.insertRows(ctx, "kev", []string{"cve", "vendor", "product", "name", "date_added", "due_date", "ransomware", "catalog"}, rows,
		`ON CONFLICT (cve) DO UPDATE SET vendor = excluded.vendor, product = excluded.product, name = excluded.name,
		date_added = excluded.date_added, due_date = excluded.due_date, ransomware = excluded.ransomware, catalog = excluded.catalog`); err != nil {
		return err
	}
	sum.KEV = len(rows)
	return t.enrich(ctx, "id IN (SELECT advisory_id FROM advisory_cves WHERE cve IN (%s))", cves)
}

// importEPSS replaces the EPSS scores of the file's CVEs and re-enriches
// the advisories linked to them.
func (t *Tx) importEPSS(ctx context.Context, e *feed.EPSSScores, sum *ImportSummary) error {
	var rows [][]any
	cves := make([]string, 0, len(e.Scores))
	for cve := range e.Scores {
		cves = append(cves, cve)
	}
	slices.Sort(cves)
	for _, cve := range cves {
		sc := e.Scores[cve]
		rows = append(rows, []any{cve, sc.EPSS, sc.Percentile, micros(e.ScoreDate), e.ModelVersion})
	}
	if err := t.insertRows(ctx, "epss", []string{"cve", "score", "percentile", "score_date", "model"}, rows,
		`ON CONFLICT (cve) DO UPDATE SET score = excluded.score, percentile = excluded.percentile, score_date = excluded.score_date, model = excluded.model`); err != nil {
		return err
	}
	sum.EPSS = len(rows)
	return t.enrich(ctx, "id IN (SELECT advisory_id FROM advisory_cves WHERE cve IN (%s))", cves)
}

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
