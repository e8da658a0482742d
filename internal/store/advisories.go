package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

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
