package feedload

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/feed"
)

// trackerWant parses a tracker list with feed's parser, for the counts a
// load must give.
func trackerWant(t *testing.T, kind feed.TrackerKind) (records, problems int) {
	t.Helper()
	path := filepath.Join(trackerDir, string(kind), "list")
	recs, probs, err := feed.ParseTrackerList(bytes.NewReader(readFile(t, path)), path, kind)
	if err != nil {
		t.Fatal(err)
	}
	return len(recs), len(probs)
}

// TestLoadPathRealFeeds loads every real feed, each under a name that does
// not give its kind away, so that the content decides.
func TestLoadPathRealFeeds(t *testing.T) {
	tmp := t.TempDir()
	osvZip := filepath.Join(tmp, "osv.zip")
	writeFile(t, osvZip, buildZip(t, treeMembers(t, osvReal)))
	disguised := map[string]string{ // copy of a real file under a misleading name
		"scores.txt":   epssPath,
		"scores.gz":    epssGzPath,
		"kev.data":     kevPath,
		"record.bin":   filepath.Join(osvReal, "Go/GO-2022-0274.json"),
		"dsa-list.csv": filepath.Join(trackerDir, "DSA/list"),
		"feed.bin":     osvZip,
	}
	for name, src := range disguised {
		writeFile(t, filepath.Join(tmp, name), readFile(t, src))
	}
	writeFile(t, filepath.Join(tmp, "dla.gz"), gzipBytes(t, readFile(t, filepath.Join(trackerDir, "DLA/list"))))

	type want struct {
		kind     Kind
		tracker  feed.TrackerKind
		records  int
		problems int
		kev      int
		epss     int
	}
	dsaRecs, dsaProbs := trackerWant(t, feed.DSA)
	dlaRecs, dlaProbs := trackerWant(t, feed.DLA)
	dtsaRecs, dtsaProbs := trackerWant(t, feed.DTSA)
	tests := []struct {
		name string
		path string
		want want
	}{
		{"DSA list", filepath.Join(trackerDir, "DSA/list"), want{kind: KindDebianTracker, tracker: feed.DSA, records: dsaRecs, problems: dsaProbs}},
		{"DLA list", filepath.Join(trackerDir, "DLA/list"), want{kind: KindDebianTracker, tracker: feed.DLA, records: dlaRecs, problems: dlaProbs}},
		{"DTSA list", filepath.Join(trackerDir, "DTSA/list"), want{kind: KindDebianTracker, tracker: feed.DTSA, records: dtsaRecs, problems: dtsaProbs}},
		{"DSA list named csv", filepath.Join(tmp, "dsa-list.csv"), want{kind: KindDebianTracker, tracker: feed.DSA, records: dsaRecs, problems: dsaProbs}},
		{"DLA list gzipped", filepath.Join(tmp, "dla.gz"), want{kind: KindDebianTracker, tracker: feed.DLA, records: dlaRecs, problems: dlaProbs}},
		{"KEV", kevPath, want{kind: KindKEV, kev: 1404}},
		{"KEV named .data", filepath.Join(tmp, "kev.data"), want{kind: KindKEV, kev: 1404}},
		{"EPSS csv", epssPath, want{kind: KindEPSS, epss: 20}},
		{"EPSS csv.gz", epssGzPath, want{kind: KindEPSS, epss: 20}},
		{"EPSS named txt", filepath.Join(tmp, "scores.txt"), want{kind: KindEPSS, epss: 20}},
		{"EPSS gzip named gz", filepath.Join(tmp, "scores.gz"), want{kind: KindEPSS, epss: 20}},
		{"one OSV record", filepath.Join(osvReal, "Debian/DLA-3008-1.json"), want{kind: KindOSV, records: 1}},
		{"one OSV record named bin", filepath.Join(tmp, "record.bin"), want{kind: KindOSV, records: 1}},
		{"OSV record without modified", filepath.Join(osvReal, "Debian/DSA-3029-1.json"), want{kind: KindOSV, records: 1}},
		{"OSV directory", osvReal, want{kind: KindOSV, records: osvRealRecords, problems: 3}},
		{"OSV zip", osvZip, want{kind: KindOSV, records: osvRealRecords, problems: 3}},
		{"OSV zip named bin", filepath.Join(tmp, "feed.bin"), want{kind: KindOSV, records: osvRealRecords, problems: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := LoadPath(t.Context(), tt.path)
			if err != nil {
				t.Fatalf("LoadPath(%s): %v", tt.path, err)
			}
			checkBatch(t, b)
			got := want{kind: b.Kind, tracker: b.Tracker, records: len(b.Records), problems: len(b.Problems)}
			if b.KEV != nil {
				got.kev = len(b.KEV.Entries)
			}
			if b.EPSS != nil {
				got.epss = len(b.EPSS.Scores)
			}
			if got != tt.want {
				t.Errorf("LoadPath(%s) = %+v, want %+v", tt.path, got, tt.want)
			}
			if b.Name != tt.path {
				t.Errorf("LoadPath(%s): Name %q, want the path", tt.path, b.Name)
			}
		})
	}
}

// TestLoadBytesMatchesLoadPath checks that bytes received over HTTP load as
// the same file on disk does.
func TestLoadBytesMatchesLoadPath(t *testing.T) {
	for _, path := range []string{
		filepath.Join(trackerDir, "DTSA/list"), kevPath, epssPath, epssGzPath,
		filepath.Join(osvReal, "PyPI/PYSEC-2021-98.json"),
	} {
		fromPath, err := LoadPath(t.Context(), path)
		if err != nil {
			t.Fatalf("LoadPath(%s): %v", path, err)
		}
		fromBytes, err := LoadBytes(t.Context(), path, readFile(t, path))
		if err != nil {
			t.Fatalf("LoadBytes(%s): %v", path, err)
		}
		if !reflect.DeepEqual(fromPath, fromBytes) {
			t.Errorf("LoadBytes(%s) differs from LoadPath", path)
		}
	}
}

// TestOSVZipAndDirAgree checks that a zip of the real records gives the
// records of the directory, whatever the number of workers, and names a
// zip's problems "ZIP:ENTRY".
func TestOSVZipAndDirAgree(t *testing.T) {
	dir, err := LoadPath(t.Context(), osvReal)
	if err != nil {
		t.Fatal(err)
	}
	want := canonical(t, dir.Records)
	data := buildZip(t, treeMembers(t, osvReal))
	var firstProblems []Problem
	for _, workers := range []int{1, 2, 8, 64} {
		b, err := Options{Workers: workers}.LoadBytes(t.Context(), "all.zip", data)
		if err != nil {
			t.Fatalf("LoadBytes(all.zip, Workers %d): %v", workers, err)
		}
		if got := canonical(t, b.Records); got != want {
			t.Errorf("Workers %d: records of the zip differ from those of the directory:\n%s\nwant\n%s", workers, got, want)
		}
		if firstProblems == nil {
			firstProblems = b.Problems
		} else if !slices.Equal(b.Problems, firstProblems) {
			t.Errorf("Workers %d: problems %v, with 1 worker %v", workers, b.Problems, firstProblems)
		}
	}
	wantProblems := []string{"all.zip:PyPI/PYSEC-2020-148.json", "all.zip:PyPI/PYSEC-2023-62.json", "all.zip:PyPI/PYSEC-2023-74.json"}
	var got []string
	for _, p := range firstProblems {
		got = append(got, p.File)
		if !strings.Contains(p.Reason, "all.zip:GIT/") || !strings.Contains(p.Reason, "first read is kept") {
			t.Errorf("problem %s: reason does not name the kept GIT/ copy and why", p)
		}
	}
	if !slices.Equal(got, wantProblems) {
		t.Errorf("problems name %v, want %v", got, wantProblems)
	}
}

// TestLoadDirBadRecords loads a directory of real records and the records
// of testdata/bad: each bad one is a Problem naming its file, the rest load.
func TestLoadDirBadRecords(t *testing.T) {
	dir := t.TempDir()
	for _, m := range treeMembers(t, filepath.Join(osvReal, "Debian")) {
		writeFile(t, filepath.Join(dir, "debian", m.name), m.data)
	}
	for _, m := range treeMembers(t, badDir) {
		writeFile(t, filepath.Join(dir, "bad", m.name), m.data)
	}
	writeFile(t, filepath.Join(dir, "bad", "kev.json"), smallKEV(t, 2))
	writeFile(t, filepath.Join(dir, "bad", "huge.json"), bytes.Repeat([]byte(" "), 70<<10))
	// Skipped: not *.json, hidden, or in a hidden directory.
	writeFile(t, filepath.Join(dir, "README.md"), []byte("# not a record\n"))
	writeFile(t, filepath.Join(dir, "debian", "._DSA-1543-1.json"), []byte{0, 5, 22, 7})
	writeFile(t, filepath.Join(dir, ".git", "config.json"), []byte("{}"))

	b, err := Options{MaxRecordBytes: 64 << 10}.LoadPath(t.Context(), dir)
	if err != nil {
		t.Fatalf("LoadPath(%s): %v", dir, err)
	}
	checkBatch(t, b)
	want := map[string]string{ // file under dir → part of the reason
		"bad/malformed.json":          "not valid JSON: line 23, column 20: unexpected end of JSON input",
		"bad/no-id.json":              "no id",
		"bad/two-event-kinds.json":    `osv record "DLA-3008-1-TWOKINDS": affected[0].ranges[0].events[0]: two event kinds: introduced and fixed`,
		"bad/not-an-object.json":      "cannot unmarshal array",
		"bad/kev.json":                "a KEV catalog, not an OSV record",
		"bad/huge.json":               "more than the limit of 65536 (MaxRecordBytes)",
		"bad/impossible-version.json": `osv record "GO-2022-0274-BADVERSION": affected[0].ranges[0].events[1].fixed: go version "not a version!"`,
	}
	got := map[string]string{}
	for _, p := range b.Problems {
		rel, err := filepath.Rel(dir, p.File)
		if err != nil {
			t.Fatal(err)
		}
		got[filepath.ToSlash(rel)] = p.Reason
	}
	for file, part := range want {
		if !strings.Contains(got[file], part) {
			t.Errorf("problem of %s: %q, want it to say %q", file, got[file], part)
		}
	}
	if len(got) != len(want) {
		t.Errorf("problems %v, want one for each of %d files", b.Problems, len(want))
	}
	var ids []string
	for _, r := range b.Records {
		ids = append(ids, r.ID)
	}
	wantIDs := []string{
		"DLA-3008-1", "DLA-3012-1", "DLA-3022-1", "DLA-3022-1-REVERSED", "DLA-3051-1", "DLA-3623-1",
		"DSA-1543-1", "DSA-1819-1", "DSA-3029-1", "DTSA-125-1", "DTSA-132-1",
	}
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("records %v, want %v", ids, wantIDs)
	}
}

// TestBadRecordsEvaluate shows how the bad records are caught: events out
// of order load and evaluate as in order; an impossible version is refused
// at load, naming the field and the version.
func TestBadRecordsEvaluate(t *testing.T) {
	b, err := LoadPath(t.Context(), filepath.Join(badDir, "events-out-of-order.json"))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := b.Records[0].Affected[0].Evaluate("1.18.25"); err != nil || !res.Affected || !slices.Equal(res.Fixed, []string{"1.18.26"}) {
		t.Errorf("reversed events: Evaluate(1.18.25) = %+v, %v; want affected, fixed 1.18.26", res, err)
	}
	if _, err = LoadPath(t.Context(), filepath.Join(badDir, "impossible-version.json")); err == nil ||
		!strings.Contains(err.Error(), "events[1].fixed") || !strings.Contains(err.Error(), "not a version!") {
		t.Errorf("impossible version: LoadPath error %v, want one naming the field and the version", err)
	}
}

// TestDuplicateIDs checks that of two records with one id the one with the
// newer modified is kept, the first read if equal, and the other is a
// Problem naming both files.
func TestDuplicateIDs(t *testing.T) {
	src := filepath.Join(osvReal, "Debian/DLA-3012-1.json")
	tests := []struct {
		name         string
		aMod, bMod   string
		keepModified string
		dropped      string
		reason       string
	}{
		{"second newer", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "a.json", "is newer than this one's 2024-01-01T00:00:00Z"},
		{"first newer", "2025-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "b.json", "is newer than this one's 2024-01-01T00:00:00Z"},
		{"equal", "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "b.json", "first read is kept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "a.json"), withID(t, src, "X-1", tt.aMod))
			writeFile(t, filepath.Join(dir, "b.json"), withID(t, src, "X-1", tt.bMod))
			b, err := LoadPath(t.Context(), dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Records) != 1 || b.Records[0].Modified.Format("2006-01-02T15:04:05Z07:00") != tt.keepModified {
				t.Fatalf("records %s, want one with modified %s", canonical(t, b.Records), tt.keepModified)
			}
			if len(b.Problems) != 1 || filepath.Base(b.Problems[0].File) != tt.dropped || !strings.Contains(b.Problems[0].Reason, tt.reason) {
				t.Errorf("problems %v, want one for %s saying %q", b.Problems, tt.dropped, tt.reason)
			}
		})
	}
}

// TestLoadRefused checks inputs refused as a whole.
func TestLoadRefused(t *testing.T) {
	tests := []struct {
		name  string
		data  []byte
		code  patchbay.ErrorCode
		parts []string
	}{
		{"empty", nil, patchbay.EInvalid, []string{"empty"}},
		{"text", []byte("hello\n"), patchbay.EInvalid, []string{"not a feed patchbay knows"}},
		{"tracker config", readFile(t, filepath.Join(trackerDir, "config.json")), patchbay.EInvalid, []string{"neither an OSV record"}},
		{"malformed record alone", readFile(t, filepath.Join(badDir, "malformed.json")), patchbay.EInvalid, []string{"not valid JSON: line 23, column 20"}},
		{"record refused alone", readFile(t, filepath.Join(badDir, "two-event-kinds.json")), patchbay.EInvalid, []string{"two event kinds"}},
		{"record without id alone", readFile(t, filepath.Join(badDir, "no-id.json")), patchbay.EInvalid, []string{"no id"}},
		{"KEV with a bad entry", bytes.Replace(readFile(t, kevPath), []byte(`"cveID": "CVE-2025-48384"`), []byte(`"cveID": "CVE-25-1"`), 1), patchbay.EInvalid, []string{"vulnerabilities[0]", "cveID"}},
		{"EPSS with a bad row", append(readFile(t, epssPath), "CVE-2025-12345,2.5,0.1\n"...), patchbay.EInvalid, []string{"line 23", "outside [0, 1]"}},
		{"tracker list with NUL", []byte("[01 Jan 2020] DSA-1-1 p - x\n\x00\n"), patchbay.EInvalid, []string{"line 2: not UTF-8 text"}},
		{"gzip in gzip", gzipBytes(t, gzipBytes(t, readFile(t, epssPath))), patchbay.EInvalid, []string{"gzip inside gzip"}},
		{"zip without records", buildZip(t, []zipMember{{"README.md", []byte("# hello\n")}}), patchbay.EInvalid, []string{"a zip with no *.json file"}},
		{"zip with a bzip2 entry", bzip2Zip(t), patchbay.EInvalid, []string{"input:x.json uses a compression method patchbay cannot read"}},
		{"record over MaxRecordBytes", append([]byte(`{"id":"X","modified":"2020-01-01T00:00:00Z","details":"`), append(bytes.Repeat([]byte("a"), 9<<20), `"}`...)...), patchbay.ETooLarge, []string{"MaxRecordBytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := LoadBytes(t.Context(), "input", tt.data)
			wantError(t, "LoadBytes", b, err, tt.code, tt.parts...)
		})
	}
	t.Run("missing path", func(t *testing.T) {
		_, err := LoadPath(t.Context(), filepath.Join(t.TempDir(), "nothing"))
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("LoadPath(missing) error %v, want os.ErrNotExist", err)
		}
	})
	t.Run("directory without records", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "README.md"), []byte("# hello\n"))
		b, err := LoadPath(t.Context(), dir)
		wantError(t, "LoadPath", b, err, patchbay.EInvalid, "a directory with no *.json file")
	})
	t.Run("file over MaxTotalBytes", func(t *testing.T) {
		b, err := Options{MaxTotalBytes: 1 << 10}.LoadPath(t.Context(), kevPath)
		wantError(t, "LoadPath", b, err, patchbay.ETooLarge, "MaxTotalBytes")
	})
	t.Run("too many files in a directory", func(t *testing.T) {
		b, err := Options{MaxEntries: 10}.LoadPath(t.Context(), osvReal)
		wantError(t, "LoadPath", b, err, patchbay.ETooLarge, "MaxEntries")
	})
}

// TestProgress checks that Progress counts every record file once, in
// order, with the total known from the first call.
func TestProgress(t *testing.T) {
	data := buildZip(t, treeMembers(t, osvReal))
	var calls [][2]int
	o := Options{Workers: 4, Progress: func(done, total int) { calls = append(calls, [2]int{done, total}) }}
	if _, err := o.LoadBytes(t.Context(), "all.zip", data); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 34 {
		t.Fatalf("%d Progress calls, want 34", len(calls))
	}
	for i, c := range calls {
		if c != [2]int{i + 1, 34} {
			t.Errorf("call %d: Progress(%d, %d), want (%d, 34)", i, c[0], c[1], i+1)
		}
	}
	calls = nil
	if _, err := o.LoadPath(t.Context(), kevPath); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(calls, [][2]int{{1404, 1404}}) {
		t.Errorf("KEV: Progress calls %v, want one (1404, 1404)", calls)
	}
}

// TestCancel checks that a cancelled context stops a load with its error
// and no batch, before it starts or half way.
func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if b, err := LoadPath(ctx, osvReal); !errors.Is(err, context.Canceled) || b != nil {
		t.Errorf("LoadPath(cancelled) = %v, %v; want nil, context.Canceled", b, err)
	}
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	o := Options{Workers: 2, Progress: func(done, total int) {
		if done == 5 {
			cancel()
		}
	}}
	b, err := o.LoadBytes(ctx, "all.zip", buildZip(t, treeMembers(t, osvReal)))
	if !errors.Is(err, context.Canceled) || b != nil {
		t.Errorf("LoadBytes cancelled after 5 records = %v, %v; want nil, context.Canceled", b, err)
	}
}

// bzip2Zip returns a zip whose one entry claims method 12 (bzip2), which
// archive/zip cannot read.
func bzip2Zip(t *testing.T) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "x.json", Method: 12, CompressedSize64: 3, UncompressedSize64: 3})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("BZh"))
	zw.Close()
	return buf.Bytes()
}
