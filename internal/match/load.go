package match

import (
	"archive/zip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/patchbay/patchbay/internal/osv"
)

// LoadProblem is a file that could not be used, and why.
type LoadProblem struct {
	File string
	Err  error
}

func (p LoadProblem) Error() string { return p.File + ": " + p.Err.Error() }

// String is Error, so problems of every feed print alike.
func (p LoadProblem) String() string { return p.Error() }

// maxRecordBytes bounds one OSV record file.
const maxRecordBytes = 8 << 20

// LoadOSV reads OSV records from path: one .json file, a directory of them
// (searched recursively), or a .zip such as osv.dev's all.zip. A record
// that does not parse is a LoadProblem naming its file, never dropped
// silently; the error is for a path that cannot be read at all. Records and
// problems come in the feed's order (see EachOSV), however many goroutines
// parsed them.
func LoadOSV(path string) ([]*osv.Record, []LoadProblem, error) {
	files, closeFeed, err := openOSV(path)
	if err != nil {
		return nil, nil, err
	}
	defer closeFeed()
	type result struct {
		rec     *osv.Record
		problem *LoadProblem
	}
	results := make([]result, len(files))
	parseAll(files, func(seq int, rec *osv.Record, problem *LoadProblem) {
		results[seq] = result{rec, problem} // each seq once: no two goroutines share a slot
	})
	var recs []*osv.Record
	var problems []LoadProblem
	for _, r := range results {
		if r.problem != nil {
			problems = append(problems, *r.problem)
		} else {
			recs = append(recs, r.rec)
		}
	}
	return recs, problems, nil
}

// EachOSV parses the OSV records of path as LoadOSV reads them, on
// GOMAXPROCS goroutines, and calls fn once for each record file,
// concurrently from those goroutines: fn must be safe for that. seq is the
// file's place in the feed's order, 0 to n-1 — a directory's files in the
// lexical order of their paths, as filepath.WalkDir visits them; a zip's in
// the order of its central directory — so a caller can put results back in
// that order. Exactly one of rec and problem is non-nil. n is the number of
// files; the error is for a path that cannot be read at all, and then fn
// has not been called.
//
// Parsing is what a feed of many records costs (osv.Parse and the file
// reads are nearly all of it), and records are independent, so it scales
// with the cores.
func EachOSV(path string, fn func(seq int, rec *osv.Record, problem *LoadProblem)) (n int, err error) {
	files, closeFeed, err := openOSV(path)
	if err != nil {
		return 0, err
	}
	defer closeFeed()
	parseAll(files, fn)
	return len(files), nil
}

// openOSV lists the record files of path, in the feed's order; closeFeed
// releases what reading them needs (a zip's file).
func openOSV(path string) (files []recordFile, closeFeed func(), err error) {
	closeFeed = func() {}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, closeFeed, fmt.Errorf("load advisories: %w", err)
	}
	switch {
	case fi.IsDir():
		root := path
		if lfi, err := os.Lstat(path); err == nil && lfi.Mode()&fs.ModeSymlink != 0 {
			// WalkDir does not follow a link it is given, so a feed
			// directory reached through one would read as empty; a
			// trailing separator makes its Lstat follow it.
			root += string(filepath.Separator)
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(p, ".json") {
				files = append(files, recordFile{name: p, read: func(buf []byte) ([]byte, error) { return readRecordFile(p, buf) }})
			}
			return nil
		})
	case strings.HasSuffix(path, ".zip"):
		var zr *zip.ReadCloser
		if zr, err = zip.OpenReader(path); err == nil {
			closeFeed = func() { zr.Close() }
			for _, zf := range zr.File {
				if zf.FileInfo().IsDir() || !strings.HasSuffix(zf.Name, ".json") {
					continue
				}
				files = append(files, recordFile{name: path + ":" + zf.Name, read: func(buf []byte) ([]byte, error) { return readZipRecord(zf, buf) }})
			}
		}
	default:
		files = []recordFile{{name: path, read: func(buf []byte) ([]byte, error) { return readRecordFile(path, buf) }}}
	}
	if err != nil {
		closeFeed()
		return nil, func() {}, fmt.Errorf("load advisories from %s: %w", path, err)
	}
	return files, closeFeed, nil
}

// recordFile is one record of a feed: its name in problems, and how to
// read it into a buffer.
type recordFile struct {
	name string
	read func(buf []byte) ([]byte, error)
}

// parseAll parses files on GOMAXPROCS goroutines, handing out files in
// order so that memory in flight stays one file per goroutine. Each
// goroutine reads every file into one buffer: osv.Parse copies what it
// keeps (TestParseKeepsNoInput holds it to that).
func parseAll(files []recordFile, fn func(seq int, rec *osv.Record, problem *LoadProblem)) {
	workers := min(runtime.GOMAXPROCS(0), len(files))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			buf := make([]byte, 0, 64<<10)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(files) {
					return
				}
				f := files[i]
				data, err := f.read(buf[:0])
				var rec *osv.Record
				if err == nil {
					buf = data
					rec, err = osv.Parse(data)
				}
				if err != nil {
					fn(i, nil, &LoadProblem{File: f.name, Err: err})
					continue
				}
				fn(i, rec, nil)
			}
		})
	}
	wg.Wait()
}

// readRecordFile reads the record file at path into buf. It goes to the
// system calls directly: an *os.File registers with the poller, which a
// regular file refuses, and sets up a cleanup, and on 50,000 records
// that was 150 ms of CPU, a quarter of all the reading. O_NONBLOCK: a FIFO
// named *.json is an error, not a scan that hangs.
func readRecordFile(path string, buf []byte) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	for err == syscall.EINTR {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	data, err := readRecord(buf, func(p []byte) (int, error) {
		for {
			n, err := syscall.Read(fd, p)
			switch {
			case err == syscall.EINTR:
				continue
			case err != nil:
				return 0, &fs.PathError{Op: "read", Path: path, Err: err}
			case n == 0:
				return 0, io.EOF
			}
			return n, nil
		}
	})
	return data, err
}

func readZipRecord(zf *zip.File, buf []byte) ([]byte, error) {
	if zf.UncompressedSize64 > maxRecordBytes {
		return nil, errTooLarge
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return readRecord(buf, rc.Read)
}

var errTooLarge = fmt.Errorf("larger than %d bytes", maxRecordBytes)

// readRecord appends what read returns until io.EOF to buf, refusing more
// than maxRecordBytes.
func readRecord(buf []byte, read func([]byte) (int, error)) ([]byte, error) {
	for {
		if len(buf) > maxRecordBytes {
			return nil, errTooLarge
		}
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(max(len(buf), 4096), maxRecordBytes+1-len(buf)))
		}
		n, err := read(buf[len(buf):min(cap(buf), maxRecordBytes+1)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(buf) > maxRecordBytes {
		return nil, errTooLarge
	}
	return buf, nil
}
