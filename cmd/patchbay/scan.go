package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay/internal/agent"
	"github.com/patchbay/patchbay/internal/facts"
	"github.com/patchbay/patchbay/internal/feed"
	"github.com/patchbay/patchbay/internal/match"
	"github.com/patchbay/patchbay/internal/osv"
)

func newScanCommand(e *env) *cobra.Command {
	var root, output, platform string
	var feeds []string
	cmd := &cobra.Command{
		Use:   "scan --feed PATH [--feed PATH…]",
		Short: "Match this host's installed packages against a local advisory feed (no server)",
		Long: `Read the package databases under --root and match them against OSV records
from each --feed: a .json file, a directory of them, a .zip such as
osv.dev's per-ecosystem all.zip, or a Debian security tracker list
(data/DSA/list, data/DLA/list, data/DTSA/list of the tracker's repository).
Debian, Ubuntu and Alpine advisories are matched by
source package. Prints one line per affected package and advisory; records
that cannot be used are reported, never skipped silently.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if len(feeds) == 0 {
				return usageErrorf("--feed is required: an OSV .json file, a directory of them, a .zip, or a tracker list")
			}
			ctx := cmd.Context()
			var p match.Platform
			if platform != "" {
				name, release, ok := strings.Cut(platform, ":")
				if !ok || name == "" || release == "" {
					return usageErrorf("--platform %q: want NAME:RELEASE, such as Debian:12", platform)
				}
				p = match.Platform{Name: name, Release: release}
			} else {
				f, _ := facts.Collect(ctx, facts.Options{Root: root})
				var ok bool
				if p, ok = match.PlatformOf(f.OSRelease); !ok {
					return usageErrorf("cannot tell the platform of %s from its os-release (ID %q, VERSION_ID %q): give --platform, such as Debian:12",
						root, f.OSRelease["ID"], f.OSRelease["VERSION_ID"])
				}
			}
			var recs []*osv.Record
			skipped := 0
			for _, path := range feeds {
				rs, problems, err := loadFeed(path)
				if err != nil {
					return err
				}
				for _, pr := range problems {
					fmt.Fprintf(e.stderr, "scan: skipped %s\n", pr)
				}
				recs, skipped = append(recs, rs...), skipped+len(problems)
			}
			pkgs, srcErrs := agent.ReadPackages(ctx, root)
			for _, se := range srcErrs {
				fmt.Fprintf(e.stderr, "scan: %s: %s\n", se.Source, se.Message)
			}
			findings, errs := match.NewIndex(recs).Match(p, pkgs, match.Options{})
			for _, err := range errs {
				fmt.Fprintf(e.stderr, "scan: could not evaluate %v\n", err)
			}
			t := &table{header: []string{"PACKAGE", "VERSION", "ARCH", "SOURCE", "ADVISORY", "ALIASES", "FIXED"}, raw: findings}
			for _, f := range findings {
				src, _ := f.Package.Source()
				t.add(f.Package.Name, f.Package.Version, f.Package.Arch, src, f.Advisory, strings.Join(f.Aliases, " "), dash(strings.Join(f.Fixed, " ")))
			}
			if err := t.write(e.stdout, output); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "scan: %s, %d packages, %d advisories (%d skipped): %d findings\n",
				p, len(pkgs), len(recs), skipped, len(findings))
			if len(srcErrs) > 0 {
				return fmt.Errorf("%d package databases could not be read: the scan is incomplete", len(srcErrs))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&root, "root", "/", "root directory whose package databases to read")
	cmd.Flags().StringSliceVar(&feeds, "feed", nil, "advisories: an OSV .json file, a directory, a .zip, or a Debian tracker list (repeatable)")
	cmd.Flags().StringVar(&platform, "platform", "", "OSV ecosystem of the packages, such as Debian:12 (default: from os-release)")
	cmd.Flags().StringVarP(&output, "output", "o", outputTable, "table, json or csv")
	return cmd
}

// trackerHeader matches the first line of a Debian security tracker list.
var trackerHeader = regexp.MustCompile(`^\[[^\]]+\] (DSA|DLA|DTSA)-`)

// loadFeed reads one --feed: a Debian tracker list when its first line is
// a tracker header, else OSV records (file, directory or zip).
func loadFeed(path string) ([]*osv.Record, []fmt.Stringer, error) {
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && !strings.HasSuffix(path, ".json") && !strings.HasSuffix(path, ".zip") {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		br := bufio.NewReader(f)
		first, _ := br.Peek(256)
		if m := trackerHeader.FindSubmatch(first); m != nil {
			recs, problems, err := feed.ParseTrackerList(br, path, feed.TrackerKind(m[1]))
			if err != nil {
				return nil, nil, fmt.Errorf("tracker list %s: %w", path, err)
			}
			out := make([]fmt.Stringer, len(problems))
			for i, p := range problems {
				out[i] = p
			}
			return recs, out, nil
		}
	}
	recs, problems, err := match.LoadOSV(path)
	out := make([]fmt.Stringer, len(problems))
	for i, p := range problems {
		out[i] = p
	}
	return recs, out, err
}
