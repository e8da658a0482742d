//go:build !linux

package pkgmgr

import "os"

// lockHolder is for Linux's open file description locks; elsewhere (where
// no dpkg runs) nothing is seen locked, and dpkg's own errors tell.
func lockHolder(path string) (held bool, pid int, err error) { return false, 0, nil }

// tryLock opens path without locking it (see lockHolder).
func tryLock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
}

// fileOwner is for Linux, where dpkg runs.
func fileOwner(fi os.FileInfo) (uid, gid int, ok bool) { return 0, 0, false }
