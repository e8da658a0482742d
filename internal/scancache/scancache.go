// Package scancache keeps, for `patchbay scan`, an index of each advisory
// feed a scan has parsed, so that the next scan against the same feed
// decodes only the records naming the host's packages instead of parsing
// every record again. Parsing 50,000 OSV files takes about a second on two
// cores; the index answers in a tenth of that, most of it spent
// recognising the feed.
//
// # Recognising the feed
//
// An index is valid for one state of one feed. Hashing the feed's content
// would be exact, but reading 75 MB of 50,000 files costs more than the
// whole cached scan may take, so the index is keyed as make decides what
// is out of date: by a fingerprint of the metadata of every file the feed
// is read from (each *.json file under a directory, as match.LoadOSV reads
// them; the one file of a zip, a record or a tracker list): its path, size,
// mode, modification time, change time (both in nanoseconds) and inode,
// plus the feed's path as given, the cache format version and a salt
// naming the program's build (so a patchbay that parses differently never
// reads another's index). Adding, removing, renaming or replacing a file,
// or writing to one, changes it. The modification time alone can be set
// back (touch -r, rsync -t, tar); the change time, part of the key for
// that reason, cannot.
//
// A stat call per file is what a cached scan of a large directory mostly
// costs (2.4 µs of CPU each on the 2-core VM of docs/benchmarks.md, 120 ms
// for 50,000 files, spread over the cores). Listing the directories again
// would add a fifth: the index keeps the listing with each directory's own
// stamp, and while every directory has its stamp, no entry was added,
// removed or renamed, and the stored listing is used.
//
// What it cannot see: a file (or directory) changed twice within one tick
// of the file system's timestamps, the same size both times, with a scan's
// stat between the two, leaves its stamp as the scan saw it. The cache
// guards against that as git does against "racily clean" files: a feed
// whose files or directories changed less than defaultSettle before they
// were stated is parsed and not cached, until it settles. Timestamps
// coarser than that (none of the usual file systems) would defeat it.
// Outside Linux the fingerprint has no inode and no change time.
//
// # The index file
//
// One file per feed path in the cache directory, named by a hash of the
// feed's absolute path, so a feed that changes replaces its index instead
// of adding one (see index.go for the layout): a header (magic, format
// version, fingerprint, where the sections are, the file's length, a
// CRC-32C of itself), each record in a compact binary form (see
// appendRecord), the listing of a directory feed, and the directory: the
// problems parsing found (so a cached scan reports the same skipped
// records), a table of the records (offset, length, CRC-32C of each), and
// for each (OSV ecosystem name, package name) the records naming it, in
// feed order — the key match.Index looks records up by. A cached scan reads
// the header, the listing and the directory, then only the records under
// the host's keys, checking each one's checksum.
//
// A file that is missing, truncated, of another format version, for
// another state of the feed, or whose header, sections or any record it
// reads fails its checksum, is not used: the feed is parsed as if there
// were no index, and the index rewritten. Files are written to a temporary
// name and renamed, with mode 0600 in a directory created 0700; one owned
// by another user is not read. The directory keeps at most maxEntries
// indexes and maxTotalBytes, removing the least recently used; an index
// over maxFileBytes is not kept.
package scancache

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/patchbay/patchbay/internal/match"
	"github.com/patchbay/patchbay/internal/osv"
)

// formatVersion is the version of the index format and of the record
// encoding. Bump it with any change to either, or to what a cached record
// must hold (new fields of osv.Record: TestRecordFieldsCovered fails then).
const formatVersion = 1

// Limits of the cache directory.
const (
	maxEntries    = 16      // index files kept
	maxTotalBytes = 2 << 30 // all index files together
	maxFileBytes  = 1 << 30 // one index; a larger feed is parsed each time
)

// Cache is a directory of feed indexes.
type Cache struct {
	// Dir holds the index files; "" disables the cache, and Load parses
	// every time.
	Dir string
	// Salt is part of every key: what else than the feed the records
	// depend on, such as the program's build.
	Salt string

	// settle is how recent a change to a feed's files makes the feed too
	// fresh to trust its fingerprint (see fingerprint); 0 is
	// defaultSettle. Tests that write a feed and scan it at once shorten it.
	settle time.Duration
}

// defaultSettle covers the timestamp resolution of the file systems a feed
// is likely on: a clock tick on Linux's, 1 s on some network file systems,
// 2 s on FAT.
const defaultSettle = 2 * time.Second

// Parser reads a whole feed: it calls add once for each record or problem,
// from any goroutine and in any order, seq being its place in the feed's
// order from 0 to n-1 (see match.EachOSV), and returns n. Exactly one of
// rec and problem is set. The error is for a feed that cannot be read.
type Parser func(add func(seq int, rec *osv.Record, problem string)) (n int, err error)

// Feed is what a scan needs of one feed.
type Feed struct {
	// Records are the feed's records that name a package of the keys given
	// to Load, in feed order: those a match.Index built from all of them
	// would evaluate for those keys.
	Records []*osv.Record
	// Count is the number of records in the feed.
	Count int
	// Problems are the records and lines that could not be used, in feed
	// order, as the parser described them.
	Problems []string
	// FromCache is true when the feed was not parsed: Records were
	// decoded from its index, Decoded of them.
	FromCache bool
	Decoded   int
	// CacheErr says why an index could not be read (other than being
	// absent or out of date) or written. The feed was parsed all the same.
	CacheErr error
}

// Load returns the records of the feed at path that name the packages of
// keys, from the feed's index when it has one for the feed as it is, else
// by parse, writing the index for the next scan. The error is parse's.
func (c *Cache) Load(path string, keys []match.Key, parse Parser) (*Feed, error) {
	return c.Begin(path).Load(keys, parse)
}

// Lookup is a Load begun: the feed's fingerprint is being computed.
type Lookup struct {
	c     *Cache
	path  string
	file  string // the index file
	done  chan struct{}
	fp    [32]byte
	tree  *tree // the listing of a directory feed
	fpErr error
	// settling: the feed changed too recently to be cached (see fingerprint)
	settling bool
}

// Begin starts recognising the feed at path in the background — stating
// each of its files is most of what a cached scan costs — so that the
// caller can read the host's packages meanwhile, and returns the Lookup to
// finish with Load (or Wait, when the scan stops before it).
func (c *Cache) Begin(path string) *Lookup {
	l := &Lookup{c: c, path: path, done: make(chan struct{})}
	if c.Dir == "" {
		close(l.done)
		return l
	}
	go func() {
		defer close(l.done)
		if l.file, l.fpErr = c.file(path); l.fpErr != nil {
			return
		}
		known, _ := readListing(l.file)
		settle := cmp.Or(c.settle, defaultSettle)
		l.fp, l.tree, l.settling, l.fpErr = fingerprint(path, c.Salt, known, settle)
	}()
	return l
}

// Wait waits for the background work of Begin to end.
func (l *Lookup) Wait() { <-l.done }

// Load returns the records of the feed that name the packages of keys, as
// Cache.Load does.
func (l *Lookup) Load(keys []match.Key, parse Parser) (*Feed, error) {
	l.Wait()
	c, want := l.c, wantSet(keys)
	if c.Dir == "" || l.fpErr != nil {
		// No cache, or a feed that cannot be read: the parser says how.
		return parseFeed(parse, want, nil)
	}
	if l.settling {
		f, err := parseFeed(parse, want, nil)
		if f != nil {
			f.CacheErr = fmt.Errorf("%s changed in the last %v: not cached until it settles", l.path, cmp.Or(c.settle, defaultSettle))
		}
		return f, err
	}
	f, readErr := readIndex(l.file, l.fp, want)
	if readErr == nil {
		now := time.Now()
		os.Chtimes(l.file, now, now) // most recently used; pruning keeps it
		return f, nil
	}
	if errors.Is(readErr, fs.ErrNotExist) || errors.Is(readErr, errStale) {
		readErr = nil
	} else {
		readErr = fmt.Errorf("index %s unusable, rebuilt: %w", l.file, readErr)
	}
	w, writeErr := c.create(l.fp, l.tree)
	f, err := parseFeed(parse, want, w)
	if err != nil {
		if w != nil {
			w.abort()
		}
		return nil, err
	}
	if w != nil {
		writeErr = w.finish(l.file)
		if writeErr == nil {
			writeErr = c.prune()
		}
	}
	if writeErr != nil {
		writeErr = fmt.Errorf("write scan index: %w", writeErr)
	}
	f.CacheErr = errors.Join(readErr, writeErr)
	return f, nil
}

// file is the index file of the feed at path.
func (c *Cache) file(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(c.Dir, hex.EncodeToString(sum[:16])+".idx"), nil
}

// wantSet turns keys into the names match.Index looks records up by: the
// OSV ecosystem's name and the package name.
func wantSet(keys []match.Key) map[string]bool {
	want := make(map[string]bool, len(keys))
	for _, k := range keys {
		want[osv.ParseEcosystem(k.Ecosystem).Name+"\x00"+k.Name] = true
	}
	return want
}

// recordKeys returns the names match.NewIndex files r under, once each.
func recordKeys(r *osv.Record) []string {
	var keys []string
	for _, a := range r.Affected {
		if a.Package == nil {
			continue
		}
		k := osv.ParseEcosystem(a.Package.Ecosystem).Name + "\x00" + a.Package.Name
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// item is one seq of a parse. Items of a 50,000-record feed are all held
// until its index is written, so an item is small: a record's keys go
// straight into the writer's table of keys.
type item struct {
	filled  bool
	isRec   bool
	rec     *osv.Record // a record, when kept for the scan
	problem string
	entry   entry // where w wrote the record
}

// entry is a record's row of the table.
type entry struct {
	off int64
	n   uint32
	crc uint32
}

// parseFeed parses the feed, keeping the wanted records, and writes every
// record to w when w is not nil. The records kept are then decoded from
// what was written, not the parsed ones: they take a third of the memory
// (one string a record), and a first scan matches exactly what a cached
// one will.
func parseFeed(parse Parser, want map[string]bool, w *writer) (*Feed, error) {
	var mu sync.Mutex
	var items []item
	var bufs sync.Pool
	n, err := parse(func(seq int, rec *osv.Record, problem string) {
		it := item{filled: true, problem: problem}
		var keys []string
		var blob []byte
		var roundTrip error
		if rec != nil {
			it.isRec, keys = true, recordKeys(rec)
			wanted := slices.ContainsFunc(keys, func(k string) bool { return want[k] })
			if wanted {
				it.rec = rec
			}
			if w != nil {
				bp, _ := bufs.Get().(*[]byte)
				if bp == nil {
					bp = new([]byte)
				}
				blob = appendRecord((*bp)[:0], rec)
				*bp = blob
				defer bufs.Put(bp)
				it.entry = entry{n: uint32(len(blob)), crc: crc32.Checksum(blob, castagnoli)}
				if wanted {
					if dec, err := decodeRecord(string(blob)); err != nil {
						// A record osv.Parse accepts and the encoding cannot
						// hold (a new event kind?): no index, this time.
						roundTrip = fmt.Errorf("record %s does not decode as encoded: %w", rec.ID, err)
					} else {
						it.rec = dec
					}
				}
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if seq >= len(items) {
			items = append(items, make([]item, seq+1-len(items))...)
		}
		if w != nil && rec != nil {
			if roundTrip != nil && w.err == nil {
				w.err = roundTrip
			}
			it.entry.off = w.write(blob)
			for _, k := range keys {
				w.byKey[k] = append(w.byKey[k], int32(seq))
			}
		}
		items[seq] = it
	})
	if err != nil {
		return nil, err
	}
	if len(items) > n {
		return nil, fmt.Errorf("parse feed: %d items beyond the %d reported", len(items)-n, n)
	}
	items = append(items, make([]item, n-len(items))...)
	f := &Feed{}
	for seq, it := range items {
		switch {
		case !it.filled:
			return nil, fmt.Errorf("parse feed: item %d of %d missing", seq, n)
		case it.isRec:
			f.Count++
			if it.rec != nil {
				f.Records = append(f.Records, it.rec)
			}
		default:
			f.Problems = append(f.Problems, it.problem)
		}
	}
	if w != nil {
		w.items = items
	}
	return f, nil
}

// prune removes the least recently used indexes beyond maxEntries and
// maxTotalBytes, and temporary files an interrupted scan left.
func (c *Cache) prune() error {
	ents, err := os.ReadDir(c.Dir)
	if err != nil {
		return err
	}
	type idx struct {
		name string
		mod  time.Time
		size int64
	}
	var idxs []idx
	var errs []error
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		switch {
		case strings.HasSuffix(e.Name(), ".idx"):
			idxs = append(idxs, idx{e.Name(), fi.ModTime(), fi.Size()})
		case strings.HasPrefix(e.Name(), "tmp-") && strings.HasSuffix(e.Name(), ".part") && time.Since(fi.ModTime()) > time.Hour:
			errs = append(errs, os.Remove(filepath.Join(c.Dir, e.Name())))
		}
	}
	slices.SortFunc(idxs, func(a, b idx) int { return cmp.Or(b.mod.Compare(a.mod), cmp.Compare(a.name, b.name)) })
	var total int64
	for i, x := range idxs {
		total += x.size
		if i >= maxEntries || total > maxTotalBytes {
			errs = append(errs, os.Remove(filepath.Join(c.Dir, x.name)))
		}
	}
	return errors.Join(errs...)
}
