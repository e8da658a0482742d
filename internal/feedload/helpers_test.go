package feedload

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/feed"
	"github.com/patchbay/patchbay/internal/osv"
)

// The real feeds of the other packages' test data.
const (
	trackerDir = "../feed/testdata/debian-security-tracker-2023-04"
	kevPath    = "../feed/testdata/kev/known_exploited_vulnerabilities.json"
	epssPath   = "../feed/testdata/epss/epss_scores-2025-08-25.csv"
	epssGzPath = epssPath + ".gz"
	osvReal    = "../osv/testdata/osv-real"
	badDir     = "testdata/bad"
)

// osvRealRecords is how many distinct ids osv-real holds: 34 files, three
// of which (GIT/PYSEC-*) are byte-identical to files under PyPI/.
const osvRealRecords = 31

// zipMember is one file of a zip built by a test.
type zipMember struct {
	name string
	data []byte
}

// buildZip returns a deflated zip of members, in order.
func buildZip(t testing.TB, members []zipMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// treeMembers returns the files of dir, named by their slash path under it.
func treeMembers(t testing.TB, dir string) []zipMember {
	t.Helper()
	var out []zipMember
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, zipMember{name: filepath.ToSlash(rel), data: data})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// withID returns the real record at path with its id (and modified, if
// not empty) replaced.
func withID(t testing.TB, path, id, modified string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readFile(t, path), &m); err != nil {
		t.Fatal(err)
	}
	m["id"] = id
	if modified != "" {
		m["modified"] = modified
	}
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// canonical returns the records as their JSON form, one per line, with
// their warnings: what two loads are compared by (raw JSON blocks keep the
// source's whitespace until marshalled).
func canonical(t testing.TB, recs []*osv.Record) string {
	t.Helper()
	var b strings.Builder
	for _, r := range recs {
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteString(" warnings=" + strings.Join(r.Warnings, ";") + "\n")
	}
	return b.String()
}

// wantError fails unless err is a *patchbay.Error of code whose message has
// every one of parts, and b is nil.
func wantError(t testing.TB, call string, b *Batch, err error, code patchbay.ErrorCode, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got a batch of %d records and %d problems, want a %s error", call, len(b.Records), len(b.Problems), code)
	}
	if b != nil {
		t.Errorf("%s: got a batch with the error %v, want nil", call, err)
	}
	if got := patchbay.ErrorCodeOf(err); got != code {
		t.Errorf("%s: error code %s, want %s (error: %v)", call, got, code, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not say %q", call, err, p)
		}
	}
}

// checkBatch fails if b breaks the promises of Batch: records sorted by id,
// ids unique, the parts its kind has, problems with a file and a reason.
func checkBatch(t testing.TB, b *Batch) {
	t.Helper()
	for i, r := range b.Records {
		if r == nil {
			t.Fatalf("record %d is nil", i)
		}
		if i > 0 && b.Records[i-1].ID >= r.ID {
			t.Errorf("records %d and %d: ids %q, %q not in strictly increasing order", i-1, i, b.Records[i-1].ID, r.ID)
		}
	}
	switch b.Kind {
	case KindOSV, KindDebianTracker:
		if b.KEV != nil || b.EPSS != nil {
			t.Errorf("kind %s with KEV or EPSS set", b.Kind)
		}
	case KindKEV:
		if b.KEV == nil || b.EPSS != nil || len(b.Records) > 0 {
			t.Errorf("kind kev: KEV %v, EPSS %v, %d records", b.KEV != nil, b.EPSS != nil, len(b.Records))
		}
	case KindEPSS:
		if b.EPSS == nil || b.KEV != nil || len(b.Records) > 0 {
			t.Errorf("kind epss: KEV %v, EPSS %v, %d records", b.KEV != nil, b.EPSS != nil, len(b.Records))
		}
	case KindBundle:
	default:
		t.Errorf("unknown kind %q", b.Kind)
	}
	if (b.Kind == KindDebianTracker) != (b.Tracker != "") {
		t.Errorf("kind %s with tracker %q", b.Kind, b.Tracker)
	}
	for _, p := range b.Problems {
		if p.File == "" || p.Reason == "" {
			t.Errorf("problem without file or reason: %+v", p)
		}
	}
}

// smallKEV returns the first n entries of the real KEV catalog in CISA's
// format.
func smallKEV(t testing.TB, n int) []byte {
	t.Helper()
	c, err := feed.ParseKEV(bytes.NewReader(readFile(t, kevPath)))
	if err != nil {
		t.Fatal(err)
	}
	c.Entries = c.Entries[:n]
	data, err := marshalKEV(c)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
