package facts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// rootFS reads the files of a root directory as if it were "/". On the live
// machine (dir "/") paths are used as they are. Under another root,
// symbolic links are resolved inside the root, as chroot would resolve
// them: /etc/os-release -> /usr/lib/os-release and /var/run -> /run point
// into the root, never at the machine running the agent.
type rootFS struct {
	dir  string // absolute and clean
	live bool   // dir is "/"
}

// maxSymlinks is how many links one lookup follows, as Linux's ELOOP limit.
const maxSymlinks = 40

// hostPath returns the path on the machine of name, an absolute path inside
// the root. followLast says whether a symbolic link in the last component
// is followed (false to read the link itself).
func (r rootFS) hostPath(name string, followLast bool) (string, error) {
	if r.live {
		return name, nil
	}
	rest := splitPath(name)
	var cur []string // resolved components, none a link
	missing := false // a component does not exist: resolve the rest lexically
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) > 0 {
				cur = cur[:len(cur)-1]
			}
			continue
		}
		next := append(cur[:len(cur):len(cur)], c)
		if missing || (!followLast && len(rest) == 0) {
			cur = next
			continue
		}
		p := filepath.Join(r.dir, filepath.FromSlash(strings.Join(next, "/")))
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			missing = true
			cur = next
			continue
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > maxSymlinks {
			return "", &fs.PathError{Op: "resolve", Path: filepath.Join(r.dir, name), Err: syscall.ELOOP}
		}
		target, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			cur = nil
		}
		rest = append(splitPath(target), rest...)
	}
	return filepath.Join(r.dir, filepath.FromSlash(strings.Join(cur, "/"))), nil
}

func splitPath(p string) []string {
	return strings.Split(strings.Trim(p, "/"), "/")
}

// readFile reads the file name under the root, refusing one longer than
// limit bytes. Errors name the path on the machine.
func (r rootFS) readFile(name string, limit int64) ([]byte, error) {
	p, err := r.hostPath(name, true)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("read %s: larger than %d bytes", p, limit)
	}
	return buf.Bytes(), nil
}

// readlink returns the target of the symbolic link name under the root, as
// written in the link.
func (r rootFS) readlink(name string) (string, error) {
	p, err := r.hostPath(name, false)
	if err != nil {
		return "", err
	}
	return os.Readlink(p)
}

// exists reports whether name exists under the root (after links); only a
// missing file is false without an error.
func (r rootFS) exists(name string) (bool, error) {
	p, err := r.hostPath(name, true)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// display returns name as the machine sees it, for messages.
func (r rootFS) display(name string) string {
	if r.live {
		return name
	}
	return filepath.Join(r.dir, name)
}
