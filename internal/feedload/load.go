package feedload

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"sync/atomic"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/feed"
	"github.com/patchbay/patchbay/internal/osv"
)

// Kind is the format of a feed.
type Kind string

// The feed formats LoadPath and LoadBytes recognise.
const (
	KindOSV           Kind = "osv"            // one OSV record, a directory or a zip of them
	KindDebianTracker Kind = "debian-tracker" // a Debian security tracker list; Batch.Tracker says which
	KindKEV           Kind = "kev"            // CISA's Known Exploited Vulnerabilities catalog
	KindEPSS          Kind = "epss"           // FIRST's EPSS scores
	KindBundle        Kind = "bundle"         // a bundle written by WriteBundle
)

// Batch is everything one feed yielded. Records, KEV and EPSS are set as the
// kind has them; a bundle may have all three.
type Batch struct {
	Name     string           // the path or name the caller gave
	Kind     Kind             // the format recognised
	Tracker  feed.TrackerKind // DSA, DLA or DTSA for KindDebianTracker; empty otherwise
	Records  []*osv.Record    // sorted by id, ids unique
	KEV      *feed.KEVCatalog // nil unless the feed had a KEV catalog
	EPSS     *feed.EPSSScores // nil unless the feed had EPSS scores
	Problems []Problem        // records and lines that could not be used
}

// Problem is a record or line that could not be used. The rest of its feed
// was loaded.
type Problem struct {
	// File names the record: "all.zip:GHSA-xxxx-xxxx-xxxx.json" inside a
	// zip, "feeds/osv/DSA-1543-1.json" in a directory, "DSA/list:1234" in a
	// tracker list.
	File string
	// Reason says what is wrong, in lower case: `osv record "X":
	// affected[0].ranges[0].events: no introduced event`.
	Reason string
}

// String returns "FILE: REASON".
func (p Problem) String() string { return p.File + ": " + p.Reason }

// The defaults of Options.
const (
	DefaultMaxRecordBytes = 8 << 20   // 8 MiB for one record
	DefaultMaxTotalBytes  = 2 << 30   // 2 GiB for a whole archive or gzip stream
	DefaultMaxEntries     = 1_000_000 // entries of a zip, records of a directory
	DefaultMaxRatio       = 100       // the real feeds of the tests deflate 2 to 9 times; zeros about 1,000 times
)

// ratioFloor is the uncompressed size under which the ratio guard does not
// apply: a small entry cannot do harm whatever its ratio, and short JSON full
// of repeated versions can deflate well.
const ratioFloor = 1 << 20

// Options tunes a load. The zero value uses the defaults; a limit of zero or
// less means its default.
type Options struct {
	// Progress, if set, is called after each record file of a directory,
	// zip or bundle is parsed, with the number done and the total (known
	// before the first call), and once at the end for the other kinds. Calls
	// never overlap; the callback should return quickly, as parsing waits.
	Progress func(done, total int)

	// MaxRecordBytes bounds one OSV record file or zip entry.
	MaxRecordBytes int64
	// MaxTotalBytes bounds what one feed inflates to: the uncompressed
	// entries of a zip together, a gzip stream, and a file that is not a zip.
	MaxTotalBytes int64
	// MaxEntries bounds the entries of a zip and the *.json files of a
	// directory.
	MaxEntries int
	// MaxRatio bounds uncompressed size over compressed size of a zip entry
	// or gzip stream once it is past 1 MiB uncompressed.
	MaxRatio int64
	// Workers is the number of records parsed at once; GOMAXPROCS if zero.
	Workers int
}

// limits returns o with defaults filled in.
func (o Options) limits() Options {
	if o.MaxRecordBytes <= 0 {
		o.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if o.MaxTotalBytes <= 0 {
		o.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxRatio <= 0 {
		o.MaxRatio = DefaultMaxRatio
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o
}

// LoadPath loads the feed at path with the default Options.
func LoadPath(ctx context.Context, path string) (*Batch, error) {
	return Options{}.LoadPath(ctx, path)
}

// LoadBytes loads a feed received as data with the default Options.
func LoadBytes(ctx context.Context, name string, data []byte) (*Batch, error) {
	return Options{}.LoadBytes(ctx, name, data)
}

// LoadPath loads the feed at path: a directory of OSV records, or a file of
// any kind in the package documentation, recognised by its content. A zip is
// read in place; any other file is read whole, up to MaxTotalBytes. See the
// package documentation for what is a Problem and what an error.
func (o Options) LoadPath(ctx context.Context, path string) (*Batch, error) {
	l := &loader{o: o.limits(), name: path}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load feed: %w", err)
	}
	if fi.IsDir() {
		return l.loadDir(ctx, path)
	}
	if !fi.Mode().IsRegular() {
		return nil, patchbay.Errorf(patchbay.EInvalid, "load feed %s: not a regular file or a directory", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load feed: %w", err)
	}
	defer f.Close()
	var head [4]byte
	n, _ := io.ReadFull(f, head[:])
	if isZip(head[:n]) {
		return l.loadZip(ctx, f, fi.Size())
	}
	if fi.Size() > l.o.MaxTotalBytes {
		return nil, l.tooLarge("the file is %d bytes, more than the limit of %d (MaxTotalBytes)", fi.Size(), l.o.MaxTotalBytes)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("load feed %s: %w", path, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, l.o.MaxTotalBytes+1))
	if err != nil {
		return nil, fmt.Errorf("load feed %s: %w", path, err)
	}
	if int64(len(data)) > l.o.MaxTotalBytes {
		return nil, l.tooLarge("the file grew past the limit of %d bytes (MaxTotalBytes) while read", l.o.MaxTotalBytes)
	}
	return l.loadBytes(ctx, data, 0)
}

// LoadBytes loads a feed received as data (an upload, a download), sniffed
// as LoadPath sniffs a file. name is how the Batch and its Problems refer to
// the input: a file name such as "all.zip" reads best.
func (o Options) LoadBytes(ctx context.Context, name string, data []byte) (*Batch, error) {
	l := &loader{o: o.limits(), name: name}
	return l.loadBytes(ctx, data, 0)
}

// loader holds one load's options and the feed's name.
type loader struct {
	o     Options
	name  string
	total atomic.Int64 // bytes inflated from zip entries so far
}

// invalid returns a patchbay.EInvalid error about the whole feed.
func (l *loader) invalid(format string, args ...any) error {
	return patchbay.Errorf(patchbay.EInvalid, "load feed %s: %s", l.name, fmt.Sprintf(format, args...))
}

// tooLarge returns a patchbay.ETooLarge error about the whole feed.
func (l *loader) tooLarge(format string, args ...any) error {
	return patchbay.Errorf(patchbay.ETooLarge, "load feed %s: %s; nothing is imported from it", l.name, fmt.Sprintf(format, args...))
}

// progress reports a load that is not parsed record by record as done.
func (l *loader) progress(n int) {
	if l.o.Progress != nil {
		l.o.Progress(n, n)
	}
}

// trackerHeader matches the first line of a Debian security tracker list,
// as cmd/patchbay's scan sniffs it.
var trackerHeader = regexp.MustCompile(`^\[[^\]\n]+\] (DSA|DLA|DTSA)-`)

func isZip(b []byte) bool {
	return bytes.HasPrefix(b, []byte("PK\x03\x04")) || bytes.HasPrefix(b, []byte("PK\x05\x06"))
}

func isGzip(b []byte) bool { return bytes.HasPrefix(b, []byte{0x1f, 0x8b}) }

// loadBytes sniffs data and loads it. depth counts gzip layers taken off.
func (l *loader) loadBytes(ctx context.Context, data []byte, depth int) (*Batch, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load feed %s: %w", l.name, err)
	}
	if len(data) == 0 {
		return nil, l.invalid("empty")
	}
	switch {
	case isGzip(data):
		if depth > 0 {
			return nil, l.invalid("gzip inside gzip: not a feed")
		}
		inner, err := l.gunzip(ctx, data)
		if err != nil {
			return nil, err
		}
		return l.loadBytes(ctx, inner, depth+1)
	case isZip(data):
		return l.loadZip(ctx, bytes.NewReader(data), int64(len(data)))
	}
	text := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if t := bytes.TrimLeft(text, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return l.loadJSON(ctx, t)
	}
	first, _, _ := bytes.Cut(text, []byte("\n"))
	first = bytes.TrimRight(first, "\r")
	if m := trackerHeader.FindSubmatch(first); m != nil {
		return l.loadTracker(ctx, text, feed.TrackerKind(m[1]))
	}
	if bytes.HasPrefix(first, []byte("#model_version:")) || string(first) == "cve,epss,percentile" {
		s, err := feed.ParseEPSS(bytes.NewReader(text))
		if err != nil {
			return nil, l.invalid("%v", err)
		}
		l.progress(len(s.Scores))
		return &Batch{Name: l.name, Kind: KindEPSS, EPSS: &s}, nil
	}
	return nil, l.invalid("not a feed patchbay knows: want an OSV record (JSON with \"id\" and \"affected\" or \"modified\"), " +
		"a directory or zip of them, a Debian security tracker list, a CISA KEV catalog, an EPSS CSV file, or a patchbay bundle")
}

// loadJSON loads a JSON document: a KEV catalog or one OSV record.
func (l *loader) loadJSON(ctx context.Context, data []byte) (*Batch, error) {
	var probe struct {
		ID              json.RawMessage `json:"id"`
		Affected        json.RawMessage `json:"affected"`
		Modified        json.RawMessage `json:"modified"`
		Vulnerabilities json.RawMessage `json:"vulnerabilities"`
		CatalogVersion  json.RawMessage `json:"catalogVersion"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, l.invalid("not valid JSON: %s", jsonReason(data, err))
	}
	switch {
	case probe.Vulnerabilities != nil && probe.CatalogVersion != nil:
		c, err := feed.ParseKEV(bytes.NewReader(data))
		if err != nil {
			return nil, l.invalid("%v", err)
		}
		l.progress(len(c.Entries))
		return &Batch{Name: l.name, Kind: KindKEV, KEV: &c}, nil
	case probe.ID != nil && (probe.Affected != nil || probe.Modified != nil):
		if int64(len(data)) > l.o.MaxRecordBytes {
			return nil, l.tooLarge("an OSV record of %d bytes, more than the limit of %d (MaxRecordBytes)", len(data), l.o.MaxRecordBytes)
		}
		rec, err := osv.Parse(data)
		if err != nil {
			return nil, l.invalid("%s", recordReason(data, err))
		}
		l.progress(1)
		return &Batch{Name: l.name, Kind: KindOSV, Records: []*osv.Record{rec}}, nil
	}
	return nil, l.invalid("a JSON object that is neither an OSV record (\"id\" with \"affected\" or \"modified\") nor a KEV catalog (\"catalogVersion\" and \"vulnerabilities\")")
}

// loadTracker loads a Debian security tracker list.
func (l *loader) loadTracker(ctx context.Context, data []byte, kind feed.TrackerKind) (*Batch, error) {
	recs, probs, err := feed.ParseTrackerList(bytes.NewReader(data), l.name, kind)
	if err != nil {
		return nil, l.invalid("%v", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load feed %s: %w", l.name, err)
	}
	b := &Batch{Name: l.name, Kind: KindDebianTracker, Tracker: kind}
	for _, p := range probs {
		b.Problems = append(b.Problems, trackerProblem(p))
	}
	items := make([]parsed, len(recs))
	for i, r := range recs {
		items[i] = parsed{file: l.name, rec: r}
	}
	b.Records, b.Problems = collect(items, b.Problems)
	l.progress(len(recs))
	return b, nil
}

// trackerProblem names a tracker Problem's line as "FILE:LINE".
func trackerProblem(p feed.Problem) Problem {
	file := p.File
	if p.Line > 0 {
		file = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	reason := p.Reason
	if p.ID != "" {
		reason = p.ID + ": " + reason
	}
	return Problem{File: file, Reason: reason}
}

// recordReason says why osv.Parse refused data, placing a JSON syntax error.
func recordReason(data []byte, err error) string {
	var ie *osv.InvalidError
	if errors.As(err, &ie) && ie.ID == "" && ie.Field == "id" {
		return "no id: an OSV record needs a non-empty \"id\""
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "not valid JSON: " + jsonReason(data, err)
	}
	return err.Error()
}

// jsonReason returns a JSON decoding error with its line and column.
func jsonReason(data []byte, err error) string {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return err.Error()
	}
	off := min(int(se.Offset), len(data))
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := off - bytes.LastIndexByte(data[:off], '\n')
	return fmt.Sprintf("line %d, column %d: %v", line, col, se)
}

// openZip opens a zip, refusing damaged ones and those with too many entries.
func (l *loader) openZip(r io.ReaderAt, size int64) (*zip.Reader, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		// Names are never used as paths here, so "../x" is harmless.
		return nil, l.invalid("zip archive is damaged or truncated (%v); nothing is imported from it", err)
	}
	if len(zr.File) > l.o.MaxEntries {
		return nil, l.tooLarge("zip archive has %d entries, more than the limit of %d (MaxEntries)", len(zr.File), l.o.MaxEntries)
	}
	return zr, nil
}
