package agent

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/pkgmgr"
	"github.com/patchbay/patchbay/internal/protocol"
)

func TestStateFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	st, err := LoadState(dir)
	if err != nil || st.HostToken != "" {
		t.Fatalf("LoadState of a missing dir = %+v, %v; want empty", st, err)
	}
	want := State{Server: "https://pb.example:8443", HostID: 7, HostToken: "pbh_x"}
	if err := SaveState(dir, want); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, stateFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode %v (%v), want 0600: it holds a credential", fi.Mode(), err)
	}
	got, err := LoadState(dir)
	if err != nil || got != want {
		t.Fatalf("LoadState = %+v, %v; want %+v", got, err, want)
	}
	os.WriteFile(filepath.Join(dir, stateFile), []byte("{truncated"), 0o600)
	if _, err := LoadState(dir); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("LoadState of a corrupt file: err = %v", err)
	}
}

func TestBackoffAndJitter(t *testing.T) {
	a := &runner{cfg: Config{MaxBackoff: 5 * time.Minute, Rand: rand.New(rand.NewPCG(1, 2))}}
	for fails := range 40 {
		a.fails = fails
		bound := time.Second << min(fails, 20)
		if bound > a.cfg.MaxBackoff {
			bound = a.cfg.MaxBackoff
		}
		for range 50 {
			if d := a.backoff(); d <= 0 || d > bound+100*time.Millisecond {
				t.Fatalf("backoff after %d failures = %v, want within (0, %v]", fails, d, bound)
			}
		}
	}
	res := protocol.CheckInResponse{CheckInIntervalSeconds: 60}
	lo, hi := time.Hour, time.Duration(0)
	for range 1000 {
		d := a.interval(res)
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 54*time.Second || hi > 66*time.Second || hi-lo < 10*time.Second {
		t.Fatalf("intervals spread over [%v, %v], want about 54–66 s (±10%%)", lo, hi)
	}
	a.cfg.Interval = 5 * time.Second
	if d := a.interval(res); d < 4500*time.Millisecond || d > 5500*time.Millisecond {
		t.Fatalf("configured interval 5 s gave %v", d)
	}
}

// countingLister is an UpdateLister that counts its listings: a stand-in
// for apt only in what it answers, which these tests do not look at.
type countingLister struct{ lists, refreshes int }

func (c *countingLister) Name() string                      { return "test-updates" }
func (c *countingLister) Refresh(ctx context.Context) error { c.refreshes++; return nil }
func (c *countingLister) Updates(ctx context.Context) ([]protocol.Update, error) {
	c.lists++
	return []protocol.Update{}, nil
}

// TestUpdatesListingCached checks that updates are listed again only when
// the installed packages or the indexes change, or the listing ages out.
func TestUpdatesListingCached(t *testing.T) {
	root := t.TempDir()
	status := filepath.Join(root, "var/lib/dpkg/status")
	lists := filepath.Join(root, "var/lib/apt/lists")
	os.MkdirAll(filepath.Dir(status), 0o755)
	os.MkdirAll(lists, 0o755)
	write := func(version string) {
		body := "Package: hello\nStatus: install ok installed\nArchitecture: amd64\nVersion: " + version + "\n\n"
		if err := os.WriteFile(status, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("1.0")
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	lister := &countingLister{}
	inv := &LocalInventory{Root: root, Updates: lister, Refresh: pkgmgr.RefreshPolicy{Interval: -1}, Now: func() time.Time { return now }}
	ctx := context.Background()
	step := func(what string, wantLists int) {
		t.Helper()
		got := inv.Inventory(ctx)
		if len(got.Errors) > 0 {
			t.Fatalf("%s: source errors %+v", what, got.Errors)
		}
		if lister.lists != wantLists {
			t.Fatalf("%s: %d listings, want %d", what, lister.lists, wantLists)
		}
	}
	step("first check-in", 1)
	step("nothing changed", 1)
	write("1.1")
	step("a package changed", 2)
	later := time.Now().Add(time.Hour)
	os.Chtimes(lists, later, later)
	step("the indexes changed", 3)
	now = now.Add(DefaultMaxUpdatesAge)
	step("the listing aged out", 4)
	step("nothing changed again", 4)
}
