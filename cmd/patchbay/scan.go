package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay/internal/agent"
	"github.com/patchbay/patchbay/internal/facts"
	"github.com/patchbay/patchbay/internal/match"
)

func newScanCommand(e *env) *cobra.Command {
	var root, feedPath, output, platform string
	cmd := &cobra.Command{
		Use:   "scan --feed PATH",
		Short: "Match this host's installed packages against a local advisory feed (no server)",
		Long: `Read the package databases under --root and match them against OSV records
from --feed: a .json file, a directory of them, or a .zip such as osv.dev's
per-ecosystem all.zip. Debian, Ubuntu and Alpine advisories are matched by
source package. Prints one line per affected package and advisory; records
that cannot be used are reported, never skipped silently.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if feedPath == "" {
				return usageErrorf("--feed is required: an OSV .json file, a directory of them, or a .zip")
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
			recs, problems, err := match.LoadOSV(feedPath)
			if err != nil {
				return err
			}
			for _, pr := range problems {
				fmt.Fprintf(e.stderr, "scan: skipped %s\n", pr.Error())
			}
			pkgs, srcErrs := agent.ReadPackages(ctx, root)
			for _, se := range srcErrs {
				fmt.Fprintf(e.stderr, "scan: %s: %s\n", se.Source, se.Message)
			}
			findings, errs := match.NewIndex(recs).Match(p, pkgs)
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
			fmt.Fprintf(e.stderr, "scan: %s, %d packages, %d advisories (%d files skipped): %d findings\n",
				p, len(pkgs), len(recs), len(problems), len(findings))
			if len(srcErrs) > 0 {
				return fmt.Errorf("%d package databases could not be read: the scan is incomplete", len(srcErrs))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&root, "root", "/", "root directory whose package databases to read")
	cmd.Flags().StringVar(&feedPath, "feed", "", "OSV records: a .json file, a directory, or a .zip")
	cmd.Flags().StringVar(&platform, "platform", "", "OSV ecosystem of the packages, such as Debian:12 (default: from os-release)")
	cmd.Flags().StringVarP(&output, "output", "o", outputTable, "table, json or csv")
	return cmd
}
