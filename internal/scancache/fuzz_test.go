package scancache

import (
	"bytes"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/match"
)

// FuzzDecode: whatever an index file holds, decoding it gives a Feed or an
// error, never a panic. The seed is a real index of the real OSV records;
// the fingerprint is taken from the input so that the fuzzer gets past it,
// and the input is decoded with its checksums and without, so that it
// reaches the directory and records behind them.
func FuzzDecode(f *testing.F) {
	feed := filepath.Join(f.TempDir(), "feed")
	os.CopyFS(feed, os.DirFS(osvReal))
	c := &Cache{settle: time.Nanosecond, Dir: filepath.Join(f.TempDir(), "cache")}
	var keys []match.Key
	recs, _, err := match.LoadOSV(feed)
	if err != nil {
		f.Fatal(err)
	}
	for _, r := range recs {
		for _, a := range r.Affected {
			if a.Package != nil {
				keys = append(keys, match.Key{Ecosystem: a.Package.Ecosystem, Name: a.Package.Name})
			}
		}
	}
	if _, err := c.Load(feed, keys, counted(feed, new(atomic.Int32))); err != nil {
		f.Fatal(err)
	}
	ents, _ := os.ReadDir(c.Dir)
	seed, err := os.ReadFile(filepath.Join(c.Dir, ents[0].Name()))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:headerSize])
	f.Add([]byte(magic))
	want := wantSet(keys)
	f.Fuzz(func(t *testing.T, data []byte) {
		var fp [32]byte
		if len(data) >= 44 {
			fp = [32]byte(data[12:44])
		}
		for _, verify := range []bool{true, false} {
			decodeListing(bytes.NewReader(data), int64(len(data)), verify)
			feed, err := decode(bytes.NewReader(data), int64(len(data)), fp, want, verify)
			if err == nil && (feed == nil || len(feed.Records) != feed.Decoded || feed.Decoded > feed.Count) {
				t.Fatalf("decode (verify %v) = %+v without error", verify, feed)
			}
			if verify && err == nil && !bytes.Equal(data, seed) {
				// Only a checksum collision would let a change through.
				t.Logf("a changed index passed its checksums")
			}
		}
	})
}

// FuzzDecodeRecord: whatever a record's bytes are, decoding them gives a
// record or an error, never a panic.
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range realRecords(f)[:50] {
		f.Add(appendRecord(nil, r))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeRecord(string(data))
	})
}
