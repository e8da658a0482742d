package main

import (
	"bytes"
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
