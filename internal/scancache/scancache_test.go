package scancache

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/fleet"
	"github.com/patchbay/patchbay/internal/match"
	"github.com/patchbay/patchbay/internal/osv"
)

// counted is a Parser of the OSV feed at path that counts its calls: a
// cached Load must not call it.
func counted(path string, calls *atomic.Int32) Parser {
	return func(add func(int, *osv.Record, string)) (int, error) {
		calls.Add(1)
		return match.EachOSV(path, func(seq int, rec *osv.Record, p *match.LoadProblem) {
			if p != nil {
				add(seq, nil, p.String())
				return
			}
			add(seq, rec, "")
		})
	}
}

// copyFeed copies the real OSV records of every ecosystem to a new
// directory, with one record that does not parse.
func copyFeed(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir(osvReal, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(osvReal, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755)
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Debian", "broken.json"), []byte(`{"id":"X-1","affected":[`), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// scanKeys are keys of a Debian 9 host and a Go binary: they name some of
// the real records, not all.
var scanKeys = []match.Key{
	{Ecosystem: "Debian:9", Name: "dpkg", Version: "1.18.25"},
	{Ecosystem: "Debian:9", Name: "tzdata", Version: "2021a-0+deb9u3"},
	{Ecosystem: "Debian:9", Name: "openssl", Version: "1.1.0l-1~deb9u6"},
	{Ecosystem: "Go", Name: "stdlib", Version: "1.21.7"},
}

func sameFeed(t *testing.T, what string, got, want *Feed) {
	t.Helper()
	if !reflect.DeepEqual(got.Records, want.Records) || !reflect.DeepEqual(got.Problems, want.Problems) || got.Count != want.Count {
		t.Fatalf("%s: %d records %v, %d problems %q, count %d; want %d records %v, %d problems %q, count %d", what,
			len(got.Records), ids(got.Records), len(got.Problems), got.Problems, got.Count,
			len(want.Records), ids(want.Records), len(want.Problems), want.Problems, want.Count)
	}
}

func ids(recs []*osv.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out
}

// TestLoadCached: the second Load of an unchanged feed does not parse it
// and returns what parsing returned; the index file is private.
func TestLoadCached(t *testing.T) {
	feed := copyFeed(t)
	var calls atomic.Int32
	want, err := (&Cache{}).Load(feed, scanKeys, counted(feed, &calls))
	if err != nil || calls.Load() != 1 {
		t.Fatalf("Load without cache: %v, %d parses", err, calls.Load())
	}
	if len(want.Records) == 0 || len(want.Records) == want.Count || len(want.Problems) != 1 {
		t.Fatalf("uncached: %d of %d records, problems %q: want some records, not all, and broken.json", len(want.Records), want.Count, want.Problems)
	}
	c := &Cache{settle: time.Nanosecond, Dir: filepath.Join(t.TempDir(), "cache"), Salt: "test"}
	for i, fromCache := range []bool{false, true, true} {
		got, err := c.Load(feed, scanKeys, counted(feed, &calls))
		if err != nil || got.CacheErr != nil {
			t.Fatalf("Load %d: %v, cache: %v", i, err, got.CacheErr)
		}
		sameFeed(t, "Load "+string(rune('0'+i)), got, want)
		if got.FromCache != fromCache || int(calls.Load()) != 2 {
			t.Fatalf("Load %d: from cache %v after %d parses; want %v after 2", i, got.FromCache, calls.Load(), fromCache)
		}
		if fromCache && got.Decoded != len(want.Records) {
			t.Errorf("Load %d decoded %d records, want only the %d wanted", i, got.Decoded, len(want.Records))
		}
	}
	ents, _ := os.ReadDir(c.Dir)
	if len(ents) != 1 {
		t.Fatalf("cache directory holds %d files, want 1", len(ents))
	}
	fi, _ := ents[0].Info()
	di, _ := os.Stat(c.Dir)
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Errorf("index mode %v, directory %v; want 0600 and 0700", fi.Mode(), di.Mode())
	}
	// Other keys, same index: still no parse.
	other := []match.Key{{Ecosystem: "PyPI", Name: "django", Version: "1.0"}, {Ecosystem: "Debian:12", Name: "libxml2", Version: "1"}}
	uncached, _ := (&Cache{}).Load(feed, other, counted(feed, &calls))
	got, err := c.Load(feed, other, counted(feed, &calls))
	if err != nil || !got.FromCache {
		t.Fatalf("Load with other keys: %v, from cache %v", err, got.FromCache)
	}
	sameFeed(t, "other keys", got, uncached)
}

// TestLoadFeedChanged: any change to the feed's files is a new parse.
func TestLoadFeedChanged(t *testing.T) {
	feed := copyFeed(t)
	c := &Cache{settle: time.Nanosecond, Dir: t.TempDir()}
	var calls atomic.Int32
	rec := filepath.Join(feed, "Debian", "DLA-3022-1.json")
	if _, err := c.Load(feed, scanKeys, counted(feed, &calls)); err != nil {
		t.Fatal(err)
	}
	for _, change := range []struct {
		name string
		do   func() error
	}{
		{"none", func() error { return nil }},
		{"rewritten, same size, mtime restored", func() error {
			fi, _ := os.Stat(rec)
			b, _ := os.ReadFile(rec)
			if err := os.WriteFile(rec, bytes.Replace(b, []byte("1.18.26"), []byte("1.18.27"), 1), 0o644); err != nil {
				return err
			}
			return os.Chtimes(rec, fi.ModTime(), fi.ModTime())
		}},
		{"added", func() error {
			b, _ := os.ReadFile(rec)
			return os.WriteFile(filepath.Join(feed, "Debian", "DLA-9999-1.json"), bytes.Replace(b, []byte("DLA-3022-1"), []byte("DLA-9999-1"), 1), 0o644)
		}},
		{"removed", func() error { return os.Remove(filepath.Join(feed, "Debian", "DLA-9999-1.json")) }},
		{"made unreadable", func() error { return os.Chmod(rec, 0) }},
		{"readable again", func() error { return os.Chmod(rec, 0o644) }},
	} {
		if err := change.do(); err != nil {
			t.Fatal(err)
		}
		before := calls.Load()
		got, err := c.Load(feed, scanKeys, counted(feed, &calls))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := (&Cache{}).Load(feed, scanKeys, counted(feed, new(atomic.Int32)))
		sameFeed(t, change.name, got, want)
		if wantParse := change.name != "none"; (calls.Load() > before) != wantParse || got.FromCache == wantParse {
			t.Errorf("%s: parsed %v, from cache %v; want parsed %v", change.name, calls.Load() > before, got.FromCache, wantParse)
		}
	}
}

// TestLoadDamagedIndex: an index cut short, with any byte changed, of
// another version or not an index at all is not used: the feed is parsed,
// the findings are the same, the problem is said, and the index rewritten.
func TestLoadDamagedIndex(t *testing.T) {
	feed := copyFeed(t)
	c := &Cache{settle: time.Nanosecond, Dir: t.TempDir()}
	var calls atomic.Int32
	want, err := c.Load(feed, scanKeys, counted(feed, &calls))
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(c.Dir)
	index := filepath.Join(c.Dir, ents[0].Name())
	good, _ := os.ReadFile(index)
	damages := map[string]func([]byte) []byte{
		"empty":       func(b []byte) []byte { return nil },
		"truncated":   func(b []byte) []byte { return b[:len(b)/2] },
		"one short":   func(b []byte) []byte { return b[:len(b)-1] },
		"extended":    func(b []byte) []byte { return append(b, 0) },
		"foreign":     func(b []byte) []byte { return []byte(strings.Repeat("not an index\n", 100)) },
		"version":     func(b []byte) []byte { b[8]++; return b },
		"header byte": func(b []byte) []byte { b[50] ^= 1; return b },
		"last byte":   func(b []byte) []byte { b[len(b)-1] ^= 0x40; return b },
	}
	// A flipped bit in every record the scan reads.
	for _, r := range want.Records {
		i := bytes.Index(good, []byte(r.ID))
		damages["record "+r.ID] = func(b []byte) []byte { b[i] ^= 1; return b }
	}
	for name, damage := range damages {
		if err := os.WriteFile(index, damage(bytes.Clone(good)), 0o600); err != nil {
			t.Fatal(err)
		}
		before := calls.Load()
		got, err := c.Load(feed, scanKeys, counted(feed, &calls))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sameFeed(t, name, got, want)
		if got.FromCache || calls.Load() != before+1 {
			t.Errorf("%s: a damaged index was used", name)
		}
		if name != "version" && (got.CacheErr == nil || !strings.Contains(got.CacheErr.Error(), "rebuilt")) {
			t.Errorf("%s: CacheErr = %v, want the index named as rebuilt", name, got.CacheErr)
		}
		if again, _ := c.Load(feed, scanKeys, counted(feed, &calls)); !again.FromCache {
			t.Errorf("%s: the index was not rewritten", name)
		}
	}
}

// TestLoadUnwritableCache: a cache directory that cannot be written costs
// the index, not the scan.
func TestLoadUnwritableCache(t *testing.T) {
	feed := copyFeed(t)
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	want, _ := (&Cache{}).Load(feed, scanKeys, counted(feed, new(atomic.Int32)))
	got, err := (&Cache{settle: time.Nanosecond, Dir: filepath.Join(file, "cache")}).Load(feed, scanKeys, counted(feed, new(atomic.Int32)))
	if err != nil || got.CacheErr == nil {
		t.Fatalf("Load with a cache under a file: %v, cache error %v; want the feed and a cache error", err, got.CacheErr)
	}
	sameFeed(t, "unwritable", got, want)
}

// TestLoadMissingFeed: a feed that cannot be read is the parser's error.
func TestLoadMissingFeed(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nothing")
	_, err := (&Cache{settle: time.Nanosecond, Dir: t.TempDir()}).Load(missing, scanKeys, counted(missing, new(atomic.Int32)))
	if err == nil || !strings.Contains(err.Error(), "nothing") {
		t.Fatalf("Load of a missing feed: %v", err)
	}
}

// TestPrune: the directory keeps the most recently used maxEntries indexes.
func TestPrune(t *testing.T) {
	c := &Cache{settle: time.Nanosecond, Dir: t.TempDir()}
	old := time.Now().Add(-time.Hour)
	for i := range maxEntries + 5 {
		p := filepath.Join(c.Dir, strings.Repeat("a", i+1)+".idx")
		os.WriteFile(p, []byte("x"), 0o600)
		os.Chtimes(p, old, old.Add(time.Duration(i)*time.Second))
	}
	stale := filepath.Join(c.Dir, "tmp-1.part")
	os.WriteFile(stale, nil, 0o600)
	os.Chtimes(stale, old.Add(-time.Hour), old.Add(-time.Hour))
	feed := copyFeed(t)
	if _, err := c.Load(feed, scanKeys, counted(feed, new(atomic.Int32))); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(c.Dir)
	if len(ents) != maxEntries {
		t.Fatalf("%d files after pruning, want %d", len(ents), maxEntries)
	}
	for _, gone := range []string{"a.idx", "tmp-1.part"} {
		if _, err := os.Stat(filepath.Join(c.Dir, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s kept", gone)
		}
	}
}

// TestFingerprintListing: a stored listing is used while no directory of
// it changed, and gives the fingerprint a new walk gives; adding a file
// anywhere in the tree makes a new walk.
func TestFingerprintListing(t *testing.T) {
	feed := copyFeed(t)
	fp, tr, _, err := fingerprint(feed, "s", nil, time.Nanosecond)
	if err != nil || tr == nil || len(tr.files) < 30 || len(tr.dirs) < 5 {
		t.Fatalf("fingerprint = %v, %+v", err, tr)
	}
	again, used, _, err := fingerprint(feed, "s", tr, time.Nanosecond)
	if err != nil || again != fp || used != tr {
		t.Fatalf("with an unchanged listing: %x, listing reused %v, %v; want %x, reused", again, used == tr, err, fp)
	}
	if other, _, _, _ := fingerprint(feed, "t", tr, time.Nanosecond); other == fp {
		t.Fatal("another salt, the same fingerprint")
	}
	// A file added to a subdirectory changes that directory only.
	time.Sleep(10 * time.Millisecond) // past the file system's timestamp tick
	b, _ := os.ReadFile(filepath.Join(feed, "Go", "GO-2022-0274.json"))
	os.WriteFile(filepath.Join(feed, "Go", "GO-2099-0001.json"), b, 0o644)
	fresh, walked, _, err := fingerprint(feed, "s", nil, time.Nanosecond)
	if err != nil || fresh == fp {
		t.Fatalf("after adding a file: %v, fingerprint unchanged", err)
	}
	got, used, _, err := fingerprint(feed, "s", tr, time.Nanosecond)
	if err != nil || got != fresh || used == tr || len(used.files) != len(walked.files) {
		t.Fatalf("a stale listing was used: %x, want %x", got, fresh)
	}
}

// TestLoadSettling: a feed that changed within the settle time is parsed
// and not cached: another change in the same tick of the file system's
// clock could leave its stamps as they are.
func TestLoadSettling(t *testing.T) {
	feed := copyFeed(t)
	c := &Cache{Dir: t.TempDir(), settle: time.Hour}
	var calls atomic.Int32
	for range 2 {
		f, err := c.Load(feed, scanKeys, counted(feed, &calls))
		if err != nil || f.FromCache || f.CacheErr == nil || !strings.Contains(f.CacheErr.Error(), "settles") {
			t.Fatalf("Load of a fresh feed: %v, from cache %v, %v", err, f.FromCache, f.CacheErr)
		}
	}
	if ents, _ := os.ReadDir(c.Dir); len(ents) != 0 || calls.Load() != 2 {
		t.Fatalf("%d index files, %d parses; want none and 2", len(ents), calls.Load())
	}
	_, _, settling, _ := fingerprint(feed, "", nil, time.Hour)
	_, _, old, _ := fingerprint(osvReal, "", nil, time.Nanosecond)
	if !settling || old {
		t.Fatalf("settling: a new feed %v, the repository's %v", settling, old)
	}
}

// TestSelectionMatchesAll: matching only the records a Load returns for a
// host's keys gives the findings matching every record gives, for the
// fleet's five images against all the real records — the keys scancache
// selects by are the ones match.Index looks up.
func TestSelectionMatchesAll(t *testing.T) {
	all := realRecords(t)
	feed := t.TempDir()
	for i, r := range all {
		b, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(feed, fmt.Sprintf("%05d.json", i)), b, 0o644)
	}
	images, err := fleet.Images()
	if err != nil {
		t.Fatal(err)
	}
	c := &Cache{Dir: t.TempDir(), settle: time.Nanosecond}
	for i, im := range images {
		p, ok := match.PlatformOf(im.OSRelease())
		if !ok {
			t.Fatalf("%s: no platform", im.Name)
		}
		var keys []match.Key
		for _, pkg := range im.Packages {
			if k, ok := match.KeyOf(p, pkg); ok {
				keys = append(keys, k)
			}
		}
		want, wantErrs := match.NewIndex(all).Match(p, im.Packages, match.Options{})
		// Parsed without a cache; parsed and indexed (the first image);
		// from the index (the others).
		for _, cache := range []*Cache{{}, c} {
			f, err := cache.Load(feed, keys, counted(feed, new(atomic.Int32)))
			if err != nil || len(f.Problems) != 0 || cache == c && f.FromCache != (i > 0) {
				t.Fatalf("%s: Load: %v, from cache %v, problems %q", im.Name, err, f.FromCache, f.Problems)
			}
			got, gotErrs := match.NewIndex(f.Records).Match(p, im.Packages, match.Options{})
			if !reflect.DeepEqual(got, want) || fmt.Sprint(gotErrs) != fmt.Sprint(wantErrs) {
				t.Fatalf("%s (from cache %v): %d findings from %d selected records, %d from all %d",
					im.Name, f.FromCache, len(got), len(f.Records), len(want), len(all))
			}
			if cache == c {
				t.Logf("%s: %d findings, %d of %d records selected", im.Name, len(want), len(f.Records), len(all))
			}
		}
	}
}

// TestLoadZip: a zip feed is cached as one file; rewriting it is a new
// parse.
func TestLoadZip(t *testing.T) {
	dir := t.TempDir()
	zpath := filepath.Join(dir, "all.zip")
	write := func(extra string) {
		f, err := os.Create(zpath)
		if err != nil {
			t.Fatal(err)
		}
		zw := zip.NewWriter(f)
		ents, _ := os.ReadDir(filepath.Join(osvReal, "Debian"))
		for _, e := range ents {
			b, _ := os.ReadFile(filepath.Join(osvReal, "Debian", e.Name()))
			w, _ := zw.Create(e.Name())
			w.Write(b)
		}
		w, _ := zw.Create("broken" + extra + ".json")
		w.Write([]byte("{"))
		zw.Close()
		f.Close()
	}
	write("")
	c := &Cache{Dir: t.TempDir(), settle: time.Nanosecond}
	var calls atomic.Int32
	want, _ := (&Cache{}).Load(zpath, scanKeys, counted(zpath, new(atomic.Int32)))
	for i := range 2 {
		got, err := c.Load(zpath, scanKeys, counted(zpath, &calls))
		if err != nil || got.FromCache != (i == 1) {
			t.Fatalf("Load %d of a zip: %v, from cache %v", i, err, got.FromCache)
		}
		sameFeed(t, "zip", got, want)
	}
	time.Sleep(10 * time.Millisecond)
	write("-too")
	got, err := c.Load(zpath, scanKeys, counted(zpath, &calls))
	if err != nil || got.FromCache || len(got.Problems) != 1 || !strings.Contains(got.Problems[0], "broken-too.json") || calls.Load() != 2 {
		t.Fatalf("Load of a rewritten zip: %v, from cache %v, problems %q", err, got.FromCache, got.Problems)
	}
}
