package fleet

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"
)

// DefaultMix returns the share of each image in a fleet whose Options.Mix
// is nil: 40% Debian 12, 20% Debian 11, 20% Ubuntu 22.04, 15% Rocky Linux 9
// and 5% Alpine 3.20.
func DefaultMix() map[string]float64 {
	return map[string]float64{
		"debian-12":    0.40,
		"debian-11":    0.20,
		"ubuntu-22.04": 0.20,
		"rocky-9":      0.15,
		"alpine-3.20":  0.05,
	}
}

// DefaultStart is the reference instant of a fleet's boot times when
// Options.Start is zero: fixed, so that facts are reproducible.
var DefaultStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Options configure a Fleet. The zero value is a fleet of the default mix
// with 2% variation and 5% of check-ins bringing a new inventory.
type Options struct {
	// Mix weighs the images by Image.Name; the weights need not sum to one.
	// nil means DefaultMix.
	Mix map[string]float64
	// Packages, when set, grows every image to at least this many packages
	// with Image.Grown (for inventories of a given size).
	Packages int
	// Variation is the mean share of a host's packages that differ from its
	// image: removed, extra, or at another version. 0 means 0.02; a
	// negative value means none.
	Variation float64
	// ChangeRate is the chance that a host's inventory changes before a
	// check-in (see Advance). 0 means 0.05; a negative value means never.
	ChangeRate float64
	// Start is the instant the fleet's uptimes are measured at, and boot
	// times counted back from. Zero means DefaultStart.
	Start time.Time
	// AgentVersion is what the hosts' facts report. "" means "0.0.0-sim".
	AgentVersion string
}

// Fleet is a simulated fleet of n hosts. A host is a pure function of the
// fleet's seed, its index and its generation; the Fleet stores only the
// current generation of each host (4 bytes), so its memory does not grow
// with the size of the inventories. A Fleet is safe for concurrent use.
type Fleet struct {
	seed   uint64
	images []*Image  // after Options.Packages growth
	cum    []float64 // cumulative mix weights, normalised, parallel to images
	offset float64   // the seed's start of the image sequence
	opts   Options   // with defaults filled in
	gens   []atomic.Uint32
}

// NewFleet returns a fleet of n hosts whose every property is decided by
// seed. It fails when the images cannot be built or grown, or when the mix
// names an unknown image or has no positive weight.
func NewFleet(seed uint64, n int, opts Options) (*Fleet, error) {
	if n < 0 {
		return nil, fmt.Errorf("new fleet: %d hosts", n)
	}
	base, err := Images()
	if err != nil {
		return nil, fmt.Errorf("new fleet: %w", err)
	}
	if opts.Mix == nil {
		opts.Mix = DefaultMix()
	}
	if opts.Variation == 0 {
		opts.Variation = 0.02
	}
	if opts.ChangeRate == 0 {
		opts.ChangeRate = 0.05
	}
	if opts.Start.IsZero() {
		opts.Start = DefaultStart
	}
	opts.AgentVersion = cmp.Or(opts.AgentVersion, "0.0.0-sim")
	f := &Fleet{seed: seed, opts: opts, gens: make([]atomic.Uint32, n)}
	byName := map[string]*Image{}
	for _, im := range base {
		byName[im.Name] = im
	}
	names := make([]string, 0, len(opts.Mix))
	for name := range opts.Mix {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int { return imageOrder(base, a) - imageOrder(base, b) })
	total := 0.0
	for _, name := range names {
		w := opts.Mix[name]
		im := byName[name]
		if im == nil {
			return nil, fmt.Errorf("new fleet: mix names unknown image %q", name)
		}
		if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("new fleet: weight %v of image %s", w, name)
		}
		if w == 0 {
			continue
		}
		if opts.Packages > len(im.Packages) {
			if im, err = im.Grown(opts.Packages); err != nil {
				return nil, fmt.Errorf("new fleet: %w", err)
			}
		}
		total += w
		f.images = append(f.images, im)
		f.cum = append(f.cum, total)
	}
	if total == 0 {
		return nil, fmt.Errorf("new fleet: the mix has no positive weight")
	}
	for i := range f.cum {
		f.cum[i] /= total
	}
	f.offset = rand.New(rand.NewPCG(seed, 0x1ea5e)).Float64()
	return f, nil
}

// imageOrder is an image's place in Images' order, for a stable mix.
func imageOrder(ims []*Image, name string) int {
	return slices.IndexFunc(ims, func(im *Image) bool { return im.Name == name })
}

// Len returns the number of hosts.
func (f *Fleet) Len() int { return len(f.gens) }

// Images returns the images the fleet's hosts are built from (grown to
// Options.Packages), in Images' order.
func (f *Fleet) Images() []*Image { return slices.Clone(f.images) }

// image returns the image of host i. Hosts walk the unit interval in steps
// of the golden ratio's fraction from a seed-chosen start (a Weyl
// sequence), so any run of hosts follows the mix within a few hosts, with
// the images interleaved rather than in blocks.
func (f *Fleet) image(i int) *Image {
	const phi = 0.6180339887498949
	u := math.Mod(f.offset+float64(i)*phi, 1)
	k, _ := slices.BinarySearch(f.cum, u)
	return f.images[min(k, len(f.images)-1)]
}

// rng returns the random stream of one purpose (stream) for host i.
func (f *Fleet) rng(i int, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(f.seed^uint64(i)*0x9e3779b97f4a7c15, stream))
}

// Random streams, one per purpose, so that changing one aspect of a host
// does not reshuffle the others.
const (
	streamFacts     = 1
	streamVariation = 2
	streamChange    = 3
	streamMutation  = 1 << 32 // + generation
)

// check panics on an index out of range, like a slice would.
func (f *Fleet) check(i int) {
	if i < 0 || i >= len(f.gens) {
		panic(fmt.Sprintf("fleet: host %d out of range [0, %d)", i, len(f.gens)))
	}
}

// Generation returns host i's current generation: how many times its
// inventory has changed since the fleet was made.
func (f *Fleet) Generation(i int) int {
	f.check(i)
	return int(f.gens[i].Load())
}

// Mutate sets host i's generation; Inventory then returns the inventory of
// that generation. Generation 0 is the host as first enrolled.
func (f *Fleet) Mutate(i, generation int) {
	f.check(i)
	if generation < 0 || generation > math.MaxUint32 {
		panic(fmt.Sprintf("fleet: generation %d out of range", generation))
	}
	f.gens[i].Store(uint32(generation))
}

// ChangesAt reports whether host i's inventory changes just before its
// checkIn-th check-in (counting from 0, the enrolling one, which never
// changes): true for a share Options.ChangeRate of check-ins, decided by
// the seed.
func (f *Fleet) ChangesAt(i, checkIn int) bool {
	f.check(i)
	if checkIn <= 0 || f.opts.ChangeRate < 0 {
		return false
	}
	return f.rng(i, streamChange<<40|uint64(checkIn)).Float64() < f.opts.ChangeRate
}

// Advance is what a simulated agent calls before its checkIn-th check-in:
// when ChangesAt says the inventory changes, it moves host i to its next
// generation. It returns the host's generation and whether it changed.
func (f *Fleet) Advance(i, checkIn int) (generation int, changed bool) {
	if f.ChangesAt(i, checkIn) {
		return int(f.gens[i].Add(1)), true
	}
	return f.Generation(i), false
}
