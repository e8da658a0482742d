//go:build linux

package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/pkgmgr"
)

// TestInventoryWhileDpkgRuns: an agent restarted while the dpkg its
// predecessor started still configures a package uploaded an inventory
// without that package (dpkg's database holds it half-configured), and
// the server dropped it. While dpkg holds its lock the dpkg source is
// reported busy instead, so the server keeps the last good packages.
func TestInventoryWhileDpkgRuns(t *testing.T) {
	root := t.TempDir()
	status := filepath.Join(root, "var/lib/dpkg/status")
	if err := os.MkdirAll(filepath.Dir(status), 0o755); err != nil {
		t.Fatal(err)
	}
	body := "Package: hello\nStatus: install ok half-configured\nArchitecture: amd64\nVersion: 1.1\n\n" +
		"Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b7\n\n"
	if err := os.WriteFile(status, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	lister := &countingLister{}
	inv := &LocalInventory{Root: root, Updates: lister, Refresh: pkgmgr.RefreshPolicy{Interval: -1}, Now: time.Now}
	ctx := context.Background()

	lock, err := os.OpenFile(filepath.Join(root, "var/lib/dpkg/lock"), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	// An open file description lock, as dpkg's fcntl lock but visible to
	// this process's own look (F_OFD_GETLK).
	const ofdSetlk = 37
	if err := syscall.FcntlFlock(lock.Fd(), ofdSetlk, &syscall.Flock_t{Type: syscall.F_WRLCK}); err != nil {
		t.Fatal(err)
	}
	got := inv.Inventory(ctx)
	if len(got.Packages) != 0 || len(got.Errors) != 2 || got.Errors[0].Source != "dpkg" || !strings.Contains(got.Errors[0].Message, "holds its lock") {
		t.Fatalf("inventory while dpkg runs: %d packages, errors %+v; want none, dpkg and its updates reported busy", len(got.Packages), got.Errors)
	}
	if lister.lists != 0 {
		t.Errorf("updates listed %d times while dpkg ran", lister.lists)
	}
	lock.Close()
	got = inv.Inventory(ctx)
	if len(got.Errors) != 0 || len(got.Packages) != 1 || got.Packages[0].Name != "bash" {
		t.Fatalf("inventory after dpkg: %+v, errors %+v; want bash (hello stays half-configured)", got.Packages, got.Errors)
	}
}
