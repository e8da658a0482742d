package fleet

import (
	"math"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
)

const fleetSize = 10_000

func mustFleet(t testing.TB, seed uint64, n int, opts Options) *Fleet {
	t.Helper()
	f, err := NewFleet(seed, n, opts)
	if err != nil {
		t.Fatalf("NewFleet(%d, %d, %+v) = %v", seed, n, opts, err)
	}
	return f
}

// checkInventory checks one materialised inventory: valid packages and
// updates, each update of an installed package at its FromVersion, sorted,
// no package twice, and the hash right.
func checkInventory(t *testing.T, im *Image, inv protocol.Inventory) {
	t.Helper()
	installed := map[[2]string]string{}
	for _, p := range inv.Packages {
		if err := validatePackage(p, im.VersionOrder); err != nil {
			t.Errorf("%s host: %v", im.Name, err)
		}
		k := [2]string{p.Name, p.Arch}
		if _, dup := installed[k]; dup {
			t.Errorf("%s host: %s:%s twice", im.Name, p.Name, p.Arch)
		}
		installed[k] = p.Version
	}
	for _, u := range inv.Updates {
		if err := validateUpdate(u, im.VersionOrder); err != nil {
			t.Errorf("%s host: %v", im.Name, err)
		}
		if v := installed[[2]string{u.Name, u.Arch}]; v != u.FromVersion {
			t.Errorf("%s host: update of %s from %s, installed %q", im.Name, u.Name, u.FromVersion, v)
		}
	}
	if !slices.IsSortedFunc(inv.Packages, comparePackages) || !slices.IsSortedFunc(inv.Updates, compareUpdates) {
		t.Errorf("%s host: inventory not sorted", im.Name)
	}
	if h := protocol.InventoryHash(inv); h != inv.Hash {
		t.Errorf("%s host: hash %s, want %s", im.Name, inv.Hash, h)
	}
}

// TestHostInventoriesValid checks a sample of hosts of a 10,000-host fleet
// at generations 0 to 3, at the images' sizes and grown to 2,000 packages.
func TestHostInventoriesValid(t *testing.T) {
	for _, opts := range []Options{{}, {Packages: 2000}} {
		f := mustFleet(t, 7, fleetSize, opts)
		for i := 0; i < fleetSize; i += 97 {
			im := f.Host(i).Image
			for g := range 4 {
				inv := f.InventoryAt(i, g)
				checkInventory(t, im, inv)
				if opts.Packages > 0 && math.Abs(float64(len(inv.Packages)-opts.Packages)) > 0.05*float64(opts.Packages) {
					t.Errorf("host %d (%s) generation %d: %d packages, want about %d", i, im.Name, g, len(inv.Packages), opts.Packages)
				}
			}
		}
	}
}

// TestDeterminism: the same seed makes the same hosts and inventories.
func TestDeterminism(t *testing.T) {
	a, b := mustFleet(t, 42, fleetSize, Options{}), mustFleet(t, 42, fleetSize, Options{})
	c := mustFleet(t, 43, fleetSize, Options{})
	same := 0
	for i := 0; i < fleetSize; i += 250 {
		if ha, hb := a.Host(i), b.Host(i); !reflect.DeepEqual(ha, hb) {
			t.Errorf("host %d differs between two fleets of seed 42:\n%+v\n%+v", i, ha, hb)
		}
		for g := range 3 {
			ia, ib := a.InventoryAt(i, g), b.InventoryAt(i, g)
			if ia.Hash != ib.Hash {
				t.Errorf("host %d generation %d: hashes %s and %s from the same seed", i, g, ia.Hash, ib.Hash)
			}
			if again := a.InventoryAt(i, g); again.Hash != ia.Hash {
				t.Errorf("host %d generation %d: InventoryAt not repeatable", i, g)
			}
		}
		if a.Inventory(i).Hash == c.Inventory(i).Hash {
			same++
		}
	}
	if same > 4 {
		t.Errorf("seeds 42 and 43 made %d of 40 identical inventories", same)
	}
}

// TestMix: over 10,000 hosts each image's share is its weight's.
func TestMix(t *testing.T) {
	f := mustFleet(t, 1, fleetSize, Options{})
	count := map[string]int{}
	for i := range fleetSize {
		count[f.Host(i).Image.Name]++
	}
	for name, w := range DefaultMix() {
		if got := float64(count[name]) / fleetSize; math.Abs(got-w) > 0.005 {
			t.Errorf("image %s: share %.4f, want %.2f", name, got, w)
		}
	}
	only := mustFleet(t, 1, 100, Options{Mix: map[string]float64{"rocky-9": 1, "alpine-3.20": 0}})
	for i := range 100 {
		if name := only.Host(i).Image.Name; name != "rocky-9" {
			t.Fatalf("a rocky-9-only fleet has a %s host", name)
		}
	}
	for _, mix := range []map[string]float64{{"windows-11": 1}, {"rocky-9": 0}, {"rocky-9": -1}, {"rocky-9": math.NaN()}} {
		if _, err := NewFleet(1, 10, Options{Mix: mix}); err == nil {
			t.Errorf("NewFleet with mix %v succeeded", mix)
		}
	}
}

// diffCounts compares a host's generation-0 inventory with its image.
func diffCounts(im *Image, inv protocol.Inventory) (removed, extra, changed int) {
	base := map[[2]string]string{}
	for _, p := range im.Packages {
		base[[2]string{p.Name, p.Arch}] = p.Version
	}
	for _, p := range inv.Packages {
		k := [2]string{p.Name, p.Arch}
		v, ok := base[k]
		switch {
		case !ok:
			extra++
		case v != p.Version:
			changed++
		}
		delete(base, k)
	}
	return len(base), extra, changed
}

// TestVariation: about 2% of a host's packages differ from its image.
func TestVariation(t *testing.T) {
	f := mustFleet(t, 3, fleetSize, Options{})
	var removed, extra, changed, total, identical int
	for i := 0; i < fleetSize; i += 5 {
		im := f.Host(i).Image
		inv := f.InventoryAt(i, 0)
		r, e, c := diffCounts(im, inv)
		removed, extra, changed, total = removed+r, extra+e, changed+c, total+len(im.Packages)
		if r+e+c == 0 {
			identical++
		}
	}
	rate := float64(removed+extra+changed) / float64(total)
	t.Logf("variation %.4f: removed %d, extra %d, changed %d of %d packages; %d hosts identical to their image", rate, removed, extra, changed, total, identical)
	if rate < 0.015 || rate > 0.025 {
		t.Errorf("variation rate %.4f, want about 0.02", rate)
	}
	for what, n := range map[string]int{"removed": removed, "extra": extra, "changed": changed} {
		if float64(n)/float64(removed+extra+changed) < 0.2 {
			t.Errorf("%s: %d of %d varied packages, want at least 20%%", what, n, removed+extra+changed)
		}
	}

	none := mustFleet(t, 3, 50, Options{Variation: -1})
	for i := range 50 {
		im := none.Host(i).Image
		inv := none.InventoryAt(i, 0)
		if want := protocol.InventoryHash(protocol.Inventory{Packages: im.Packages, Updates: im.Updates}); inv.Hash != want {
			t.Errorf("host %d without variation differs from its image %s", i, im.Name)
		}
	}
}

var (
	hostnameRE  = regexp.MustCompile(`^(deb12|deb11|ubu22|rocky9|alp320)-\d{4,}$`)
	machineIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// TestFacts checks the facts, labels and groups of 10,000 hosts.
func TestFacts(t *testing.T) {
	f := mustFleet(t, 5, fleetSize, Options{})
	hostnames, ids := map[string]bool{}, map[string]bool{}
	zonesSeen := map[string]int{}
	label := map[string]int{}
	for i := range fleetSize {
		h := f.Host(i)
		fa := h.Facts
		if !hostnameRE.MatchString(fa.Hostname) || !machineIDRE.MatchString(fa.MachineID) {
			t.Fatalf("host %d: hostname %q, machine id %q", i, fa.Hostname, fa.MachineID)
		}
		if hostnames[fa.Hostname] || ids[fa.MachineID] {
			t.Fatalf("host %d: hostname %q or machine id %q repeats", i, fa.Hostname, fa.MachineID)
		}
		hostnames[fa.Hostname], ids[fa.MachineID] = true, true
		if fa.OSRelease["ID"] != h.Image.OSID || fa.Kernel != h.Image.Kernel || fa.Arch != "x86_64" ||
			fa.CPUs < 1 || fa.MemoryBytes < 1<<30 || fa.ProtocolVersion != protocol.Version || fa.AgentVersion == "" {
			t.Fatalf("host %d: facts %+v do not fit image %s", i, fa, h.Image.Name)
		}
		if !fa.BootTime.Before(DefaultStart) || fa.UptimeSeconds != int64(DefaultStart.Sub(fa.BootTime).Seconds()) {
			t.Fatalf("host %d: boot time %v, uptime %d", i, fa.BootTime, fa.UptimeSeconds)
		}
		if got := h.FactsAt(DefaultStart.Add(60e9)).UptimeSeconds; got != fa.UptimeSeconds+60 {
			t.Fatalf("host %d: FactsAt a minute later: uptime %d, want %d", i, got, fa.UptimeSeconds+60)
		}
		if err := patchbay.ValidateTags("labels", h.Labels); err != nil {
			t.Fatalf("host %d: %v", i, err)
		}
		if err := patchbay.ValidateTags("groups", h.Groups); err != nil || len(h.Groups) == 0 {
			t.Fatalf("host %d: groups %v: %v", i, h.Groups, err)
		}
		if _, err := patchbay.ParseCriticality("criticality", h.Criticality); err != nil || h.Owner == "" {
			t.Fatalf("host %d: criticality %q, owner %q", i, h.Criticality, h.Owner)
		}
		if h.Phase < 0 || h.Phase >= 1 {
			t.Fatalf("host %d: phase %v", i, h.Phase)
		}
		zonesSeen[fa.TimeZone]++
		for _, l := range h.Labels {
			label[l]++
		}
	}
	for _, z := range []string{"Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "Australia/Sydney"} {
		if zonesSeen[z] < fleetSize/20 {
			t.Errorf("time zone %s on %d hosts", z, zonesSeen[z])
		}
	}
	for _, tc := range []struct {
		label    string
		min, max int
	}{{"internet-facing", 800, 1200}, {"canary", 120, 280}, {"prod", 6500, 7500}, {"staging", 2500, 3500}} {
		if n := label[tc.label]; n < tc.min || n > tc.max {
			t.Errorf("label %s on %d hosts, want %d to %d", tc.label, n, tc.min, tc.max)
		}
	}
}

// TestChanges: about 5% of check-ins bring a new inventory; each change of
// generation changes the inventory, and going back restores it.
func TestChanges(t *testing.T) {
	f := mustFleet(t, 9, 1000, Options{})
	changes := 0
	for i := range 1000 {
		if f.ChangesAt(i, 0) {
			t.Fatalf("host %d changes at its first check-in", i)
		}
		for k := 1; k <= 20; k++ {
			if _, changed := f.Advance(i, k); changed {
				changes++
			}
		}
	}
	if share := float64(changes) / 20000; share < 0.04 || share > 0.06 {
		t.Errorf("%.4f of check-ins changed the inventory, want about 0.05", share)
	}
	for i := 0; i < 1000; i += 37 {
		prev := f.InventoryAt(i, 0).Hash
		for g := 1; g <= 6; g++ {
			h := f.InventoryAt(i, g).Hash
			if h == prev {
				t.Errorf("host %d: generation %d has generation %d's inventory", i, g, g-1)
			}
			prev = h
		}
		f.Mutate(i, 3)
		if f.Generation(i) != 3 || f.Inventory(i).Hash != f.InventoryAt(i, 3).Hash {
			t.Errorf("host %d: Mutate(3) did not take", i)
		}
		f.Mutate(i, 0)
		if f.Inventory(i).Hash != f.InventoryAt(i, 0).Hash {
			t.Errorf("host %d: Mutate(0) did not restore the first inventory", i)
		}
	}
}

// TestConcurrentUse runs hosts the way the simulator does, one goroutine
// each, for the race detector.
func TestConcurrentUse(t *testing.T) {
	f := mustFleet(t, 11, 64, Options{})
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			for k := range 5 {
				f.Advance(i, k)
				_ = f.Inventory(i)
				_ = f.Host(i).FactsAt(DefaultStart)
			}
		})
	}
	wg.Wait()
}

// TestMemoryPerHost: a fleet holds a few bytes per host, however large the
// inventories; everything else is computed when asked for.
func TestMemoryPerHost(t *testing.T) {
	mustImages(t) // built once, shared by every fleet
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f := mustFleet(t, 1, fleetSize, Options{})
	runtime.ReadMemStats(&after)
	perHost := float64(after.TotalAlloc-before.TotalAlloc) / fleetSize
	t.Logf("NewFleet(10,000 hosts) allocated %.1f bytes per host", perHost)
	if perHost > 16 {
		t.Errorf("NewFleet allocated %.1f bytes per host, want at most 16", perHost)
	}
	runtime.KeepAlive(f)
}
