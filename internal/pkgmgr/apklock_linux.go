//go:build linux

package pkgmgr

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// flockHeld reports whether another open file holds a flock(2) lock on
// path, the lock apk-tools 2 takes on lib/apk/db/lock (flock LOCK_EX |
// LOCK_NB, in apk_db_open), and the holder's process id when /proc/locks
// names it, else 0. It takes the same lock the same way and releases it at
// once. A missing file is not locked: apk creates it when it runs.
func flockHeld(path string) (held bool, pid int, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, err
	}
	defer f.Close() // releases the lock if we took it
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, flockHolder(f), nil
	}
	if err != nil {
		return false, 0, &os.PathError{Op: "flock", Path: path, Err: err}
	}
	return false, 0, nil
}

// flockHolder returns the process that holds a flock lock on f's file, by
// /proc/locks, whose lines read "1: FLOCK  ADVISORY  WRITE 1234
// 08:01:131090 0 EOF" (major and minor device numbers in hexadecimal, the
// inode in decimal); 0 when it cannot tell. The holder's id is a hint for
// messages: a lock passed to a child process names the process that took
// it.
func flockHolder(f *os.File) int {
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	dev := uint64(st.Dev)
	major := (dev>>8)&0xfff | (dev>>32)&^uint64(0xfff)
	minor := dev&0xff | (dev>>12)&^uint64(0xff)
	locks, err := os.Open("/proc/locks")
	if err != nil {
		return 0
	}
	defer locks.Close()
	sc := bufio.NewScanner(locks)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[1] != "FLOCK" {
			continue // another kind of lock, or "->" a waiter
		}
		id := strings.Split(f[5], ":")
		if len(id) != 3 {
			continue
		}
		maj, err1 := strconv.ParseUint(id[0], 16, 64)
		mnr, err2 := strconv.ParseUint(id[1], 16, 64)
		ino, err3 := strconv.ParseUint(id[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || maj != major || mnr != minor || ino != st.Ino {
			continue
		}
		if pid, err := strconv.Atoi(f[4]); err == nil && pid > 0 {
			return pid
		}
	}
	return 0
}
