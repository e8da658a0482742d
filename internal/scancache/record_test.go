package scancache

import (
	"os"
	"reflect"
	"testing"

	"github.com/patchbay/patchbay/internal/feed"
	"github.com/patchbay/patchbay/internal/match"
	"github.com/patchbay/patchbay/internal/osv"
)

const (
	osvReal    = "../osv/testdata/osv-real"
	trackerDir = "../feed/testdata/debian-security-tracker-2023-04"
	bookwormDB = "../pkgdb/testdata/dpkg/bookworm-host.status"
)

// realRecords is every real record of the repository's test data: the
// OSV records of several ecosystems and the records the Debian tracker's
// lists become.
func realRecords(t testing.TB) []*osv.Record {
	t.Helper()
	recs, _, err := match.LoadOSV(osvReal)
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []feed.TrackerKind{feed.DSA, feed.DLA, feed.DTSA} {
		f, err := os.Open(trackerDir + "/" + string(kind) + "/list")
		if err != nil {
			t.Fatal(err)
		}
		rs, _, err := feed.ParseTrackerList(f, string(kind)+"/list", kind)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rs...)
	}
	if len(recs) < 5000 {
		t.Fatalf("only %d real records", len(recs))
	}
	return recs
}

// TestRecordRoundTrip: every real record decodes to the record parsed,
// field for field, nil and empty lists alike.
func TestRecordRoundTrip(t *testing.T) {
	for _, r := range realRecords(t) {
		got, err := decodeRecord(string(appendRecord(nil, r)))
		if err != nil {
			t.Fatalf("%s: decode: %v", r.ID, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("%s: decoded\n%+v\nparsed\n%+v", r.ID, got, r)
		}
	}
}

// TestRecordTruncated: every prefix of a record's encoding is an error.
func TestRecordTruncated(t *testing.T) {
	recs, _, err := match.LoadOSV(osvReal + "/Debian/DLA-3051-1.json")
	if err != nil {
		t.Fatal(err)
	}
	b := string(appendRecord(nil, recs[0]))
	for n := range len(b) {
		if _, err := decodeRecord(b[:n]); err == nil {
			t.Fatalf("decodeRecord of the first %d of %d bytes: no error", n, len(b))
		}
	}
	if _, err := decodeRecord(b + "x"); err == nil {
		t.Fatal("decodeRecord with a byte after the record: no error")
	}
}

// TestRecordFieldsCovered fails when osv's types gain a field the encoding
// does not write: extend appendRecord and decodeRecord, and bump
// formatVersion.
func TestRecordFieldsCovered(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want int
	}{
		{osv.Record{}, 16}, {osv.Affected{}, 6}, {osv.Package{}, 3}, {osv.Range{}, 4},
		{osv.Event{}, 2}, {osv.Severity{}, 2}, {osv.Reference{}, 2}, {osv.Credit{}, 3},
	} {
		if n := reflect.TypeOf(tc.v).NumField(); n != tc.want {
			t.Errorf("%T has %d fields; the cache encodes %d", tc.v, n, tc.want)
		}
	}
}
