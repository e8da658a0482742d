//go:build !unix

package debtest

import (
	"errors"
	"os"
)

// errNoReader: nobody has the fifo open for reading.
var errNoReader = errors.New("no reader on the fifo")

// Without fifos there is no gate; dpkg does not run here anyway.
func mkfifo(path string) error { return errors.New("fifos need a unix system") }

func openFifoWriter(path string) (*os.File, error) {
	return nil, errors.New("fifos need a unix system")
}
