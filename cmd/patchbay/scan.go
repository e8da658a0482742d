package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/agent"
	"github.com/patchbay/patchbay/internal/facts"
	"github.com/patchbay/patchbay/internal/feed"
	"github.com/patchbay/patchbay/internal/match"
	"github.com/patchbay/patchbay/internal/osv"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/scancache"
	"github.com/patchbay/patchbay/internal/severity"
)

// outputTSV is scan's own format: one line per finding for comparing
// scanners, "binary<TAB>binary version<TAB>advisory", sorted, no header.
const outputTSV = "tsv"

type scanOptions struct {
	root, dpkgStatus, osRelease string
	platform, runningKernel     string
	feeds                       []string
	cacheDir                    string
	output, failOn              string
	cpuProfile                  string
}

func newScanCommand(e *env) *cobra.Command {
	var o scanOptions
	cmd := &cobra.Command{
		Use:   "scan --feed PATH [--feed PATH…]",
		Short: "Match this host's installed packages against a local advisory feed (no server)",
		Long: `Read the package databases under --root, or the dpkg status file given with
--dpkg-status and --os-release, and match them against OSV records from each
--feed: a .json file, a directory of them, a .zip such as osv.dev's
per-ecosystem all.zip, or a Debian security tracker list (data/DSA/list,
data/DLA/list, data/DTSA/list of the tracker's repository). Debian, Ubuntu
and Alpine advisories are matched by source package. Prints one line per
affected package and advisory; records that cannot be used are reported,
never skipped silently.

A feed is parsed once: an index of it is kept under --cache-dir, and the
next scan against the same feed reads only the records naming the host's
packages from it. The index is rebuilt when a file of the feed is added,
removed or changed (its size, mode, times or inode), or when the index is
damaged; a feed changed in the last 2 seconds is not cached until it
settles. --cache-dir "" parses every time.

Exit status: 0, or 1 when --fail-on finds findings at or above its
severity or a package database could not be read, 2 for a usage error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScan(cmd.Context(), e, o, cmd.Flags().Changed("running-kernel"))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.root, "root", "/", "root directory whose package databases to read")
	fl.StringVar(&o.dpkgStatus, "dpkg-status", "", "read this dpkg status file instead of a root's databases (needs --os-release)")
	fl.StringVar(&o.osRelease, "os-release", "", "the os-release file of the host whose --dpkg-status is given")
	fl.StringSliceVar(&o.feeds, "feed", nil, "advisories: an OSV .json file, a directory, a .zip, or a Debian tracker list (repeatable)")
	fl.StringVar(&o.platform, "platform", "", "OSV ecosystem of the packages, such as Debian:12 (default: from os-release)")
	fl.StringVar(&o.runningKernel, "running-kernel", "", "release of the running kernel (uname -r): of the kernel images installed only it is matched (default: this machine's when --root is /, else none, matching every image)")
	fl.StringVar(&o.cacheDir, "cache-dir", defaultScanCacheDir(e.getenv), `directory of the feeds' indexes; "" to parse every feed every time`)
	fl.StringVarP(&o.output, "output", "o", outputTable, "table, json, csv, or tsv: binary package<TAB>installed version<TAB>advisory, one line per finding, sorted bytewise, no header (a package installed for two architectures is one line)")
	fl.StringVar(&o.failOn, "fail-on", "", "exit 1 when a finding is at or above this severity: critical, high, medium, low, or none (any finding). A finding of unknown severity counts at every threshold: unrated is never taken as low. unknown: only unrated findings")
	fl.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the scan to this file")
	return cmd
}

// scanHost is what a scan reads of the host.
type scanHost struct {
	platform match.Platform
	pkgs     []patchbay.Package
	errs     []protocol.SourceError // databases that could not be read
	kernel   string                 // the running kernel, when the host is this machine
}

func runScan(ctx context.Context, e *env, o scanOptions, kernelSet bool) error {
	switch o.output {
	case outputTable, outputJSON, outputCSV, outputTSV:
	default:
		return usageErrorf("--output %q: want table, json, csv or tsv", o.output)
	}
	var failOn severity.Level
	if o.failOn != "" {
		var err error
		if failOn, err = severity.ParseLevel(o.failOn); err != nil {
			return usageErrorf("--fail-on: %v", err)
		}
	}
	if len(o.feeds) == 0 {
		return usageErrorf("--feed is required: an OSV .json file, a directory of them, a .zip, or a tracker list")
	}
	if (o.dpkgStatus == "") != (o.osRelease == "") {
		return usageErrorf("--dpkg-status and --os-release go together: the status file says what is installed, os-release which advisories apply")
	}
	if o.dpkgStatus != "" && filepath.Clean(o.root) != "/" {
		return usageErrorf("--dpkg-status and --root %s: give a root directory or a status file, not both", o.root)
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return usageErrorf("--cpuprofile: %v", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	// Recognising a cached feed means stating each of its files; that runs
	// while the host is read.
	cache := &scancache.Cache{Dir: o.cacheDir, Salt: scanCacheSalt()}
	lookups := make([]*scancache.Lookup, len(o.feeds))
	for i, path := range o.feeds {
		lookups[i] = cache.Begin(path)
		defer lookups[i].Wait()
	}

	var host scanHost
	var err error
	if o.dpkgStatus != "" {
		host, err = readStatusFile(ctx, e, o)
	} else {
		host, err = readRoot(ctx, o)
	}
	if err != nil {
		return err
	}
	for _, se := range host.errs {
		fmt.Fprintf(e.stderr, "scan: %s: %s\n", se.Source, se.Message)
	}
	opt := match.Options{RunningKernel: host.kernel}
	if kernelSet {
		opt.RunningKernel = o.runningKernel
	}

	var keys []match.Key
	for _, p := range host.pkgs {
		if k, ok := match.KeyOf(host.platform, p); ok {
			keys = append(keys, k)
		}
	}
	var recs []*osv.Record
	count, skipped, cached := 0, 0, 0
	for i, path := range o.feeds {
		f, err := lookups[i].Load(keys, feedParser(path))
		if err != nil {
			return err
		}
		if f.CacheErr != nil {
			fmt.Fprintf(e.stderr, "scan: cache: %v\n", f.CacheErr)
		}
		for _, pr := range f.Problems {
			fmt.Fprintf(e.stderr, "scan: skipped %s\n", pr)
		}
		recs = append(recs, f.Records...)
		count, skipped = count+f.Count, skipped+len(f.Problems)
		if f.FromCache {
			cached += f.Count
		}
	}

	findings, errs := match.NewIndex(recs).Match(host.platform, host.pkgs, opt)
	for _, err := range errs {
		fmt.Fprintf(e.stderr, "scan: could not evaluate %v\n", err)
	}
	if err := writeFindings(e.stdout, o.output, findings); err != nil {
		return err
	}
	fromCache := ""
	if cached > 0 {
		fromCache = fmt.Sprintf(", %d from the scan cache", cached)
	}
	fmt.Fprintf(e.stderr, "scan: %s, %d packages, %d advisories (%d skipped%s): %d findings\n",
		host.platform, len(host.pkgs), count, skipped, fromCache, len(findings))

	var fails []string
	if failOn != "" {
		if msg := failing(findings, failOn); msg != "" {
			fails = append(fails, msg)
		}
	}
	if len(host.errs) > 0 {
		fails = append(fails, fmt.Sprintf("%d package databases could not be read: the scan is incomplete", len(host.errs)))
	}
	if len(fails) > 0 {
		return fmt.Errorf("%s", strings.Join(fails, "; "))
	}
	return nil
}

// readRoot reads the host under o.root: its package databases, and its
// platform from its os-release unless --platform gives it. The running
// kernel is known only when the root is this machine.
func readRoot(ctx context.Context, o scanOptions) (scanHost, error) {
	f, _ := facts.Collect(ctx, facts.Options{Root: o.root})
	var h scanHost
	if abs, err := filepath.Abs(o.root); err == nil && abs == "/" {
		h.kernel = f.Kernel
	}
	var err error
	if h.platform, err = platformOf(o.platform, f.OSRelease, o.root); err != nil {
		return h, err
	}
	h.pkgs, h.errs = agent.ReadPackages(ctx, o.root)
	return h, nil
}

// readStatusFile reads the host given as a dpkg status file and an
// os-release file.
func readStatusFile(ctx context.Context, e *env, o scanOptions) (scanHost, error) {
	var h scanHost
	data, err := os.ReadFile(o.osRelease)
	if err != nil {
		return h, fmt.Errorf("--os-release: %w", err)
	}
	fields, errs := facts.ParseOSRelease(data)
	for _, err := range errs {
		fmt.Fprintf(e.stderr, "scan: %s: %v\n", o.osRelease, err)
	}
	if h.platform, err = platformOf(o.platform, fields, o.osRelease); err != nil {
		return h, err
	}
	if fi, err := os.Stat(o.dpkgStatus); err != nil {
		return h, fmt.Errorf("--dpkg-status: %w", err)
	} else if !fi.Mode().IsRegular() {
		return h, fmt.Errorf("--dpkg-status %s: not a regular file", o.dpkgStatus)
	}
	h.pkgs, h.errs = agent.ReadDpkgStatusFile(ctx, o.dpkgStatus)
	return h, nil
}

// platformOf is --platform when given, else what os-release says.
func platformOf(flag string, osRelease map[string]string, from string) (match.Platform, error) {
	if flag != "" {
		name, release, ok := strings.Cut(flag, ":")
		if !ok || name == "" || release == "" {
			return match.Platform{}, usageErrorf("--platform %q: want NAME:RELEASE, such as Debian:12", flag)
		}
		return match.Platform{Name: name, Release: release}, nil
	}
	p, ok := match.PlatformOf(osRelease)
	if !ok {
		return p, usageErrorf("cannot tell the platform of %s from its os-release (ID %q, VERSION_ID %q): give --platform, such as Debian:12",
			from, osRelease["ID"], osRelease["VERSION_ID"])
	}
	return p, nil
}

// failing says how many findings are at or above level, by severity, or
// "" when none is. Unknown ranks above critical in severity.Compare, so a
// finding nothing rated fails every threshold.
func failing(findings []match.Finding, level severity.Level) string {
	by := map[severity.Level]int{}
	n := 0
	for _, f := range findings {
		if severity.Compare(f.Severity, level) >= 0 {
			by[f.Severity]++
			n++
		}
	}
	if n == 0 {
		return ""
	}
	var parts []string
	for _, l := range []severity.Level{severity.Unknown, severity.Critical, severity.High, severity.Medium, severity.Low, severity.None} {
		if by[l] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", by[l], l))
		}
	}
	noun := "findings"
	if n == 1 {
		noun = "finding"
	}
	return fmt.Sprintf("%d %s at or above %s (--fail-on): %s", n, noun, level, strings.Join(parts, ", "))
}

// writeFindings prints findings as --output says: json the findings whole,
// tsv scan's comparison lines, table and csv one row per finding.
func writeFindings(w io.Writer, format string, findings []match.Finding) error {
	if format == outputTSV {
		lines := make([]string, 0, len(findings))
		for _, f := range findings {
			lines = append(lines, f.Package.Name+"\t"+f.Package.Version+"\t"+f.Advisory+"\n")
		}
		slices.Sort(lines)
		bw := bufio.NewWriter(w)
		for _, l := range slices.Compact(lines) {
			bw.WriteString(l)
		}
		return bw.Flush()
	}
	if findings == nil {
		findings = []match.Finding{} // json: [], not null
	}
	t := &table{header: []string{"PACKAGE", "VERSION", "ARCH", "SOURCE", "ADVISORY", "SEVERITY", "ALIASES", "FIXED"}, raw: findings}
	for _, f := range findings {
		src, _ := f.Package.Source()
		t.add(f.Package.Name, f.Package.Version, f.Package.Arch, src, f.Advisory, string(f.Severity),
			strings.Join(f.Aliases, " "), dash(strings.Join(f.Fixed, " ")))
	}
	return t.write(w, format)
}

// defaultScanCacheDir is os.UserCacheDir()/patchbay/scan, from getenv;
// "" (no cache) when the environment names no cache directory.
func defaultScanCacheDir(getenv func(string) string) string {
	var dir string
	switch runtime.GOOS {
	case "windows":
		dir = getenv("LocalAppData")
	case "darwin", "ios":
		if h := getenv("HOME"); h != "" {
			dir = filepath.Join(h, "Library", "Caches")
		}
	default:
		dir = getenv("XDG_CACHE_HOME")
		if !filepath.IsAbs(dir) {
			dir = ""
			if h := getenv("HOME"); h != "" {
				dir = filepath.Join(h, ".cache")
			}
		}
	}
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "patchbay", "scan")
}

// scanCacheSalt names this build for the scan cache: its version and its
// executable's size and time, so a rebuilt patchbay, whose parsing may
// differ, never reads an index another build wrote.
func scanCacheSalt() string {
	salt := buildVersion()
	if exe, err := os.Executable(); err == nil {
		if fi, err := os.Stat(exe); err == nil {
			salt += fmt.Sprintf(" %s %d %d", exe, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return salt
}

// trackerHeader matches the first line of a Debian security tracker list.
var trackerHeader = regexp.MustCompile(`^\[[^\]]+\] (DSA|DLA|DTSA)-`)

// feedParser parses one --feed: a Debian tracker list when its first line
// is a tracker header, else OSV records (file, directory or zip).
func feedParser(path string) scancache.Parser {
	return func(add func(seq int, rec *osv.Record, problem string)) (int, error) {
		recs, problems, ok, err := readTrackerList(path)
		if err != nil {
			return 0, err
		}
		if ok {
			for i, r := range recs {
				add(i, r, "")
			}
			for i, p := range problems {
				add(len(recs)+i, nil, p.String())
			}
			return len(recs) + len(problems), nil
		}
		return match.EachOSV(path, func(seq int, rec *osv.Record, problem *match.LoadProblem) {
			if problem != nil {
				add(seq, nil, problem.String())
				return
			}
			add(seq, rec, "")
		})
	}
}

// readTrackerList parses path as a tracker list if it is one (ok).
func readTrackerList(path string) (recs []*osv.Record, problems []feed.Problem, ok bool, err error) {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || strings.HasSuffix(path, ".json") || strings.HasSuffix(path, ".zip") {
		return nil, nil, false, nil // EachOSV reports what is wrong with it
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, false, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	first, _ := br.Peek(256)
	m := trackerHeader.FindSubmatch(first)
	if m == nil {
		return nil, nil, false, nil
	}
	recs, problems, err = feed.ParseTrackerList(br, path, feed.TrackerKind(m[1]))
	if err != nil {
		return nil, nil, false, fmt.Errorf("tracker list %s: %w", path, err)
	}
	return recs, problems, true, nil
}
