package scancache

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/patchbay/patchbay/internal/osv"
)

// An index file is
//
//	header    headerSize bytes, see header
//	records   each record as appendRecord writes it, in any order
//	listing   for a directory feed, the tree its fingerprint was taken from
//	directory the problems, the record table, the keys
//
// Integers in the header and the record table are little endian; the rest
// is uvarints and length-prefixed strings.

const (
	magic      = "PBSCANIX"
	headerSize = 96
	entrySize  = 16 // of the record table: offset 8, length 4, CRC-32C 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errStale is an index for another state of its feed.
var errStale = errors.New("index of another state of the feed")

// header is an index file's first headerSize bytes: magic 8, format
// version 4, fingerprint 32, the listing's offset 8, length 8 and CRC-32C
// 4, the directory's likewise, the file's length 8, and the CRC-32C of the
// 92 bytes before it.
type header struct {
	fp               [32]byte
	listOff, listLen uint64
	listCRC          uint32
	dirOff, dirLen   uint64
	dirCRC           uint32
	fileLen          uint64
}

func (h *header) encode() []byte {
	b := make([]byte, 0, headerSize)
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint32(b, formatVersion)
	b = append(b, h.fp[:]...)
	b = binary.LittleEndian.AppendUint64(b, h.listOff)
	b = binary.LittleEndian.AppendUint64(b, h.listLen)
	b = binary.LittleEndian.AppendUint32(b, h.listCRC)
	b = binary.LittleEndian.AppendUint64(b, h.dirOff)
	b = binary.LittleEndian.AppendUint64(b, h.dirLen)
	b = binary.LittleEndian.AppendUint32(b, h.dirCRC)
	b = binary.LittleEndian.AppendUint64(b, h.fileLen)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// readHeader reads the header of an index of size bytes and checks that
// its sections lie where the format puts them.
func readHeader(r io.ReaderAt, size int64, verify bool) (header, error) {
	var h header
	if size < headerSize {
		return h, fmt.Errorf("%w: %d bytes, shorter than a header", errCorrupt, size)
	}
	b := make([]byte, headerSize)
	if _, err := r.ReadAt(b, 0); err != nil {
		return h, err
	}
	if string(b[0:8]) != magic {
		return h, fmt.Errorf("%w: not a patchbay scan index", errCorrupt)
	}
	if v := binary.LittleEndian.Uint32(b[8:12]); v != formatVersion {
		return h, fmt.Errorf("format version %d, not %d", v, formatVersion)
	}
	if verify && crc32.Checksum(b[:92], castagnoli) != binary.LittleEndian.Uint32(b[92:96]) {
		return h, fmt.Errorf("%w: header checksum", errCorrupt)
	}
	le := binary.LittleEndian
	h.fp = [32]byte(b[12:44])
	h.listOff, h.listLen, h.listCRC = le.Uint64(b[44:52]), le.Uint64(b[52:60]), le.Uint32(b[60:64])
	h.dirOff, h.dirLen, h.dirCRC = le.Uint64(b[64:72]), le.Uint64(b[72:80]), le.Uint32(b[80:84])
	h.fileLen = le.Uint64(b[84:92])
	if h.fileLen != uint64(size) {
		return h, fmt.Errorf("%w: %d bytes, the header says %d: truncated", errCorrupt, size, h.fileLen)
	}
	// records | listing | directory, the directory ending the file.
	if h.listOff < headerSize || h.listOff > h.fileLen || h.listLen > h.fileLen-h.listOff ||
		h.dirOff != h.listOff+h.listLen || h.dirLen != h.fileLen-h.dirOff {
		return h, fmt.Errorf("%w: sections out of place", errCorrupt)
	}
	return h, nil
}

// section reads n bytes at off and checks their CRC-32C.
func section(r io.ReaderAt, off, n uint64, crc uint32, verify bool) ([]byte, error) {
	b := make([]byte, n)
	if _, err := r.ReadAt(b, int64(off)); err != nil {
		return nil, err
	}
	if verify && crc32.Checksum(b, castagnoli) != crc {
		return nil, fmt.Errorf("%w: section checksum", errCorrupt)
	}
	return b, nil
}

// openIndex opens an index file that is a regular file of ours.
func openIndex(name string) (*os.File, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
	case !fi.Mode().IsRegular():
		err = errors.New("not a regular file")
	case !ownedByUs(fi):
		err = errors.New("owned by another user")
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// readListing returns the listing of the index file name, or nil.
func readListing(name string) (*tree, error) {
	f, size, err := openIndex(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return decodeListing(f, size, true)
}

func decodeListing(r io.ReaderAt, size int64, verify bool) (*tree, error) {
	h, err := readHeader(r, size, verify)
	if err != nil || h.listLen == 0 {
		return nil, err
	}
	b, err := section(r, h.listOff, h.listLen, h.listCRC, verify)
	if err != nil {
		return nil, err
	}
	d := decoder{s: string(b)}
	t := &tree{}
	if n, ok := d.count0(); ok {
		t.dirs = make([]treeDir, n)
		for i := range t.dirs {
			t.dirs[i] = treeDir{path: d.str(), st: d.stamp()}
		}
	}
	if n, ok := d.count0(); ok {
		t.files = make([]treeFile, n)
		for i := range t.files {
			t.files[i] = treeFile{dir: int(d.uvarint()), name: d.str()}
			if d.err == nil && t.files[i].dir >= len(t.dirs) {
				d.fail("file of directory %d of %d", t.files[i].dir, len(t.dirs))
			}
		}
	}
	if d.err == nil && d.off != len(d.s) {
		d.fail("%d bytes after the listing", len(d.s)-d.off)
	}
	if d.err != nil {
		return nil, d.err
	}
	return t, nil
}

func (d *decoder) stamp() stamp {
	return stamp{size: d.varint(), mode: uint32(d.uvarint()), mtime: d.varint(), ctime: d.varint(), ino: d.uvarint()}
}

// readIndex reads the records of want from the index file name, if it is
// the index of the feed whose fingerprint is fp.
func readIndex(name string, fp [32]byte, want map[string]bool) (*Feed, error) {
	f, size, err := openIndex(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return decode(f, size, fp, want, true)
}

// decode reads an index of size bytes from r. With verify false it skips
// the checksums, which only the fuzz test wants, to reach the decoding
// behind them. Whatever r holds, it returns a Feed or an error, never
// panics, and allocates at most what the index's size allows.
func decode(r io.ReaderAt, size int64, fp [32]byte, want map[string]bool, verify bool) (*Feed, error) {
	h, err := readHeader(r, size, verify)
	if err != nil {
		return nil, err
	}
	if h.fp != fp {
		return nil, errStale
	}
	dir, err := section(r, h.dirOff, h.dirLen, h.dirCRC, verify)
	if err != nil {
		return nil, err
	}
	d := decoder{s: string(dir)}
	f := &Feed{FromCache: true}
	if n, ok := d.count0(); ok {
		f.Problems = make([]string, n)
		for i := range f.Problems {
			f.Problems[i] = d.str()
		}
	}
	nrec, _ := d.count0()
	if d.err == nil && nrec > (len(d.s)-d.off)/entrySize {
		d.fail("%d records past the end", nrec)
	}
	if d.err != nil {
		return nil, d.err
	}
	table := dir[d.off : d.off+nrec*entrySize]
	d.off += nrec * entrySize
	f.Count = nrec
	var sel []int
	nkeys, _ := d.count0()
	for range nkeys {
		wanted := want[d.str()]
		m, _ := d.count0()
		// Indexes are ascending, written as differences: the first from 0.
		i := 0
		for j := range m {
			delta := d.uvarint()
			if d.err == nil && (delta >= uint64(nrec) || j > 0 && delta == 0 || uint64(i)+delta >= uint64(nrec)) {
				d.fail("record index out of range")
			}
			if d.err != nil {
				break
			}
			i += int(delta)
			if wanted {
				sel = append(sel, i)
			}
		}
	}
	if d.err == nil && d.off != len(d.s) {
		d.fail("%d bytes after the directory", len(d.s)-d.off)
	}
	if d.err != nil {
		return nil, d.err
	}
	slices.Sort(sel)
	sel = slices.Compact(sel)
	recs, err := readRecords(r, table, sel, int64(h.listOff), verify)
	if err != nil {
		return nil, err
	}
	f.Records, f.Decoded = recs, len(sel)
	return f, nil
}

// count0 reads a plain count (no nil), at most what is left.
func (d *decoder) count0() (int, bool) {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.s)-d.off) {
		d.fail("count %d past the end", n)
	}
	if d.err != nil {
		return 0, false
	}
	return int(n), true
}

// readRecords reads and decodes the records sel (indexes into table, in
// order) from r, whose records end at end.
func readRecords(r io.ReaderAt, table []byte, sel []int, end int64, verify bool) ([]*osv.Record, error) {
	type loc struct {
		i   int // place in sel
		off int64
		n   int64
		crc uint32
	}
	locs := make([]loc, len(sel))
	for j, i := range sel {
		row := table[i*entrySize : (i+1)*entrySize]
		l := loc{
			i:   j,
			off: int64(binary.LittleEndian.Uint64(row[0:8])),
			n:   int64(binary.LittleEndian.Uint32(row[8:12])),
			crc: binary.LittleEndian.Uint32(row[12:16]),
		}
		if l.off < headerSize || l.off > end || l.n > end-l.off {
			return nil, fmt.Errorf("%w: record %d at %d, %d bytes, outside the records", errCorrupt, i, l.off, l.n)
		}
		locs[j] = l
	}
	slices.SortFunc(locs, func(a, b loc) int { return cmp.Compare(a.off, b.off) })
	// Records at most gap apart are read in one call of at most maxSpan
	// bytes, into one buffer; each record is copied out of it, so the
	// records keep only their own bytes.
	const gap, maxSpan = 16 << 10, 1 << 20
	blobs := make([]string, len(sel))
	var buf []byte
	for lo := 0; lo < len(locs); {
		start, stop := locs[lo].off, locs[lo].off+locs[lo].n
		hi := lo + 1
		for hi < len(locs) && locs[hi].off-stop <= gap && locs[hi].off+locs[hi].n-start <= maxSpan {
			stop = max(stop, locs[hi].off+locs[hi].n)
			hi++
		}
		buf = slices.Grow(buf[:0], int(stop-start))[:stop-start]
		if _, err := r.ReadAt(buf, start); err != nil {
			return nil, err
		}
		for _, l := range locs[lo:hi] {
			blob := buf[l.off-start : l.off-start+l.n]
			if verify && crc32.Checksum(blob, castagnoli) != l.crc {
				return nil, fmt.Errorf("%w: record %d checksum", errCorrupt, sel[l.i])
			}
			blobs[l.i] = string(blob) // the record's strings share this copy
		}
		lo = hi
	}
	// Decoding is most of the work left after the fingerprint, and the
	// other cores are idle by then.
	recs := make([]*osv.Record, len(sel))
	errs := make([]error, len(sel))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(sel)/64+1) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(blobs) {
					return
				}
				if recs[i], errs[i] = decodeRecord(blobs[i]); errs[i] != nil {
					errs[i] = fmt.Errorf("record %d: %w", sel[i], errs[i])
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return recs, nil
}

// writer writes an index to a temporary file: records as they are parsed,
// then the listing, the directory and the header.
type writer struct {
	f     *os.File
	bw    *bufio.Writer
	h     header
	tree  *tree
	off   int64
	err   error
	items []item
	byKey map[string][]int32 // the seqs of the records naming each key, in any order
}

// create starts an index in c.Dir for the feed whose fingerprint is fp and
// listing t; a directory that cannot be written is no index, not a failed
// scan.
func (c *Cache) create(fp [32]byte, t *tree) (*writer, error) {
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(c.Dir, "tmp-*.part") // mode 0600
	if err != nil {
		return nil, err
	}
	w := &writer{f: f, bw: bufio.NewWriterSize(f, 256<<10), h: header{fp: fp}, tree: t, byKey: map[string][]int32{}}
	w.write(make([]byte, headerSize))
	return w, nil
}

// write appends b and returns its offset; after an error or past
// maxFileBytes it only counts.
func (w *writer) write(b []byte) int64 {
	off := w.off
	w.off += int64(len(b))
	if w.err == nil && w.off > maxFileBytes {
		w.err = fmt.Errorf("index larger than %d bytes: not kept", maxFileBytes)
	}
	if w.err == nil {
		_, w.err = w.bw.Write(b)
	}
	return off
}

func (w *writer) abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

// finish writes the listing, the directory and the header and renames the
// file to name.
func (w *writer) finish(name string) error {
	list := w.listing()
	w.h.listOff, w.h.listLen, w.h.listCRC = uint64(w.write(list)), uint64(len(list)), crc32.Checksum(list, castagnoli)
	dir := w.directory()
	w.h.dirOff, w.h.dirLen, w.h.dirCRC = uint64(w.write(dir)), uint64(len(dir)), crc32.Checksum(dir, castagnoli)
	w.h.fileLen = uint64(w.off)
	if w.err == nil {
		w.err = w.bw.Flush()
	}
	if w.err == nil {
		_, w.err = w.f.WriteAt(w.h.encode(), 0)
	}
	if err := w.f.Close(); w.err == nil {
		w.err = err
	}
	if w.err == nil {
		w.err = os.Rename(w.f.Name(), name)
	}
	if w.err != nil {
		os.Remove(w.f.Name())
	}
	return w.err
}

// listing encodes the tree of a directory feed; none for a file.
func (w *writer) listing() []byte {
	if w.tree == nil {
		return nil
	}
	e := encoder{}
	e.uvarint(uint64(len(w.tree.dirs)))
	for _, d := range w.tree.dirs {
		e.str(d.path)
		e.b = binary.AppendVarint(e.b, d.st.size)
		e.uvarint(uint64(d.st.mode))
		e.b = binary.AppendVarint(e.b, d.st.mtime)
		e.b = binary.AppendVarint(e.b, d.st.ctime)
		e.uvarint(d.st.ino)
	}
	e.uvarint(uint64(len(w.tree.files)))
	for _, f := range w.tree.files {
		e.uvarint(uint64(f.dir))
		e.str(f.name)
	}
	return e.b
}

// directory encodes the problems, the record table and the keys.
func (w *writer) directory() []byte {
	var problems []string
	var table []byte
	recIndex := make([]int32, len(w.items)) // of each seq that is a record
	n := int32(0)
	for seq, it := range w.items {
		if !it.isRec {
			problems = append(problems, it.problem)
			continue
		}
		table = binary.LittleEndian.AppendUint64(table, uint64(it.entry.off))
		table = binary.LittleEndian.AppendUint32(table, it.entry.n)
		table = binary.LittleEndian.AppendUint32(table, it.entry.crc)
		recIndex[seq] = n
		n++
	}
	e := encoder{}
	e.uvarint(uint64(len(problems)))
	for _, p := range problems {
		e.str(p)
	}
	e.uvarint(uint64(n))
	e.b = append(e.b, table...)
	keys := make([]string, 0, len(w.byKey))
	for k := range w.byKey {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.uvarint(uint64(len(keys)))
	for _, k := range keys {
		e.str(k)
		seqs := w.byKey[k]
		slices.Sort(seqs) // the parse's order, not feed order
		e.uvarint(uint64(len(seqs)))
		prev := int32(0)
		for _, seq := range seqs {
			e.uvarint(uint64(recIndex[seq] - prev))
			prev = recIndex[seq]
		}
	}
	return e.b
}
