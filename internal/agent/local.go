package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/patchbay/patchbay/internal/facts"
	"github.com/patchbay/patchbay/internal/gobin"
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

// LocalInventory reads the package databases under Root, the Go modules
// of the Go binaries in GoBinaries and, when set, the available updates
// from Updates, refreshing its indexes as Refresh says (by a stamp file in
// the agent's state directory, so a restart does not refresh again).
//
// Listing updates runs the package manager's own tools, which can take
// seconds on a host with full indexes, so the list is kept until the
// installed packages change, the indexes change (their directory's time, or
// the refresh stamp), or MaxUpdatesAge passes.
type LocalInventory struct {
	Root string
	// GoBinaries are files and directories (absolute, read under Root)
	// searched for Go binaries, whose modules are reported as packages of
	// ecosystem "go" (see internal/gobin). None when empty.
	GoBinaries []string
	Updates    UpdateLister
	Refresh    pkgmgr.RefreshPolicy
	Now        func() time.Time
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
// Go binaries are the exception: their problems are one SourceError
// (GoSource) beside the modules of the binaries that could be read.
func (l *LocalInventory) Inventory(ctx context.Context) protocol.Inventory {
	inv := protocol.Inventory{Updates: []protocol.Update{}}
	busyBefore := dpkgBusy(l.root())
	inv.Packages, inv.Errors = ReadPackages(ctx, l.root())
	if busy := cmp.Or(busyBefore, dpkgBusy(l.root())); busy != "" {
		// Mid-change, packages being upgraded are half-configured and
		// would be reported gone: the server keeps the last good ones.
		inv.Packages = slices.DeleteFunc(inv.Packages, func(p protocol.Package) bool { return p.Ecosystem == string(pkgdb.Deb) })
		inv.Errors = append(inv.Errors, protocol.SourceError{Source: sourceNames[pkgdb.Deb], Message: busy})
		if l.Updates != nil {
			inv.Errors = append(inv.Errors, protocol.SourceError{Source: l.Updates.Name(), Message: busy})
		}
	} else if l.Updates != nil {
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
	// After the updates: their cached listing depends on the system's
	// packages only.
	if len(l.GoBinaries) > 0 {
		pkgs, errs := ReadGoBinaries(ctx, l.root(), l.GoBinaries)
		inv.Packages = append(inv.Packages, pkgs...)
		inv.Errors = append(inv.Errors, errs...)
	}
	return inv
}

// GoSource is the source name under which problems with Go binaries are
// reported. The server keeps no earlier packages for it: one unreadable
// binary must not hold back the modules of the others, so its problem is
// shown and the rest is reported as found.
const GoSource = "go-binaries"

// maxErrorMessage is the longest source error message the server takes.
const maxErrorMessage = 4096

// ReadGoBinaries lists the modules of the Go binaries found in paths under
// root. Its problems (a binary that cannot be read, a path that does not
// exist) become one SourceError, however many there are: the server takes
// at most protocol.MaxSourceErrors.
func ReadGoBinaries(ctx context.Context, root string, paths []string) ([]protocol.Package, []protocol.SourceError) {
	pkgs, problems := gobin.Scan(ctx, paths, gobin.Options{Root: root})
	if len(problems) == 0 {
		return pkgs, nil
	}
	msgs := make([]string, len(problems))
	for i, p := range problems {
		msgs[i] = p.Error()
	}
	return pkgs, []protocol.SourceError{{Source: GoSource, Message: joinBounded(msgs, maxErrorMessage)}}
}

// joinBounded joins msgs with "; " into valid UTF-8 of at most max bytes
// (JSON would turn each invalid byte into three), cut with the count of
// messages when they do not fit.
func joinBounded(msgs []string, max int) string {
	s := strings.ToValidUTF8(strings.Join(msgs, "; "), "?")
	if len(s) <= max {
		return s
	}
	tail := fmt.Sprintf(" … (%d problems in all)", len(msgs))
	cut := s[:max-len(tail)]
	for !utf8.ValidString(cut) { // a rune cut in two
		cut = cut[:len(cut)-1]
	}
	return cut + tail
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

// ReadDpkgStatusFile is ReadPackages for a dpkg status file given on its
// own (patchbay scan --dpkg-status).
func ReadDpkgStatusFile(ctx context.Context, path string) ([]protocol.Package, []protocol.SourceError) {
	read, err := pkgdb.ReadDpkgStatusFile(ctx, path)
	if err != nil {
		return []protocol.Package{}, []protocol.SourceError{{Source: sourceNames[pkgdb.Deb], Message: err.Error()}}
	}
	pkgs := make([]protocol.Package, len(read))
	for i, p := range read {
		pkgs[i] = wirePackage(p)
	}
	return pkgs, nil
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

// dpkgBusy says why dpkg's database under root cannot be read whole now
// (a process holds its lock: packages are mid-change), or "".
func dpkgBusy(root string) string {
	busy, pid, err := pkgmgr.DpkgBusy(root)
	if err != nil || !busy {
		return ""
	}
	return fmt.Sprintf("dpkg is changing packages (process %d holds its lock); the last inventory stands until it is done", pid)
}
