package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/client"
)

func newVulnsCommand(e *env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{Use: "vulns", Short: "Advisories affecting the fleet, and the hosts they affect"}
	f.add(cmd)

	var q client.VulnQuery
	var limit int
	ls := &cobra.Command{Use: "ls", Short: "List advisories with open findings (--all: every imported one)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 {
				return usageErrorf("--limit %d: want at least 1", limit)
			}
			c, err := f.client(e)
			if err != nil {
				return err
			}
			advs, err := collect(limit, func(cursor string, n int) (apiv1.List[patchbay.Advisory], error) {
				q.Cursor, q.Limit = cursor, n
				return c.Vulns(cmd.Context(), q)
			})
			if err != nil {
				return err
			}
			t := &table{header: []string{"ADVISORY", "SEVERITY", "KEV", "EPSS", "HOSTS", "FIX", "CVES", "SUMMARY"}, raw: advs}
			for _, a := range advs {
				t.add(a.ID, a.Severity, kevCell(a.KEV), epssCell(a.EPSS), strconv.Itoa(a.HostsAffected),
					yesNo(a.FixAvailable), cves(a.CVEs), a.Summary)
			}
			return t.write(e.stdout, f.output)
		}}
	ls.Flags().BoolVar(&q.All, "all", false, "every imported advisory, not only those affecting hosts")
	ls.Flags().StringVar(&q.Severity, "severity", "", "at least this severity: critical, high, medium, low, none, unknown (unknown ranks above critical)")
	ls.Flags().BoolVar(&q.KEV, "kev", false, "only advisories of known exploited CVEs (CISA KEV)")
	ls.Flags().Int64Var(&q.HostID, "host", 0, "only advisories affecting this host ID")
	ls.Flags().IntVar(&limit, "limit", 1000, "at most this many rows")

	show := &cobra.Command{Use: "show ID", Short: "An advisory (or every advisory of a CVE) with each affected host, installed and fixed versions, and why",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			ds, err := c.Vuln(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if f.output == outputJSON {
				return (&table{raw: ds}).write(e.stdout, outputJSON)
			}
			t := &table{header: []string{"ADVISORY", "HOST ID", "HOSTNAME", "PACKAGE", "INSTALLED", "FIXED", "COMPARED", "WHY"}, raw: ds}
			for _, d := range ds {
				if f.output == outputTable {
					fmt.Fprintf(e.stdout, "%s  %s  severity %s (%s)  known exploited %s  EPSS %s  hosts %d\n", d.ID, d.Summary, d.Severity, d.SeverityWhy,
						yesNo(d.KEV), epssCell(d.EPSS), d.HostsAffected)
					if len(d.CVEs) > 0 {
						fmt.Fprintf(e.stdout, "  CVEs: %s\n", strings.Join(d.CVEs, " "))
					}
				}
				for _, fd := range d.Findings {
					t.add(d.ID, strconv.FormatInt(fd.HostID, 10), fd.Hostname, findingPackage(fd), fd.Package.Version,
						dash(strings.Join(fd.Fixed, " ")), fd.Matched, strings.Join(fd.Why, "; "))
				}
			}
			if f.output == outputTable {
				fmt.Fprintln(e.stdout)
			}
			return t.write(e.stdout, f.output)
		}}
	cmd.AddCommand(ls, show)
	return cmd
}

func newFindingsCommand(e *env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{Use: "findings", Short: "Findings: host × package × advisory, with their lifecycle"}
	f.add(cmd)
	var q client.FindingQuery
	var limit int
	ls := &cobra.Command{Use: "ls", Short: "List findings (open ones unless --status says otherwise)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 {
				return usageErrorf("--limit %d: want at least 1", limit)
			}
			for _, s := range q.Status {
				switch patchbay.FindingStatus(s) {
				case patchbay.FindingOpen, patchbay.FindingFixed, patchbay.FindingWithdrawn:
				default:
					return usageErrorf("--status %q: want open, fixed or withdrawn", s)
				}
			}
			if q.HostID == 0 && q.Advisory == "" {
				return usageErrorf("give --host ID or --advisory ID (or both)")
			}
			c, err := f.client(e)
			if err != nil {
				return err
			}
			// Large pages: the server derives a host's or an advisory's
			// findings whole for each page.
			fs := []patchbay.Finding{}
			for len(fs) < limit {
				q.Limit = min(limit-len(fs), 100_000)
				l, err := c.Findings(cmd.Context(), q)
				if err != nil {
					return err
				}
				fs = append(fs, l.Items...)
				if l.NextCursor == "" {
					break
				}
				q.Cursor = l.NextCursor
			}
			t := &table{header: []string{"HOST", "PACKAGE", "INSTALLED", "ADVISORY", "SEVERITY", "KEV", "FIXED", "STATUS", "SINCE"}, raw: fs}
			for _, fd := range fs {
				since := when(&fd.FirstSeen)
				if fd.FixedAt != nil {
					since = when(fd.FixedAt)
				}
				t.add(fd.Hostname, findingPackage(fd), fd.Package.Version, fd.Advisory, fd.Severity,
					kevCell(fd.KEV), dash(strings.Join(fd.Fixed, " ")), string(fd.Status), since)
			}
			return t.write(e.stdout, f.output)
		}}
	ls.Flags().Int64Var(&q.HostID, "host", 0, "only this host ID")
	ls.Flags().StringVar(&q.Advisory, "advisory", "", "only this advisory id")
	ls.Flags().StringSliceVar(&q.Status, "status", nil, "open, fixed, withdrawn (repeatable; default open)")
	ls.Flags().IntVar(&limit, "limit", 1_000_000, "at most this many rows")
	cmd.AddCommand(ls)
	return cmd
}

// findingPackage names a finding's package; a Go module with its binary.
func findingPackage(f patchbay.Finding) string {
	if f.Package.Ecosystem == "go" && f.Package.SourceName != "" {
		return f.Package.Name + " (" + f.Package.SourceName + ")"
	}
	if f.Package.Arch != "" {
		return f.Package.Name + ":" + f.Package.Arch
	}
	return f.Package.Name
}

func kevCell(kev bool) string {
	if kev {
		return "KEV"
	}
	return "-"
}

func epssCell(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'f', 3, 64)
}

func cves(ids []string) string {
	if len(ids) > 3 {
		return strings.Join(ids[:3], " ") + fmt.Sprintf(" +%d", len(ids)-3)
	}
	return dash(strings.Join(ids, " "))
}
