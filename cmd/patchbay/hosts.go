package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/client"
)

func newHostsCommand(e *env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{Use: "hosts", Short: "List, inspect and manage enrolled hosts"}
	f.add(cmd)

	var q client.HostQuery
	var limit int
	var reboot string
	ls := &cobra.Command{Use: "ls", Short: "List hosts", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 {
				return usageErrorf("--limit %d: want at least 1", limit)
			}
			if reboot != "" {
				b, err := strconv.ParseBool(reboot)
				if err != nil {
					return usageErrorf("--reboot-required %q: want true or false", reboot)
				}
				q.RebootRequired = &b
			}
			c, err := f.client(e)
			if err != nil {
				return err
			}
			hosts, err := collect(limit, func(cursor string, n int) (apiv1.List[patchbay.Host], error) {
				q.Cursor, q.Limit = cursor, n
				return c.Hosts(cmd.Context(), q)
			})
			if err != nil {
				return err
			}
			t := &table{header: []string{"ID", "HOSTNAME", "OS", "LABELS", "GROUPS", "OWNER", "CRIT", "REBOOT", "LAST SEEN", "NOTE"}, raw: hosts}
			for _, h := range hosts {
				t.add(strconv.FormatInt(h.ID, 10), h.Hostname, strings.TrimSpace(h.OSName+" "+h.OSRelease),
					strings.Join(h.Labels, ","), strings.Join(h.Groups, ","), h.Owner, string(h.Criticality),
					yesNo(h.RebootRequired), when(h.LastSeenAt), hostNote(h))
			}
			return t.write(e.stdout, f.output)
		}}
	ls.Flags().StringVar(&q.Label, "label", "", "only hosts with this label")
	ls.Flags().StringVar(&q.Group, "group", "", "only hosts in this group")
	ls.Flags().StringVar(&q.Owner, "owner", "", "only hosts of this owner")
	ls.Flags().StringVar(&q.OS, "os", "", "only this OS: name (debian), release (12), both (\"debian 12\") or family (rhel)")
	ls.Flags().StringVar(&q.Stale, "stale", "", "only hosts not seen for this long (e.g. 24h)")
	ls.Flags().StringVar(&q.Online, "online", "", "only hosts seen within this long (e.g. 5m)")
	ls.Flags().StringVar(&reboot, "reboot-required", "", "true or false")
	ls.Flags().BoolVar(&q.Duplicates, "duplicates", false, "only hosts flagged as possible duplicates")
	ls.Flags().BoolVar(&q.Retired, "retired", false, "retired hosts instead of active ones")
	ls.Flags().IntVar(&limit, "limit", 1000, "at most this many hosts")

	var packages bool
	show := hostCommand(&f, e, "show ID", "Show a host: facts, inventory, labels, the policy governing it (--packages: its packages and updates)", 1, func(cmd *cobra.Command, c *client.Client, id int64, args []string) error {
		h, err := c.Host(cmd.Context(), id)
		if err != nil {
			return err
		}
		if packages {
			p, err := c.HostPackages(cmd.Context(), id)
			if err != nil {
				return err
			}
			t := &table{header: []string{"NAME", "VERSION", "ARCH", "SOURCE", "SOURCE VERSION", "UPDATE TO", "ARCHIVE"}, raw: p}
			upd := map[string]string{}
			arch := map[string]string{}
			for _, u := range p.Updates {
				upd[u.Name+"/"+u.Arch], arch[u.Name+"/"+u.Arch] = u.ToVersion, u.Archive
			}
			for _, pk := range p.Packages {
				src, srcVer := pk.Source()
				k := pk.Name + "/" + pk.Arch
				t.add(pk.Name, pk.Version, pk.Arch, src, srcVer, dash(upd[k]), dash(arch[k]))
			}
			return t.write(e.stdout, f.output)
		}
		if f.output != outputTable {
			return (&table{header: []string{"ID", "HOSTNAME"}, rows: [][]string{{strconv.FormatInt(h.ID, 10), h.Hostname}}, raw: h}).write(e.stdout, f.output)
		}
		gov, err := c.HostPolicy(cmd.Context(), id)
		if err != nil {
			return err
		}
		return printHost(e, h, gov)
	})
	show.Flags().BoolVar(&packages, "packages", false, "list its packages and available updates")

	var labels, groups []string
	var addLabels, rmLabels []string
	var owner, crit string
	label := hostCommand(&f, e, "label ID", "Change a host's labels, groups, owner or criticality", 1, func(cmd *cobra.Command, c *client.Client, id int64, args []string) error {
		var req apiv1.UpdateHostRequest
		if cmd.Flags().Changed("labels") {
			req.Labels = &labels
		}
		if cmd.Flags().Changed("groups") {
			req.Groups = &groups
		}
		if len(addLabels) > 0 || len(rmLabels) > 0 {
			if req.Labels != nil {
				return usageErrorf("give --labels or --add/--remove, not both")
			}
			h, err := c.Host(cmd.Context(), id)
			if err != nil {
				return err
			}
			next := []string{}
			for _, l := range append(h.Labels, addLabels...) {
				if !contains(rmLabels, l) && !contains(next, l) {
					next = append(next, l)
				}
			}
			req.Labels = &next
		}
		if cmd.Flags().Changed("owner") {
			req.Owner = &owner
		}
		if cmd.Flags().Changed("criticality") {
			cr, err := patchbay.ParseCriticality("--criticality", crit)
			if err != nil {
				return usageErrorf("%v", err)
			}
			req.Criticality = &cr
		}
		h, err := c.UpdateHost(cmd.Context(), id, req)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "host %d %s: labels [%s], groups [%s], owner %q, criticality %s\n", h.ID, h.Hostname,
			strings.Join(h.Labels, ","), strings.Join(h.Groups, ","), h.Owner, h.Criticality)
		return nil
	})
	label.Flags().StringSliceVar(&labels, "labels", nil, "set the labels (comma-separated; empty clears)")
	label.Flags().StringSliceVar(&addLabels, "add", nil, "add labels")
	label.Flags().StringSliceVar(&rmLabels, "remove", nil, "remove labels")
	label.Flags().StringSliceVar(&groups, "groups", nil, "set the groups (comma-separated; empty clears)")
	label.Flags().StringVar(&owner, "owner", "", "set the owner")
	label.Flags().StringVar(&crit, "criticality", "", "low, medium, high or critical")

	retire := hostCommand(&f, e, "retire ID", "Retire a host: its token stops working, its history stays", 1, func(cmd *cobra.Command, c *client.Client, id int64, args []string) error {
		h, err := c.RetireHost(cmd.Context(), id)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "retired host %d %s\n", h.ID, h.Hostname)
		return nil
	})

	resolve := hostCommand(&f, e, "resolve-duplicate ID merge|keep", "Settle a possible duplicate: merge it into its original, or keep both", 2, func(cmd *cobra.Command, c *client.Client, id int64, args []string) error {
		if args[1] != "merge" && args[1] != "keep" {
			return usageErrorf("action %q: want merge or keep", args[1])
		}
		h, err := c.ResolveDuplicate(cmd.Context(), id, args[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "host %d %s stands\n", h.ID, h.Hostname)
		return nil
	})
	cmd.AddCommand(ls, show, label, retire, resolve)
	return cmd
}

// hostCommand is a subcommand acting on the host whose ID is its first
// argument: it parses the ID and builds the client, then calls run.
func hostCommand(f *clientFlags, e *env, use, short string, nargs int,
	run func(cmd *cobra.Command, c *client.Client, id int64, args []string) error) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(nargs),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := hostID(args[0])
			if err != nil {
				return err
			}
			c, err := f.client(e)
			if err != nil {
				return err
			}
			return run(cmd, c, id, args)
		}}
}

func hostID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErrorf("host ID %q: want a positive integer (see hosts ls)", s)
	}
	return id, nil
}

func hostNote(h patchbay.Host) string {
	switch {
	case h.PossibleDuplicateOf != nil:
		return fmt.Sprintf("possible duplicate of %d", *h.PossibleDuplicateOf)
	case h.MergedInto != nil:
		return fmt.Sprintf("merged into %d", *h.MergedInto)
	case h.RetiredAt != nil:
		return "retired"
	}
	return ""
}

func printHost(e *env, h patchbay.Host, gov patchbay.Governance) error {
	w := e.stdout
	fmt.Fprintf(w, "host %d  %s\n", h.ID, h.Hostname)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "  %-16s %s\n", k+":", v)
		}
	}
	if h.OSName != "" {
		row("os", fmt.Sprintf("%s %s (%s), family %s", h.OSName, h.OSRelease, h.OSCodename, h.OSFamily))
	}
	row("kernel", strings.TrimSpace(h.Kernel+" "+h.Arch))
	row("machine id", h.MachineID)
	row("labels", strings.Join(h.Labels, ", "))
	row("groups", strings.Join(h.Groups, ", "))
	row("owner", h.Owner)
	row("criticality", string(h.Criticality))
	row("policy", governanceText(gov))
	if len(gov.Also) > 0 {
		row("also selected by", strings.Join(gov.Also, ", "))
	}
	row("reboot required", yesNo(h.RebootRequired))
	row("time zone", h.TimeZone)
	row("agent", h.AgentVersion)
	row("enrolled", when(&h.CreatedAt))
	row("last seen", when(h.LastSeenAt))
	row("boot time", when(h.BootTime))
	row("note", hostNote(h))
	if inv := h.Inventory; inv != nil {
		row("inventory", fmt.Sprintf("%d packages, %d updates, received %s", inv.Packages, inv.Updates, when(&inv.ReceivedAt)))
		if len(inv.Errors) > 0 {
			var errs []struct{ Source, Message string }
			json.Unmarshal(inv.Errors, &errs)
			for _, se := range errs {
				row("source error", se.Source+": "+se.Message)
			}
		}
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
