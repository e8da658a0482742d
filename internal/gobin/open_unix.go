//go:build unix

package gobin

import (
	"os"
	"syscall"
)

// openFile opens a file for reading without following a symbolic link and
// without blocking: a FIFO put where a binary was between the walk and the
// open must not hang the scan.
func openFile(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}
