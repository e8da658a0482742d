package main

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/fleet"
	"github.com/patchbay/patchbay/internal/pkgdb"
	"github.com/patchbay/patchbay/internal/protocol"
)

// TestDemo runs `patchbay demo` as the README does (50 simulated hosts and
// this machine) and checks the criterion: 51 hosts whose packages
// on the server match their sources exactly: each simulated host's
// inventory is one its image and variation produce, and this machine's is
// its own dpkg database, row for row.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a demo fleet for several seconds")
	}
	dir := t.TempDir()
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"patchbay", "demo", "--data-dir", dir, "--listen", "127.0.0.1:0", "--hosts", "50", "--interval", "3s"},
			mapEnv(map[string]string{"HOME": dir}), strings.NewReader(""), out, &syncBuffer{})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo stopped with %v", err)
		}
	}()
	re := regexp.MustCompile(`API\s+(\S+)\s+admin token\s+(\S+)`)
	var c *client.Client
	var hosts []patchbay.Host
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && len(hosts) < 51 {
		time.Sleep(250 * time.Millisecond)
		if c == nil {
			if m := re.FindStringSubmatch(out.String()); m != nil {
				c, _ = client.New(client.Options{Server: m[1], Token: m[2]})
			}
			continue
		}
		hosts = hosts[:0]
		page, err := c.Hosts(ctx, client.HostQuery{Limit: 100})
		if err != nil {
			continue
		}
		for _, h := range page.Items {
			if full, err := c.Host(ctx, h.ID); err == nil && full.Inventory != nil {
				hosts = append(hosts, full)
			}
		}
	}
	if len(hosts) != 51 {
		t.Fatalf("the demo showed %d hosts with inventories within 60 s, want 51:\n%s", len(hosts), out)
	}
	fl, err := fleet.NewFleet(1, 50, fleet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]int{}
	for i := range 50 {
		byName[fl.Host(i).Facts.Hostname] = i
	}
	me, _ := os.Hostname()
	for _, h := range hosts {
		got, err := c.HostPackages(ctx, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		if h.Hostname == me {
			want, err := pkgdb.DpkgReader{}.Read(ctx, "/")
			if err != nil {
				t.Skipf("this machine's dpkg database: %v", err)
			}
			debs := 0
			for _, p := range got.Packages {
				if p.Ecosystem == "deb" {
					debs++
				}
			}
			if debs != len(want) {
				t.Errorf("this machine: the server holds %d deb packages, dpkg %d", debs, len(want))
			}
			continue
		}
		i, ok := byName[h.Hostname]
		if !ok {
			t.Errorf("host %q is neither this machine nor a simulated host", h.Hostname)
			continue
		}
		// The fleet keeps checking in, so the host may have moved to a later
		// generation since it was listed: any generation of its own will do.
		hash := protocol.InventoryHash(protocol.Inventory{Packages: got.Packages, Updates: got.Updates})
		matched := false
		for g := range 20 {
			if fl.InventoryAt(i, g).Hash == hash {
				matched = true
				break
			}
		}
		if !matched {
			t.Errorf("host %s: its packages are no inventory its image produces", h.Hostname)
		}
	}

	// Real findings from real advisories: the Debian 11 hosts against the
	// tracker lists, this machine's Go binaries against the Go
	// vulnerability database, and KEV flags from the real catalog.
	var debian, goFindings, kev bool
	deadline = time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && !(debian && goFindings && kev) {
		time.Sleep(250 * time.Millisecond)
		l, err := c.Vulns(ctx, client.VulnQuery{Limit: 1000})
		if err != nil {
			continue
		}
		for _, a := range l.Items {
			debian = debian || strings.HasPrefix(a.ID, "DSA-") || strings.HasPrefix(a.ID, "DLA-")
			goFindings = goFindings || strings.HasPrefix(a.ID, "GO-")
			kev = kev || a.KEV
		}
	}
	if !debian || !goFindings || !kev {
		t.Fatalf("the demo's findings: Debian tracker %v, Go vulnerability database %v, KEV %v; want all three\n%s", debian, goFindings, kev, out)
	}

	// The work queue ranks the fleet's updates, a critical one among
	// them, and the example policy simulates two Saturday windows.
	var critical []patchbay.HostUpdate
	for time.Now().Before(deadline) && len(critical) == 0 {
		time.Sleep(250 * time.Millisecond)
		l, err := c.Updates(ctx, client.UpdateQuery{Classes: []string{"critical"}, Limit: 10})
		if err == nil {
			critical = l.Items
		}
	}
	if len(critical) == 0 || len(critical[0].Fixes) == 0 {
		t.Fatalf("the demo's work queue has no critical update fixing a finding: %+v", critical)
	}
	ps, err := c.Policies(ctx, false)
	if err != nil || len(ps) != 2 || ps[0].Name != "prod critical" {
		t.Fatalf("the demo's policies: %+v, %v", ps, err)
	}
	sim, err := c.SimulatePolicy(ctx, ps[0].ID, 14)
	if err != nil || len(sim.Windows) != 2 || sim.Windows[0].Start.Weekday() != time.Saturday {
		t.Fatalf("simulate %q: %+v, %v; want two Saturday windows", ps[0].Name, sim.Windows, err)
	}

	// A deployment rolls out to the staging hosts: approved by the demo's
	// approver, its pilot hosts install through the simulated fleet.
	var installed int
	var state patchbay.DeploymentState
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline) && installed == 0; time.Sleep(500 * time.Millisecond) {
		ds, err := c.Deployments(ctx, client.DeploymentQuery{})
		if err != nil || len(ds.Items) == 0 {
			continue
		}
		state = ds.Items[0].State
		jobs, err := c.DeploymentJobs(ctx, ds.Items[0].ID, patchbay.JobInstall)
		if err != nil {
			continue
		}
		for _, j := range jobs {
			if j.State == patchbay.JobHealthy || j.State == patchbay.JobFailed {
				installed++
			}
		}
	}
	if installed == 0 {
		t.Fatalf("the demo's deployment (%s) installed nothing within 90 s\n%s", state, out)
	}
}
