package feed

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/internal/osv"
)

// seedLines adds the first n lines of a real file, and slices of it, as seeds.
func seedLines(f *testing.F, path string, n int) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	for _, k := range []int{1, 5, n} {
		if k > len(lines) {
			k = len(lines)
		}
		f.Add([]byte(strings.Join(lines[:k], "")))
	}
	return data
}

// FuzzParseTrackerList checks that no input panics and that every record
// returned passes the strict OSV parser.
func FuzzParseTrackerList(f *testing.F) {
	for _, k := range []TrackerKind{DSA, DLA, DTSA} {
		seedLines(f, filepath.Join(trackerDir, string(k), "list"), 60)
	}
	f.Add([]byte("[01 Jan 2020] DSA-1-1 p - x\n\t{CVE-2020-0001}\n\t[buster] - p <unfixed>\n\tNOTE: x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, probs, err := ParseTrackerList(bytes.NewReader(data), "fuzz", DSA)
		if err != nil {
			if len(recs) != 0 || len(probs) != 0 {
				t.Fatalf("error %v with %d records and %d problems", err, len(recs), len(probs))
			}
			return
		}
		for _, rec := range recs {
			out, err := json.Marshal(rec)
			if err != nil {
				t.Fatalf("json.Marshal(%s): %v", rec.ID, err)
			}
			if _, err := osv.Parse(out); err != nil {
				t.Fatalf("osv.Parse(json.Marshal(%s)): %v\n%s", rec.ID, err, out)
			}
		}
		for _, p := range probs {
			if p.Reason == "" || p.Line == 0 {
				t.Fatalf("problem without line or reason: %+v", p)
			}
		}
	})
}

// FuzzParseKEV checks that no input panics and that a catalog accepted has
// canonical CVE ids and dates.
func FuzzParseKEV(f *testing.F) {
	data, err := os.ReadFile(kevFile)
	if err != nil {
		f.Fatal(err)
	}
	// The first entries of the real catalog, closed again, keep seeds small.
	if i := strings.Index(string(data), "\n        },\n        {"); i > 0 {
		f.Add([]byte(string(data[:i]) + "}]}"))
	}
	f.Add([]byte(`{"catalogVersion":"1","dateReleased":"2025-08-25T17:04:19.9796Z","count":1,"vulnerabilities":[{"cveID":"CVE-2021-44228","dateAdded":"2021-12-10","dueDate":"2021-12-24","knownRansomwareCampaignUse":"Known"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cat, err := ParseKEV(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, e := range cat.Entries {
			if c, ok := NormalizeCVE(e.CVE); !ok || c != e.CVE || e.DateAdded.IsZero() || e.DueDate.IsZero() {
				t.Fatalf("accepted entry %+v", e)
			}
		}
	})
}

// FuzzParseEPSS checks that no input, plain or gzipped, panics and that
// accepted scores are in [0, 1].
func FuzzParseEPSS(f *testing.F) {
	for _, name := range []string{epssFile, epssFile + ".gz"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("cve,epss,percentile\nCVE-2021-0001,0.5,0.5\n"))
	zw.Close()
	f.Add(gz.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseEPSS(bytes.NewReader(data))
		if err != nil {
			return
		}
		for cve, sc := range s.Scores {
			if c, ok := NormalizeCVE(cve); !ok || c != cve || !(sc.EPSS >= 0 && sc.EPSS <= 1) || !(sc.Percentile >= 0 && sc.Percentile <= 1) {
				t.Fatalf("accepted %s %+v", cve, sc)
			}
		}
	})
}

// FuzzNormalizeCVE checks that a normalised id normalises to itself.
func FuzzNormalizeCVE(f *testing.F) {
	for _, s := range []string{"CVE-2023-23914", "cve-2025-1000001", " CVE-1999-0001 ", "CVE-2023-12"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := NormalizeCVE(s)
		if !ok {
			return
		}
		if c2, ok2 := NormalizeCVE(c); !ok2 || c2 != c {
			t.Fatalf("NormalizeCVE(%q) = %q, but NormalizeCVE(%q) = %q, %v", s, c, c, c2, ok2)
		}
	})
}
