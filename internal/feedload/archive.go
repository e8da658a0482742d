package feedload

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/patchbay/patchbay"
)

// entry is one record file to read: a file of a directory or a zip entry.
type entry struct {
	file       string // the name Problems use: "all.zip:GHSA-….json"
	open       func() (io.ReadCloser, error)
	size       int64  // the declared size, to size the buffer; -1 if unknown
	compressed int64  // a zip entry's compressed size, for the ratio guard; -1 for a plain file
	sha256     string // a bundle member's digest in the manifest; "" if none
}

// limitError is a limit of Options that a stream went past.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

// boundedReader counts what it reads and fails past its limits, whatever
// the headers of the archive said.
type boundedReader struct {
	ctx        context.Context
	r          io.Reader
	name       string        // what is read, for the error: "all.zip:x.json"
	n          int64         // bytes read so far
	max        int64         // limit of this stream
	maxName    string        // the Options field of max: "MaxRecordBytes"
	compressed int64         // compressed size for the ratio guard; -1: none
	ratio      int64         // Options.MaxRatio
	total      *atomic.Int64 // bytes read by the whole load; nil: not counted
	maxTotal   int64         // Options.MaxTotalBytes
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	switch {
	case b.n > b.max:
		return n, &limitError{fmt.Sprintf("%s inflates past %d bytes, the limit (%s)", b.name, b.max, b.maxName)}
	case b.compressed >= 0 && b.n > ratioFloor && b.n/b.ratio > b.compressed:
		return n, &limitError{fmt.Sprintf("%s inflates %d bytes of compressed data past %d bytes, more than %d times (MaxRatio)", b.name, b.compressed, b.n, b.ratio)}
	case b.total != nil && b.total.Add(int64(n)) > b.maxTotal:
		return n, &limitError{fmt.Sprintf("the archive inflates past %d bytes in all, the limit (MaxTotalBytes), at %s", b.maxTotal, b.name)}
	}
	return n, err
}

// read reads all of r within max and the ratio guard. Bytes read from a
// zip entry count towards MaxTotalBytes for the whole load.
func (l *loader) read(ctx context.Context, r io.Reader, e entry, max int64, maxName string, zipEntry bool) ([]byte, error) {
	br := &boundedReader{
		ctx: ctx, r: r, name: e.file, max: max, maxName: maxName,
		compressed: e.compressed, ratio: l.o.MaxRatio,
	}
	if zipEntry {
		br.total, br.maxTotal = &l.total, l.o.MaxTotalBytes
	}
	var buf bytes.Buffer
	if e.size >= 0 {
		buf.Grow(int(min(e.size, max)) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(br)
	return buf.Bytes(), err
}

// checkDeclared refuses a zip entry whose header already says it is over a
// limit, before anything is inflated. sum adds up the declared sizes.
func (l *loader) checkDeclared(zf *zip.File, max uint64, maxName string, sum *uint64) error {
	size := zf.UncompressedSize64
	switch {
	case size > max:
		return l.tooLarge("entry %s:%s declares %d bytes uncompressed, more than the limit of %d (%s): a zip bomb or not a feed", l.name, zf.Name, size, max, maxName)
	case size > ratioFloor && size/uint64(l.o.MaxRatio) > zf.CompressedSize64:
		return l.tooLarge("entry %s:%s declares %d bytes uncompressed from %d compressed, more than %d times (MaxRatio): a zip bomb", l.name, zf.Name, size, zf.CompressedSize64, l.o.MaxRatio)
	}
	*sum += size
	if *sum > uint64(l.o.MaxTotalBytes) {
		return l.tooLarge("the entries declare more than %d bytes uncompressed in all, the limit (MaxTotalBytes)", l.o.MaxTotalBytes)
	}
	return nil
}

// zipEntry returns the entry of a zip file.
func (l *loader) zipEntry(zf *zip.File, sha string) entry {
	return entry{
		file: l.name + ":" + zf.Name, open: zf.Open,
		size: int64(zf.UncompressedSize64), compressed: int64(zf.CompressedSize64),
		sha256: sha,
	}
}

// isRecordName reports whether a file of a directory or zip is read as an
// OSV record: *.json, but not hidden files such as macOS's "._X.json".
func isRecordName(name string) bool {
	base := name[strings.LastIndexByte(name, '/')+1:]
	return strings.HasSuffix(strings.ToLower(base), ".json") && !strings.HasPrefix(base, ".")
}

// loadZip loads a zip: a bundle if it has manifest.json at its top, else OSV
// records.
func (l *loader) loadZip(ctx context.Context, r io.ReaderAt, size int64) (*Batch, error) {
	zr, err := l.openZip(r, size)
	if err != nil {
		return nil, err
	}
	for _, zf := range zr.File {
		if zf.Name == manifestName {
			return l.loadBundle(ctx, zr)
		}
	}
	var entries []entry
	var declared uint64
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() || !isRecordName(zf.Name) {
			continue
		}
		if err := l.checkDeclared(zf, uint64(l.o.MaxRecordBytes), "MaxRecordBytes", &declared); err != nil {
			return nil, err
		}
		entries = append(entries, l.zipEntry(zf, ""))
	}
	if len(entries) == 0 {
		return nil, l.invalid("a zip with no *.json file: not an OSV feed, nor a bundle (no manifest.json)")
	}
	items, err := l.parseAll(ctx, entries, true)
	if err != nil {
		return nil, err
	}
	b := &Batch{Name: l.name, Kind: KindOSV}
	b.Records, b.Problems = collect(items, nil)
	return b, nil
}

// loadDir loads the OSV records of a directory and its subdirectories. It
// reads through an os.Root, so a symbolic link that leads out of the
// directory is a Problem, not followed.
func (l *loader) loadDir(ctx context.Context, path string) (*Batch, error) {
	root, err := os.OpenRoot(path)
	if err != nil {
		return nil, fmt.Errorf("load feed: %w", err)
	}
	defer root.Close()
	fsys := root.FS()
	var entries []entry
	var probs []Problem
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		file := filepath.Join(path, filepath.FromSlash(p))
		if err != nil {
			if p == "." {
				return err
			}
			probs = append(probs, Problem{File: file, Reason: "cannot be read: " + err.Error()})
			return nil
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir // .git and the like
			}
			return nil
		}
		if !isRecordName(p) {
			return nil
		}
		if len(entries) == l.o.MaxEntries {
			return l.tooLarge("the directory has more than %d *.json files, the limit (MaxEntries)", l.o.MaxEntries)
		}
		entries = append(entries, entry{file: file, open: l.dirOpener(fsys, p, file), size: -1, compressed: -1})
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("load feed %s: %w", l.name, ctx.Err())
		}
		var pe *patchbay.Error
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, fmt.Errorf("load feed %s: %w", l.name, err)
	}
	if len(entries) == 0 && len(probs) == 0 {
		return nil, l.invalid("a directory with no *.json file: not an OSV feed")
	}
	items, err := l.parseAll(ctx, entries, false)
	if err != nil {
		return nil, err
	}
	b := &Batch{Name: l.name, Kind: KindOSV}
	b.Records, b.Problems = collect(items, probs)
	return b, nil
}

// dirOpener opens a file of a directory, refusing what is not a regular
// file or is over MaxRecordBytes before reading it.
func (l *loader) dirOpener(fsys fs.FS, p, file string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		f, err := fsys.Open(p)
		if err != nil {
			return nil, err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if !fi.Mode().IsRegular() {
			f.Close()
			return nil, errors.New("not a regular file")
		}
		if fi.Size() > l.o.MaxRecordBytes {
			f.Close()
			return nil, &limitError{fmt.Sprintf("%s is %d bytes, more than the limit of %d (MaxRecordBytes)", file, fi.Size(), l.o.MaxRecordBytes)}
		}
		return f, nil
	}
}

// gunzip inflates a gzip stream within MaxTotalBytes and MaxRatio.
func (l *loader) gunzip(ctx context.Context, data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, l.invalid("gzip stream is damaged (%v); nothing is imported from it", err)
	}
	e := entry{file: "the gzip stream", size: -1, compressed: int64(len(data))}
	out, err := l.read(ctx, zr, e, l.o.MaxTotalBytes, "MaxTotalBytes", false)
	if err != nil {
		var le *limitError
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("load feed %s: %w", l.name, ctx.Err())
		case errors.As(err, &le):
			return nil, l.tooLarge("%s", le.msg)
		}
		return nil, l.invalid("gzip stream is damaged or truncated (%v); nothing is imported from it, "+
			"as a truncated stream cannot show what it lost", err)
	}
	return out, nil
}
