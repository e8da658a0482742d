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
	"archive/zip"
	"bufio"
	"cmp"
	"compress/flate"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/patchbay/patchbay/internal/pkgdb"
	"github.com/patchbay/patchbay/internal/version"
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

// corpus is what writeCorpus made.
type corpus struct {
	expect   []string       // binary<TAB>version<TAB>id, sorted, one per finding
	counts   map[string]int // records per case
	findings map[string]int // expected findings per case
}

// writeCorpus writes the records of plan into dir, one file each, and into
// the zip at zipPath unless it is empty.
func writeCorpus(g *generator, plan []kind, dir, zipPath string) (*corpus, error) {
	c := &corpus{counts: map[string]int{}, findings: map[string]int{}}
	var zw *zipWriter
	if zipPath != "" {
		var err error
		if zw, err = newZipWriter(zipPath); err != nil {
			return nil, err
		}
		defer zw.f.Close()
	}
	files := newFileWriter(4)
	defer files.close()
	for i, k := range plan {
		rec, targets := g.record(i+1, k)
		data, err := json.MarshalIndent(rec, "", "  ")
		if err != nil {
			return nil, err
		}
		data = append(data, '\n')
		files.write(filepath.Join(dir, rec.ID+".json"), data)
		if zw != nil {
			if err := zw.add(rec.ID+".json", data); err != nil {
				return nil, err
			}
		}
		c.counts[k.name]++
		if k.hit {
			for _, b := range targets {
				c.expect = append(c.expect, b.Name+"\t"+b.Version+"\t"+rec.ID)
			}
			c.findings[k.name] += len(targets)
		}
	}
	if err := files.close(); err != nil {
		return nil, err
	}
	if zw != nil {
		if err := zw.close(); err != nil {
			return nil, err
		}
	}
	// A binary installed for two architectures is one finding.
	slices.Sort(c.expect)
	c.expect = slices.Compact(c.expect)
	return c, nil
}

// zipTime is the modification time of every zip entry, so the zip's bytes
// depend on the seed alone.
var zipTime = time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)

// zipWriter writes the records as osv.dev's all.zip holds them.
type zipWriter struct {
	f   *os.File
	buf *bufio.Writer
	zw  *zip.Writer
}

func newZipWriter(path string) (*zipWriter, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	z := &zipWriter{f: f, buf: bufio.NewWriterSize(f, 1<<20)}
	z.zw = zip.NewWriter(z.buf)
	// One deflater, reset per entry (zip writes one entry at a time): a new
	// one per record would allocate its ~1 MB state 50,000 times.
	fw, err := flate.NewWriter(nil, flate.BestSpeed)
	if err != nil {
		f.Close()
		return nil, err
	}
	z.zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		fw.Reset(w)
		return fw, nil
	})
	return z, nil
}

func (z *zipWriter) add(name string, data []byte) error {
	w, err := z.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: zipTime})
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// close writes the zip's directory and closes the file.
func (z *zipWriter) close() error {
	if err := z.zw.Close(); err != nil {
		return err
	}
	if err := z.buf.Flush(); err != nil {
		return err
	}
	return z.f.Close()
}

// fileWriter writes files on a few goroutines: creating 50,000 small files
// is most of the generator's time, and the file system overlaps some of it.
type fileWriter struct {
	jobs   chan fileJob
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
	closed sync.Once
}

type fileJob struct {
	path string
	data []byte
}

func newFileWriter(workers int) *fileWriter {
	fw := &fileWriter{jobs: make(chan fileJob, 256)}
	for range workers {
		fw.wg.Go(func() {
			for j := range fw.jobs {
				if err := os.WriteFile(j.path, j.data, 0o644); err != nil {
					fw.mu.Lock()
					fw.err = cmp.Or(fw.err, err)
					fw.mu.Unlock()
				}
			}
		})
	}
	return fw
}

func (fw *fileWriter) write(path string, data []byte) { fw.jobs <- fileJob{path, data} }

// close waits for every write and returns the first error; it may be
// called again.
func (fw *fileWriter) close() error {
	fw.closed.Do(func() {
		close(fw.jobs)
		fw.wg.Wait()
	})
	return fw.err
}

// prepareOut creates dir, refusing one that already holds records: records
// of an earlier run with another -n would silently join the corpus.
func prepareOut(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	if len(old) > 0 {
		return fmt.Errorf("%s already holds %d records: give a new or empty directory", dir, len(old))
	}
	return nil
}

// installedSource is a source package with the binaries built from it that the
// host has, all at one source version.
type installedSource struct {
	name, version string
	binaries      []pkgdb.Package
}

// inventory is what the generator knows of the host.
type inventory struct {
	sources []*installedSource // sorted by name
	byName  map[string]*installedSource
	pkgs    []pkgdb.Package
}

// readInstalled reads the status file with the project's own dpkg reader,
// which gives each binary's source name and source version as dpkg-query does.
func readInstalled(ctx context.Context, status string) (*inventory, error) {
	abs, err := filepath.Abs(status)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "osvgen-root-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	if err := os.MkdirAll(filepath.Join(root, "var/lib/dpkg"), 0o755); err != nil {
		return nil, err
	}
	if err := os.Symlink(abs, filepath.Join(root, "var/lib/dpkg/status")); err != nil {
		return nil, err
	}
	pkgs, err := pkgdb.DpkgReader{}.Read(ctx, root)
	if err != nil {
		return nil, err
	}
	inv := &inventory{byName: map[string]*installedSource{}, pkgs: pkgs}
	for _, p := range pkgs {
		s := inv.byName[p.SourceName]
		if s == nil {
			s = &installedSource{name: p.SourceName, version: p.SourceVersion}
			inv.byName[p.SourceName] = s
			inv.sources = append(inv.sources, s)
		}
		if s.version != p.SourceVersion {
			// The cases assume one source version per source; a host in the
			// middle of an upgrade would need per-binary expectations.
			return nil, fmt.Errorf("%s: source %s installed at %s and %s", status, p.SourceName, s.version, p.SourceVersion)
		}
		s.binaries = append(s.binaries, p)
	}
	slices.SortFunc(inv.sources, func(a, b *installedSource) int { return strings.Compare(a.name, b.name) })
	return inv, nil
}

// availableSource is one line of the source list.
type availableSource struct{ name, version string }

func readSources(path string) ([]availableSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []availableSource
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		t := sc.Text()
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		name, ver, ok := strings.Cut(t, "\t")
		if !ok || name == "" || ver == "" {
			return nil, fmt.Errorf("%s:%d: want source<TAB>version", path, line)
		}
		out = append(out, availableSource{name, ver})
	}
	return out, sc.Err()
}

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

// The OSV record, as far as the corpus fills it (schema 1.6).
type osvRecord struct {
	SchemaVersion    string     `json:"schema_version"`
	ID               string     `json:"id"`
	Modified         string     `json:"modified"`
	Published        string     `json:"published"`
	Withdrawn        string     `json:"withdrawn,omitempty"`
	Aliases          []string   `json:"aliases,omitempty"`
	Upstream         []string   `json:"upstream,omitempty"`
	Summary          string     `json:"summary"`
	Details          string     `json:"details"`
	Affected         []affected `json:"affected"`
	DatabaseSpecific dbSpecific `json:"database_specific"`
}

type dbSpecific struct {
	Generator string `json:"generator"`
	Seed      uint64 `json:"seed"`
	Case      string `json:"case"`
}

type affected struct {
	Package  pkgRef   `json:"package"`
	Ranges   []rng    `json:"ranges,omitempty"`
	Versions []string `json:"versions,omitempty"`
}

type pkgRef struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	PURL      string `json:"purl"`
}

type rng struct {
	Type   string  `json:"type"`
	Repo   string  `json:"repo,omitempty"`
	Events []event `json:"events"`
}

// event has exactly one field set.
type event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

func intro(v string) event        { return event{Introduced: v} }
func fixed(v string) event        { return event{Fixed: v} }
func lastAffected(v string) event { return event{LastAffected: v} }
func limit(v string) event        { return event{Limit: v} }
func eco(events ...event) rng     { return rng{Type: "ECOSYSTEM", Events: events} }

func pkg(ecosystem, name string) pkgRef {
	return pkgRef{Ecosystem: ecosystem, Name: name, PURL: "pkg:deb/debian/" + name + "?arch=source"}
}

func entry(ecosystem, name string, ranges ...rng) affected {
	return affected{Package: pkg(ecosystem, name), Ranges: ranges}
}

func one(ecosystem, name string, ranges ...rng) body {
	return body{affected: []affected{entry(ecosystem, name, ranges...)}}
}

func versionsEntry(ecosystem, name string, versions ...string) affected {
	return affected{Package: pkg(ecosystem, name), Versions: versions}
}

// Versions relative to an installed one. Each candidate is checked with
// the project's dpkg ordering, so a case cannot silently turn into another;
// a version for which no candidate works is a bug in the generator and
// panics.

// splitDeb splits v as dpkg does: the epoch (with its colon) ends at the
// first colon, the revision starts after the last hyphen.
func splitDeb(v string) (ep, upstream, revision string) {
	if i := strings.IndexByte(v, ':'); i >= 0 {
		ep, v = v[:i+1], v[i+1:]
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return ep, v[:i], v[i+1:]
	}
	return ep, v, ""
}

func joinDeb(ep, upstream, revision string) string {
	if revision == "" {
		return ep + upstream
	}
	return ep + upstream + "-" + revision
}

// addLast adds d to the last run of digits in s.
func addLast(s string, d int) (string, bool) {
	end := strings.LastIndexFunc(s, isDigit)
	if end < 0 {
		return "", false
	}
	begin := strings.LastIndexFunc(s[:end+1], func(r rune) bool { return !isDigit(r) }) + 1
	n, err := strconv.Atoi(s[begin : end+1])
	if err != nil || n+d < 0 || end+1-begin > 9 {
		return "", false
	}
	return s[:begin] + strconv.Itoa(n+d) + s[end+1:], true
}

func isDigit(r rune) bool { return '0' <= r && r <= '9' }

// pick returns the first candidate, in a seeded order, that want accepts
// against v.
func (g *generator) pick(v string, want func(c int) bool, cands []string, fallback string) string {
	g.r.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	for _, c := range append(cands, fallback) {
		if c == "" {
			continue
		}
		if r, err := version.Compare(version.Deb, c, v); err == nil && want(r) {
			return c
		}
	}
	panic(fmt.Sprintf("osvgen: no version for %q", v))
}

func greater(c int) bool { return c > 0 }
func less(c int) bool    { return c < 0 }

// above returns a version later than v, as the next security update, the
// next Debian revision or a new upstream release would be.
func (g *generator) above(v string) string {
	ep, u, rev := splitDeb(v)
	last := lastPart(u, rev)
	var cands []string
	if m := securityUpdate.FindStringSubmatch(last); m != nil {
		n, _ := strconv.Atoi(m[2])
		cands = append(cands, withLast(ep, u, rev, strings.TrimSuffix(last, m[0])+"+deb"+m[1]+"u"+strconv.Itoa(n+1)))
	} else {
		cands = append(cands, withLast(ep, u, rev, last+"+deb12u1"))
		if r2, ok := addLast(rev, 1); ok && rev != "" {
			cands = append(cands, joinDeb(ep, u, r2))
		}
	}
	if u2, ok := addLast(u, 1); ok {
		r := ""
		if rev != "" {
			r = "1"
		}
		cands = append(cands, joinDeb(ep, u2, r))
	}
	return g.pick(v, greater, cands, joinDeb(ep, u+".1", rev))
}

// below returns a version earlier than v: the one before its security
// update, an earlier Debian revision or an earlier upstream release.
func (g *generator) below(v string) string {
	ep, u, rev := splitDeb(v)
	last := lastPart(u, rev)
	var cands []string
	if m := securityUpdate.FindStringSubmatch(last); m != nil {
		cands = append(cands, withLast(ep, u, rev, strings.TrimSuffix(last, m[0])))
		if n, _ := strconv.Atoi(m[2]); n > 1 {
			cands = append(cands, withLast(ep, u, rev, strings.TrimSuffix(last, m[0])+"+deb"+m[1]+"u"+strconv.Itoa(n-1)))
		}
	} else if r2, ok := addLast(rev, -1); ok && rev != "" {
		cands = append(cands, joinDeb(ep, u, r2))
	}
	if u2, ok := addLast(u, -1); ok {
		cands = append(cands, joinDeb(ep, u2, rev))
	}
	return g.pick(v, less, cands, joinDeb(ep, u+"~0", rev))
}

// securityUpdate matches the suffix of a Debian security or point update,
// +deb12u3.
var securityUpdate = regexp.MustCompile(`\+deb([0-9]+)u([0-9]+)$`)

// lastPart is the part of a version a security update suffix goes on: the
// revision, or the upstream version of a native package.
func lastPart(u, rev string) string {
	if rev == "" {
		return u
	}
	return rev
}

// withLast returns ep:u-rev with lastPart(u, rev) replaced by s.
func withLast(ep, u, rev, s string) string {
	if rev == "" {
		return ep + s
	}
	return joinDeb(ep, u, s)
}

// prerelease returns the pre-release of v's upstream version, U~rc1-1,
// which dpkg orders before U-anything.
func (g *generator) prerelease(v string) string {
	ep, u, rev := splitDeb(v)
	r := ""
	if rev != "" {
		r = "1"
	}
	return g.pick(v, less, nil, joinDeb(ep, u+"~rc1", r))
}

// release returns v without its last ~ part (0.55.7~deb12u1 → 0.55.7),
// which dpkg orders after v.
func (g *generator) release(v string) string {
	ep, u, rev := splitDeb(v)
	if i := strings.LastIndexByte(rev, '~'); i > 0 {
		rev = rev[:i]
	} else if i := strings.LastIndexByte(u, '~'); i > 0 {
		u = u[:i]
	}
	return g.pick(v, greater, nil, joinDeb(ep, u, rev))
}

// nextEpoch returns an earlier-looking version under the next epoch, which
// orders after v whatever the rest says.
func (g *generator) nextEpoch(v string) string {
	ep, u, rev := splitDeb(v)
	n := 0
	if ep != "" {
		n, _ = strconv.Atoi(strings.TrimSuffix(ep, ":"))
	}
	low := g.below(joinDeb("", u, rev))
	return g.pick(v, greater, nil, strconv.Itoa(n+1)+":"+low)
}

// dropEpoch returns a later-looking version of an epoch-carrying v without
// the epoch, which orders before v.
func (g *generator) dropEpoch(v string) string {
	_, u, rev := splitDeb(v)
	return g.pick(v, less, nil, g.above(joinDeb("", u, rev)))
}

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
