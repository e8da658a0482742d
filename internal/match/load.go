package match

import (
	"archive/zip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

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
// silently; the error is for a path that cannot be read at all.
func LoadOSV(path string) ([]*osv.Record, []LoadProblem, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("load advisories: %w", err)
	}
	var recs []*osv.Record
	var problems []LoadProblem
	add := func(name string, r io.Reader) {
		data, err := io.ReadAll(io.LimitReader(r, maxRecordBytes+1))
		if err == nil && len(data) > maxRecordBytes {
			err = fmt.Errorf("larger than %d bytes", maxRecordBytes)
		}
		if err != nil {
			problems = append(problems, LoadProblem{File: name, Err: err})
			return
		}
		rec, err := osv.Parse(data)
		if err != nil {
			problems = append(problems, LoadProblem{File: name, Err: err})
			return
		}
		recs = append(recs, rec)
	}
	switch {
	case fi.IsDir():
		err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !strings.HasSuffix(p, ".json") {
				return nil
			}
			f, err := os.Open(p)
			if err != nil {
				problems = append(problems, LoadProblem{File: p, Err: err})
				return nil
			}
			defer f.Close()
			add(p, f)
			return nil
		})
	case strings.HasSuffix(path, ".zip"):
		var zr *zip.ReadCloser
		if zr, err = zip.OpenReader(path); err == nil {
			defer zr.Close()
			for _, zf := range zr.File {
				if zf.FileInfo().IsDir() || !strings.HasSuffix(zf.Name, ".json") {
					continue
				}
				rc, err := zf.Open()
				if err != nil {
					problems = append(problems, LoadProblem{File: path + ":" + zf.Name, Err: err})
					continue
				}
				add(path+":"+zf.Name, rc)
				rc.Close()
			}
		}
	default:
		var f *os.File
		if f, err = os.Open(path); err == nil {
			defer f.Close()
			add(path, f)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load advisories from %s: %w", path, err)
	}
	return recs, problems, nil
}
