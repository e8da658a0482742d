package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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

// createFlags are deployments create's flags: the fields of
// apiv1.CreateDeploymentRequest, which -f FILE holds whole instead.
type createFlags struct {
	file                         string
	req                          apiv1.CreateDeploymentRequest
	hosts, labels, rings, window []string
	reboot, rebootDelay          string
	deadline                     string
	noAutoRollback               bool
}

func newDeploymentCreateCommand(f *clientFlags, e *env) *cobra.Command {
	var cf createFlags
	cmd := &cobra.Command{Use: "create --name N --host ID|NAME… [flags] | -f FILE", Short: "Make a deployment of hosts' available updates; an approver approves it",
		Long: `Make a deployment of the hosts' available updates (of --package and
--class; all when neither is given), delivered ring by ring inside the
windows. An approver who did not request it approves it.

--ring NAME[:SELECTOR][,OPTION…], pilot first. SELECTOR: count=N, percent=N,
label=L or group=G (none: the rest of the hosts). OPTIONs: max_parallel=N,
threshold=N or N% (failures allowed; none: halt at the first), soak=DURATION,
manual (a person promotes the next ring). --window "CRON;DURATION;ZONE",
such as "0 2 * * 6;3h;Europe/Berlin" (ZONE "host": each host's own).

-f FILE is the whole request of POST /api/v1/deployments in YAML or JSON
(name, hosts as IDs, packages, classes, rings, windows, reboot, emergency,
auto_rollback, progress_deadline, deadline, manual_start, checks); a field it
does not have is refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := cf.request(cmd, e)
			if err != nil {
				return err
			}
			c, err := f.client(e)
			if err != nil {
				return err
			}
			if req.Hosts, err = resolveHosts(cmd.Context(), c, req.Hosts, cf.hosts, cf.labels); err != nil {
				return err
			}
			d, err := c.CreateDeployment(cmd.Context(), req)
			if err != nil {
				return err
			}
			if f.output != outputTable {
				return deploymentTable([]patchbay.Deployment{d}).write(e.stdout, f.output)
			}
			what := "deployment"
			if d.Emergency {
				what = "EMERGENCY deployment"
			}
			fmt.Fprintf(e.stdout, "created %s %d %q (%s): %s in rings %s\n", what, d.ID, d.Name, d.State, plural(d.HostCount, "host"), ringsText(d.Rings))
			fmt.Fprintf(e.stdout, "an approver approves it: patchbay deployments approve %d --comment TEXT\n", d.ID)
			return nil
		}}
	fl := cmd.Flags()
	fl.StringVarP(&cf.file, "file", "f", "", "the whole request in a YAML or JSON file (\"-\": standard input)")
	fl.StringVar(&cf.req.Name, "name", "", "what the deployment is for")
	fl.StringSliceVar(&cf.hosts, "host", nil, "a host, by ID or hostname (repeatable)")
	fl.StringSliceVar(&cf.labels, "label", nil, "every host with this label (repeatable)")
	fl.StringSliceVar(&cf.req.Packages, "package", nil, "only updates of this package (repeatable)")
	fl.StringSliceVar(&cf.req.Classes, "class", nil, "only updates of this class: critical, security, bugfix, feature (repeatable)")
	fl.StringArrayVar(&cf.rings, "ring", nil, "a ring: NAME[:count=N|percent=N|label=L|group=G][,max_parallel=N][,threshold=T][,soak=D][,manual] (repeatable, in order)")
	fl.StringArrayVar(&cf.window, "window", nil, `a maintenance window: "CRON;DURATION;ZONE" (repeatable)`)
	fl.BoolVar(&cf.req.Emergency, "emergency", false, "patch now: skip windows and deferral (an approver still decides)")
	fl.BoolVar(&cf.req.ManualStart, "manual-start", false, "once approved, fetch ahead and wait for `deployments start ID`; then the first ring opens with its window")
	fl.BoolVar(&cf.noAutoRollback, "no-auto-rollback", false, "do not roll a ring's failed hosts back when it crosses its threshold")
	fl.StringVar(&cf.deadline, "deadline", "", "skip the hosts that have not taken their jobs by then (offline through their windows): days (3d), a duration (72h), a date or an RFC 3339 time")
	fl.StringVar(&cf.req.OfflineGrace, "offline-grace", "", "skip a ring's hosts that have not taken their jobs this long after the ring opened (72h); each ring gets its own")
	fl.StringVar(&cf.req.ProgressDeadline, "progress-deadline", "", `halt when no host finished for this long inside a window (server default 2h; "0": never)`)
	fl.StringVar(&cf.reboot, "reboot", "", "never, if-required (server default) or always")
	fl.StringVar(&cf.rebootDelay, "reboot-delay", "", "how long after the notice the reboot happens, such as 5m")
	return cmd
}

// request builds the request from -f FILE or the flags, checking what
// can be checked without the server.
func (cf *createFlags) request(cmd *cobra.Command, e *env) (apiv1.CreateDeploymentRequest, error) {
	if cf.file != "" {
		var extra []string
		cmd.Flags().Visit(func(fl *pflag.Flag) {
			if fl.Name != "file" && cmd.LocalNonPersistentFlags().Lookup(fl.Name) != nil {
				extra = append(extra, "--"+fl.Name)
			}
		})
		var req apiv1.CreateDeploymentRequest
		if len(extra) > 0 {
			return req, usageErrorf("-f FILE holds the whole deployment: drop %s, or put it in the file", strings.Join(extra, ", "))
		}
		return req, readStrictFile(e, cf.file, &req, "a deployment", "a deployment request has no such field; see deployments create --help")
	}
	req := cf.req
	if len(cf.hosts) == 0 && len(cf.labels) == 0 {
		return req, usageErrorf("give the hosts: --host ID|NAME (repeatable) or --label L, or the whole deployment with -f FILE")
	}
	for _, s := range cf.rings {
		r, err := parseRing(s)
		if err != nil {
			return req, err
		}
		req.Rings = append(req.Rings, r)
	}
	for _, s := range cf.window {
		p := strings.Split(s, ";")
		if len(p) != 3 {
			return req, usageErrorf(`--window %q: want "CRON;DURATION;ZONE", such as "0 2 * * 6;3h;Europe/Berlin" (ZONE "host": each host's own)`, s)
		}
		req.Windows = append(req.Windows, patchbay.WindowSpec{Cron: strings.TrimSpace(p[0]), Duration: strings.TrimSpace(p[1]), Zone: strings.TrimSpace(p[2])})
	}
	if cf.reboot != "" && !slices.Contains([]string{"never", "if-required", "always"}, cf.reboot) {
		return req, usageErrorf("--reboot %q: want never, if-required or always", cf.reboot)
	}
	req.Reboot = patchbay.RebootRule{Mode: patchbay.RebootMode(cf.reboot), Delay: cf.rebootDelay}
	if cf.noAutoRollback {
		req.AutoRollback = new(bool)
	}
	if cf.deadline != "" {
		t, err := parseExpiry(cf.deadline, time.Now())
		if err != nil {
			return req, usageErrorf("--deadline %q: want days (3d), a duration (72h), a date (2026-06-30) or an RFC 3339 time", cf.deadline)
		}
		req.Deadline = &t
	}
	return req, nil
}

// parseRing reads --ring NAME[:SELECTOR][,OPTION…].
func parseRing(s string) (patchbay.RingSpec, error) {
	first, rest, _ := strings.Cut(s, ",")
	name, sel, hasSel := strings.Cut(first, ":")
	r := patchbay.RingSpec{Name: strings.TrimSpace(name)}
	bad := func(format string, args ...any) error {
		return usageErrorf("--ring %q: %s (want NAME[:count=N|percent=N|label=L|group=G][,max_parallel=N][,threshold=T][,soak=D][,manual])", s, fmt.Sprintf(format, args...))
	}
	if r.Name == "" {
		return r, bad("no name")
	}
	var items []string
	if hasSel {
		items = append(items, sel)
	}
	if rest != "" {
		items = append(items, strings.Split(rest, ",")...)
	}
	seen := map[string]bool{}
	for _, it := range items {
		k, v, _ := strings.Cut(strings.TrimSpace(it), "=")
		if k == "percent" {
			v = strings.TrimSuffix(v, "%")
		}
		n, numErr := strconv.Atoi(v)
		if numErr != nil || n < 1 {
			n = -1
		}
		switch {
		case seen[k]:
			return r, bad("%s given twice", k)
		case (k == "count" || k == "percent" || k == "max_parallel") && n < 0:
			return r, bad("%s=%q: want a positive integer", k, v)
		case (k == "label" || k == "group") && v == "":
			return r, bad("%s needs a value", k)
		}
		seen[k] = true
		switch k {
		case "count":
			r.Count = n
		case "percent":
			r.Percent = n
		case "label":
			r.Label = v
		case "group":
			r.Group = v
		case "max_parallel":
			r.MaxParallel = n
		case "threshold":
			r.FailureThreshold = v
		case "soak":
			r.SoakTime = v
		case "manual":
			if v != "" && v != "true" {
				return r, bad("manual takes no value")
			}
			r.ManualPromotion = true
		default:
			return r, bad("unknown %q", k)
		}
	}
	selectors := 0
	for _, k := range []string{"count", "percent", "label", "group"} {
		if seen[k] {
			selectors++
		}
	}
	if selectors > 1 {
		return r, bad("at most one of count, percent, label and group")
	}
	return r, nil
}

// resolveHosts returns ids and the hosts args name (by ID or hostname) or
// labels select, each once.
func resolveHosts(ctx context.Context, c *client.Client, ids []int64, args, labels []string) ([]int64, error) {
	type selector struct{ text, flag string }
	var sels []selector
	for _, a := range args {
		if id, err := strconv.ParseInt(a, 10, 64); err == nil && id > 0 {
			ids = append(ids, id)
		} else {
			sels = append(sels, selector{a, "--host"})
		}
	}
	for _, l := range labels {
		sels = append(sels, selector{l, "--label"})
	}
	var hosts []patchbay.Host
	if len(sels) > 0 {
		var err error
		if hosts, err = collect(1_000_000, func(cursor string, n int) (apiv1.List[patchbay.Host], error) {
			return c.Hosts(ctx, client.HostQuery{Cursor: cursor, Limit: n})
		}); err != nil {
			return nil, err
		}
	}
	for _, sel := range sels {
		var found []int64
		for _, h := range hosts {
			if sel.flag == "--host" && h.Hostname == sel.text || sel.flag == "--label" && slices.Contains(h.Labels, sel.text) {
				found = append(found, h.ID)
			}
		}
		switch {
		case len(found) == 0:
			return nil, usageErrorf("%s %q: no active host has it (see hosts ls)", sel.flag, sel.text)
		case sel.flag == "--host" && len(found) > 1:
			return nil, usageErrorf("--host %q: hosts %v have that hostname; give the ID", sel.text, found)
		}
		ids = append(ids, found...)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// readStrictFile decodes a YAML or JSON document from path ("-": stdin)
// into v as readPolicyFile does a policy: bounded, and refusing fields v
// does not have, naming the line, the column and the field. what names
// the document; unknown says where its fields are listed.
func readStrictFile(e *env, path string, v any, what, unknown string) error {
	var r io.Reader = e.stdin
	if path != "-" {
		file, err := os.Open(path)
		if err != nil {
			return err
		}
		defer file.Close()
		r = file
	}
	name := fileName(path)
	b, err := io.ReadAll(io.LimitReader(r, maxPolicyFile+1))
	switch {
	case err != nil:
		return fmt.Errorf("read %s: %w", name, err)
	case len(b) > maxPolicyFile:
		return fmt.Errorf("%s: larger than %d bytes; %s is a few kilobytes", name, maxPolicyFile, what)
	case len(bytes.TrimSpace(b)) == 0:
		return fmt.Errorf("%s is empty: want %s in YAML or JSON", name, what)
	}
	var ye yaml.Error
	var uf *yaml.UnknownFieldError
	err = yaml.UnmarshalWithOptions(b, v, yaml.DisallowUnknownField())
	if err == nil {
		return nil
	}
	if !errors.As(err, &ye) || ye.GetToken() == nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	pos := ye.GetToken().Position
	msg := fmt.Sprintf("%s:%d:%d: ", name, pos.Line, pos.Column)
	if field := fieldAt(b, pos.Offset); field != "" {
		msg += field + ": "
	}
	msg += ye.GetMessage()
	if errors.As(err, &uf) {
		msg += " (" + unknown + ")"
	}
	return errors.New(msg)
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
