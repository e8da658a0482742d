package feedload

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/patchbay/patchbay"
)

// zeros is the inside of the test's zip bombs: 10 MiB that deflate to about
// 10 KiB.
var zeros = make([]byte, 10<<20)

// lyingZip returns a zip whose one entry, data deflated, declares
// uncompressed size declared in its headers: the size check of the header
// passes, the data does not.
func lyingZip(t testing.TB, name string, data []byte, declared uint64) []byte {
	t.Helper()
	var comp bytes.Buffer
	fw, err := flate.NewWriter(&comp, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{
		Name: name, Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(data),
		CompressedSize64: uint64(comp.Len()), UncompressedSize64: declared,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(comp.Bytes())
	zw.Close()
	return buf.Bytes()
}

// TestZipLimits checks that a zip over a limit is refused as a whole, even
// with good records in it, whether its headers tell the truth or not.
func TestZipLimits(t *testing.T) {
	good := treeMembers(t, filepath.Join(osvReal, "Debian"))
	many := make([]zipMember, 20)
	for i := range many {
		many[i] = zipMember{fmt.Sprintf("r%02d.json", i), bytes.Repeat([]byte(" "), 100<<10)}
	}
	bomb := buildZip(t, append(good, zipMember{"bomb.json", zeros}))
	lying := lyingZip(t, "bomb.json", zeros, 100)
	tests := []struct {
		name  string
		zip   []byte
		opts  Options
		code  patchbay.ErrorCode
		parts []string
	}{
		{
			name: "entry over MaxRecordBytes",
			zip:  bomb,
			opts: Options{MaxRecordBytes: 1 << 20},
			code: patchbay.ETooLarge, parts: []string{"bomb.json declares 10485760 bytes uncompressed", "MaxRecordBytes", "zip bomb"},
		},
		{
			name: "entry over MaxRatio",
			zip:  bomb,
			opts: Options{MaxRecordBytes: 64 << 20},
			code: patchbay.ETooLarge, parts: []string{"bomb.json", "MaxRatio"},
		},
		{
			name: "header claims 100 bytes",
			zip:  lying,
			opts: Options{MaxRecordBytes: 1 << 20},
			code: patchbay.EInvalid, parts: []string{"all.zip:bomb.json cannot be read", "damaged"},
		},
		{
			name: "header claims 100 bytes, limits loose",
			zip:  lying,
			opts: Options{MaxRecordBytes: 64 << 20},
			code: patchbay.EInvalid, parts: []string{"all.zip:bomb.json cannot be read", "damaged"},
		},
		{
			name: "entries over MaxTotalBytes",
			zip:  buildZip(t, many),
			opts: Options{MaxTotalBytes: 1 << 20},
			code: patchbay.ETooLarge, parts: []string{"MaxTotalBytes"},
		},
		{
			name: "more entries than MaxEntries",
			zip:  buildZip(t, good),
			opts: Options{MaxEntries: 9},
			code: patchbay.ETooLarge, parts: []string{"10 entries", "MaxEntries"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.opts.LoadBytes(t.Context(), "all.zip", tt.zip)
			wantError(t, "LoadBytes", b, err, tt.code, tt.parts...)
		})
	}
}

// TestBoundedReader checks the byte counting that the limits rest on,
// without the headers that archive/zip checks first.
func TestBoundedReader(t *testing.T) {
	tests := []struct {
		name       string
		max        int64
		compressed int64
		maxTotal   int64
		want       string // part of the error; "" for none
	}{
		{"within", 64 << 20, -1, 0, ""},
		{"over max", 1 << 20, -1, 0, "inflates past 1048576 bytes, the limit (MaxRecordBytes)"},
		{"over ratio", 64 << 20, 10 << 10, 0, "more than 100 times (MaxRatio)"},
		{"ratio within", 64 << 20, 1 << 20, 0, ""},
		{"over total", 64 << 20, 1 << 20, 4 << 20, "in all, the limit (MaxTotalBytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var total atomic.Int64
			br := &boundedReader{
				ctx: t.Context(), r: bytes.NewReader(zeros), name: "x", max: tt.max, maxName: "MaxRecordBytes",
				compressed: tt.compressed, ratio: DefaultMaxRatio,
			}
			if tt.maxTotal > 0 {
				br.total, br.maxTotal = &total, tt.maxTotal
			}
			n, err := io.Copy(io.Discard, br)
			var le *limitError
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("read %d bytes, error %v; want all", n, err)
			case tt.want != "" && (!errors.As(err, &le) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("read %d bytes, error %v; want a limit error saying %q", n, err, tt.want)
			}
		})
	}
}

// TestTruncated checks that a truncated or damaged zip or gzip stream is
// refused as a whole, from bytes and from a file.
func TestTruncated(t *testing.T) {
	zipData := buildZip(t, treeMembers(t, osvReal))
	gz := readFile(t, epssGzPath)
	corrupt := bytes.Clone(zipData)
	corrupt[100] ^= 0xff // inside the first entry's deflated data
	tests := []struct {
		name  string
		data  []byte
		parts []string
	}{
		{"zip cut in half", zipData[:len(zipData)/2], []string{"zip archive is damaged or truncated", "nothing is imported"}},
		{"zip without its last 10 bytes", zipData[:len(zipData)-10], []string{"zip archive is damaged or truncated"}},
		{"zip with a damaged entry", corrupt, []string{"Alpine/ALPINE-CVE-2025-26519.json cannot be read", "damaged"}},
		{"gzip without its trailer", gz[:len(gz)-8], []string{"gzip stream is damaged or truncated", "unexpected EOF"}},
		{"gzip cut in half", gz[:len(gz)/2], []string{"gzip stream is damaged or truncated"}},
		{"gzip header only", gz[:5], []string{"gzip stream is damaged"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := LoadBytes(t.Context(), "feed", tt.data)
			wantError(t, "LoadBytes", b, err, patchbay.EInvalid, tt.parts...)
			path := filepath.Join(t.TempDir(), "feed")
			writeFile(t, path, tt.data)
			b, err = LoadPath(t.Context(), path)
			wantError(t, "LoadPath", b, err, patchbay.EInvalid, tt.parts...)
		})
	}
}

// TestGzipLimits checks that a gzip stream is bounded like a zip.
func TestGzipLimits(t *testing.T) {
	bomb := gzipBytes(t, zeros)
	b, err := Options{MaxTotalBytes: 1 << 20}.LoadBytes(t.Context(), "epss.csv.gz", bomb)
	wantError(t, "LoadBytes(MaxTotalBytes 1 MiB)", b, err, patchbay.ETooLarge, "MaxTotalBytes")
	b, err = LoadBytes(t.Context(), "epss.csv.gz", bomb)
	wantError(t, "LoadBytes(defaults)", b, err, patchbay.ETooLarge, "MaxRatio")
}

// TestLoadZipCancelled checks that cancellation reaches a zip load.
func TestLoadZipCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	b, err := LoadBytes(ctx, "all.zip", buildZip(t, treeMembers(t, osvReal)))
	if !errors.Is(err, context.Canceled) || b != nil {
		t.Errorf("LoadBytes(cancelled) = %v, %v; want nil, context.Canceled", b, err)
	}
}
