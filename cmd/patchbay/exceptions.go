package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/client"
)

func newExceptionsCommand(e *env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{Use: "exceptions", Short: "Accepted risk: findings left out of the work queue and SLA until an expiry",
		Long: `An exception accepts the risk of findings: those of an advisory, of a
package, of the hosts of a group, or of a combination (all that are given
must hold). A person requests it with a reason and an expiry; another
person with approval rights approves it, and only then does it count.`}
	f.add(cmd)

	var all bool
	ls := &cobra.Command{Use: "ls", Short: "List the active exceptions (--all: pending, rejected, revoked and expired ones too)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			xs, err := c.Exceptions(cmd.Context(), all)
			if err != nil {
				return err
			}
			return exceptionTable(xs).write(e.stdout, f.output)
		}}
	ls.Flags().BoolVar(&all, "all", false, "every exception, whatever its state")

	var req apiv1.CreateExceptionRequest
	var expires string
	create := &cobra.Command{Use: "create --reason TEXT --expires WHEN [--advisory A] [--package P] [--group G]",
		Short: "Request an exception; it counts once another person approves it", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.Advisory == "" && req.Package == "" && req.Group == "" {
				return usageErrorf("give --advisory, --package or --group (or a combination): what the exception covers")
			}
			if req.Reason == "" || expires == "" {
				return usageErrorf("give --reason TEXT and --expires WHEN: why the risk is accepted, and until when")
			}
			at, err := parseExpiry(expires, time.Now())
			if err != nil {
				return err
			}
			req.ExpiresAt = at
			c, err := f.client(e)
			if err != nil {
				return err
			}
			x, err := c.CreateException(cmd.Context(), req)
			if err != nil {
				return err
			}
			if f.output != outputTable {
				return exceptionTable([]patchbay.Exception{x}).write(e.stdout, f.output)
			}
			fmt.Fprintf(e.stdout, "requested exception %d (%s) of %s, expiring %s\n", x.ID, x.State, exceptionScope(x), when(&x.ExpiresAt))
			fmt.Fprintf(e.stdout, "another person with approval rights approves it: patchbay exceptions approve %d --comment TEXT\n", x.ID)
			return nil
		}}
	create.Flags().StringVar(&req.Advisory, "advisory", "", "findings of this advisory, such as DSA-5678-1")
	create.Flags().StringVar(&req.Package, "package", "", "findings of this package (binary or source name)")
	create.Flags().StringVar(&req.Group, "group", "", "findings on the hosts of this group")
	create.Flags().StringVar(&req.Reason, "reason", "", "why the risk is accepted (at least 10 characters, kept for the audit trail)")
	create.Flags().StringVar(&expires, "expires", "", "when it ends: in days (30d), a duration (720h), a date (2026-06-30, 00:00 UTC) or an RFC 3339 time; at most two years ahead")

	var comment string
	decide := func(d patchbay.Decision, short string) *cobra.Command {
		c := exceptionCommand(&f, e, string(d)+" ID --comment TEXT", short, func(cmd *cobra.Command, c *client.Client, id int64) error {
			if comment == "" {
				return errNoComment
			}
			x, err := c.DecideException(cmd.Context(), id, apiv1.DecisionRequest{Decision: d, Comment: comment})
			if err != nil {
				return err
			}
			return writeException(e, f.output, x, fmt.Sprintf("exception %d is %s", x.ID, x.State))
		})
		c.Flags().StringVar(&comment, "comment", "", "why, for the audit trail (required)")
		return c
	}
	approve := decide(patchbay.Approve, "Approve a pending exception: its findings leave the work queue and SLA until it expires")
	reject := decide(patchbay.Reject, "Reject a pending exception")
	revoke := exceptionCommand(&f, e, "revoke ID", "End an exception before it expires: its findings count again", func(cmd *cobra.Command, c *client.Client, id int64) error {
		x, err := c.RevokeException(cmd.Context(), id)
		if err != nil {
			return err
		}
		return writeException(e, f.output, x, fmt.Sprintf("exception %d is %s", x.ID, x.State))
	})
	cmd.AddCommand(ls, create, approve, reject, revoke)
	return cmd
}

// exceptionCommand is a subcommand acting on the exception whose ID is its
// one argument.
func exceptionCommand(f *clientFlags, e *env, use, short string, run func(cmd *cobra.Command, c *client.Client, id int64) error) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := positiveID("exception", args[0])
			if err != nil {
				return err
			}
			c, err := f.client(e)
			if err != nil {
				return err
			}
			return run(cmd, c, id)
		}}
}

// errNoComment refuses a decision without a comment before asking the
// server, which would refuse it too.
var errNoComment = usageErrorf("--comment TEXT is required: say why, for the audit trail")

func positiveID(what, s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErrorf("%s ID %q: want a positive integer", what, s)
	}
	return id, nil
}

var daysRE = regexp.MustCompile(`^([0-9]{1,4})d$`)

// parseExpiry reads --expires: days ("30d"), a duration ("720h"), a date
// (its start, UTC) or an RFC 3339 time.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if m := daysRE.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		return now.Add(time.Duration(n) * 24 * time.Hour), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, usageErrorf("--expires %q: want days (30d), a duration (720h), a date (2026-06-30) or an RFC 3339 time", s)
}

func writeException(e *env, format string, x patchbay.Exception, line string) error {
	if format != outputTable {
		return exceptionTable([]patchbay.Exception{x}).write(e.stdout, format)
	}
	fmt.Fprintln(e.stdout, line)
	return nil
}

// exceptionScope says which findings an exception covers.
func exceptionScope(x patchbay.Exception) string {
	var parts []string
	for _, p := range [][2]string{{"advisory", x.Advisory}, {"package", x.Package}, {"group", x.Group}} {
		if p[1] != "" {
			parts = append(parts, p[0]+" "+p[1])
		}
	}
	return strings.Join(parts, ", ")
}

func exceptionTable(xs []patchbay.Exception) *table {
	t := &table{header: []string{"ID", "STATE", "ADVISORY", "PACKAGE", "GROUP", "EXPIRES", "REQUESTED-BY", "DECISION", "REASON"}, raw: xs}
	for _, x := range xs {
		decision := "-"
		if a := x.Approval; a != nil {
			decision = fmt.Sprintf("%s by %s: %s", decided(a.Decision), approverName(*a), a.Comment)
		}
		t.add(strconv.FormatInt(x.ID, 10), string(x.State), dash(x.Advisory), dash(x.Package), dash(x.Group), when(&x.ExpiresAt),
			"user "+strconv.FormatInt(x.RequestedBy, 10), decision, x.Reason)
	}
	return t
}

func approverName(a patchbay.Approval) string {
	if a.ByName != "" {
		return a.ByName
	}
	return "user " + strconv.FormatInt(a.By, 10)
}

func newApprovalsCommand(e *env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{Use: "approvals", Short: "What waits for an approver: deployments and exceptions",
		Long: "Nobody decides on their own request; deciding needs the approvals:decide permission (roles approver and admin)."}
	f.add(cmd)

	ls := &cobra.Command{Use: "ls", Short: "List deployments awaiting approval and pending exceptions", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			a, err := c.Approvals(cmd.Context())
			if err != nil {
				return err
			}
			t := &table{header: []string{"KIND", "ID", "WHAT", "WHEN", "DETAIL"}, raw: a}
			for _, d := range a.Deployments {
				t.add("deployment", strconv.FormatInt(d.ID, 10), d.Name, deploymentWindow(d),
					fmt.Sprintf("%s; %s", plural(d.HostCount, "host"), dash(d.Detail)))
			}
			for _, x := range a.Exceptions {
				t.add("exception", strconv.FormatInt(x.ID, 10), exceptionScope(x), "expires "+when(&x.ExpiresAt),
					fmt.Sprintf("requested by user %d: %s", x.RequestedBy, x.Reason))
			}
			return t.write(e.stdout, f.output)
		}}

	var comment string
	decide := func(d patchbay.Decision, short string) *cobra.Command {
		c := &cobra.Command{Use: string(d) + " deployment|exception ID --comment TEXT", Short: short, Args: cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				if args[0] != "deployment" && args[0] != "exception" {
					return usageErrorf("%q: want deployment or exception", args[0])
				}
				if comment == "" {
					return errNoComment
				}
				id, err := positiveID(args[0], args[1])
				if err != nil {
					return err
				}
				c, err := f.client(e)
				if err != nil {
					return err
				}
				req := apiv1.DecisionRequest{Decision: d, Comment: comment}
				if args[0] == "exception" {
					x, err := c.DecideException(cmd.Context(), id, req)
					if err != nil {
						return err
					}
					return writeException(e, f.output, x, fmt.Sprintf("exception %d is %s", x.ID, x.State))
				}
				dep, err := c.DecideDeployment(cmd.Context(), id, req)
				if err != nil {
					return err
				}
				if f.output != outputTable {
					return deploymentTable([]patchbay.Deployment{dep}).write(e.stdout, f.output)
				}
				fmt.Fprintf(e.stdout, "deployment %d is %s: %s\n", dep.ID, dep.State, dep.Detail)
				return nil
			}}
		c.Flags().StringVar(&comment, "comment", "", "why, for the audit trail (required)")
		return c
	}
	cmd.AddCommand(ls,
		decide(patchbay.Approve, "Approve a deployment awaiting approval, or a pending exception"),
		decide(patchbay.Reject, "Reject a deployment awaiting approval (it is cancelled), or a pending exception"))
	return cmd
}

func newDeploymentsCommand(e *env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{Use: "deployments", Short: "Deployments: chosen updates × chosen hosts, in rings, inside maintenance windows"}
	f.add(cmd)

	var states []string
	var policy string
	var limit int
	ls := &cobra.Command{Use: "ls", Short: "List deployments, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 {
				return usageErrorf("--limit %d: want at least 1", limit)
			}
			var q client.DeploymentQuery
			for _, s := range states {
				if !contains(deploymentStateNames(), s) {
					return usageErrorf("--state %q: want one of %s", s, strings.Join(deploymentStateNames(), ", "))
				}
				q.States = append(q.States, patchbay.DeploymentState(s))
			}
			c, err := f.client(e)
			if err != nil {
				return err
			}
			if policy != "" {
				if q.PolicyID, err = policyID(cmd.Context(), c, policy); err != nil {
					return err
				}
			}
			ds, err := collect(limit, func(cursor string, n int) (apiv1.List[patchbay.Deployment], error) {
				q.Cursor, q.Limit = cursor, n
				return c.Deployments(cmd.Context(), q)
			})
			if err != nil {
				return err
			}
			return deploymentTable(ds).write(e.stdout, f.output)
		}}
	ls.Flags().StringSliceVar(&states, "state", nil, "only deployments in this state (repeatable): "+strings.Join(deploymentStateNames(), ", "))
	ls.Flags().StringVar(&policy, "policy", "", "only deployments of this policy (ID or name)")
	ls.Flags().IntVar(&limit, "limit", 100, "at most this many rows")

	show := &cobra.Command{Use: "show ID", Short: "Show a deployment: its state and why, its rings, and each host's planned updates", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := positiveID("deployment", args[0])
			if err != nil {
				return err
			}
			c, err := f.client(e)
			if err != nil {
				return err
			}
			d, err := c.Deployment(cmd.Context(), id)
			if err != nil {
				return err
			}
			t := &table{header: []string{"RING", "HOST ID", "HOSTNAME", "PACKAGE", "FROM→TO", "CLASS", "FIXES"}, raw: d}
			for _, h := range d.Hosts {
				ring := strconv.Itoa(h.Ring)
				if h.Ring >= 0 && h.Ring < len(d.Rings) {
					ring = d.Rings[h.Ring].Name
				}
				for _, u := range h.Updates {
					t.add(ring, strconv.FormatInt(h.HostID, 10), h.Hostname, u.Name+":"+u.Arch, u.FromVersion+" → "+u.ToVersion, u.Class, cves(u.Fixes))
				}
			}
			if f.output == outputTable {
				printDeployment(e, d)
			}
			return t.write(e.stdout, f.output)
		}}
	cmd.AddCommand(ls, show)
	return cmd
}

func deploymentStateNames() []string {
	out := make([]string, len(patchbay.DeploymentStates))
	for i, s := range patchbay.DeploymentStates {
		out[i] = string(s)
	}
	return out
}

// deploymentWindow shows the window a deployment was proposed for, in UTC.
func deploymentWindow(d patchbay.Deployment) string {
	if d.WindowStart == nil || d.WindowEnd == nil {
		return "-"
	}
	return span(*d.WindowStart, *d.WindowEnd, time.UTC)
}

func deploymentPolicy(d patchbay.Deployment) string {
	if d.PolicyID == nil {
		return "-"
	}
	return fmt.Sprintf("%d v%d", *d.PolicyID, d.PolicyVersion)
}

func deploymentTable(ds []patchbay.Deployment) *table {
	t := &table{header: []string{"ID", "STATE", "REASON", "POLICY", "WINDOW", "HOSTS", "UPDATED", "NAME"}, raw: ds}
	for _, d := range ds {
		t.add(strconv.FormatInt(d.ID, 10), string(d.State), string(d.Reason), deploymentPolicy(d), deploymentWindow(d),
			strconv.Itoa(d.HostCount), when(&d.UpdatedAt), d.Name)
	}
	return t
}

func printDeployment(e *env, d patchbay.Deployment) {
	w := e.stdout
	fmt.Fprintf(w, "deployment %d  %s\n", d.ID, d.Name)
	row := func(k, v string) { fmt.Fprintf(w, "  %-16s %s\n", k+":", v) }
	row("state", fmt.Sprintf("%s (%s): %s", d.State, d.Reason, dash(d.Detail)))
	row("policy", deploymentPolicy(d))
	if d.RequestedBy != 0 {
		row("requested by", "user "+strconv.FormatInt(d.RequestedBy, 10))
	} else {
		row("requested by", "the policy's scheduler")
	}
	if d.Emergency {
		row("emergency", "yes")
	}
	row("window", deploymentWindow(d))
	for i, ws := range d.Windows {
		k := "patches within"
		if i > 0 {
			k = ""
		}
		fmt.Fprintf(w, "  %-16s %s\n", k+colonIf(k), windowText(ws))
	}
	for i, r := range d.Rings {
		k := "rings"
		if i > 0 {
			k = ""
		}
		fmt.Fprintf(w, "  %-16s %d. %s (%s)\n", k+colonIf(k), i+1, ringText(r.RingSpec), plural(r.Hosts, "host"))
	}
	reboot := string(d.Reboot.Mode)
	if d.Reboot.Delay != "" {
		reboot += ", " + d.Reboot.Delay + " after the notice"
	}
	row("reboot", reboot)
	row("hosts", strconv.Itoa(d.HostCount))
	for _, a := range d.Approvals {
		row(decided(a.Decision), fmt.Sprintf("by %s at %s: %s", approverName(a), when(&a.At), a.Comment))
	}
	row("created", when(&d.CreatedAt))
	row("updated", when(&d.UpdatedAt))
	fmt.Fprintln(w)
}

func decided(d patchbay.Decision) string {
	if d == patchbay.Reject {
		return "rejected"
	}
	return "approved"
}

func colonIf(k string) string {
	if k == "" {
		return ""
	}
	return ":"
}
