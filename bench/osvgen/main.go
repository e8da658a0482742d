// Command osvgen writes the scan benchmark's corpus: N Debian OSV records made
// from a seeded generator, the real dpkg status file of a Debian 12 machine and
// the list of Debian 12 source packages, one file per record, and optionally the
// same records as the all.zip osv-scanner reads offline.
//
//	go run ./bench/osvgen -seed 1 -n 50000 -out DIR [-zip ZIP] [-expect FILE]
//
// Most records name Debian 12 sources that the machine does not have (misses).
// About one in ten names one of the ~400 installed sources, with versions
// chosen relative to the installed source version, in one of the cases listed
// in kinds: each case says whether the record affects the machine by the
// Debian and OSV rules (records name source packages at source versions; the
// release in the ecosystem must be the host's or absent; every range counts;
// limit and last_affected bound a range; a withdrawn record affects nothing).
// -expect writes the findings those rules give, in the form of `patchbay scan
// --output tsv`, so a scanner can be checked against the generator's intent
// rather than against another scanner. The same seed and inputs give the same
// bytes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/patchbay/patchbay/internal/pkgdb"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "osvgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("osvgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seed := fs.Uint64("seed", 1, "seed of the generator: the same seed and inputs give the same records")
	n := fs.Int("n", 50000, "number of records")
	out := fs.String("out", "", "directory to write <ID>.json records into (new or empty)")
	zipPath := fs.String("zip", "", "also write the records as this zip (osv-scanner's DIR/osv-scalibr/Debian/all.zip)")
	expectPath := fs.String("expect", "", "write the findings the rules give on the status file's host: binary<TAB>version<TAB>id, sorted")
	statusPath := fs.String("status", "internal/pkgdb/testdata/dpkg/bookworm-host.status", "dpkg status file of the Debian 12 host")
	sourcesPath := fs.String("sources", "bench/testdata/bookworm-sources.tsv", "source<TAB>version list of Debian 12")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("-out is required")
	}
	start := time.Now()
	inst, err := readInstalled(ctx, *statusPath)
	if err != nil {
		return err
	}
	avail, err := readSources(*sourcesPath)
	if err != nil {
		return err
	}
	g, err := newGenerator(*seed, inst, avail)
	if err != nil {
		return err
	}
	plan, err := g.plan(*n)
	if err != nil {
		return err
	}
	if err := prepareOut(*out); err != nil {
		return err
	}
	c, err := writeCorpus(g, plan, *out, *zipPath)
	if err != nil {
		return err
	}
	if *expectPath != "" {
		var b strings.Builder
		for _, l := range c.expect {
			b.WriteString(l + "\n")
		}
		if err := os.WriteFile(*expectPath, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return summarize(stdout, *seed, len(plan), inst, c, time.Since(start))
}

// zipTime is the modification time of every zip entry, so the zip's bytes
// depend on the seed alone.
var zipTime = time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)

// pool names the installed sources (or binaries) a case draws its target from.
type pool int

const (
	poolNotInstalled pool = iota // Debian 12 sources the host does not have
	poolInstalled                // every installed source
	poolBinNMU                   // sources with a binNMU binary (5.2.15-2+b8 of 5.2.15-2)
	poolOwnVersion               // sources with a binary versioned otherwise (an epoch of its own, 4:12.2.0-3 of gcc-defaults 1.203)
	poolTilde                    // sources whose installed version has a ~
	poolEpoch                    // sources whose installed version has an epoch
	poolBinaryName               // installed binaries whose name is no source's
)

// target is what a record is about: a package name, the version the cases
// are relative to, and the installed binaries the record affects if the
// case is a hit.
type target struct {
	name, version string
	binaries      []pkgdb.Package
}

// kind is one case of the corpus: how many records (a share of -n), which
// pool, whether the rules make it a finding on the host, and how to build
// the affected entries from the target.
type kind struct {
	name  string
	share float64
	pool  pool
	hit   bool
	build func(g *generator, t target) body
}

// body is what a case decides of a record.
type body struct {
	affected  []affected
	withdrawn bool
}

const (
	deb12  = "Debian:12"
	deb11  = "Debian:11"
	deb13  = "Debian:13"
	debAll = "Debian"
)

// kinds lists the cases. Shares are of -n; the remainder are misses on
// sources the host does not have. Every hit/miss holds for every binary of
// the target source under the rules in the package comment.
var kinds = []kind{
	{"hit-fixed-above", 0.012, poolInstalled, true, func(g *generator, t target) body {
		return one(deb12, t.name, eco(intro("0"), fixed(g.above(t.version))))
	}},
	{"miss-fixed-below", 0.010, poolInstalled, false, func(g *generator, t target) body {
		return one(deb12, t.name, eco(intro("0"), fixed(g.below(t.version))))
	}},
	{"miss-fixed-equals-installed", 0.005, poolInstalled, false, func(g *generator, t target) body {
		return one(deb12, t.name, eco(intro("0"), fixed(t.version)))
	}},
	{"miss-introduced-after-installed", 0.004, poolInstalled, false, func(g *generator, t target) body {
		lo := g.above(t.version)
		return one(deb12, t.name, eco(intro(lo), fixed(g.above(lo))))
	}},
	{"hit-introduced-equals-installed", 0.002, poolInstalled, true, func(g *generator, t target) body {
		return one(deb12, t.name, eco(intro(t.version), fixed(g.above(t.version))))
	}},
	{"hit-no-fix", 0.003, poolInstalled, true, func(g *generator, t target) body {
		return one(deb12, t.name, eco(intro("0")))
	}},
	{"miss-other-release", 0.008, poolInstalled, false, func(g *generator, t target) body {
		rel := deb11
		if g.r.IntN(2) == 0 {
			rel = deb13
		}
		return one(rel, t.name, eco(intro("0"), fixed(g.above(t.version))))
	}},
	{"hit-bare-debian", 0.003, poolInstalled, true, func(g *generator, t target) body {
		return one(debAll, t.name, eco(intro("0"), fixed(g.above(t.version))))
	}},
	{"miss-bare-debian", 0.001, poolInstalled, false, func(g *generator, t target) body {
		return one(debAll, t.name, eco(intro("0"), fixed(g.below(t.version))))
	}},
	{"hit-per-release-entries", 0.002, poolInstalled, true, func(g *generator, t target) body {
		return body{affected: []affected{
			entry(deb11, t.name, eco(intro("0"), fixed(g.below(t.version)))),
			entry(deb12, t.name, eco(intro("0"), fixed(g.above(t.version)))),
		}}
	}},
	{"miss-per-release-entries", 0.002, poolInstalled, false, func(g *generator, t target) body {
		return body{affected: []affected{
			entry(deb11, t.name, eco(intro("0"), fixed(g.above(t.version)))),
			entry(deb12, t.name, eco(intro("0"), fixed(g.below(t.version)))),
			entry(deb13, t.name, eco(intro("0"), fixed(g.above(t.version)))),
		}}
	}},
	{"hit-second-range", 0.001, poolInstalled, true, func(g *generator, t target) body {
		lo := g.above(t.version)
		return one(deb12, t.name, eco(intro(lo), fixed(g.above(lo))), eco(intro("0"), fixed(g.above(t.version))))
	}},
	{"hit-git-range-first", 0.003, poolInstalled, true, func(g *generator, t target) body {
		return one(deb12, t.name, g.git(t.name), eco(intro("0"), fixed(g.above(t.version))))
	}},
	{"miss-git-range-first", 0.001, poolInstalled, false, func(g *generator, t target) body {
		return one(deb12, t.name, g.git(t.name), eco(intro("0"), fixed(g.below(t.version))))
	}},
	{"hit-below-limit", 0.002, poolInstalled, true, func(g *generator, t target) body {
		return one(deb12, t.name, eco(intro("0"), limit(g.above(t.version))))
	}},
	{"miss-at-or-above-limit", 0.002, poolInstalled, false, func(g *generator, t target) body {
		lim := t.version
		if g.r.IntN(2) == 0 {
			lim = g.below(t.version)
		}
		return one(deb12, t.name, eco(intro("0"), limit(lim)))
	}},
	{"hit-last-affected-equals-installed", 0.003, poolInstalled, true, func(g *generator, t target) body {
		return one(deb12, t.name, eco(intro("0"), lastAffected(t.version)))
	}},
	{"miss-last-affected-below", 0.002, poolInstalled, false, func(g *generator, t target) body {
		return one(deb12, t.name, eco(intro("0"), lastAffected(g.below(t.version))))
	}},
	{"hit-versions-list", 0.003, poolInstalled, true, func(g *generator, t target) body {
		return body{affected: []affected{versionsEntry(deb12, t.name, g.below(t.version), t.version, g.above(t.version))}}
	}},
	{"miss-versions-list", 0.002, poolInstalled, false, func(g *generator, t target) body {
		return body{affected: []affected{versionsEntry(deb12, t.name, g.below(t.version), g.above(t.version))}}
	}},
	{"miss-withdrawn", 0.003, poolInstalled, false, func(g *generator, t target) body {
		b := one(deb12, t.name, eco(intro("0"), fixed(g.above(t.version))))
		b.withdrawn = true
		return b
	}},
	{"binnmu-hit-fixed-above", 0.002, poolBinNMU, true, func(g *generator, t target) body {
		return one(deb12, t.name, eco(intro("0"), fixed(g.above(t.version))))
	}},
	{"binnmu-miss-fixed-equals-source", 0.002, poolBinNMU, false, func(g *generator, t target) body {
		return one(deb12, t.name, eco(intro("0"), fixed(t.version)))
	}},
	{"binnmu-hit-last-affected-equals-source", 0.002, poolBinNMU, true, func(g *generator, t target) body {
		return one(deb12, t.name, eco(intro("0"), lastAffected(t.version)))
	}},
	{"binnmu-hit-versions-list", 0.001, poolBinNMU, true, func(g *generator, t target) body {
		return body{affected: []affected{versionsEntry(deb12, t.name, t.version)}}
	}},
	{"own-version-hit-fixed-above", 0.002, poolOwnVersion, true, func(g *generator, t target) body {
		return one(deb12, t.name, eco(intro("0"), fixed(g.above(t.version))))
	}},
	{"own-version-miss-fixed-below", 0.001, poolOwnVersion, false, func(g *generator, t target) body {
		return one(deb12, t.name, eco(intro("0"), fixed(g.below(t.version))))
	}},
	{"own-version-miss-introduced-after", 0.001, poolOwnVersion, false, func(g *generator, t target) body {
		return one(deb12, t.name, eco(intro(g.above(t.version))))
	}},
	{"tilde-miss-fixed-prerelease", 0.002, poolInstalled, false, func(g *generator, t target) body {
		return one(deb12, t.name, eco(intro("0"), fixed(g.prerelease(t.version))))
	}},
	{"tilde-hit-introduced-prerelease", 0.002, poolInstalled, true, func(g *generator, t target) body {
		return one(deb12, t.name, eco(intro(g.prerelease(t.version)), fixed(g.above(t.version))))
	}},
	{"tilde-hit-installed-prerelease", 0.001, poolTilde, true, func(g *generator, t target) body {
		return one(deb12, t.name, eco(intro("0"), fixed(g.release(t.version))))
	}},
	{"epoch-hit-fixed-higher-epoch", 0.002, poolInstalled, true, func(g *generator, t target) body {
		return one(deb12, t.name, eco(intro("0"), fixed(g.nextEpoch(t.version))))
	}},
	{"epoch-miss-introduced-higher-epoch", 0.001, poolInstalled, false, func(g *generator, t target) body {
		return one(deb12, t.name, eco(intro(g.nextEpoch(t.version))))
	}},
	{"epoch-miss-fixed-without-epoch", 0.001, poolEpoch, false, func(g *generator, t target) body {
		return one(deb12, t.name, eco(intro("0"), fixed(g.dropEpoch(t.version))))
	}},
	{"miss-binary-name", 0.002, poolBinaryName, false, func(g *generator, t target) body {
		return one(deb12, t.name, eco(intro("0"), fixed(g.above(t.version))))
	}},
}

// notInstalled is the remainder: records on sources the host lacks, in
// every shape, mostly for Debian 12.
var notInstalled = kind{"miss-not-installed", 0, poolNotInstalled, false, func(g *generator, t target) body {
	rel := deb12
	switch x := g.r.IntN(10); {
	case x == 0:
		rel = deb11
	case x == 1:
		rel = deb13
	case x == 2:
		rel = debAll
	}
	switch g.r.IntN(8) {
	case 0:
		return one(rel, t.name, eco(intro("0"), fixed(g.below(t.version))))
	case 1:
		return one(rel, t.name, eco(intro("0")))
	case 2:
		return one(rel, t.name, eco(intro("0"), lastAffected(t.version)))
	case 3:
		return body{affected: []affected{versionsEntry(rel, t.name, g.below(t.version), t.version)}}
	case 4:
		return one(rel, t.name, g.git(t.name), eco(intro("0"), fixed(g.above(t.version))))
	default:
		return one(rel, t.name, eco(intro("0"), fixed(g.above(t.version))))
	}
}}

// generator holds the seeded source of randomness and the pools.
type generator struct {
	seed  uint64
	r     *rand.Rand
	inv   *inventory
	pools map[pool][]target
}

var binNMU = regexp.MustCompile(`\+b[0-9]+$`)

func newGenerator(seed uint64, inv *inventory, avail []availableSource) (*generator, error) {
	g := &generator{seed: seed, r: rand.New(rand.NewPCG(seed, 0x5eed0f05ca11)), inv: inv, pools: map[pool][]target{}}
	sourceNames := map[string]bool{}
	for _, a := range avail {
		sourceNames[a.name] = true
		if inv.byName[a.name] == nil {
			g.pools[poolNotInstalled] = append(g.pools[poolNotInstalled], target{name: a.name, version: a.version})
		}
	}
	for _, s := range inv.sources {
		t := target{name: s.name, version: s.version, binaries: s.binaries}
		g.pools[poolInstalled] = append(g.pools[poolInstalled], t)
		if strings.Contains(s.version, "~") {
			g.pools[poolTilde] = append(g.pools[poolTilde], t)
		}
		if strings.Contains(s.version, ":") {
			g.pools[poolEpoch] = append(g.pools[poolEpoch], t)
		}
		nmu, own := false, false
		for _, b := range s.binaries {
			switch {
			case b.Version == s.version:
			case strings.HasPrefix(b.Version, s.version+"+b") && binNMU.MatchString(b.Version):
				nmu = true
			default:
				own = true
			}
		}
		if nmu {
			g.pools[poolBinNMU] = append(g.pools[poolBinNMU], t)
		}
		if own {
			g.pools[poolOwnVersion] = append(g.pools[poolOwnVersion], t)
		}
	}
	seen := map[string]bool{}
	for _, p := range inv.pkgs {
		if sourceNames[p.Name] || inv.byName[p.Name] != nil || seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		g.pools[poolBinaryName] = append(g.pools[poolBinaryName], target{name: p.Name, version: p.Version})
	}
	for _, k := range kinds {
		if len(g.pools[k.pool]) == 0 {
			return nil, fmt.Errorf("case %s: the inputs have no package for it", k.name)
		}
	}
	if len(g.pools[poolNotInstalled]) == 0 {
		return nil, errors.New("the source list names no source the host lacks")
	}
	return g, nil
}

// plan returns the case of each of n records, in a seeded order.
func (g *generator) plan(n int) ([]kind, error) {
	var plan []kind
	for _, k := range kinds {
		q := int(math.Round(k.share * float64(n)))
		plan = append(plan, slices.Repeat([]kind{k}, max(q, 1))...)
	}
	if len(plan) > n {
		return nil, fmt.Errorf("-n %d is too small for one record of each of the %d cases", n, len(kinds))
	}
	plan = append(plan, slices.Repeat([]kind{notInstalled}, n-len(plan))...)
	g.r.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
	return plan, nil
}

// record builds record number i of case k and returns the installed
// binaries it is about.
func (g *generator) record(i int, k kind) (*osvRecord, []pkgdb.Package) {
	ts := g.pools[k.pool]
	t := ts[g.r.IntN(len(ts))]
	b := k.build(g, t)
	published := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(g.r.IntN(6*365*24*60)) * time.Minute)
	modified := published.Add(time.Duration(g.r.IntN(300*24*60)) * time.Minute)
	cve := fmt.Sprintf("CVE-%d-%d", published.Year(), 10000+i)
	rec := &osvRecord{
		SchemaVersion: "1.6.0",
		ID:            fmt.Sprintf("PBGEN-2026-%06d", i),
		Modified:      modified.Format(time.RFC3339),
		Published:     published.Format(time.RFC3339),
		Summary:       fmt.Sprintf("%s: generated advisory (%s)", t.name, k.name),
		Details:       fmt.Sprintf("Generated by patchbay's bench/osvgen with seed %d; not a real vulnerability.", g.seed),
		Affected:      b.affected,
		DatabaseSpecific: dbSpecific{
			Generator: "patchbay bench/osvgen",
			Seed:      g.seed,
			Case:      k.name,
		},
	}
	if g.r.IntN(2) == 0 {
		rec.Aliases = []string{cve}
	} else {
		rec.Upstream = []string{cve}
	}
	if b.withdrawn {
		rec.Withdrawn = modified.Add(time.Duration(1+g.r.IntN(30*24)) * time.Hour).Format(time.RFC3339)
	}
	return rec, t.binaries
}

// git returns a GIT range of two made-up commits in the source's repository.
func (g *generator) git(name string) rng {
	return rng{Type: "GIT", Repo: "https://salsa.debian.org/debian/" + name + ".git", Events: []event{intro(g.commit()), fixed(g.commit())}}
}

func (g *generator) commit() string {
	return fmt.Sprintf("%016x%016x%08x", g.r.Uint64(), g.r.Uint64(), g.r.Uint32())
}

// Versions relative to an installed one. Each candidate is checked with
// the project's dpkg ordering, so a case cannot silently turn into another;
// a version for which no candidate works is a bug in the generator and
// panics.

// securityUpdate matches the suffix of a Debian security or point update,
// +deb12u3.
var securityUpdate = regexp.MustCompile(`\+deb([0-9]+)u([0-9]+)$`)

// summarize prints what was made.
func summarize(w io.Writer, seed uint64, n int, inv *inventory, c *corpus, took time.Duration) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "osvgen: seed %d, %d records in %.1fs; host: %d binaries of %d sources\n", seed, n, took.Seconds(), len(inv.pkgs), len(inv.sources))
	fmt.Fprintln(tw, "case\trecords\trule\tfindings\t")
	installed := 0
	for _, k := range append(slices.Clone(kinds), notInstalled) {
		rule := "miss"
		if k.hit {
			rule = "hit"
		}
		if k.pool != poolNotInstalled {
			installed += c.counts[k.name]
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t\n", k.name, c.counts[k.name], rule, c.findings[k.name])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "records naming installed sources or binaries: %d (%.1f%%); expected findings (binary, advisory): %d\n",
		installed, 100*float64(installed)/float64(n), len(c.expect))
	return err
}
