package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/patchbay/patchbay/internal/facts"
	"github.com/patchbay/patchbay/internal/pkgdb"
	"github.com/patchbay/patchbay/internal/pkgmgr"
	"github.com/patchbay/patchbay/internal/protocol"
)

// sourceNames maps a package database to the source name the protocol
// reports errors under.
var sourceNames = map[pkgdb.Ecosystem]string{pkgdb.Deb: "dpkg", pkgdb.RPM: "rpm", pkgdb.Apk: "apk"}

// UpdateLister lists the updates a host's package manager offers (apt, dnf)
// without changing anything, and refreshes its package indexes.
type UpdateLister interface {
	Name() string // the source name in errors, e.g. "apt-updates"
	Refresh(ctx context.Context) error
	Updates(ctx context.Context) ([]protocol.Update, error)
}

// LocalInventory reads the package databases under Root and, when set, the
// available updates from Updates, refreshing its indexes as Refresh says
// (by a stamp file in the agent's state directory, so a restart does not
// refresh again).
//
// Listing updates runs the package manager's own tools, which can take
// seconds on a host with full indexes, so the list is kept until the
// installed packages change, the indexes change (their directory's time, or
// the refresh stamp), or MaxUpdatesAge passes.
type LocalInventory struct {
	Root    string
	Updates UpdateLister
	Refresh pkgmgr.RefreshPolicy
	Now     func() time.Time
	// MaxUpdatesAge bounds how long a listing of updates is reused
	// (DefaultMaxUpdatesAge when zero).
	MaxUpdatesAge time.Duration

	mu     sync.Mutex
	cached updatesCache
}

// DefaultMaxUpdatesAge is how long a listing of updates is reused at most.
const DefaultMaxUpdatesAge = 6 * time.Hour

// updatesCache is the last listing of updates and what it depended on.
type updatesCache struct {
	key     string // hash of the installed packages and the indexes' times
	at      time.Time
	updates []protocol.Update
}

// Inventory reads every package database under Root. A database that
// cannot be read becomes a SourceError: the server keeps the host's last
// good packages of it and shows the error; nothing partial passes as whole.
func (l *LocalInventory) Inventory(ctx context.Context) protocol.Inventory {
	inv := protocol.Inventory{Updates: []protocol.Update{}}
	inv.Packages, inv.Errors = ReadPackages(ctx, l.root())
	if l.Updates != nil {
		if err := l.refreshIfDue(ctx); err != nil {
			// Stale indexes still list updates; say so and go on.
			inv.Errors = append(inv.Errors, protocol.SourceError{Source: l.Updates.Name() + "-refresh", Message: err.Error()})
		}
		upds, err := l.listUpdates(ctx, inv.Packages)
		if err != nil {
			inv.Errors = append(inv.Errors, protocol.SourceError{Source: l.Updates.Name(), Message: err.Error()})
		}
		inv.Updates = append(inv.Updates, upds...)
	}
	return inv
}

// listUpdates returns the cached listing while nothing it depends on
// changed, and lists anew otherwise. A failed listing is not cached.
func (l *LocalInventory) listUpdates(ctx context.Context, pkgs []protocol.Package) ([]protocol.Update, error) {
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	maxAge := l.MaxUpdatesAge
	if maxAge <= 0 {
		maxAge = DefaultMaxUpdatesAge
	}
	key := protocol.InventoryHash(protocol.Inventory{Packages: pkgs}) + " " + l.indexTimes()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cached.key == key && now.Sub(l.cached.at) < maxAge && now.After(l.cached.at.Add(-time.Minute)) {
		return l.cached.updates, nil
	}
	upds, err := l.Updates.Updates(ctx)
	if err != nil {
		l.cached = updatesCache{}
		return upds, err
	}
	l.cached = updatesCache{key: key, at: now, updates: upds}
	return upds, nil
}

// indexTimes names the modification times of the package indexes under
// Root and of the refresh stamp: when one moves, the listing is redone.
func (l *LocalInventory) indexTimes() string {
	var b strings.Builder
	paths := []string{filepath.Join(l.root(), "var/lib/apt/lists"), filepath.Join(l.root(), "var/cache/dnf")}
	if l.Refresh.Stamp != "" {
		paths = append(paths, l.Refresh.Stamp)
	}
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			fmt.Fprintf(&b, "%d;", fi.ModTime().UnixNano())
		} else {
			b.WriteString("-;")
		}
	}
	return b.String()
}

// ReadPackages reads every package database under root. A database that
// cannot be read becomes a SourceError, never a silently shorter list.
func ReadPackages(ctx context.Context, root string) ([]protocol.Package, []protocol.SourceError) {
	pkgs := []protocol.Package{}
	var errs []protocol.SourceError
	dbs, err := pkgdb.Detect(root)
	if err != nil {
		errs = append(errs, protocol.SourceError{Source: "detect", Message: err.Error()})
	}
	for _, db := range dbs {
		r, err := pkgdb.ReaderFor(db.Ecosystem)
		if err == nil {
			var read []pkgdb.Package
			read, err = r.Read(ctx, root)
			for _, p := range read {
				pkgs = append(pkgs, wirePackage(p))
			}
		}
		if err != nil {
			errs = append(errs, protocol.SourceError{Source: sourceNames[db.Ecosystem], Message: err.Error()})
		}
	}
	return pkgs, errs
}

func (l *LocalInventory) root() string {
	if l.Root == "" {
		return "/"
	}
	return l.Root
}

func (l *LocalInventory) refreshIfDue(ctx context.Context) error {
	if l.Refresh.Interval < 0 {
		return nil
	}
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	if _, err := l.Refresh.RefreshIfStale(ctx, l.Updates, now()); err != nil {
		return fmt.Errorf("refresh package indexes: %w", err)
	}
	return nil
}

// wirePackage converts a database record to the protocol's package, leaving
// the source fields empty when they repeat the binary's.
func wirePackage(p pkgdb.Package) protocol.Package {
	w := protocol.Package{Ecosystem: string(p.Ecosystem), Name: p.Name, Version: p.Version, Arch: p.Arch}
	if p.SourceName != p.Name {
		w.SourceName = p.SourceName
	}
	if p.SourceVersion != p.Version {
		w.SourceVersion = p.SourceVersion
	}
	return w
}

// LocalFacts reads this host's facts under Root.
type LocalFacts struct {
	Root string
}

// Facts collects the facts; facts that could not be read are left empty
// and returned joined as the error.
func (l LocalFacts) Facts(ctx context.Context) (protocol.Facts, error) {
	f, errs := facts.Collect(ctx, facts.Options{Root: l.Root})
	if len(errs) == 0 {
		return f, nil
	}
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = err.Error()
	}
	return f, errors.New(strings.Join(msgs, "; "))
}
