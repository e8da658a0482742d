package pkgmgr

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// DefaultRefreshInterval is how often package indexes are refreshed when
// the policy does not say: daily, as Debian's apt-daily timer and dnf's
// makecache timer do (dnf's metadata_expire defaults to 48 hours).
const DefaultRefreshInterval = 24 * time.Hour

// maxStampSkew is how far in the future a stamp may be before it is
// distrusted: the clock was wrong when it was written, or is wrong now.
const maxStampSkew = 5 * time.Minute

// RefreshPolicy decides when the package indexes are refreshed (apt-get
// update, dnf makecache) before updates are listed.
//
// The time of the last refresh is the modification time of a stamp file
// in the agent's state directory, touched by RefreshIfStale after a
// refresh that succeeded. Not the mtime of apt's lists directory: apt
// rewrites only the index files that changed, so an update that found
// nothing new leaves the directory's time as it was, and a failed update
// can still have replaced some files. A refresh by someone else (apt-daily,
// an administrator) is not seen, so the agent refreshes at most once an
// Interval on its own, whatever else does.
type RefreshPolicy struct {
	// Interval is the age at which indexes are stale: 0 means
	// DefaultRefreshInterval; a negative Interval means never (the agent
	// lists updates from whatever the host's own timers fetched).
	Interval time.Duration
	// Stamp is the stamp file's path, in the agent's state directory.
	Stamp string
}

// Refresher is a package manager whose indexes can be refreshed: Apt, Dnf.
type Refresher interface {
	Refresh(ctx context.Context) error
}

// Stale reports whether indexes last refreshed at last (the zero time:
// never) are stale at now. A last refresh more than a few minutes in the
// future is stale too: the clock that wrote it cannot be trusted.
func (p RefreshPolicy) Stale(last, now time.Time) bool {
	interval := p.Interval
	switch {
	case interval < 0:
		return false
	case interval == 0:
		interval = DefaultRefreshInterval
	}
	if last.IsZero() || last.After(now.Add(maxStampSkew)) {
		return true
	}
	return now.Sub(last) >= interval
}

// LastRefresh returns the time of the last successful refresh, the stamp
// file's modification time, or the zero time when there is none.
func (p RefreshPolicy) LastRefresh() (time.Time, error) {
	if p.Stamp == "" {
		return time.Time{}, errors.New("refresh policy: no stamp file")
	}
	fi, err := os.Stat(p.Stamp)
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("refresh stamp: %w", err)
	}
	return fi.ModTime(), nil
}

// RefreshIfStale refreshes r's indexes when they are stale at now, and then
// sets the stamp to now. It reports whether it refreshed. A failed refresh
// leaves the stamp as it was, so the next call tries again.
func (p RefreshPolicy) RefreshIfStale(ctx context.Context, r Refresher, now time.Time) (bool, error) {
	last, err := p.LastRefresh()
	if err != nil {
		return false, err
	}
	if !p.Stale(last, now) {
		return false, nil
	}
	if err := r.Refresh(ctx); err != nil {
		return false, err
	}
	if err := touch(p.Stamp, now); err != nil {
		return true, fmt.Errorf("refresh stamp: %w", err)
	}
	return true, nil
}

// touch creates path if needed and sets its modification time to t.
func touch(path string, t time.Time) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chtimes(path, t, t)
}
