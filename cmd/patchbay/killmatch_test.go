package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/feed"
	"github.com/patchbay/patchbay/internal/match"
	"github.com/patchbay/patchbay/internal/osv"
)

// stoppedFleet builds the binary and leaves in a new data directory a
// stopped server whose store holds the DSA list and 20 simulated hosts
// (of fleet seed) with their inventories; it returns the binary, the
// directory and an admin token.
func stoppedFleet(t *testing.T, seed int) (bin, dataDir, token string) {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dataDir = t.TempDir()
	cmd, url, token := startProcessEnv(t, bin, dataDir)
	env := map[string]string{"HOME": dataDir, "PATCHBAY_SERVER": url, "PATCHBAY_TOKEN": token}
	if out, _, err := runCLI(t, env, "feeds", "import", trackerDir+"/DSA/list"); err != nil {
		t.Fatalf("import: %v %s", err, out)
	}
	if out, _, err := runCLI(t, env, "sim", "--hosts", "20", "--seed", fmt.Sprint(seed), "--interval", "0", "--ramp", "0", "--checkins", "1", "--report", "0"); err != nil {
		t.Fatalf("sim: %v\n%s", err, out)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	return bin, dataDir, token
}

// TestKillDuringMatching SIGKILLs the server just before the matcher
// commits what a newly imported feed changes in a fleet's findings,
// restarts it, and checks that every host's findings are exactly what
// matching its packages against the imported advisories gives: the
// interrupted pass was redone, nothing half-written remains.
func TestKillDuringMatching(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real server process")
	}
	ctx := context.Background()
	// A fleet with findings of the DSA list.
	bin, dataDir, token := stoppedFleet(t, 5)
	env := map[string]string{"HOME": dataDir, "PATCHBAY_TOKEN": token}
	// The DLA list changes them: the server dies just before the matcher
	// commits that.
	cmd, url, _ := startProcessEnv(t, bin, dataDir, "PATCHBAY_FAILPOINT=findings-commit@1")
	env["PATCHBAY_SERVER"] = url
	// The import commits, then nudges the matcher, whose commit kills the
	// server: sometimes before the import's answer is written. The import
	// is stored either way (it committed first); the check below holds
	// that.
	if out, _, err := runCLI(t, env, "feeds", "import", trackerDir+"/DLA/list"); err != nil && !strings.Contains(err.Error(), "EOF") &&
		!strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("import: %v %s", err, out)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("the server ended with %v, want killed at the fail point", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not reach the findings fail point within 30 s")
	}

	_, url, _ = startProcessEnv(t, bin, dataDir)
	c, _ := client.New(client.Options{Server: url, Token: token})

	// What the findings must be: both lists matched against each host's
	// packages as the server holds them.
	var recs []*osv.Record
	for _, kind := range []feed.TrackerKind{feed.DSA, feed.DLA} {
		f, err := os.Open(trackerDir + "/" + string(kind) + "/list")
		if err != nil {
			t.Fatal(err)
		}
		rs, _, err := feed.ParseTrackerList(f, string(kind)+"/list", kind)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rs...)
	}
	ix := match.NewIndex(recs)
	hosts, err := c.Hosts(ctx, client.HostQuery{Limit: 100})
	if err != nil || len(hosts.Items) != 20 {
		t.Fatalf("hosts: %d, %v", len(hosts.Items), err)
	}
	total := 0
	deadline := time.Now().Add(30 * time.Second)
	for _, h := range hosts.Items {
		pkgs, err := c.HostPackages(ctx, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		p, ok := match.PlatformOf(map[string]string{"ID": h.OSName, "VERSION_ID": h.OSRelease})
		if !ok {
			continue
		}
		want, _ := ix.Match(p, pkgs.Packages, match.Options{RunningKernel: h.Kernel})
		var wantKeys []string
		for _, w := range want {
			wantKeys = append(wantKeys, fmt.Sprintf("%s %s %s", w.Package.Name, w.Package.Arch, w.Advisory))
		}
		slices.Sort(wantKeys)
		total += len(wantKeys)
		var gotKeys []string
		for {
			l, err := c.Findings(ctx, client.FindingQuery{HostID: h.ID})
			if err != nil {
				t.Fatal(err)
			}
			gotKeys = gotKeys[:0]
			for _, fd := range l.Items {
				gotKeys = append(gotKeys, fmt.Sprintf("%s %s %s", fd.Package.Name, fd.Package.Arch, fd.Advisory))
			}
			slices.Sort(gotKeys)
			if slices.Equal(gotKeys, wantKeys) || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !slices.Equal(gotKeys, wantKeys) {
			t.Errorf("host %s (%s %s): %d findings after the restart, want %d", h.Hostname, h.OSName, h.OSRelease, len(gotKeys), len(wantKeys))
		}
		// The per-advisory view agrees with the per-host one.
		for _, w := range want[:min(3, len(want))] {
			hostsOf, err := c.Vuln(ctx, w.Advisory)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, fd := range hostsOf[0].Findings {
				found = found || (fd.HostID == h.ID && fd.Package.Name == w.Package.Name)
			}
			if !found {
				t.Errorf("vulns show %s does not list host %s's %s", w.Advisory, h.Hostname, w.Package.Name)
			}
		}
	}
	if total == 0 {
		t.Fatal("the fleet has no findings at all: the test proves nothing")
	}
	t.Logf("%d findings on 20 hosts match after the kill", total)
}
