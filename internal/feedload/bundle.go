package feedload

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patchbay/patchbay/internal/feed"
	"github.com/patchbay/patchbay/internal/osv"
)

// The bundle's format name and the version this package writes and reads.
// A change that an older reader would misread bumps the version.
const (
	bundleFormat  = "patchbay-feed-bundle"
	bundleVersion = 1
)

// The fixed member names of a bundle; records are "osv/<id>.json", the id
// escaped as a URL path segment.
const (
	manifestName = "manifest.json"
	kevName      = "kev.json"
	epssName     = "epss.csv"
	osvDir       = "osv/"
)

// BundleContents is what WriteBundle writes.
type BundleContents struct {
	Created time.Time        // when the bundle was made; required
	Records []*osv.Record    // ids unique
	KEV     *feed.KEVCatalog // nil: none in the bundle
	EPSS    *feed.EPSSScores // nil: none in the bundle
}

// manifest is manifest.json.
type manifest struct {
	Format  string    `json:"format"`  // bundleFormat
	Version int       `json:"version"` // bundleVersion
	Created time.Time `json:"created"`
	Counts  counts    `json:"counts"`
	Members []member  `json:"members"` // every member but manifest.json
}

type counts struct {
	OSV  int `json:"osv"`  // records
	KEV  int `json:"kev"`  // catalog entries
	EPSS int `json:"epss"` // scored CVEs
}

type member struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // lower-case hex
}

// WriteBundle writes b as a zip that LoadPath and LoadBytes read back on a
// server without network access: "osv/<id>.json" per record (its
// osv.Record.MarshalJSON form), "kev.json" (CISA's format, with the fields
// feed.KEVCatalog keeps), "epss.csv" (FIRST's format), and "manifest.json"
// with the format name, version 1, the creation time, the counts, and the
// size and SHA-256 of every other member. The reader refuses a bundle whose
// members do not match their manifest.
func WriteBundle(w io.Writer, b BundleContents) error {
	if b.Created.IsZero() {
		return errors.New("write bundle: Created is not set")
	}
	recs := slices.Clone(b.Records)
	for i, r := range recs {
		if r == nil {
			return fmt.Errorf("write bundle: record %d is nil", i)
		}
	}
	slices.SortFunc(recs, func(a, b *osv.Record) int { return strings.Compare(a.ID, b.ID) })
	for i := 1; i < len(recs); i++ {
		if recs[i].ID == recs[i-1].ID {
			return fmt.Errorf("write bundle: record %s is there twice", recs[i].ID)
		}
	}
	m := manifest{Format: bundleFormat, Version: bundleVersion, Created: b.Created.UTC()}
	zw := zip.NewWriter(w)
	add := func(name string, data []byte) error {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: m.Created})
		if err != nil {
			return fmt.Errorf("write bundle: %s: %w", name, err)
		}
		if _, err := fw.Write(data); err != nil {
			return fmt.Errorf("write bundle: %s: %w", name, err)
		}
		sum := sha256.Sum256(data)
		m.Members = append(m.Members, member{Name: name, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])})
		return nil
	}
	for _, r := range recs {
		data, err := r.MarshalJSON()
		if err != nil {
			return fmt.Errorf("write bundle: record %s: %w", r.ID, err)
		}
		if err := add(osvDir+url.PathEscape(r.ID)+".json", data); err != nil {
			return err
		}
	}
	m.Counts.OSV = len(recs)
	if b.KEV != nil {
		data, err := marshalKEV(*b.KEV)
		if err != nil {
			return fmt.Errorf("write bundle: %w", err)
		}
		if err := add(kevName, data); err != nil {
			return err
		}
		m.Counts.KEV = len(b.KEV.Entries)
	}
	if b.EPSS != nil {
		data, err := marshalEPSS(*b.EPSS)
		if err != nil {
			return fmt.Errorf("write bundle: %w", err)
		}
		if err := add(epssName, data); err != nil {
			return err
		}
		m.Counts.EPSS = len(b.EPSS.Scores)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("write bundle: manifest: %w", err)
	}
	fw, err := zw.CreateHeader(&zip.FileHeader{Name: manifestName, Method: zip.Deflate, Modified: m.Created})
	if err == nil {
		_, err = fw.Write(append(data, '\n'))
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	return nil
}

// tampered is the error for a member whose digest or size is not the
// manifest's.
func (l *loader) tampered(file string) error {
	return l.invalid("%s does not match its SHA-256 in the manifest: the bundle was damaged or changed after it was written; nothing is imported from it", file)
}

// loadBundle loads a bundle: it checks the manifest against the members,
// then parses the records (a record osv.Parse refuses is a Problem, as in
// any zip) and the KEV and EPSS members (an error if refused, as for those
// files alone), checking each member's SHA-256 as it is read.
func (l *loader) loadBundle(ctx context.Context, zr *zip.Reader) (*Batch, error) {
	files := make(map[string]*zip.File, len(zr.File))
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() {
			continue
		}
		if _, dup := files[zf.Name]; dup {
			return nil, l.invalid("bundle member %s is there twice: the bundle was damaged or changed after it was written", zf.Name)
		}
		files[zf.Name] = zf
	}
	var declared uint64
	mf := files[manifestName]
	if err := l.checkDeclared(mf, uint64(l.o.MaxTotalBytes), "MaxTotalBytes", &declared); err != nil {
		return nil, err
	}
	data, err := l.member(ctx, mf, "")
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, l.invalid("%s: not valid JSON: %s", manifestName, jsonReason(data, err))
	}
	if m.Format != bundleFormat {
		return nil, l.invalid("%s: format %q: a zip with a manifest.json that is not a patchbay bundle (want format %q)", manifestName, m.Format, bundleFormat)
	}
	if m.Version != bundleVersion {
		return nil, l.invalid("%s: bundle version %d: this patchbay reads version %d only; use the patchbay that wrote it or a newer one", manifestName, m.Version, bundleVersion)
	}
	listed := make(map[string]member, len(m.Members))
	var entries []entry
	var kev, epss *zip.File
	for _, mm := range m.Members {
		zf := files[mm.Name]
		_, twice := listed[mm.Name]
		switch {
		case zf == nil:
			return nil, l.invalid("%s lists %s, which is not in the bundle: it was damaged or changed after it was written", manifestName, mm.Name)
		case twice:
			return nil, l.invalid("%s lists %s twice", manifestName, mm.Name)
		case int64(zf.UncompressedSize64) != mm.Size:
			return nil, l.tampered(l.name + ":" + mm.Name)
		}
		listed[mm.Name] = mm
		limit, limitName := l.o.MaxTotalBytes, "MaxTotalBytes"
		switch {
		case mm.Name == kevName:
			kev = zf
		case mm.Name == epssName:
			epss = zf
		case strings.HasPrefix(mm.Name, osvDir) && strings.HasSuffix(mm.Name, ".json"):
			limit, limitName = l.o.MaxRecordBytes, "MaxRecordBytes"
			entries = append(entries, l.zipEntry(zf, mm.SHA256))
		default:
			return nil, l.invalid("%s lists %s, which is no member a bundle has (osv/*.json, kev.json, epss.csv)", manifestName, mm.Name)
		}
		if err := l.checkDeclared(zf, uint64(limit), limitName, &declared); err != nil {
			return nil, err
		}
	}
	for name := range files {
		if _, ok := listed[name]; !ok && name != manifestName {
			return nil, l.invalid("member %s is not in %s: the bundle was changed after it was written", name, manifestName)
		}
	}
	if len(entries) != m.Counts.OSV {
		return nil, l.invalid("%s counts %d records but lists %d: the bundle was damaged or changed after it was written", manifestName, m.Counts.OSV, len(entries))
	}
	items, err := l.parseAll(ctx, entries, true)
	if err != nil {
		return nil, err
	}
	b := &Batch{Name: l.name, Kind: KindBundle}
	b.Records, b.Problems = collect(items, nil)
	if kev != nil {
		data, err := l.member(ctx, kev, listed[kevName].SHA256)
		if err != nil {
			return nil, err
		}
		c, err := feed.ParseKEV(bytes.NewReader(data))
		if err != nil {
			return nil, l.invalid("%s: %v", kevName, err)
		}
		b.KEV = &c
	}
	if n := b.kevCount(); n != m.Counts.KEV {
		return nil, l.invalid("%s counts %d KEV entries but the bundle has %d", manifestName, m.Counts.KEV, n)
	}
	if epss != nil {
		data, err := l.member(ctx, epss, listed[epssName].SHA256)
		if err != nil {
			return nil, err
		}
		s, err := feed.ParseEPSS(bytes.NewReader(data))
		if err != nil {
			return nil, l.invalid("%s: %v", epssName, err)
		}
		b.EPSS = &s
	}
	if n := b.epssCount(); n != m.Counts.EPSS {
		return nil, l.invalid("%s counts %d EPSS scores but the bundle has %d", manifestName, m.Counts.EPSS, n)
	}
	return b, nil
}

func (b *Batch) kevCount() int {
	if b.KEV == nil {
		return 0
	}
	return len(b.KEV.Entries)
}

func (b *Batch) epssCount() int {
	if b.EPSS == nil {
		return 0
	}
	return len(b.EPSS.Scores)
}

// member reads a bundle member other than a record, within MaxTotalBytes,
// and checks its digest unless sha is empty (the manifest itself).
func (l *loader) member(ctx context.Context, zf *zip.File, sha string) ([]byte, error) {
	e := l.zipEntry(zf, sha)
	rc, err := zf.Open()
	if err != nil {
		return nil, l.invalid("member %s cannot be opened (%v): the bundle is damaged; nothing is imported from it", e.file, err)
	}
	defer rc.Close()
	data, err := l.read(ctx, rc, e, l.o.MaxTotalBytes, "MaxTotalBytes", true)
	if err != nil {
		var le *limitError
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("load feed %s: %w", l.name, ctx.Err())
		case errors.As(err, &le):
			return nil, l.tooLarge("%s", le.msg)
		}
		return nil, l.invalid("member %s cannot be read (%v): the bundle is damaged or truncated; nothing is imported from it", e.file, err)
	}
	if sha != "" {
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != sha {
			return nil, l.tampered(e.file)
		}
	}
	return data, nil
}

// kevJSON is a KEV catalog in CISA's format, with the fields feed.KEVCatalog
// keeps (shortDescription, requiredAction, notes and cwes are not kept).
type kevJSON struct {
	Title           string         `json:"title"`
	CatalogVersion  string         `json:"catalogVersion"`
	DateReleased    string         `json:"dateReleased"`
	Count           int            `json:"count"`
	Vulnerabilities []kevEntryJSON `json:"vulnerabilities"`
}

type kevEntryJSON struct {
	CVEID                      string `json:"cveID"`
	VendorProject              string `json:"vendorProject"`
	Product                    string `json:"product"`
	VulnerabilityName          string `json:"vulnerabilityName"`
	DateAdded                  string `json:"dateAdded"`
	DueDate                    string `json:"dueDate"`
	KnownRansomwareCampaignUse string `json:"knownRansomwareCampaignUse"`
}

// marshalKEV writes c as CISA publishes it, so that feed.ParseKEV reads it
// back equal.
func marshalKEV(c feed.KEVCatalog) ([]byte, error) {
	out := kevJSON{
		Title:           "CISA Catalog of Known Exploited Vulnerabilities",
		CatalogVersion:  c.Version,
		DateReleased:    c.Released.UTC().Format(time.RFC3339Nano),
		Count:           len(c.Entries),
		Vulnerabilities: make([]kevEntryJSON, len(c.Entries)),
	}
	if c.Version == "" {
		return nil, errors.New("kev catalog: no version")
	}
	for i, e := range c.Entries {
		ransom := "Unknown"
		if e.KnownRansomwareUse {
			ransom = "Known"
		}
		out.Vulnerabilities[i] = kevEntryJSON{
			CVEID: e.CVE, VendorProject: e.VendorProject, Product: e.Product,
			VulnerabilityName: e.VulnerabilityName,
			DateAdded:         e.DateAdded.Format(time.DateOnly), DueDate: e.DueDate.Format(time.DateOnly),
			KnownRansomwareCampaignUse: ransom,
		}
	}
	return json.MarshalIndent(out, "", "    ")
}

// marshalEPSS writes s as FIRST publishes it: the comment line (left out,
// as in files before 2022, when s has neither model version nor date), the
// header, and one row per CVE in CVE order. Scores are written in the
// shortest form that parses back to the same float64.
func marshalEPSS(s feed.EPSSScores) ([]byte, error) {
	var buf bytes.Buffer
	switch {
	case s.ModelVersion == "" && s.ScoreDate.IsZero():
	case s.ModelVersion == "" || s.ScoreDate.IsZero():
		return nil, errors.New("epss scores: a model version without a score date, or the reverse")
	case strings.ContainsAny(s.ModelVersion, ",\r\n"):
		return nil, fmt.Errorf("epss scores: model version %q has a comma or line break", s.ModelVersion)
	default:
		fmt.Fprintf(&buf, "#model_version:%s,score_date:%s\n", s.ModelVersion, s.ScoreDate.UTC().Format(time.RFC3339Nano))
	}
	buf.WriteString("cve,epss,percentile\n")
	cves := make([]string, 0, len(s.Scores))
	for cve := range s.Scores {
		cves = append(cves, cve)
	}
	slices.Sort(cves)
	for _, cve := range cves {
		sc := s.Scores[cve]
		if c, ok := feed.NormalizeCVE(cve); !ok || c != cve {
			return nil, fmt.Errorf("epss scores: %q is not a CVE id", cve)
		}
		for _, x := range []float64{sc.EPSS, sc.Percentile} {
			if math.IsNaN(x) || x < 0 || x > 1 {
				return nil, fmt.Errorf("epss scores: %s: %v is outside [0, 1]", cve, x)
			}
		}
		buf.WriteString(cve)
		buf.WriteByte(',')
		buf.WriteString(strconv.FormatFloat(sc.EPSS, 'f', -1, 64))
		buf.WriteByte(',')
		buf.WriteString(strconv.FormatFloat(sc.Percentile, 'f', -1, 64))
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}
