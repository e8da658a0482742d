//go:build unix

package debtest

import (
	"errors"
	"os"
	"syscall"
)

// errNoReader: nobody has the fifo open for reading.
var errNoReader = errors.New("no reader on the fifo")

func mkfifo(path string) error {
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		return &os.PathError{Op: "mkfifo", Path: path, Err: err}
	}
	return nil
}

// openFifoWriter opens a fifo for writing without waiting for a reader:
// errNoReader when there is none yet.
func openFifoWriter(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ENXIO) {
		return nil, errNoReader
	}
	return f, err
}
