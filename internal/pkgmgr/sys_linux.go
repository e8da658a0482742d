//go:build linux

package pkgmgr

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Open file description locks (fcntl(2), Linux 3.15 and later): the same
// byte-range locks dpkg and apt take with F_SETLK, so each side sees the
// other's, but owned by the open file rather than by the process. Closing
// another descriptor of the same file in this process does not drop one,
// and one conflicts with this process's own locks too. The syscall package
// does not name them.
const (
	fOFDGetlk = 36 // F_OFD_GETLK
	fOFDSetlk = 37 // F_OFD_SETLK
)

// lockHolder reports whether someone holds a lock on path that a write
// lock would conflict with, and the holder's process id when the kernel
// knows it (a process-owned lock, as dpkg's and apt's are), else 0. A
// missing file is not locked.
func lockHolder(path string) (held bool, pid int, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, err
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
	if err := syscall.FcntlFlock(f.Fd(), fOFDGetlk, &lk); err != nil {
		return false, 0, &os.PathError{Op: "fcntl F_OFD_GETLK", Path: path, Err: err}
	}
	if lk.Type == syscall.F_UNLCK {
		return false, 0, nil
	}
	return true, max(int(lk.Pid), 0), nil
}

// tryLock takes a write lock on path, creating the file (0640, as dpkg
// does), and returns the open file that holds it until closed; nil when
// someone else holds a lock on it.
func tryLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
	err = syscall.FcntlFlock(f.Fd(), fOFDSetlk, &lk)
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) {
		f.Close()
		return nil, nil
	}
	if err != nil {
		f.Close()
		return nil, &os.PathError{Op: "fcntl F_OFD_SETLK", Path: path, Err: err}
	}
	return f, nil
}

// fileOwner returns the owner and group of the file fi describes.
func fileOwner(fi os.FileInfo) (uid, gid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), int(st.Gid), true
}
