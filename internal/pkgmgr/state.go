package pkgmgr

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// Packages returns every package dpkg's database knows, with its state,
// from dpkg-query (no lock taken: it reads the last committed state).
func (a *Apt) Packages(ctx context.Context) ([]PackageState, error) {
	root, err := cleanRoot(a.Root)
	if err != nil {
		return nil, fmt.Errorf("read dpkg database: %w", err)
	}
	pkgs, err := a.packages(ctx, root, dpkgEnv())
	if err != nil {
		return nil, fmt.Errorf("read dpkg database: %w", err)
	}
	return pkgs, nil
}

// WaitIdle waits until nobody holds dpkg's locks (an apt-get run, or a
// killed agent's dpkg still finishing), up to the lock timeout; the error
// then wraps ErrLocked and names the holder.
func (a *Apt) WaitIdle(ctx context.Context) error {
	root, err := cleanRoot(a.Root)
	if err != nil {
		return err
	}
	admin := filepath.Join(root, "var/lib/dpkg")
	start := time.Now()
	return waitUnlocked(ctx, start, a.lockDeadline(start), filepath.Join(admin, frontendLock), filepath.Join(admin, databaseLock))
}
