package fleet

import (
	"runtime"
	"testing"
)

// BenchmarkFleetInventory materialises one host's inventory (packages,
// updates and content hash), for each image at its own size and grown to
// 2,000 packages (the size of the "200 full inventory uploads a second"
// figure).
func BenchmarkFleetInventory(b *testing.B) {
	for _, size := range []struct {
		name     string
		packages int
	}{{"base", 0}, {"2000", 2000}} {
		for _, im := range mustImages(b) {
			f := mustFleet(b, 1, 1000, Options{Packages: size.packages, Mix: map[string]float64{im.Name: 1}})
			b.Run(size.name+"/"+im.Name, func(b *testing.B) {
				b.ReportAllocs()
				pkgs := 0
				i := 0
				for b.Loop() {
					pkgs += len(f.Inventory(i % f.Len()).Packages)
					i++
				}
				b.ReportMetric(float64(pkgs)/float64(i), "packages/op")
			})
		}
	}
}

// BenchmarkFleetHost makes one host's facts, labels and groups.
func BenchmarkFleetHost(b *testing.B) {
	f := mustFleet(b, 1, fleetSize, Options{})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = f.Host(i % fleetSize)
		i++
	}
}

// BenchmarkFleetMemory reports what a 10,000-host fleet holds: bytes per
// host allocated by NewFleet, and heap in use per host after a GC, with
// the images already built (they are shared by every fleet), at the
// images' sizes and grown to 2,000 packages (where the grown images, built
// per fleet, count too).
func BenchmarkFleetMemory(b *testing.B) {
	mustImages(b)
	for _, size := range []struct {
		name     string
		packages int
	}{{"base", 0}, {"2000", 2000}} {
		b.Run(size.name, func(b *testing.B) {
			var alloc, heap float64
			n := 0
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				f := mustFleet(b, uint64(n), fleetSize, Options{Packages: size.packages})
				runtime.GC()
				runtime.ReadMemStats(&after)
				alloc += float64(after.TotalAlloc - before.TotalAlloc)
				heap += float64(int64(after.HeapAlloc) - int64(before.HeapAlloc))
				runtime.KeepAlive(f)
				n++
			}
			b.ReportMetric(alloc/float64(n)/fleetSize, "alloc-B/host")
			b.ReportMetric(heap/float64(n)/fleetSize, "heap-B/host")
		})
	}
}
