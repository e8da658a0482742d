package main

import (
	"archive/zip"
	"bufio"
	"cmp"
	"compress/flate"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// corpus is what writeCorpus made.
type corpus struct {
	expect   []string       // binary<TAB>version<TAB>id, sorted, one per finding
	counts   map[string]int // records per case
	findings map[string]int // expected findings per case
}

// writeCorpus writes the records of plan into dir, one file each, and into
// the zip at zipPath unless it is empty.
func writeCorpus(g *generator, plan []kind, dir, zipPath string) (*corpus, error) {
	c := &corpus{counts: map[string]int{}, findings: map[string]int{}}
	var zw *zipWriter
	if zipPath != "" {
		var err error
		if zw, err = newZipWriter(zipPath); err != nil {
			return nil, err
		}
		defer zw.f.Close()
	}
	files := newFileWriter(4)
	defer files.close()
	for i, k := range plan {
		rec, targets := g.record(i+1, k)
		data, err := json.MarshalIndent(rec, "", "  ")
		if err != nil {
			return nil, err
		}
		data = append(data, '\n')
		files.write(filepath.Join(dir, rec.ID+".json"), data)
		if zw != nil {
			if err := zw.add(rec.ID+".json", data); err != nil {
				return nil, err
			}
		}
		c.counts[k.name]++
		if k.hit {
			for _, b := range targets {
				c.expect = append(c.expect, b.Name+"\t"+b.Version+"\t"+rec.ID)
			}
			c.findings[k.name] += len(targets)
		}
	}
	if err := files.close(); err != nil {
		return nil, err
	}
	if zw != nil {
		if err := zw.close(); err != nil {
			return nil, err
		}
	}
	// A binary installed for two architectures is one finding.
	slices.Sort(c.expect)
	c.expect = slices.Compact(c.expect)
	return c, nil
}

// zipWriter writes the records as osv.dev's all.zip holds them.
type zipWriter struct {
	f   *os.File
	buf *bufio.Writer
	zw  *zip.Writer
}

func newZipWriter(path string) (*zipWriter, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	z := &zipWriter{f: f, buf: bufio.NewWriterSize(f, 1<<20)}
	z.zw = zip.NewWriter(z.buf)
	// One deflater, reset per entry (zip writes one entry at a time): a new
	// one per record would allocate its ~1 MB state 50,000 times.
	fw, err := flate.NewWriter(nil, flate.BestSpeed)
	if err != nil {
		f.Close()
		return nil, err
	}
	z.zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		fw.Reset(w)
		return fw, nil
	})
	return z, nil
}

func (z *zipWriter) add(name string, data []byte) error {
	w, err := z.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: zipTime})
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// close writes the zip's directory and closes the file.
func (z *zipWriter) close() error {
	if err := z.zw.Close(); err != nil {
		return err
	}
	if err := z.buf.Flush(); err != nil {
		return err
	}
	return z.f.Close()
}

// fileWriter writes files on a few goroutines: creating 50,000 small files
// is most of the generator's time, and the file system overlaps some of it.
type fileWriter struct {
	jobs   chan fileJob
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
	closed sync.Once
}

type fileJob struct {
	path string
	data []byte
}

func newFileWriter(workers int) *fileWriter {
	fw := &fileWriter{jobs: make(chan fileJob, 256)}
	for range workers {
		fw.wg.Go(func() {
			for j := range fw.jobs {
				if err := os.WriteFile(j.path, j.data, 0o644); err != nil {
					fw.mu.Lock()
					fw.err = cmp.Or(fw.err, err)
					fw.mu.Unlock()
				}
			}
		})
	}
	return fw
}

func (fw *fileWriter) write(path string, data []byte) { fw.jobs <- fileJob{path, data} }

// close waits for every write and returns the first error; it may be
// called again.
func (fw *fileWriter) close() error {
	fw.closed.Do(func() {
		close(fw.jobs)
		fw.wg.Wait()
	})
	return fw.err
}

// prepareOut creates dir, refusing one that already holds records: records
// of an earlier run with another -n would silently join the corpus.
func prepareOut(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	if len(old) > 0 {
		return fmt.Errorf("%s already holds %d records: give a new or empty directory", dir, len(old))
	}
	return nil
}
