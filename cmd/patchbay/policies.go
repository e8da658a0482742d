package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/window"
)

// maxPolicyFile bounds a policy file; real ones are a few kilobytes.
const maxPolicyFile = 1 << 20

func newPoliciesCommand(e *env) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{Use: "policies", Short: "Patch policies: which updates go to which hosts, when, and who signs off",
		Long: "Policies are versioned rules a team writes once; docs/policies.md describes every field.\nWherever a policy ID is asked for, its name will do."}
	f.add(cmd)

	var all bool
	ls := &cobra.Command{Use: "ls", Short: "List the enabled policies (--all: disabled ones too), highest priority first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			ps, err := c.Policies(cmd.Context(), all)
			if err != nil {
				return err
			}
			return policyTable(ps, false).write(e.stdout, f.output)
		}}
	ls.Flags().BoolVar(&all, "all", false, "disabled policies too")

	var version int
	show := policyCommand(&f, e, "show ID|NAME", "Show a policy, every field (--version N: a past version)", func(cmd *cobra.Command, c *client.Client, id int64) error {
		if version < 0 {
			return usageErrorf("--version %d: want 1 or more", version)
		}
		p, err := c.Policy(cmd.Context(), id, version)
		if err != nil {
			return err
		}
		return writeFields(e, f.output, p, fmt.Sprintf("policy %d  %s", p.ID, p.Name), policyFields(p, time.Now()))
	})
	show.Flags().IntVar(&version, "version", 0, "show this version instead of the current one")

	var file string
	create := &cobra.Command{Use: "create -f FILE", Short: "Create a policy from a YAML or JSON file (\"-\": standard input)",
		Long: `Create a policy from a file holding one policy in YAML or JSON, with the
fields of docs/policies.md; durations are strings such as "3h" or "1h30m".
A field the policy does not have is refused, naming it and the file. The
server validates the rest and names the first field at fault; nothing is
stored unless the whole policy is valid.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := readPolicyFile(e, file)
			if err != nil {
				return err
			}
			c, err := f.client(e)
			if err != nil {
				return err
			}
			res, err := c.CreatePolicy(cmd.Context(), p)
			if err != nil {
				return err
			}
			return writePolicyResult(e, f.output, res, fmt.Sprintf("created policy %d %q, version %d", res.Policy.ID, res.Policy.Name, res.Policy.Version))
		}}
	create.Flags().StringVarP(&file, "file", "f", "", "the policy's YAML or JSON file (\"-\": standard input)")

	edit := policyCommand(&f, e, "edit ID|NAME -f FILE", "Store a new version of a policy from a YAML or JSON file", func(cmd *cobra.Command, c *client.Client, id int64) error {
		p, err := readPolicyFile(e, file)
		if err != nil {
			return err
		}
		if p.ID != 0 && p.ID != id {
			return usageErrorf("%s holds policy %d, not %d", fileName(file), p.ID, id)
		}
		if p.Version == 0 {
			cur, err := c.Policy(cmd.Context(), id, 0)
			if err != nil {
				return err
			}
			p.Version = cur.Version
		}
		from := p.Version
		res, err := c.UpdatePolicy(cmd.Context(), id, p)
		if err != nil {
			return err
		}
		return writePolicyResult(e, f.output, res, fmt.Sprintf("policy %d %q: version %d → %d", res.Policy.ID, res.Policy.Name, from, res.Policy.Version))
	})
	edit.Long = `Store the policy in FILE (YAML or JSON, as for create) as the next version
of the policy. FILE is the whole policy: a field it leaves out takes its
default (enabled: false), so start from "policies show ID -o json". Its
"version" is the version the change was made from: when someone changed the
policy since, the change is refused (409); reload and edit again. A file
without a version edits the current one.`
	edit.Flags().StringVarP(&file, "file", "f", "", "the policy's YAML or JSON file (\"-\": standard input)")

	versions := policyCommand(&f, e, "versions ID|NAME", "List every version of a policy, oldest first", func(cmd *cobra.Command, c *client.Client, id int64) error {
		ps, err := c.PolicyVersions(cmd.Context(), id)
		if err != nil {
			return err
		}
		return policyTable(ps, true).write(e.stdout, f.output)
	})

	var days int
	simulate := policyCommand(&f, e, "simulate ID|NAME", "What a policy would deploy in each of its windows over the coming days; nothing is stored", func(cmd *cobra.Command, c *client.Client, id int64) error {
		if days < 1 {
			return usageErrorf("--days %d: want 1 or more (the server bounds it)", days)
		}
		sim, err := c.SimulatePolicy(cmd.Context(), id, days)
		if err != nil {
			return err
		}
		if f.output == outputTable {
			fmt.Fprintf(e.stdout, "policy %d %q v%d governs %s; %s in the %d days from %s\n\n", sim.Policy.ID, sim.Policy.Name,
				sim.Policy.Version, plural(sim.Hosts, "host"), plural(len(sim.Windows), "window"), sim.Days, sim.From.UTC().Format("2006-01-02 15:04 MST"))
		}
		return simulationTable(sim).write(e.stdout, f.output)
	})
	simulate.Long = `List every window the policy opens in the coming days (a disabled policy
as if enabled) and the deployments the scheduler would propose at its
start, with the updates available now: one that needs an approver and one
auto-approved, either left out when empty.`
	simulate.Flags().IntVar(&days, "days", 14, "how many days ahead (the server allows up to 90)")

	cmd.AddCommand(ls, show, create, edit, versions, simulate)
	return cmd
}

// policyCommand is a subcommand acting on the policy its first argument
// names, by ID or name.
func policyCommand(f *clientFlags, e *env, use, short string, run func(cmd *cobra.Command, c *client.Client, id int64) error) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client(e)
			if err != nil {
				return err
			}
			id, err := policyID(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			return run(cmd, c, id)
		}}
}

// policyID reads a policy's ID, or finds the policy by its name among all
// of them.
func policyID(ctx context.Context, c *client.Client, arg string) (int64, error) {
	if id, err := strconv.ParseInt(arg, 10, 64); err == nil {
		if id <= 0 {
			return 0, usageErrorf("policy ID %d: want a positive integer or a name", id)
		}
		return id, nil
	}
	ps, err := c.Policies(ctx, true)
	if err != nil {
		return 0, err
	}
	for _, p := range ps {
		if p.Name == arg {
			return p.ID, nil
		}
	}
	return 0, fmt.Errorf("no policy named %q (see policies ls --all)", arg)
}

func fileName(path string) string {
	if path == "-" {
		return "standard input"
	}
	return path
}

// readPolicyFile decodes a policy from a YAML or JSON file ("-": stdin),
// refusing fields a policy does not have.
func readPolicyFile(e *env, path string) (patchbay.Policy, error) {
	var p patchbay.Policy
	if path == "" {
		return p, usageErrorf("give the policy's file with -f FILE (\"-\": standard input)")
	}
	var r io.Reader = e.stdin
	if path != "-" {
		file, err := os.Open(path)
		if err != nil {
			return p, err
		}
		defer file.Close()
		r = file
	}
	b, err := io.ReadAll(io.LimitReader(r, maxPolicyFile+1))
	switch {
	case err != nil:
		return p, fmt.Errorf("read %s: %w", fileName(path), err)
	case len(b) > maxPolicyFile:
		return p, fmt.Errorf("%s: larger than %d bytes; a policy is a few kilobytes", fileName(path), maxPolicyFile)
	case len(bytes.TrimSpace(b)) == 0:
		return p, fmt.Errorf("%s is empty: want a policy in YAML or JSON", fileName(path))
	}
	if err := yaml.UnmarshalWithOptions(b, &p, yaml.DisallowUnknownField()); err != nil {
		return p, policyFileError(fileName(path), b, err)
	}
	return p, nil
}

// policyFileError says where in a policy file decoding failed: the line,
// the column and the field's path, such as windows[0].bogus.
func policyFileError(name string, src []byte, err error) error {
	var ye yaml.Error
	if !errors.As(err, &ye) || ye.GetToken() == nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	pos := ye.GetToken().Position
	msg := fmt.Sprintf("%s:%d:%d: ", name, pos.Line, pos.Column)
	if field := fieldAt(src, pos.Offset); field != "" {
		msg += field + ": "
	}
	msg += ye.GetMessage()
	var unknown *yaml.UnknownFieldError
	if errors.As(err, &unknown) {
		msg += " (a policy has no such field; docs/policies.md lists them)"
	}
	return errors.New(msg)
}

// fieldAt returns the path of the mapping entry whose key or value starts
// at offset in src, without the leading "$.".
func fieldAt(src []byte, offset int) string {
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		return ""
	}
	for _, doc := range f.Docs {
		for _, n := range ast.Filter(ast.MappingValueType, doc.Body) {
			mv := n.(*ast.MappingValueNode)
			if mv.Key.GetToken().Position.Offset == offset || mv.Value.GetToken().Position.Offset == offset {
				return strings.TrimPrefix(mv.GetPath(), "$.")
			}
		}
	}
	return ""
}

// writePolicyResult prints a stored policy: a line and its warnings, or
// the answer as JSON, or the policy as a CSV row.
func writePolicyResult(e *env, format string, res apiv1.PolicyResult, line string) error {
	switch format {
	case outputJSON:
		return (&table{raw: res}).write(e.stdout, outputJSON)
	case outputCSV:
		return policyTable([]patchbay.Policy{res.Policy}, false).write(e.stdout, outputCSV)
	}
	fmt.Fprintln(e.stdout, line)
	for _, w := range res.Warnings {
		fmt.Fprintln(e.stderr, "warning:", w)
	}
	return nil
}

// policyTable lists policies; versions lists one policy's versions.
func policyTable(ps []patchbay.Policy, versions bool) *table {
	t := &table{header: []string{"ID", "NAME", "VERSION", "ENABLED", "PRIORITY", "SELECTS", "UPDATES", "APPROVAL", "WINDOWS"}, raw: ps}
	if versions {
		t.header = []string{"VERSION", "CREATED", "BY", "NAME", "ENABLED", "PRIORITY", "SELECTS", "UPDATES", "APPROVAL", "WINDOWS"}
	}
	for _, p := range ps {
		var ws []string
		for _, w := range p.Windows {
			ws = append(ws, windowText(w))
		}
		cells := []string{p.Name, strconv.Itoa(p.Version), yesNo(p.Enabled), strconv.Itoa(p.Priority), selectorText(p.Selector),
			ruleText(p.Updates), approvalText(p), strings.Join(ws, "; ")}
		if versions {
			cells = append([]string{strconv.Itoa(p.Version), when(&p.CreatedAt), "user " + strconv.FormatInt(p.CreatedBy, 10), p.Name}, cells[2:]...)
		} else {
			cells = append([]string{strconv.FormatInt(p.ID, 10)}, cells...)
		}
		t.add(cells...)
	}
	return t
}

// writeFields prints one object: as JSON raw; as CSV a FIELD,VALUE row per
// field; as a table a title and aligned "field: value" lines, but for the
// fields "id" and "name", which the title shows.
func writeFields(e *env, format string, raw any, title string, fields [][2]string) error {
	t := &table{header: []string{"FIELD", "VALUE"}, raw: raw}
	for _, fv := range fields {
		t.add(fv[0], fv[1])
	}
	if format != outputTable {
		return t.write(e.stdout, format)
	}
	fmt.Fprintln(e.stdout, title)
	for _, fv := range fields {
		if fv[0] == "id" || fv[0] == "name" {
			continue
		}
		k := fv[0] + ":"
		if fv[0] == "" {
			k = ""
		}
		fmt.Fprintf(e.stdout, "  %-16s %s\n", k, fv[1])
	}
	return nil
}

// policyFields is every field of a policy as a person reads it; lists
// take a line per entry.
func policyFields(p patchbay.Policy, now time.Time) [][2]string {
	out := [][2]string{
		{"id", strconv.FormatInt(p.ID, 10)},
		{"name", p.Name},
		{"version", strconv.Itoa(p.Version)},
		{"enabled", yesNo(p.Enabled)},
		{"priority", strconv.Itoa(p.Priority)},
	}
	if p.Description != "" {
		out = append(out, [2]string{"description", p.Description})
	}
	out = append(out,
		[2]string{"selects", selectorText(p.Selector)},
		[2]string{"updates", ruleText(p.Updates)},
		[2]string{"approval", approvalText(p)},
		[2]string{"deferral", fmt.Sprintf("%d days (KEV fixes never wait)", p.DeferralDays)},
		[2]string{"offline hosts", deadlineText(p.DeadlineDays)})
	list := func(name string, items []string) {
		for i, s := range items {
			if i > 0 {
				name = ""
			}
			out = append(out, [2]string{name, s})
		}
	}
	var ws []string
	for _, w := range p.Windows {
		s := windowText(w)
		if next := nextOpening(w, now); next != "" {
			s += "; " + next
		}
		ws = append(ws, s)
	}
	list("windows", ws)
	var rs []string
	for i, r := range p.Rings {
		rs = append(rs, fmt.Sprintf("%d. %s", i+1, ringText(r)))
	}
	list("rings", rs)
	reboot := string(p.Reboot.Mode)
	if p.Reboot.Delay != "" {
		reboot += ", " + p.Reboot.Delay + " after the notice"
	}
	out = append(out,
		[2]string{"reboot", reboot},
		[2]string{"sla", fmt.Sprintf("days to fix: critical %d, high %d, medium %d, low %d, unknown %d",
			p.SLA.Critical, p.SLA.High, p.SLA.Medium, p.SLA.Low, p.SLA.Unknown)},
		[2]string{"created", fmt.Sprintf("%s by user %d", when(&p.CreatedAt), p.CreatedBy)})
	return out
}

func selectorText(s patchbay.Selector) string {
	crit := make([]string, len(s.Criticality))
	for i, c := range s.Criticality {
		crit[i] = string(c)
	}
	var parts []string
	for _, p := range []struct {
		name, sep string
		list      []string
	}{{"labels", " and ", s.Labels}, {"groups", " or ", s.Groups}, {"os", " or ", s.OS},
		{"criticality", " or ", crit}, {"owners", " or ", s.Owners}} {
		if len(p.list) > 0 {
			parts = append(parts, p.name+" "+strings.Join(p.list, p.sep))
		}
	}
	if len(parts) == 0 {
		return "every host"
	}
	return strings.Join(parts, "; ")
}

func ruleText(u patchbay.UpdateRule) string {
	var parts []string
	if len(u.Classes) > 0 {
		parts = append(parts, "classes "+strings.Join(u.Classes, " or "))
	}
	if u.MinSeverity != "" {
		parts = append(parts, "severity at least "+u.MinSeverity)
	}
	if u.KEVOnly {
		parts = append(parts, "KEV fixes only")
	}
	if len(u.Include) > 0 {
		parts = append(parts, "include "+strings.Join(u.Include, " "))
	}
	if len(u.Exclude) > 0 {
		parts = append(parts, "exclude "+strings.Join(u.Exclude, " "))
	}
	if len(parts) == 0 {
		return "every update"
	}
	return strings.Join(parts, "; ")
}

func approvalText(p patchbay.Policy) string {
	if p.AutoApprove == nil {
		return "a person approves every deployment"
	}
	return "auto-approved: " + ruleText(*p.AutoApprove) + "; the rest by a person"
}

func windowText(w patchbay.WindowSpec) string {
	zone := w.Zone
	if zone == window.HostZone {
		zone = "each host's zone"
	}
	return fmt.Sprintf("%q for %s, %s", w.Cron, w.Duration, zone)
}

// nextOpening says when a window in a named zone next opens after now, or
// until when it is open, in its zone (window intervals are read in it) and
// UTC; "" for a host-local window or one that does not parse.
func nextOpening(w patchbay.WindowSpec, now time.Time) string {
	if w.Zone == window.HostZone {
		return ""
	}
	win, err := window.FromSpec("window", w)
	if err != nil {
		return ""
	}
	iv, ok := window.Windows{win}.NextOpen(now, nil)
	if !ok {
		return ""
	}
	at := func(t time.Time) string {
		s := t.Format("Mon 2006-01-02 15:04 MST")
		if _, off := t.Zone(); off != 0 {
			s += t.UTC().Format(" (15:04 MST)")
		}
		return s
	}
	if iv.Start.After(now) {
		return "next " + at(iv.Start)
	}
	return "open now, until " + at(iv.End)
}

func ringText(r patchbay.RingSpec) string {
	var parts []string
	switch {
	case r.Label != "":
		parts = append(parts, "hosts labelled "+r.Label)
	case r.Group != "":
		parts = append(parts, "hosts in group "+r.Group)
	case r.Percent != 0:
		parts = append(parts, fmt.Sprintf("%d%% of the hosts", r.Percent))
	case r.Count != 0:
		parts = append(parts, fmt.Sprintf("%d hosts", r.Count))
	default:
		parts = append(parts, "the rest of the hosts")
	}
	if r.MaxParallel > 0 {
		parts = append(parts, fmt.Sprintf("%d at once", r.MaxParallel))
	}
	switch {
	case r.FailureThreshold == "":
		parts = append(parts, "halts at the first failure")
	case strings.HasSuffix(r.FailureThreshold, "%"):
		parts = append(parts, "halts when over "+r.FailureThreshold+" fail")
	default:
		parts = append(parts, "halts when over "+r.FailureThreshold+" hosts fail")
	}
	if r.SoakTime != "" {
		parts = append(parts, "soaks "+r.SoakTime)
	}
	if r.ManualPromotion {
		parts = append(parts, "a person starts the next ring")
	}
	return r.Name + ": " + strings.Join(parts, ", ")
}

// simulationTable lists a simulation's deployments, a row each, and the
// windows in which there is nothing to deploy.
func simulationTable(sim apiv1.Simulation) *table {
	t := &table{header: []string{"WINDOW", "UTC", "ZONE", "DEPLOYMENT", "HOSTS", "RINGS", "UPDATES"}, raw: sim}
	for _, w := range sim.Windows {
		zone := simulatedZone(sim.Policy, w)
		loc, err := time.LoadLocation(zone)
		if err != nil {
			loc = time.UTC
		}
		local, utc := span(w.Start, w.End, loc), span(w.Start, w.End, time.UTC)
		if len(w.Deployments) == 0 {
			t.add(local, utc, zone, "nothing to deploy", "0", "-", "0")
		}
		for _, d := range w.Deployments {
			state := "auto-approved"
			if d.State == patchbay.DeploymentAwaitingApproval {
				state = "needs approval"
			}
			t.add(local, utc, zone, state, strconv.Itoa(len(d.Hosts)), ringsText(d.Rings), strconv.Itoa(plannedUpdates(d)))
		}
	}
	return t
}

// simulatedZone names the zone a simulated window opens in: the hosts'
// zone for a host-local policy, else the zone of the policy's window that
// opens at that time.
func simulatedZone(p patchbay.Policy, w apiv1.SimulatedWindow) string {
	if w.Zone != "" {
		return w.Zone
	}
	zone := ""
	for _, spec := range p.Windows {
		win, err := window.FromSpec("window", spec)
		if err != nil || win.HostLocal() {
			continue
		}
		if zone == "" {
			zone = spec.Zone
		}
		for _, iv := range (window.Windows{win}).Occurrences(w.Start, w.Start.Add(time.Minute), nil) {
			if iv.Start.Equal(w.Start) {
				return spec.Zone
			}
		}
	}
	if zone == "" {
		return "UTC"
	}
	return zone
}

// span shows an interval in loc: "Sat 2026-05-16 02:00–05:00 CEST", the
// end's date given when it differs from the start's.
func span(start, end time.Time, loc *time.Location) string {
	s, e := start.In(loc), end.In(loc)
	endFormat := "15:04"
	if s.YearDay() != e.YearDay() || s.Year() != e.Year() {
		endFormat = "Mon 2006-01-02 15:04"
	}
	return s.Format("Mon 2006-01-02 15:04") + "–" + e.Format(endFormat) + " " + s.Format("MST")
}

// plural says "1 host", "2 hosts".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func ringsText(rs []patchbay.Ring) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%s %d", r.Name, r.Hosts)
	}
	return dash(strings.Join(parts, ", "))
}

func plannedUpdates(d patchbay.Deployment) int {
	n := 0
	for _, h := range d.Hosts {
		n += len(h.Updates)
	}
	return n
}

// deadlineText says how a policy's deployments treat hosts offline
// through their window.
func deadlineText(days int) string {
	if days <= 0 {
		return "wait for the next window"
	}
	return fmt.Sprintf("skipped %d days after the window opens", days)
}
