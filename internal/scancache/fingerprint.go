package scancache

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// fingerprint is the identity of a feed as the cache keys it: SHA-256 over
// the format version, the salt, the feed's path as given, and for each
// file the feed is read from (every *.json file under a directory, as
// match.LoadOSV reads them; the file itself otherwise) its path, size,
// mode, modification and change times in nanoseconds, and inode.
//
// For a directory, known is the listing an index stored (nil if none): when
// every directory in it still has the stamp it had when it was listed, no
// entry was added, removed or renamed since, so its files are stamped
// without listing the directories again (listing 50,000 entries costs a
// fifth as much as stating them). t is the listing used, for the next
// index.
//
// settling reports a file or directory changed less than settle before
// its stamp was taken: it may change again within the same tick of the
// file system's clock without its stamp changing, so its fingerprint must
// not be trusted, neither to write an index nor to read one (git's "racily
// clean" entries, for the same reason).
func fingerprint(path, salt string, known *tree, settle time.Duration) (fp [32]byte, t *tree, settling bool, err error) {
	recent := time.Now().Add(-settle).UnixNano()
	h := sha256.New()
	var b []byte
	b = binary.AppendUvarint(b, formatVersion)
	b = appendString(b, salt)
	b = appendString(b, path)
	fi, err := os.Stat(path)
	if err != nil {
		return fp, nil, false, err
	}
	if !fi.IsDir() {
		st, err := stampOf(path)
		if err != nil {
			return fp, nil, false, err
		}
		h.Write(st.append(b))
		return [32]byte(h.Sum(nil)), nil, st.since(recent), nil
	}
	h.Write(b)
	if known != nil && known.unchanged(path) {
		t = known
		t.stamps = stampAll(t)
	} else if t, err = walkTree(path); err != nil {
		return fp, nil, false, err
	}
	for _, d := range t.dirs {
		settling = settling || d.st.since(recent)
	}
	// Each directory's path once, then each file by its directory's index
	// and its name: the same identity as the full paths, without building
	// 50,000 of them again.
	b = binary.AppendUvarint(b[:0], uint64(len(t.dirs)))
	for _, d := range t.dirs {
		b = appendString(b, d.path)
	}
	for i, f := range t.files {
		b = binary.AppendUvarint(b, uint64(f.dir))
		b = appendString(b, f.name)
		if st := t.stamps[i]; st.err != nil {
			// The parse reports it; the same failure again is the same feed.
			b = append(b, 0)
			b = appendString(b, st.err.Error())
		} else {
			b = append(b, 1)
			b = st.append(b)
			settling = settling || st.since(recent)
		}
		if len(b) > 32<<10 {
			h.Write(b)
			b = b[:0]
		}
	}
	h.Write(b)
	return [32]byte(h.Sum(nil)), t, settling, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// stamp is what the fingerprint takes of a file.
type stamp struct {
	size, mtime, ctime int64 // times in ns since 1970
	ino                uint64
	mode               uint32
	err                error // when stampOf failed
}

// since reports whether the file changed at or after t (ns since 1970).
func (st stamp) since(t int64) bool { return st.mtime >= t || st.ctime >= t }

func (st stamp) append(b []byte) []byte {
	b = binary.AppendVarint(b, st.size)
	b = binary.AppendUvarint(b, uint64(st.mode))
	b = binary.AppendVarint(b, st.mtime)
	b = binary.AppendVarint(b, st.ctime)
	return binary.AppendUvarint(b, st.ino)
}

// tree is the listing of a feed directory: the directories walked, each
// with the stamp it had before it was read, and the *.json files that are
// not directories, as match.LoadOSV selects them (it walks with
// filepath.WalkDir), in the order of the listings: the order of an
// unchanged directory does not change, and a directory whose order changes
// only costs a rebuild.
type tree struct {
	dirs   []treeDir
	files  []treeFile
	stamps []stamp // of files, by index
}

type treeDir struct {
	path string
	st   stamp
}

type treeFile struct {
	dir  int // in dirs
	name string
}

func (t *tree) path(i int) string {
	f := t.files[i]
	return t.dirs[f.dir].path + string(filepath.Separator) + f.name
}

// unchanged reports whether t is a listing of root whose directories all
// still have their stamps.
func (t *tree) unchanged(root string) bool {
	if len(t.dirs) == 0 || t.dirs[0].path != root {
		return false
	}
	for _, d := range t.dirs {
		st, err := stampOf(d.path)
		if err != nil || st != d.st {
			return false
		}
	}
	return true
}

// stampBatch is how many files a goroutine stamps at a time.
const stampBatch = 256

// stampAll stamps t's files on GOMAXPROCS goroutines: on a feed of 50,000
// files these stat calls are most of what a cached scan costs.
func stampAll(t *tree) []stamp {
	stamps := make([]stamp, len(t.files))
	work := make(chan int, len(t.files)/stampBatch+1)
	for lo := 0; lo < len(t.files); lo += stampBatch {
		work <- lo
	}
	close(work)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for lo := range work {
				for i := lo; i < min(lo+stampBatch, len(t.files)); i++ {
					st, err := stampOf(t.path(i))
					st.err = err
					stamps[i] = st
				}
			}
		})
	}
	wg.Wait()
	return stamps
}

// walkTree lists the directory root and stamps its files, on GOMAXPROCS
// goroutines as the listing goes on.
func walkTree(root string) (*tree, error) {
	t := &tree{}
	var mu sync.Mutex // t.stamps, which the stamping goroutines grow
	work := make(chan int, 64)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for lo := range work {
				var sts [stampBatch]stamp
				mu.Lock()
				files, dirs := t.files[lo:lo+stampBatch], t.dirs
				mu.Unlock()
				for i, f := range files {
					st, err := stampOf(dirs[f.dir].path + string(filepath.Separator) + f.name)
					st.err = err
					sts[i] = st
				}
				mu.Lock()
				copy(t.stamps[lo:], sts[:])
				mu.Unlock()
			}
		})
	}
	var walk func(dir string) error
	walk = func(dir string) error {
		st, err := stampOf(dir)
		if err != nil {
			return err
		}
		f, err := os.Open(dir)
		if err != nil {
			return err
		}
		defer f.Close()
		mu.Lock()
		t.dirs = append(t.dirs, treeDir{dir, st})
		di := len(t.dirs) - 1
		mu.Unlock()
		for {
			ents, err := f.ReadDir(1024)
			for _, e := range ents {
				switch {
				case e.IsDir():
					if err := walk(dir + string(filepath.Separator) + e.Name()); err != nil {
						return err
					}
				case strings.HasSuffix(e.Name(), ".json"):
					mu.Lock()
					t.files = append(t.files, treeFile{di, e.Name()})
					t.stamps = append(t.stamps, stamp{})
					full := len(t.files)%stampBatch == 0
					mu.Unlock()
					if full {
						work <- len(t.files) - stampBatch
					}
				}
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	err := walk(root)
	close(work)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	for i := len(t.files) - len(t.files)%stampBatch; i < len(t.files); i++ {
		st, err := stampOf(t.path(i))
		st.err = err
		t.stamps[i] = st
	}
	return t, nil
}
