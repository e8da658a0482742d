package feedload

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/feed"
	"github.com/patchbay/patchbay/internal/osv"
)

// FuzzLoadBytes checks that no input panics, that an error comes without a
// batch and is a *patchbay.Error, and that a batch keeps its promises:
// records sorted with unique ids, each of which parses back from its JSON,
// the parts of its kind, problems with a file and a reason, and a progress
// that ends at its total.
func FuzzLoadBytes(f *testing.F) {
	for _, path := range []string{
		epssPath, epssGzPath,
		filepath.Join(osvReal, "Debian/DLA-3008-1.json"),
		filepath.Join(osvReal, "Go/GO-2022-0274.json"),
		filepath.Join(badDir, "malformed.json"),
		filepath.Join(badDir, "events-out-of-order.json"),
	} {
		f.Add(readFile(f, path))
	}
	dsa := strings.SplitAfter(string(readFile(f, filepath.Join(trackerDir, "DSA/list"))), "\n")
	f.Add([]byte(strings.Join(dsa[:40], "")))
	f.Add(smallKEV(f, 3))
	two := []zipMember{
		{"DLA-3022-1.json", readFile(f, filepath.Join(osvReal, "Debian/DLA-3022-1.json"))},
		{"GHSA-whgm-jr23-g3j9.json", readFile(f, filepath.Join(osvReal, "npm/GHSA-whgm-jr23-g3j9.json"))},
	}
	f.Add(buildZip(f, two))
	recs := make([]*osv.Record, len(two))
	for i, m := range two {
		r, err := osv.Parse(m.data)
		if err != nil {
			f.Fatal(err)
		}
		recs[i] = r
	}
	kev, err := feed.ParseKEV(bytes.NewReader(smallKEV(f, 2)))
	if err != nil {
		f.Fatal(err)
	}
	epss, err := feed.ParseEPSS(bytes.NewReader(readFile(f, epssPath)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(writeBundle(f, BundleContents{Created: bundleCreated, Records: recs, KEV: &kev, EPSS: &epss}))

	f.Fuzz(func(t *testing.T, data []byte) {
		var last [2]int
		calls := 0
		o := Options{
			MaxRecordBytes: 1 << 20, MaxTotalBytes: 8 << 20, MaxEntries: 1000, Workers: 2,
			Progress: func(done, total int) { last = [2]int{done, total}; calls++ },
		}
		b, err := o.LoadBytes(t.Context(), "fuzz", data)
		if err != nil {
			if b != nil {
				t.Fatalf("error %v with a batch", err)
			}
			if code := patchbay.ErrorCodeOf(err); code == patchbay.EInternal {
				t.Fatalf("error %v is no *patchbay.Error", err)
			}
			return
		}
		if b == nil {
			t.Fatal("no batch and no error")
		}
		checkBatch(t, b)
		for _, r := range b.Records {
			out, err := r.MarshalJSON()
			if err != nil {
				t.Fatalf("MarshalJSON(%s): %v", r.ID, err)
			}
			if _, err := osv.Parse(out); err != nil {
				t.Fatalf("osv.Parse(MarshalJSON(%s)): %v", r.ID, err)
			}
		}
		if calls > 0 && last[0] != last[1] {
			t.Fatalf("progress ended at %d of %d", last[0], last[1])
		}
	})
}
