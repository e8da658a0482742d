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

// updateClasses are the classes of available updates, most urgent first.
var updateClasses = []string{"critical", "security", "bugfix", "feature"}

func newUpdatesCommand(e *env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{Use: "updates", Short: "The work queue: every host's available updates, by risk"}
	f.add(cmd)

	var q client.UpdateQuery
	var limit int
	ls := &cobra.Command{Use: "ls", Short: "List available updates, highest risk first (--sort host: by host)", Args: cobra.NoArgs,
		Long: `List the work queue: each host's available updates with their class, risk
score (0 to 1000, docs/risk.md) and the advisories they fix. Findings an
active exception covers count for nothing. When more entries follow than
--limit shows, the cursor of the next page is printed on standard error.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 {
				return usageErrorf("--limit %d: want at least 1", limit)
			}
			for _, cl := range q.Classes {
				if !contains(updateClasses, cl) {
					return usageErrorf("--class %q: want critical, security, bugfix or feature", cl)
				}
			}
			if q.Sort != "risk" && q.Sort != "host" {
				return usageErrorf("--sort %q: want risk or host", q.Sort)
			}
			c, err := f.client(e)
			if err != nil {
				return err
			}
			ups := []patchbay.HostUpdate{}
			next := q.Cursor
			for len(ups) < limit {
				q.Cursor, q.Limit = next, min(1000, limit-len(ups))
				page, err := c.Updates(cmd.Context(), q)
				if err != nil {
					return err
				}
				ups, next = append(ups, page.Items...), page.NextCursor
				if next == "" {
					break
				}
			}
			t := &table{header: []string{"ID", "HOST", "PACKAGE", "FROM→TO", "CLASS", "RISK", "KEV", "FIXES", "ADVISORIES"}, raw: ups}
			for _, u := range ups {
				t.add(u.ID, u.Hostname, updatePackage(u), u.FromVersion+" → "+u.ToVersion, u.Class, strconv.Itoa(u.Risk), kevCell(u.KEV),
					strconv.Itoa(len(u.Fixes)), cves(u.Fixes))
			}
			if err := t.write(e.stdout, f.output); err != nil {
				return err
			}
			if next != "" {
				fmt.Fprintf(e.stderr, "more: --cursor %s\n", next)
			}
			return nil
		}}
	ls.Flags().StringSliceVar(&q.Classes, "class", nil, "only updates of this class: critical, security, bugfix, feature (repeatable)")
	ls.Flags().Int64Var(&q.HostID, "host", 0, "only this host ID")
	ls.Flags().StringVar(&q.Owner, "owner", "", "only hosts of this owner")
	ls.Flags().StringVar(&q.Sort, "sort", "risk", "risk (highest first) or host (by host ID)")
	ls.Flags().IntVar(&limit, "limit", 100, "at most this many rows")
	ls.Flags().StringVar(&q.Cursor, "cursor", "", "start after this cursor, which a previous listing printed")

	explain := &cobra.Command{Use: "explain ID", Short: "Why an update is in its class, every part of its risk score, and each finding it fixes",
		Long: `Explain a work queue entry (ID as updates ls shows it, HOST-UPDATE): its
class and why, its risk score part by part, each finding it fixes with the
finding's own score, severity, first sighting and SLA due date, and the
policy that governs the host. The numbers are recomputed as of now.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			x, err := c.ExplainUpdate(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if f.output == outputTable {
				printExplanation(e, x)
				return nil
			}
			t := &table{header: []string{"ADVISORY", "PART", "POINTS", "WHY"}, raw: x}
			for _, p := range x.Score.Parts {
				t.add("", p.Name, signed(p.Value), p.Why)
			}
			for _, fs := range x.Findings {
				for _, p := range fs.Score.Parts {
					t.add(fs.Advisory, p.Name, signed(p.Value), p.Why)
				}
			}
			return t.write(e.stdout, f.output)
		}}
	cmd.AddCommand(ls, explain)
	return cmd
}

// updatePackage names an update's package, with its architecture.
func updatePackage(u patchbay.HostUpdate) string {
	if u.Arch != "" {
		return u.Name + ":" + u.Arch
	}
	return u.Name
}

func signed(n int) string {
	if n < 0 {
		return strconv.Itoa(n)
	}
	return "+" + strconv.Itoa(n)
}

func printExplanation(e *env, x apiv1.UpdateExplanation) {
	w, u := e.stdout, x.Update
	owner := ""
	if u.Owner != "" {
		owner = ", owner " + u.Owner
	}
	fmt.Fprintf(w, "update %s: %s %s → %s on %s (host %d%s)\n", u.ID, updatePackage(u), u.FromVersion, u.ToVersion, u.Hostname, u.HostID, owner)
	row := func(k, v string) { fmt.Fprintf(w, "  %-16s %s\n", k+":", v) }
	if u.Archive != "" || u.Origin != "" {
		row("from", strings.TrimSpace(u.Origin+" "+u.Archive))
	}
	row("class", u.Class+": "+u.ClassReason)
	row("risk", strconv.Itoa(x.Score.Value))
	for _, p := range x.Score.Parts {
		fmt.Fprintf(w, "  %-16s %s %s: %s\n", "", signed(p.Value), p.Name, p.Why)
	}
	row("known exploited", yesNo(u.KEV))
	row("first offered", when(&u.FirstSeen))
	row("policy", governanceText(x.Policy))
	if len(x.Policy.Also) > 0 {
		row("also selected by", strings.Join(x.Policy.Also, ", "))
	}
	if len(u.Excepted) > 0 {
		row("excepted", strings.Join(u.Excepted, ", ")+" (an exception covers them; they count for nothing)")
	}
	if len(x.Findings) == 0 {
		fmt.Fprintln(w, "\nit fixes no open finding")
		return
	}
	fmt.Fprintf(w, "\nfindings it fixes (%d):\n", len(x.Findings))
	for _, fs := range x.Findings {
		note := ""
		if fs.Excepted {
			note = ", excepted"
		}
		fmt.Fprintf(w, "  %s  %s  severity %s, score %d, first seen %s, due %s%s\n", fs.Advisory, fs.Package, fs.Severity, fs.Score.Value,
			when(&fs.FirstSeen), when(&fs.Due), note)
		for _, p := range fs.Score.Parts {
			fmt.Fprintf(w, "      %s %s: %s\n", signed(p.Value), p.Name, p.Why)
		}
	}
}

// governanceText says which policy governs a host, and why: "NAME vN —
// WHY", or "none — WHY".
func governanceText(g patchbay.Governance) string {
	if g.Policy == "" {
		return "none — " + g.Why
	}
	return fmt.Sprintf("%s v%d — %s", g.Policy, g.Version, g.Why)
}

func newSLACommand(e *env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{Use: "sla", Short: "Findings against their SLA due dates, by owner, most overdue first", Args: cobra.NoArgs,
		Long: `Count each owner's open findings against their due dates: a finding is due
the SLA days of the policy governing its host (docs/policies.md) after it
was first seen; due soon is within 7 days. Excepted findings are counted
apart and are never overdue. Hosts without an owner are "(none)".`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			rep, err := c.SLA(cmd.Context())
			if err != nil {
				return err
			}
			t := &table{header: []string{"OWNER", "HOSTS", "OPEN", "OVERDUE", "DUE-SOON", "EXCEPTED", "OLDEST-DUE"}, raw: rep}
			for _, r := range rep {
				owner := r.Owner
				if owner == "" {
					owner = "(none)"
				}
				t.add(owner, strconv.Itoa(r.Hosts), strconv.Itoa(r.Open), strconv.Itoa(r.Overdue), strconv.Itoa(r.DueSoon),
					strconv.Itoa(r.Excepted), when(r.OldestDue))
			}
			return t.write(e.stdout, f.output)
		}}
	f.add(cmd)
	return cmd
}
