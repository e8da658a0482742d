package pkgmgr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// DefaultLockTimeout is how long Install, InstallFiles and Download wait
// for another process to release dpkg's locks when Apt.LockTimeout is 0:
// long enough for an unattended-upgrades run, or a dpkg left running by a
// killed agent, to finish.
const DefaultLockTimeout = 5 * time.Minute

// lockPoll is how often a held lock is looked at again.
const lockPoll = 100 * time.Millisecond

// dpkg's locks, in its admin directory, in the order a frontend takes
// them: lock-frontend, held by apt-get (or by dpkg run on its own) for the
// whole run, and lock, held by dpkg itself. Both are fcntl F_SETLK write
// locks on the whole file (lib/dpkg/file.c, apt-pkg/contrib/fileutl.cc).
const (
	frontendLock = "lock-frontend"
	databaseLock = "lock"
)

// lockDeadline returns when waiting for a lock ends.
func (a *Apt) lockDeadline(start time.Time) time.Time {
	switch {
	case a.LockTimeout < 0:
		return start
	case a.LockTimeout == 0:
		return start.Add(DefaultLockTimeout)
	}
	return start.Add(a.LockTimeout)
}

// waitUnlocked waits until nobody holds a lock on any of paths, or until
// deadline, when the error names the file and its holder and wraps
// ErrLocked. It only looks: the command run next takes the locks itself
// (apt-get with DPkg::Lock::Timeout covering the race).
func waitUnlocked(ctx context.Context, start, deadline time.Time, paths ...string) error {
	for {
		path, pid, held, err := firstHeld(paths)
		if err != nil || !held {
			return err
		}
		if err := pause(ctx, deadline); err != nil {
			return waitError(err, path, pid, start)
		}
	}
}

// firstHeld returns the first of paths someone holds a lock on.
func firstHeld(paths []string) (path string, pid int, held bool, err error) {
	for _, p := range paths {
		held, pid, err := lockHolder(p)
		if err != nil || held {
			return p, pid, held, err
		}
	}
	return "", 0, false, nil
}

// lockFrontend takes dpkg's frontend lock under admindir for a dpkg run
// of our own, as apt-get does before it runs dpkg, waiting for it until
// deadline; then waits for the database lock to be free (a dpkg left
// running by a killed frontend holds only that one). The caller runs
// dpkg with DPKG_FRONTEND_LOCKED set, so that dpkg does not try to take
// the frontend lock itself, and closes the file afterwards.
func lockFrontend(ctx context.Context, start, deadline time.Time, admindir string) (*os.File, error) {
	path := filepath.Join(admindir, frontendLock)
	for {
		f, err := tryLock(path)
		if err != nil {
			return nil, err
		}
		if f != nil {
			if err := waitUnlocked(ctx, start, deadline, filepath.Join(admindir, databaseLock)); err != nil {
				f.Close()
				return nil, err
			}
			return f, nil
		}
		if err := pause(ctx, deadline); err != nil {
			_, pid, _ := lockHolder(path)
			return nil, waitError(err, path, pid, start)
		}
	}
}

// errDeadline ends a wait whose time is up.
var errDeadline = errors.New("lock timeout")

// pause sleeps for lockPoll, or less to stop at deadline. It returns
// errDeadline when the deadline has passed, and ctx's error when ctx
// ends first.
func pause(ctx context.Context, deadline time.Time) error {
	left := time.Until(deadline)
	if left <= 0 {
		return errDeadline
	}
	t := time.NewTimer(min(left, lockPoll))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// waitError is the error of a wait for path that pause ended: ErrLocked
// naming the holder at the deadline, else ctx's error.
func waitError(err error, path string, pid int, start time.Time) error {
	if err != errDeadline {
		return fmt.Errorf("waiting for %s: %w", path, err)
	}
	holder := ""
	if pid > 0 {
		holder = fmt.Sprintf(" by process %d", pid)
	}
	return fmt.Errorf("%s held%s, waited %v: %w", path, holder, time.Since(start).Round(time.Millisecond), ErrLocked)
}

// DpkgBusy reports whether a process holds dpkg's frontend or database
// lock under root ("" or "/": the host's), and which. While it does, dpkg's
// database is mid-change: packages being upgraded are half-configured or
// unpacked, and an inventory read then would report them gone.
func DpkgBusy(root string) (busy bool, pid int, err error) {
	root, err = cleanRoot(root)
	if err != nil {
		return false, 0, err
	}
	admin := filepath.Join(root, "var/lib/dpkg")
	_, pid, busy, err = firstHeld([]string{filepath.Join(admin, frontendLock), filepath.Join(admin, databaseLock)})
	return busy, pid, err
}
