package feedload

import (
	"archive/zip"
	"bytes"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/feed"
)

var bundleCreated = time.Date(2025, 8, 26, 9, 30, 0, 0, time.UTC)

// realContents returns the real records, KEV catalog and EPSS scores.
func realContents(t testing.TB) BundleContents {
	t.Helper()
	dir, err := LoadPath(t.Context(), osvReal)
	if err != nil {
		t.Fatal(err)
	}
	kev, err := feed.ParseKEV(bytes.NewReader(readFile(t, kevPath)))
	if err != nil {
		t.Fatal(err)
	}
	epss, err := feed.ParseEPSS(bytes.NewReader(readFile(t, epssPath)))
	if err != nil {
		t.Fatal(err)
	}
	return BundleContents{Created: bundleCreated, Records: dir.Records, KEV: &kev, EPSS: &epss}
}

func writeBundle(t testing.TB, c BundleContents) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteBundle(&buf, c); err != nil {
		t.Fatalf("WriteBundle: %v", err)
	}
	return buf.Bytes()
}

// TestBundleRoundTrip writes the real feeds as a bundle and reads it back,
// from bytes and from a file, with and without its optional parts.
func TestBundleRoundTrip(t *testing.T) {
	all := realContents(t)
	tests := []struct {
		name string
		c    BundleContents
	}{
		{"records, KEV and EPSS", all},
		{"records only", BundleContents{Created: bundleCreated, Records: all.Records}},
		{"KEV only", BundleContents{Created: bundleCreated, KEV: all.KEV}},
		{"empty", BundleContents{Created: bundleCreated}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := writeBundle(t, tt.c)
			path := filepath.Join(t.TempDir(), "bundle.zip")
			writeFile(t, path, data)
			fromBytes, err := LoadBytes(t.Context(), "bundle.zip", data)
			if err != nil {
				t.Fatalf("LoadBytes(bundle): %v", err)
			}
			fromPath, err := LoadPath(t.Context(), path)
			if err != nil {
				t.Fatalf("LoadPath(bundle): %v", err)
			}
			for _, b := range []*Batch{fromBytes, fromPath} {
				checkBatch(t, b)
				if b.Kind != KindBundle || len(b.Problems) != 0 {
					t.Errorf("kind %s, problems %v; want bundle, none", b.Kind, b.Problems)
				}
				if got, want := canonical(t, b.Records), canonical(t, tt.c.Records); got != want {
					t.Errorf("records read back:\n%s\nwant\n%s", got, want)
				}
				if !reflect.DeepEqual(b.KEV, tt.c.KEV) {
					t.Errorf("KEV read back differs from the one written")
				}
				if !reflect.DeepEqual(b.EPSS, tt.c.EPSS) {
					t.Errorf("EPSS read back %+v, want %+v", b.EPSS, tt.c.EPSS)
				}
			}
			if again := writeBundle(t, tt.c); !bytes.Equal(again, data) {
				t.Errorf("WriteBundle wrote different bytes for the same contents")
			}
		})
	}
}

// TestBundleRecordsParseBack checks that each record member is the
// record's MarshalJSON form, which osv.Parse reads back to the same JSON.
func TestBundleRecordsParseBack(t *testing.T) {
	c := realContents(t)
	zr, err := zip.NewReader(bytes.NewReader(writeBundle(t, c)), int64(len(writeBundle(t, c))))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, zf := range zr.File {
		if !strings.HasPrefix(zf.Name, "osv/") {
			continue
		}
		rc, _ := zf.Open()
		data, _ := io.ReadAll(rc)
		rc.Close()
		want, err := c.Records[n].MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if zf.Name != "osv/"+c.Records[n].ID+".json" || !bytes.Equal(data, want) {
			t.Errorf("member %s is not the MarshalJSON form of record %s", zf.Name, c.Records[n].ID)
		}
		n++
	}
	if n != len(c.Records) {
		t.Errorf("%d record members, want %d", n, len(c.Records))
	}
}

// rewrite returns a copy of the zip data with edit applied to each member
// (keep false drops it) and extra members added.
func rewrite(t testing.TB, data []byte, edit func(name string, body []byte) ([]byte, bool), extra ...zipMember) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var members []zipMember
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if body, keep := edit(zf.Name, body); keep {
			members = append(members, zipMember{zf.Name, body})
		}
	}
	return buildZip(t, append(members, extra...))
}

func keepAll(_ string, body []byte) ([]byte, bool) { return body, true }

// only applies f to the member named name.
func only(name string, f func([]byte) []byte) func(string, []byte) ([]byte, bool) {
	return func(n string, body []byte) ([]byte, bool) {
		if n == name {
			return f(body), true
		}
		return body, true
	}
}

// TestBundleTampered checks that a bundle changed after it was written is
// refused as a whole.
func TestBundleTampered(t *testing.T) {
	c := realContents(t)
	kev := *c.KEV
	kev.Entries = kev.Entries[:50] // the whole catalog makes each case slow under -race
	c.KEV = &kev
	data := writeBundle(t, c)
	replace := func(old, new string) func([]byte) []byte {
		return func(b []byte) []byte { return bytes.Replace(b, []byte(old), []byte(new), 1) }
	}
	tests := []struct {
		name  string
		data  []byte
		parts []string
	}{
		{"record changed", rewrite(t, data, only("osv/GO-2022-0274.json", replace("Namespace restriction bypass", "Nothing to see here"))),
			[]string{"bundle.zip:osv/GO-2022-0274.json does not match its SHA-256 in the manifest", "nothing is imported"}},
		{"record changed, same size", rewrite(t, data, only("osv/GO-2022-0274.json", replace("1.1.0", "9.9.9"))),
			[]string{"osv/GO-2022-0274.json does not match its SHA-256"}},
		{"KEV changed", rewrite(t, data, only("kev.json", replace("CVE-2025-48384", "CVE-2025-48385"))),
			[]string{"bundle.zip:kev.json does not match its SHA-256"}},
		{"EPSS changed", rewrite(t, data, only("epss.csv", replace("0.94469", "0.04469"))),
			[]string{"bundle.zip:epss.csv does not match its SHA-256"}},
		{"record removed", rewrite(t, data, func(n string, b []byte) ([]byte, bool) { return b, n != "osv/DSA-1543-1.json" }),
			[]string{"lists osv/DSA-1543-1.json, which is not in the bundle"}},
		{"record added", rewrite(t, data, keepAll, zipMember{"osv/X-1.json", readFile(t, filepath.Join(osvReal, "npm/GHSA-whgm-jr23-g3j9.json"))}),
			[]string{"member osv/X-1.json is not in manifest.json"}},
		{"newer version", rewrite(t, data, only("manifest.json", replace(`"version": 1`, `"version": 2`))),
			[]string{"bundle version 2", "reads version 1 only"}},
		{"other format", rewrite(t, data, only("manifest.json", replace(`"patchbay-feed-bundle"`, `"something-else"`))),
			[]string{`format "something-else"`}},
		{"count changed", rewrite(t, data, only("manifest.json", replace(`"kev": 50`, `"kev": 49`))),
			[]string{"counts 49 KEV entries but the bundle has 50"}},
		{"manifest not JSON", rewrite(t, data, only("manifest.json", func([]byte) []byte { return []byte("{") })),
			[]string{"manifest.json: not valid JSON"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := LoadBytes(t.Context(), "bundle.zip", tt.data)
			wantError(t, "LoadBytes", b, err, patchbay.EInvalid, tt.parts...)
		})
	}
}

// TestWriteBundleRefuses checks what WriteBundle will not write.
func TestWriteBundleRefuses(t *testing.T) {
	c := realContents(t)
	bad := *c.EPSS
	bad.Scores = map[string]feed.EPSSScore{"CVE-2025-12345": {EPSS: 1.5}}
	tests := []struct {
		name string
		c    BundleContents
		want string
	}{
		{"no created time", BundleContents{Records: c.Records}, "Created is not set"},
		{"duplicate id", BundleContents{Created: bundleCreated, Records: append(c.Records[:2:2], c.Records[0])}, "is there twice"},
		{"nil record", BundleContents{Created: bundleCreated, Records: append(c.Records[:2:2], nil)}, "record 2 is nil"},
		{"EPSS out of range", BundleContents{Created: bundleCreated, EPSS: &bad}, "outside [0, 1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := WriteBundle(io.Discard, tt.c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("WriteBundle error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// TestKEVAndEPSSRoundTrip checks that the marshallers write what feed's
// parsers read back equal, for the real files and an EPSS file of before
// 2022 (no comment line).
func TestKEVAndEPSSRoundTrip(t *testing.T) {
	kev, err := feed.ParseKEV(bytes.NewReader(readFile(t, kevPath)))
	if err != nil {
		t.Fatal(err)
	}
	data, err := marshalKEV(kev)
	if err != nil {
		t.Fatal(err)
	}
	back, err := feed.ParseKEV(bytes.NewReader(data))
	if err != nil || !reflect.DeepEqual(back, kev) {
		t.Errorf("ParseKEV(marshalKEV(real)) = %d entries, %v; want the catalog back", len(back.Entries), err)
	}
	for _, s := range []string{
		string(readFile(t, epssPath)),
		"cve,epss,percentile\nCVE-2014-0160,0.94469,0.99983\nCVE-1999-0001,0.0124,0.78657\n",
	} {
		epss, err := feed.ParseEPSS(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		data, err := marshalEPSS(epss)
		if err != nil {
			t.Fatal(err)
		}
		back, err := feed.ParseEPSS(bytes.NewReader(data))
		if err != nil || !reflect.DeepEqual(back, epss) {
			t.Errorf("ParseEPSS(marshalEPSS) = %+v, %v; want %+v", back, err, epss)
		}
	}
}
