package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/client"
)

func newDeploymentsCommand(e *env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{Use: "deployments", Short: "Deployments: chosen updates × chosen hosts, in rings, inside maintenance windows",
		Long: "docs/deployments.md describes the states, and which action is allowed in which."}
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

	show := deploymentCommand(&f, e, "show ID", "Show a deployment: its state and why, its rings and their progress, and each host's planned updates",
		func(cmd *cobra.Command, c *client.Client, id int64) error {
			d, jobs, err := deploymentWithJobs(cmd.Context(), c, id)
			if err != nil {
				return err
			}
			progress := ringProgressOf(d, jobs)
			t := &table{header: []string{"RING", "HOST ID", "HOSTNAME", "PACKAGE", "FROM→TO", "CLASS", "FIXES"},
				raw: deploymentView{Deployment: d, Progress: progress}}
			for _, h := range d.Hosts {
				for _, u := range h.Updates {
					t.add(ringName(d, h.Ring), strconv.FormatInt(h.HostID, 10), h.Hostname, u.Name+":"+u.Arch, u.FromVersion+" → "+u.ToVersion, u.Class, cves(u.Fixes))
				}
			}
			if f.output == outputTable {
				printDeployment(e, d, progress)
			}
			return t.write(e.stdout, f.output)
		})
	show.Long = "Show a deployment. With -o json, the API's deployment with \"progress\" added: per ring, its jobs counted by state."

	var kind, state, host string
	var withOutput bool
	jobs := deploymentCommand(&f, e, "jobs ID [--kind K] [--state S] [--host ID|NAME] [--with-output]", "List a deployment's jobs: per host and kind, attempt, state, versions before and after",
		func(cmd *cobra.Command, c *client.Client, id int64) error {
			q := patchbay.JobFilter{Kind: patchbay.JobKind(kind), State: patchbay.JobState(state), Output: withOutput}
			if !slices.Contains([]patchbay.JobKind{"", patchbay.JobFetch, patchbay.JobInstall, patchbay.JobRollback}, q.Kind) {
				return usageErrorf("--kind %q: want fetch, install or rollback", kind)
			}
			if q.State != "" && !slices.Contains(patchbay.JobStates, q.State) {
				return usageErrorf("--state %q: want one of %v", state, patchbay.JobStates)
			}
			if host != "" {
				ids, err := resolveHosts(cmd.Context(), c, nil, []string{host}, nil)
				if err != nil {
					return err
				}
				q.HostID = ids[0]
			}
			d, err := c.Deployment(cmd.Context(), id)
			if err != nil {
				return err
			}
			var js []patchbay.Job
			for {
				page, next, err := c.DeploymentJobPage(cmd.Context(), id, q)
				if err != nil {
					return err
				}
				js = append(js, page...)
				if next == 0 {
					break
				}
				q.Cursor = next
			}
			slices.SortStableFunc(js, func(a, b patchbay.Job) int {
				return cmp.Or(cmp.Compare(a.Ring, b.Ring), cmp.Compare(a.HostID, b.HostID), cmp.Compare(a.Kind, b.Kind))
			})
			if err := jobTable(d, js, time.Now()).write(e.stdout, f.output); err != nil {
				return err
			}
			if withOutput && f.output == outputTable {
				for _, j := range js {
					if j.Output != "" {
						fmt.Fprintf(e.stdout, "\n== job %d: %s on %s, attempt %d ==\n%s", j.ID, j.Kind, cmp.Or(j.Hostname, strconv.FormatInt(j.HostID, 10)), j.Attempt, j.Output)
					}
				}
			}
			return nil
		})
	jobs.Long = `List a deployment's jobs, by ring and host. BEFORE→AFTER shows each
package's version read from the host's package database before and after
the job ("?": not read yet, "-": not installed); until the job has run,
AFTER is the version it installs. --with-output adds each job's output
(the package manager's and hooks'), fetched 50 jobs at a time.`
	jobs.Flags().StringVar(&state, "state", "", "only jobs in this state: pending, running, succeeded, healthy, failed, refused or skipped")
	jobs.Flags().StringVar(&host, "host", "", "only this host's jobs (ID or hostname)")
	jobs.Flags().BoolVar(&withOutput, "with-output", false, "include each job's output")
	jobs.Flags().StringVar(&kind, "kind", "", "only jobs of this kind: fetch, install or rollback")

	cmd.AddCommand(ls, show, newDeploymentCreateCommand(&f, e), jobs, newDeploymentWatchCommand(&f, e))
	for _, a := range []struct{ name, short string }{
		{"submit", "Send a draft deployment to the approvers"},
		{"start", "Start a deployment made with --manual-start: its first ring opens with its window"},
		{"pause", "Pause a scheduled or running deployment: no new host starts; running ones finish"},
		{"resume", "Resume a paused deployment, or a halted one accepting its ring's failures"},
		{"retry", "Run the failed hosts of a halted deployment's ring again, each as a new attempt"},
		{"promote", "Start the next ring of a deployment waiting for a person to promote it"},
		{"cancel", "Cancel a deployment: hosts not started are skipped; hosts patching now finish"},
		{"rollback", "Order every host the deployment changed back to its exact previous versions, from the files its agent kept"},
	} {
		cmd.AddCommand(deploymentCommand(&f, e, a.name+" ID", a.short, func(cmd *cobra.Command, c *client.Client, id int64) error {
			res, err := c.DeploymentAction(cmd.Context(), id, a.name)
			if err != nil {
				return err
			}
			t := &table{header: []string{"ID", "STATE", "REASON", "DETAIL"}, raw: res}
			if f.output != outputTable {
				t.add(strconv.FormatInt(id, 10), string(res.State), string(res.Reason), res.Detail)
				return t.write(e.stdout, f.output)
			}
			fmt.Fprintf(e.stdout, "deployment %d is %s (%s): %s\n", id, res.State, res.Reason, res.Detail)
			return nil
		}))
	}
	var comment string
	for _, d := range []patchbay.Decision{patchbay.Approve, patchbay.Reject} {
		short := "Approve a deployment awaiting approval (as approvals approve deployment ID)"
		if d == patchbay.Reject {
			short = "Reject a deployment awaiting approval: it is cancelled (as approvals reject deployment ID)"
		}
		c := deploymentCommand(&f, e, string(d)+" ID --comment TEXT", short, func(cmd *cobra.Command, c *client.Client, id int64) error {
			if comment == "" {
				return errNoComment
			}
			return decideDeployment(cmd, e, c, f.output, id, apiv1.DecisionRequest{Decision: d, Comment: comment})
		})
		c.Flags().StringVar(&comment, "comment", "", "why, for the audit trail (required)")
		cmd.AddCommand(c)
	}
	return cmd
}

// deploymentCommand is a subcommand acting on the deployment whose ID is
// its one argument.
func deploymentCommand(f *clientFlags, e *env, use, short string, run func(cmd *cobra.Command, c *client.Client, id int64) error) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := positiveID("deployment", args[0])
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

// decideDeployment approves or rejects a deployment and says where that
// left it.
func decideDeployment(cmd *cobra.Command, e *env, c *client.Client, format string, id int64, req apiv1.DecisionRequest) error {
	dep, err := c.DecideDeployment(cmd.Context(), id, req)
	if err != nil {
		return err
	}
	if format != outputTable {
		return deploymentTable([]patchbay.Deployment{dep}).write(e.stdout, format)
	}
	fmt.Fprintf(e.stdout, "deployment %d is %s: %s\n", dep.ID, dep.State, dep.Detail)
	return nil
}

// deploymentView is what deployments show -o json prints: the deployment
// and its rings' progress.
type deploymentView struct {
	patchbay.Deployment
	Progress []ringProgress `json:"progress"`
}

// ringProgress counts one ring's jobs: install jobs by state, fetch jobs
// done, rollbacks by where they are.
type ringProgress struct {
	Ring           string `json:"ring"`
	Hosts          int    `json:"hosts"`
	Fetched        int    `json:"fetched"`
	Pending        int    `json:"pending"`
	Running        int    `json:"running"`
	Succeeded      int    `json:"succeeded"` // healthy ones included
	Failed         int    `json:"failed"`
	Skipped        int    `json:"skipped"`
	RollingBack    int    `json:"rolling_back"`
	RolledBack     int    `json:"rolled_back"`
	RollbackFailed int    `json:"rollback_failed"`
}

// done counts the ring's install jobs that reached a final state.
func (p ringProgress) done() int { return p.Succeeded + p.Failed + p.Skipped }

func (p ringProgress) String() string {
	s := fmt.Sprintf("%d/%d done, %d failed", p.done(), p.Hosts, p.Failed)
	for i, n := range []int{p.Running, p.Pending, p.Skipped, p.RollingBack, p.RolledBack, p.RollbackFailed} {
		if n > 0 {
			s += fmt.Sprintf(", %d %s", n, []string{"running", "pending", "skipped", "rolling back", "rolled back", "failed to roll back"}[i])
		}
	}
	return s
}

func ringProgressOf(d patchbay.Deployment, jobs []patchbay.Job) []ringProgress {
	out := make([]ringProgress, len(d.Rings))
	for i, r := range d.Rings {
		out[i].Ring, out[i].Hosts = r.Name, r.Hosts // the planned hosts, until jobs are made
	}
	made := map[int]bool{}
	for _, j := range jobs {
		if j.Ring < 0 || j.Ring >= len(out) {
			continue
		}
		p, ok := &out[j.Ring], j.State == patchbay.JobSucceeded || j.State == patchbay.JobHealthy
		if j.Kind == patchbay.JobInstall && !made[j.Ring] {
			made[j.Ring], p.Hosts = true, 0
		}
		switch {
		case j.Kind == patchbay.JobFetch && ok:
			p.Fetched++
		case j.Kind == patchbay.JobRollback && !j.State.Final():
			p.RollingBack++
		case j.Kind == patchbay.JobRollback && ok:
			p.RolledBack++
		case j.Kind == patchbay.JobRollback:
			p.RollbackFailed++
		case j.Kind != patchbay.JobInstall:
		case j.State == patchbay.JobPending:
			p.Pending++
		case j.State == patchbay.JobRunning:
			p.Running++
		case ok:
			p.Succeeded++
		case j.State == patchbay.JobFailed:
			p.Failed++
		default:
			p.Skipped++
		}
		if j.Kind == patchbay.JobInstall {
			p.Hosts++
		}
	}
	return out
}

func deploymentWithJobs(ctx context.Context, c *client.Client, id int64) (patchbay.Deployment, []patchbay.Job, error) {
	d, err := c.Deployment(ctx, id)
	if err != nil {
		return d, nil, err
	}
	jobs, err := c.DeploymentJobs(ctx, id, "")
	return d, jobs, err
}

func ringName(d patchbay.Deployment, ring int) string {
	if ring >= 0 && ring < len(d.Rings) {
		return d.Rings[ring].Name
	}
	return strconv.Itoa(ring)
}

func jobTable(d patchbay.Deployment, jobs []patchbay.Job, now time.Time) *table {
	t := &table{header: []string{"HOST", "RING", "KIND", "ATTEMPT", "STATE", "BEFORE→AFTER", "REASON"}, raw: jobs}
	for _, j := range jobs {
		t.add(cmp.Or(j.Hostname, strconv.FormatInt(j.HostID, 10)), ringName(d, j.Ring), string(j.Kind), strconv.Itoa(j.Attempt), string(j.State), jobVersions(j),
			dash(cmp.Or(j.Reason, waiting(j, now))))
	}
	return t
}

// offlineAfter is how long a host may go unseen before its pending jobs
// say it is offline rather than waiting: agents taking jobs poll at least
// every 30 s.
const offlineAfter = 10 * time.Minute

// waiting says why a pending job has not started when its host has not
// been seen for a while.
func waiting(j patchbay.Job, now time.Time) string {
	if j.State != patchbay.JobPending {
		return ""
	}
	if j.HostLastSeen == nil {
		return "host offline: never seen"
	}
	if away := now.Sub(*j.HostLastSeen); away > offlineAfter {
		return "host offline: last seen " + away.Round(time.Minute).String() + " ago"
	}
	return ""
}

// jobVersions shows each action's package: its version before and after
// the job, the target while the job has not run.
func jobVersions(j patchbay.Job) string {
	find := func(vs []patchbay.PackageVersion, a patchbay.JobAction) (string, bool) {
		for _, v := range vs {
			if v.Name == a.Name && (v.Arch == a.Arch || v.Arch == "" || a.Arch == "") {
				return dash(v.Version), true
			}
		}
		return "?", false
	}
	parts := make([]string, len(j.Actions))
	for i, a := range j.Actions {
		before, _ := find(j.Before, a)
		after, ok := find(j.After, a)
		if !ok {
			after = a.Version
		}
		parts[i] = fmt.Sprintf("%s %s→%s", a.Name, before, after)
	}
	return strings.Join(parts, "; ")
}

func printDeployment(e *env, d patchbay.Deployment, progress []ringProgress) {
	w := e.stdout
	fmt.Fprintf(w, "deployment %d  %s\n", d.ID, d.Name)
	row := func(k, v string) { fmt.Fprintf(w, "  %-16s %s\n", k+colonIf(k), v) }
	row("state", fmt.Sprintf("%s (%s): %s", d.State, d.Reason, dash(d.Detail)))
	row("policy", deploymentPolicy(d))
	if d.RequestedBy != 0 {
		row("requested by", "user "+strconv.FormatInt(d.RequestedBy, 10))
	} else {
		row("requested by", "the policy's scheduler")
	}
	if d.Emergency {
		row("emergency", "yes: skips maintenance windows and deferral")
	}
	if d.ManualStart {
		row("start", "by a person (deployments start), then with its window")
	}
	row("window", deploymentWindow(d))
	for i, ws := range d.Windows {
		row(firstOnly(i, "patches within"), windowText(ws))
	}
	for i, r := range d.Rings {
		row(firstOnly(i, "rings"), fmt.Sprintf("%d. %s (%s)", i+1, ringText(r.RingSpec), plural(r.Hosts, "host")))
	}
	if len(d.Rings) > 0 {
		row("current ring", fmt.Sprintf("%d. %s", d.CurrentRing+1, ringName(d, d.CurrentRing)))
	}
	for i, p := range progress {
		row(firstOnly(i, "progress"), p.Ring+": "+p.String())
	}
	reboot := string(d.Reboot.Mode)
	if d.Reboot.Delay != "" {
		reboot += ", " + d.Reboot.Delay + " after the notice"
	}
	row("reboot", reboot)
	if d.AutoRollback {
		row("auto-rollback", "yes: a ring's failed hosts go back when it crosses its threshold")
	} else {
		row("auto-rollback", "no: a ring that crosses its threshold halts and waits for a person")
	}
	if d.Deadline != nil {
		row("skips offline hosts at", d.Deadline.UTC().Format(time.RFC3339))
	}
	if d.OfflineGrace > 0 {
		row("offline grace", fmt.Sprintf("a ring's hosts not started %s after it opened are skipped", time.Duration(d.OfflineGrace)*time.Second))
	}
	if d.ProgressDeadline > 0 {
		row("deadline", fmt.Sprintf("halts when no host finished for %s inside a window", time.Duration(d.ProgressDeadline)*time.Second))
	}
	row("hosts", strconv.Itoa(d.HostCount))
	for _, a := range d.Approvals {
		row(decided(a.Decision), fmt.Sprintf("by %s at %s: %s", approverName(a), when(&a.At), a.Comment))
	}
	row("created", when(&d.CreatedAt))
	row("updated", when(&d.UpdatedAt))
	fmt.Fprintln(w)
}

// firstOnly labels the first of a list's lines.
func firstOnly(i int, label string) string {
	if i > 0 {
		return ""
	}
	return label
}

func colonIf(k string) string {
	if k == "" {
		return ""
	}
	return ":"
}
