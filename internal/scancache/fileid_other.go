//go:build !linux

package scancache

import "os"

// stampOf returns what os.Stat tells of the file at path, where patchbay
// does not read the platform's stat structure: no inode and no change
// time, so a rewrite that keeps size, mode and modification time is not
// seen (see the package documentation).
func stampOf(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}, err
	}
	return stamp{size: fi.Size(), mode: uint32(fi.Mode()), mtime: fi.ModTime().UnixNano()}, nil
}

// ownedByUs cannot tell the owner here; the cache directory's permissions
// (0700 when patchbay creates it) are what protects it.
func ownedByUs(fi os.FileInfo) bool { return true }
