package fleet

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/patchbay/patchbay/internal/protocol"
)

// Host is one simulated machine: its image, the facts its agent reports and
// the labels and groups an operator would give it.
type Host struct {
	// Index is the host's place in the fleet, 0 to Len()-1.
	Index int
	// Image is the base image the host's inventory varies from.
	Image *Image
	// Facts are the host's facts at Options.Start (see FactsAt).
	Facts protocol.Facts
	// Labels are tags such as prod or staging, internet-facing (about 10%
	// of hosts), canary (about 2%) and site=fra.
	Labels []string
	// Groups are the host's roles: web, db, batch, cache, ci, monitoring.
	Groups []string
	// Criticality is low, medium, high or critical (patchbay.Criticality).
	Criticality string
	// Owner is the team that owns the host.
	Owner string
	// Phase, uniform in [0, 1), places the host in a staggered start and
	// within each check-in interval: a simulator enrolls host i at
	// Phase×ramp-up and checks it in at Phase×interval past each interval.
	Phase float64
}

// FactsAt returns h's facts as its agent reports them at now: the uptime
// counts from the host's boot time.
func (h Host) FactsAt(now time.Time) protocol.Facts {
	f := h.Facts
	f.OSRelease = h.Image.OSRelease()
	f.UptimeSeconds = max(0, int64(now.Sub(f.BootTime)/time.Second))
	return f
}

// weighted is a value with a weight, for weighted choices.
type weighted[T any] struct {
	v T
	w int
}

// pick returns one of choices at random, in proportion to the weights.
func pick[T any](r *rand.Rand, choices []weighted[T]) T {
	total := 0
	for _, c := range choices {
		total += c.w
	}
	n := r.IntN(total)
	for _, c := range choices {
		if n < c.w {
			return c.v
		}
		n -= c.w
	}
	return choices[len(choices)-1].v
}

// zone is a time zone and the site label of the data centre in it.
type zone struct{ name, site string }

var (
	zones = []weighted[zone]{
		{zone{"Europe/Berlin", "fra"}, 30}, {zone{"America/New_York", "nyc"}, 25}, {zone{"UTC", "cloud"}, 25},
		{zone{"Asia/Tokyo", "tyo"}, 10}, {zone{"Australia/Sydney", "syd"}, 10},
	}
	groups = []weighted[string]{
		{"web", 35}, {"db", 15}, {"batch", 15}, {"cache", 10}, {"ci", 10}, {"monitoring", 5}, {"mail", 5}, {"vpn", 5},
	}
	owners = map[string]string{
		"web": "web-platform", "db": "data", "batch": "data", "cache": "web-platform", "ci": "developer-tools",
		"monitoring": "sre", "mail": "it-ops", "vpn": "it-ops",
	}
	cpus = []weighted[int]{{1, 5}, {2, 25}, {4, 30}, {8, 20}, {16, 12}, {32, 6}, {64, 2}}
)

// Host returns host i, decided by the fleet's seed and i alone. It
// allocates the host's facts afresh on every call; nothing is cached.
func (f *Fleet) Host(i int) Host {
	f.check(i)
	im := f.image(i)
	r := f.rng(i, streamFacts)
	h := Host{Index: i, Image: im, Phase: r.Float64()}

	z := pick(r, zones)
	group := pick(r, groups)
	h.Groups = []string{group}
	if r.IntN(10) == 0 {
		if g := pick(r, groups); g != group {
			h.Groups = append(h.Groups, g)
		}
	}
	env := "prod"
	if r.IntN(10) < 3 {
		env = "staging"
	}
	h.Labels = []string{env, "site=" + z.site}
	if r.IntN(10) == 0 {
		h.Labels = append(h.Labels, "internet-facing")
	}
	if r.IntN(50) == 0 {
		h.Labels = append(h.Labels, "canary")
	}
	h.Owner = owners[group]
	h.Criticality = pick(r, []weighted[string]{{"low", 15}, {"medium", 50}, {"high", 25}, {"critical", 10}})
	if env == "staging" {
		h.Criticality = "low"
	}

	n := pick(r, cpus)
	memGiB := uint64(n) * uint64(2<<r.IntN(3)) // 2, 4 or 8 GiB a CPU
	uptime := time.Duration(3600+r.Int64N(120*24*3600)) * time.Second
	boot := f.opts.Start.Add(-uptime)
	h.Facts = protocol.Facts{
		Hostname:        fmt.Sprintf("%s-%04d", im.Short, i),
		MachineID:       fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64()),
		OSRelease:       im.OSRelease(),
		Kernel:          im.Kernel,
		Arch:            im.Arch,
		CPUs:            n,
		MemoryBytes:     memGiB << 30,
		UptimeSeconds:   int64(uptime / time.Second),
		BootTime:        boot,
		TimeZone:        z.name,
		AgentVersion:    f.opts.AgentVersion,
		ProtocolVersion: protocol.Version,
	}
	if r.IntN(100) < 8 {
		h.Facts.RebootRequired = true
		if im.Ecosystem == "deb" {
			h.Facts.RebootPackages = []string{pick(r, []weighted[string]{{"libc6", 1}, {"libssl3", 1}, {"systemd", 1}})}
		}
	}
	return h
}
