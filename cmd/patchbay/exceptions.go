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
				return decideDeployment(cmd, e, c, f.output, id, req)
			}}
		c.Flags().StringVar(&comment, "comment", "", "why, for the audit trail (required)")
		return c
	}
	cmd.AddCommand(ls,
		decide(patchbay.Approve, "Approve a deployment awaiting approval, or a pending exception"),
		decide(patchbay.Reject, "Reject a deployment awaiting approval (it is cancelled), or a pending exception"))
	return cmd
}

func decided(d patchbay.Decision) string {
	if d == patchbay.Reject {
		return "rejected"
	}
	return "approved"
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
