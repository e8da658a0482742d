package match

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/osv"
)

const osvReal = "../osv/testdata/osv-real"

// TestParseKeepsNoInput: LoadOSV reads every record of a goroutine into
// one buffer, which is right only while osv.Parse copies what it keeps.
func TestParseKeepsNoInput(t *testing.T) {
	err := filepath.WalkDir(osvReal, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		want, err := osv.Parse(data)
		if err != nil {
			return err
		}
		buf := bytes.Clone(data)
		got, err := osv.Parse(buf)
		if err != nil {
			return err
		}
		for i := range buf {
			buf[i] = 'x'
		}
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("%s: a record parsed from a buffer changed with the buffer", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLoadOSVOrder: however many goroutines parse, records and problems
// come in the order of the files' paths, the same every time.
func TestLoadOSVOrder(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(osvReal, "Debian", "DLA-3022-1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var wantIDs, wantProblems []string
	for i := range 300 {
		name := fmt.Sprintf("%03d/DLA-%d-1.json", i%7, 5000+i)
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		body := bytes.Replace(src, []byte("DLA-3022-1"), fmt.Appendf(nil, "DLA-%d-1", 5000+i), 1)
		if i%50 == 0 {
			body = body[:len(body)/2]
		}
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if !d.IsDir() {
			id := strings.TrimSuffix(filepath.Base(p), ".json")
			var n int
			fmt.Sscanf(id, "DLA-%d-1", &n)
			if (n-5000)%50 == 0 {
				wantProblems = append(wantProblems, p)
			} else {
				wantIDs = append(wantIDs, id)
			}
		}
		return nil
	})
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for range 5 {
		recs, problems, err := LoadOSV(dir)
		if err != nil {
			t.Fatal(err)
		}
		var ids, files []string
		for _, r := range recs {
			ids = append(ids, r.ID)
		}
		for _, p := range problems {
			files = append(files, p.File)
		}
		if !slices.Equal(ids, wantIDs) || !slices.Equal(files, wantProblems) {
			t.Fatalf("LoadOSV order:\nrecords %v\nproblems %v\nwant %v\nand %v", ids, files, wantIDs, wantProblems)
		}
	}
}

// TestLoadOSVFiles: a directory reached through a link is read; a FIFO, a
// file over the size limit and an unreadable file are problems, not a
// hang or an error of the whole feed.
func TestLoadOSVFiles(t *testing.T) {
	dir := t.TempDir()
	feed := filepath.Join(dir, "feed")
	if err := os.CopyFS(feed, os.DirFS(filepath.Join(osvReal, "Debian"))); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(feed, link); err != nil {
		t.Fatal(err)
	}
	if recs, problems, err := LoadOSV(link); err != nil || len(recs) != 10 || len(problems) != 0 {
		t.Fatalf("LoadOSV(link to a directory) = %d records, %v, %v; want 10", len(recs), problems, err)
	}
	if err := syscall.Mkfifo(filepath.Join(feed, "fifo.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte(" "), maxRecordBytes+1)
	os.WriteFile(filepath.Join(feed, "big.json"), big, 0o644)
	done := make(chan struct{})
	var problems []LoadProblem
	var recs []*osv.Record
	var err error
	go func() {
		defer close(done)
		recs, problems, err = LoadOSV(feed)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("LoadOSV hangs on a FIFO")
	}
	var files []string
	for _, p := range problems {
		files = append(files, filepath.Base(p.File)+": "+p.Err.Error())
	}
	if err != nil || len(recs) != 10 || len(files) != 2 || !strings.HasPrefix(files[0], "big.json: larger than") || !strings.HasPrefix(files[1], "fifo.json") {
		t.Fatalf("LoadOSV = %d records, problems %q, %v; want 10 and big.json, fifo.json", len(recs), files, err)
	}
}

// BenchmarkLoadOSV parses the real Debian records, copied to n files.
func BenchmarkLoadOSV(b *testing.B) {
	dir := b.TempDir()
	ents, _ := os.ReadDir(filepath.Join(osvReal, "Debian"))
	for i := range 2000 {
		e := ents[i%len(ents)]
		data, _ := os.ReadFile(filepath.Join(osvReal, "Debian", e.Name()))
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%05d-%s", i, e.Name())), data, 0o644)
	}
	for b.Loop() {
		if _, _, err := LoadOSV(dir); err != nil {
			b.Fatal(err)
		}
	}
}
