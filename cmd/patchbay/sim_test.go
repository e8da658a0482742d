package main

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/fleet"
	"github.com/patchbay/patchbay/internal/protocol"
)

// TestSimFleetMatchesServer runs 40 simulated hosts for three check-ins
// each and checks that the server holds, for every host, exactly the
// packages and updates of the inventory it last reported, with its labels.
func TestSimFleetMatchesServer(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, filepath.Join(dir, "data"), nil)
	env := map[string]string{"HOME": dir, "PATCHBAY_SERVER": ts.url, "PATCHBAY_TOKEN": ts.token}
	out, _, err := runCLI(t, env, "sim", "--hosts", "40", "--seed", "7", "--interval", "0", "--ramp", "0", "--checkins", "3", "--report", "0")
	if err != nil {
		t.Fatalf("sim: %v\n%s", err, out)
	}
	if !strings.Contains(out, "enrolled 40, check-ins 120") || !strings.Contains(out, "errors 0") {
		t.Fatalf("sim said %q", out)
	}
	fl, err := fleet.NewFleet(7, 40, fleet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Replay the fleet's generations: each host advanced through check-ins 0..2.
	for i := range 40 {
		for k := range 3 {
			fl.Advance(i, k)
		}
	}
	c, _ := client.New(client.Options{Server: ts.url, Token: ts.token})
	ctx := context.Background()
	page, err := c.Hosts(ctx, client.HostQuery{Limit: 100})
	if err != nil || len(page.Items) != 40 {
		t.Fatalf("hosts = %d, %v; want 40", len(page.Items), err)
	}
	byName := map[string]int64{}
	for _, h := range page.Items {
		byName[h.Hostname] = h.ID
	}
	for i := range 40 {
		fh := fl.Host(i)
		id, ok := byName[fh.Facts.Hostname]
		if !ok {
			t.Fatalf("host %s is not on the server", fh.Facts.Hostname)
		}
		want := fl.Inventory(i)
		got, err := c.HostPackages(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		inv := protocol.Inventory{Packages: got.Packages, Updates: got.Updates}
		if h := protocol.InventoryHash(inv); h != want.Hash {
			t.Errorf("host %s: the server's packages hash to %s, the host's inventory to %s (%d vs %d packages)",
				fh.Facts.Hostname, h[:12], want.Hash[:12], len(got.Packages), len(want.Packages))
		}
		h, _ := c.Host(ctx, id)
		if strings.Join(h.Labels, ",") != strings.Join(slices.Sorted(slices.Values(fh.Labels)), ",") {
			t.Errorf("host %s labels %v, want %v", fh.Facts.Hostname, h.Labels, fh.Labels)
		}
	}
}
