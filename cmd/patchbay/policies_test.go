package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/protocol"
)

// examplePolicy is the example: critical (and so KEV) updates on
// prod hosts, Saturdays 02:00–05:00 Berlin time, every deployment approved
// by a person, critical findings due within 7 days.
const examplePolicy = `# critical fixes on prod, as docs/policies.md has it
name: critical fixes on prod
description: Critical and known-exploited updates on production, approved by a person.
enabled: true
priority: 100
selector:
  labels: [prod]
updates:
  classes: [critical]
windows:
  - cron: "0 2 * * 6"
    duration: 3h
    zone: Europe/Berlin
rings:
  - name: canary
    label: canary
    soak_time: 1h
  - name: rest
    max_parallel: 10
    failure_threshold: 5%
reboot:
  mode: if-required
  delay: 5m
sla:
  critical: 7
  high: 14
  medium: 30
  low: 90
  unknown: 30
`

// fleetPackage is an installed package with its available update.
type fleetPackage struct{ name, from, to, archive string }

var (
	pkgOpenSSL = fleetPackage{"openssl", "3.0.11-1~deb12u2", "3.0.15-1~deb12u1", "bookworm-security"} // fixes PB-CRIT-1, CVSS 9.8
	pkgGit     = fleetPackage{"git", "1:2.39.2-1.1", "1:2.39.5-0+deb12u2", "bookworm-security"}       // fixes PB-KEV-1, known exploited
	pkgCurl    = fleetPackage{"curl", "7.88.1-10+deb12u5", "7.88.1-10+deb12u8", "bookworm-security"}  // fixes PB-HIGH-1, CVSS 7.5
	pkgNano    = fleetPackage{"nano", "7.2-1", "7.2-1+deb12u1", "bookworm-updates"}                   // fixes nothing
)

// fleetHosts are the test fleet: three prod hosts with every package, one
// staging host with two; two owners.
var fleetHosts = []struct {
	name, label, owner string
	crit               patchbay.Criticality
	pkgs               []fleetPackage
}{
	{"web-1", "prod", "team-web", patchbay.Criticality("high"), []fleetPackage{pkgOpenSSL, pkgGit, pkgCurl, pkgNano}},
	{"web-2", "prod", "team-web", patchbay.Criticality("medium"), []fleetPackage{pkgOpenSSL, pkgGit, pkgCurl, pkgNano}},
	{"db-1", "prod", "team-db", patchbay.Criticality("critical"), []fleetPackage{pkgOpenSSL, pkgGit, pkgCurl, pkgNano}},
	{"stage-1", "staging", "team-web", patchbay.Criticality("low"), []fleetPackage{pkgOpenSSL, pkgCurl}},
}

// Queue sizes of fleetHosts: every update, and the critical ones (openssl
// on four hosts, git on three).
const fleetUpdates, fleetCritical = 14, 7

// policyFleet is a server with fleetHosts checked in and advisories for
// their packages imported, and an admin, an operator and an approver.
type policyFleet struct {
	dir                       string
	ts                        *testServer
	c                         *client.Client // as admin
	admin, operator, approver map[string]string
	hosts                     map[string]int64
	tokens                    map[string]string // each host's token, to act as its agent
}

// startPolicyFleet starts a server with a fast planner and waits until the
// work queue holds every update of the fleet, classified.
func startPolicyFleet(t *testing.T) *policyFleet {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	ts := startServer(t, filepath.Join(dir, "data"), nil, "--plan-interval", "200ms", "--match-interval", "200ms")
	fl := &policyFleet{dir: dir, ts: ts, hosts: map[string]int64{}, tokens: map[string]string{}}
	fl.admin = map[string]string{"HOME": dir, "PATCHBAY_SERVER": ts.url, "PATCHBAY_TOKEN": ts.token}
	fl.operator = fl.user(t, "olga", "operator")
	fl.approver = fl.user(t, "ann", "approver")
	fl.c, _ = client.New(client.Options{Server: ts.url, Token: ts.token})

	secrets := map[string]string{}
	for _, label := range []string{"prod", "staging"} {
		es, err := fl.c.CreateEnrollSecret(ctx, apiv1.CreateEnrollSecretRequest{Name: label, Labels: []string{label}})
		if err != nil {
			t.Fatal(err)
		}
		secrets[label] = es.Secret
	}
	for i, h := range fleetHosts {
		res, err := fl.c.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: secrets[h.label], Facts: protocol.Facts{Hostname: h.name,
			MachineID: fmt.Sprintf("%032x", i+1), OSRelease: map[string]string{"ID": "debian", "VERSION_ID": "12", "VERSION_CODENAME": "bookworm"},
			Kernel: "6.1.0-28-amd64", Arch: "x86_64", TimeZone: "Europe/Berlin"}})
		if err != nil {
			t.Fatalf("enroll %s: %v", h.name, err)
		}
		fl.hosts[h.name], fl.tokens[h.name] = res.HostID, res.HostToken
		owner, crit := h.owner, h.crit
		if _, err := fl.c.UpdateHost(ctx, res.HostID, apiv1.UpdateHostRequest{Owner: &owner, Criticality: &crit}); err != nil {
			t.Fatal(err)
		}
		inv := protocol.Inventory{Packages: []protocol.Package{}, Updates: []protocol.Update{}}
		for _, p := range h.pkgs {
			inv.Packages = append(inv.Packages, protocol.Package{Ecosystem: "deb", Name: p.name, Version: p.from, Arch: "amd64"})
			inv.Updates = append(inv.Updates, protocol.Update{Ecosystem: "deb", Name: p.name, Arch: "amd64", FromVersion: p.from,
				ToVersion: p.to, Origin: "Debian", Archive: p.archive})
		}
		inv.Hash = protocol.InventoryHash(inv)
		if err := fl.c.WithToken(res.HostToken).UploadInventory(ctx, inv); err != nil {
			t.Fatalf("upload %s's inventory: %v", h.name, err)
		}
	}

	feed := filepath.Join(dir, "feed")
	osvRecord := func(id, name, fixed, extra string) {
		writeFile(t, filepath.Join(feed, id+".json"), `{"id":"`+id+`","modified":"2025-01-01T00:00:00Z",`+extra+
			`"affected":[{"package":{"ecosystem":"Debian:12","name":"`+name+`"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"`+fixed+`"}]}]}]}`)
	}
	osvRecord("PB-CRIT-1", "openssl", pkgOpenSSL.to, `"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],`)
	osvRecord("PB-KEV-1", "git", pkgGit.to, `"aliases":["CVE-2025-48384"],`) // in the real KEV catalog
	osvRecord("PB-HIGH-1", "curl", pkgCurl.to, `"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],`)
	fl.cli(t, fl.admin, "feeds", "import", feed, "../../internal/feed/testdata/kev/known_exploited_vulnerabilities.json")

	fl.waitQueue(t, "every update classified", func(us []patchbay.HostUpdate) bool {
		return len(us) == fleetUpdates && countClass(us, "critical") == fleetCritical
	})
	return fl
}

// user creates a user with role and returns the CLI environment of a
// token of theirs.
func (fl *policyFleet) user(t *testing.T, name, role string) map[string]string {
	t.Helper()
	fl.cli(t, fl.admin, "users", "create", name, "--role", role)
	secret := strings.TrimSpace(fl.cli(t, fl.admin, "tokens", "create", "--name", "test", "--user", name))
	return map[string]string{"HOME": t.TempDir(), "PATCHBAY_SERVER": fl.ts.url, "PATCHBAY_TOKEN": secret}
}

// cli runs the CLI and fails the test when it fails.
func (fl *policyFleet) cli(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	out, errOut, err := runCLI(t, env, args...)
	if err != nil {
		t.Fatalf("patchbay %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// cliJSON runs the CLI with -o json and decodes its output into v.
func (fl *policyFleet) cliJSON(t *testing.T, env map[string]string, v any, args ...string) {
	t.Helper()
	out := fl.cli(t, env, append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("patchbay %s -o json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// waitQueue polls the work queue until ok holds: the planner fills it
// after the matcher's passes and after changes, within a few of its
// 200 ms intervals.
func (fl *policyFleet) waitQueue(t *testing.T, what string, ok func([]patchbay.HostUpdate) bool) []patchbay.HostUpdate {
	t.Helper()
	var us []patchbay.HostUpdate
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		l, err := fl.c.Updates(context.Background(), client.UpdateQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if us = l.Items; ok(us) {
			return us
		}
	}
	t.Fatalf("work queue: not %s within 30 s; it holds %d entries:\n%+v\nserver log:\n%s", what, len(us), us, fl.ts.stderr)
	return nil
}

// squash collapses runs of spaces, so that checks do not depend on how
// wide a table's columns are.
func squash(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' }), " ")
}

func countClass(us []patchbay.HostUpdate, class string) int {
	n := 0
	for _, u := range us {
		if u.Class == class {
			n++
		}
	}
	return n
}

// TestPoliciesCLI creates the example policy from YAML, simulates
// it, refuses broken policy files without storing anything, shows it, and
// edits it into new versions; and lists and explains the work queue it
// acts on.
func TestPoliciesCLI(t *testing.T) {
	fl := startPolicyFleet(t)
	op := fl.operator

	// Create the example from YAML, as the operator; find it by name.
	good := writeFile(t, filepath.Join(t.TempDir(), "policy.yaml"), examplePolicy)
	if out := fl.cli(t, op, "policies", "create", "-f", good); !strings.Contains(out, `created policy 1 "critical fixes on prod", version 1`) {
		t.Fatalf("policies create said %q", out)
	}
	if out := fl.cli(t, op, "policies", "ls"); !strings.Contains(out, "critical fixes on prod") || !strings.Contains(out, "labels prod") ||
		!strings.Contains(out, "a person approves every deployment") {
		t.Fatalf("policies ls:\n%s", out)
	}
	out := squash(fl.cli(t, op, "policies", "show", "critical fixes on prod"))
	for _, want := range []string{"policy 1 critical fixes on prod\n version: 1\n enabled: yes\n priority: 100", `"0 2 * * 6" for 3h, Europe/Berlin; `,
		"canary: hosts labelled canary", "rest: the rest of the hosts, 10 at once, halts when over 5% fail", "if-required, 5m after the notice",
		"critical 7, high 14"} {
		if !strings.Contains(out, want) {
			t.Errorf("policies show lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "Europe/Berlin; next Sat ") && !strings.Contains(out, "Europe/Berlin; open now, until Sat ") {
		t.Errorf("policies show does not say when the window opens:\n%s", out)
	}

	// Broken files: each refused naming its field, nothing stored.
	before := fl.cli(t, op, "policies", "ls", "--all", "-o", "json")
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"bad cron", `"0 2 * * 6"`, `"0 2 * * 8"`, "windows[0].cron"},
		{"unknown zone", "Europe/Berlin", "Europe/Atlantis", "windows[0].zone"},
		{"sla critical 0", "critical: 7", "critical: 0", "sla.critical"},
		{"unknown field", "  classes: [critical]", "  classes: [critical]\n  clases: [security]", `updates.clases: unknown field "clases"`},
		{"not a duration", "duration: 3h", "duration: 3 hours", "windows[0].duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.Replace(examplePolicy, tc.old, tc.new, 1)
			body = strings.Replace(body, "name: critical fixes on prod", "name: broken", 1)
			path := writeFile(t, filepath.Join(t.TempDir(), "broken.yaml"), body)
			_, _, err := runCLI(t, op, "policies", "create", "-f", path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("policies create with %s: err = %v, want one naming %s", tc.name, err, tc.want)
			}
			if tc.name == "unknown field" && !strings.Contains(err.Error(), path+":") {
				t.Errorf("the unknown field's error does not name the file: %v", err)
			}
			if after := fl.cli(t, op, "policies", "ls", "--all", "-o", "json"); after != before {
				t.Fatalf("a refused policy changed the listing:\n%s\nwas\n%s", after, before)
			}
		})
	}

	// Simulate 14 days: two Saturday windows, each one deployment needing
	// approval that holds exactly the prod hosts' critical updates.
	var sim apiv1.Simulation
	fl.cliJSON(t, op, &sim, "policies", "simulate", "1", "--days", "14")
	checkSimulation(t, fl, sim)
	out = fl.cli(t, op, "policies", "simulate", "critical fixes on prod")
	if strings.Count(out, "needs approval") != 2 || !strings.Contains(out, "Sat ") || !strings.Contains(out, "02:00–05:00 CE") ||
		!strings.Contains(out, "Europe/Berlin") || !strings.Contains(out, "canary 0, rest 3") {
		t.Errorf("policies simulate (table):\n%s", out)
	}
	for _, days := range []string{"0", "1000"} {
		if _, _, err := runCLI(t, op, "policies", "simulate", "1", "--days", days); err == nil || !strings.Contains(err.Error(), "days") {
			t.Errorf("simulate --days %s: err %v, want one naming days", days, err)
		}
	}
	if _, _, err := runCLI(t, op, "policies", "show", "no such policy"); err == nil || !strings.Contains(err.Error(), `no policy named "no such policy"`) {
		t.Errorf("show of an unknown name: err %v", err)
	}

	// The hosts it governs say so; the staging host is governed by none.
	if out := squash(fl.cli(t, op, "hosts", "show", itoa(fl.hosts["db-1"]))); !strings.Contains(out,
		`policy: critical fixes on prod v1 — policy "critical fixes on prod" (priority 100) selects it: label prod`) {
		t.Errorf("hosts show db-1:\n%s", out)
	}
	if out := squash(fl.cli(t, op, "hosts", "show", itoa(fl.hosts["stage-1"]))); !strings.Contains(out, "policy: none — no enabled policy selects it") {
		t.Errorf("hosts show stage-1:\n%s", out)
	}

	// The work queue, highest risk first; the top entry explained.
	var crit []patchbay.HostUpdate
	fl.cliJSON(t, op, &crit, "updates", "ls", "--sort", "risk", "--class", "critical")
	if len(crit) != fleetCritical || countClass(crit, "critical") != fleetCritical {
		t.Fatalf("updates ls --class critical: %d entries, %d critical; want %d", len(crit), countClass(crit, "critical"), fleetCritical)
	}
	if !slices.IsSortedFunc(crit, func(a, b patchbay.HostUpdate) int { return b.Risk - a.Risk }) || crit[0].Risk <= crit[len(crit)-1].Risk {
		t.Errorf("updates ls --sort risk is not highest first: %+v", crit)
	}
	if out := fl.cli(t, op, "updates", "ls", "--class", "critical", "--class", "security", "--limit", "3"); strings.Count(out, "\n") != 4 ||
		!strings.Contains(out, "FROM→TO") {
		t.Errorf("updates ls --limit 3 (table):\n%s", out)
	}
	_, errOut, err := runCLI(t, op, "updates", "ls", "--limit", "3")
	if err != nil || !strings.Contains(errOut, "more: --cursor ") {
		t.Errorf("updates ls --limit 3: %v; stderr %q, want the next cursor", err, errOut)
	}
	git := ""
	for _, u := range crit {
		if u.Name == "git" && u.HostID == fl.hosts["db-1"] {
			git = u.ID
		}
	}
	out = squash(fl.cli(t, op, "updates", "explain", git))
	for _, want := range []string{"update " + git + ": git:amd64 1:2.39.2-1.1 → 1:2.39.5-0+deb12u2 on db-1", "class: critical: fixes PB-KEV-1, known exploited (KEV)",
		"+300 kev: known exploited", "PB-KEV-1 git 1:2.39.2-1.1 severity unknown", "due ", "policy: critical fixes on prod v1 — "} {
		if !strings.Contains(out, want) {
			t.Errorf("updates explain %s lacks %q:\n%s", git, want, out)
		}
	}
	var x apiv1.UpdateExplanation
	fl.cliJSON(t, op, &x, "updates", "explain", git)
	sum := 0
	for _, p := range x.Score.Parts {
		sum += p.Value
	}
	if sum != x.Score.Value || x.Score.Value == 0 || len(x.Findings) != 1 || !x.Update.KEV {
		t.Errorf("updates explain -o json: parts sum to %d, score %d, %d findings: %+v", sum, x.Score.Value, len(x.Findings), x)
	}
	if _, _, err := runCLI(t, op, "updates", "ls", "--class", "urgent"); err == nil || exitCode(err) != exitUsage {
		t.Errorf("updates ls --class urgent: err %v, want a usage error", err)
	}

	// The SLA report: a row per owner.
	var rep []patchbay.SLAReport
	fl.cliJSON(t, op, &rep, "sla")
	open := map[string]int{}
	for _, r := range rep {
		open[r.Owner] = r.Open
	}
	if len(rep) != 2 || open["team-web"] != 8 || open["team-db"] != 3 {
		t.Errorf("sla: %+v; want team-web with 8 open findings and team-db with 3", rep)
	}
	if out := fl.cli(t, op, "sla"); !strings.Contains(out, "OWNER") || !strings.Contains(out, "DUE-SOON") || !strings.Contains(out, "team-db") {
		t.Errorf("sla (table):\n%s", out)
	}

	// Edit: a file without a version edits the current one; versions
	// lists both. A JSON file from show -o json round-trips; replaying it
	// after it was applied is stale.
	edited := writeFile(t, filepath.Join(t.TempDir(), "policy.yaml"), strings.Replace(examplePolicy, "priority: 100", "priority: 90", 1))
	if out := fl.cli(t, op, "policies", "edit", "critical fixes on prod", "-f", edited); !strings.Contains(out, "version 1 → 2") {
		t.Fatalf("policies edit said %q", out)
	}
	var vs []patchbay.Policy
	fl.cliJSON(t, op, &vs, "policies", "versions", "1")
	if len(vs) != 2 || vs[0].Version != 1 || vs[0].Priority != 100 || vs[1].Version != 2 || vs[1].Priority != 90 {
		t.Fatalf("policies versions: %+v", vs)
	}
	if out := squash(fl.cli(t, op, "policies", "show", "1", "--version", "1")); !strings.Contains(out, "priority: 100") {
		t.Errorf("policies show --version 1:\n%s", out)
	}
	shown := fl.cli(t, op, "policies", "show", "1", "-o", "json")
	asJSON := writeFile(t, filepath.Join(t.TempDir(), "policy.json"), strings.Replace(shown, `"priority": 90`, `"priority": 80`, 1))
	if out := fl.cli(t, op, "policies", "edit", "1", "-f", asJSON); !strings.Contains(out, "version 2 → 3") {
		t.Fatalf("policies edit from show -o json said %q", out)
	}
	_, _, err = runCLI(t, op, "policies", "edit", "1", "-f", asJSON)
	if err == nil || !strings.Contains(err.Error(), "409") || !strings.Contains(err.Error(), "is at version 3, not 2") {
		t.Fatalf("a stale edit: err %v, want a 409 naming the versions", err)
	}
	var stdout, stderr bytes.Buffer
	err = run(context.Background(), []string{"patchbay", "policies", "edit", "1", "-f", "-"}, mapEnv(op),
		strings.NewReader(strings.Replace(examplePolicy, "enabled: true", "enabled: false", 1)), &stdout, &stderr)
	if err != nil || !strings.Contains(stdout.String(), "version 3 → 4") {
		t.Fatalf("policies edit -f - (disable): %v %s%s", err, stdout.String(), stderr.String())
	}
	if out := fl.cli(t, op, "policies", "ls"); strings.Contains(out, "critical fixes on prod") {
		t.Errorf("policies ls lists the disabled policy:\n%s", out)
	}
	if out := fl.cli(t, op, "policies", "ls", "--all", "-o", "csv"); !strings.Contains(out, "1,critical fixes on prod,4,no,100,") {
		t.Errorf("policies ls --all -o csv:\n%s", out)
	}
}

// checkSimulation checks the example policy's 14 days: two Saturday
// windows at 02:00 Berlin time, three hours long, each with one deployment
// that needs approval and holds the three prod hosts, each with exactly its
// critical updates (openssl and git).
func checkSimulation(t *testing.T, fl *policyFleet, sim apiv1.Simulation) {
	t.Helper()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	prod := []int64{fl.hosts["web-1"], fl.hosts["web-2"], fl.hosts["db-1"]}
	slices.Sort(prod)
	if sim.Hosts != 3 || len(sim.Windows) != 2 {
		t.Fatalf("simulate: %d hosts governed, %d windows; want 3 and 2: %+v", sim.Hosts, len(sim.Windows), sim)
	}
	for i, w := range sim.Windows {
		start := w.Start.In(berlin)
		if start.Weekday() != time.Saturday || start.Hour() != 2 || start.Minute() != 0 || w.End.Sub(w.Start) != 3*time.Hour {
			t.Errorf("window %d: %s–%s, want a Saturday 02:00–05:00 Berlin", i, start, w.End.In(berlin))
		}
		if len(w.Deployments) != 1 {
			t.Fatalf("window %d: %d deployments, want 1", i, len(w.Deployments))
		}
		d := w.Deployments[0]
		if d.State != patchbay.DeploymentAwaitingApproval || d.Reason != patchbay.ReasonNeedsApprove {
			t.Errorf("window %d: deployment %s (%s), want awaiting approval", i, d.State, d.Reason)
		}
		var hosts []int64
		for _, h := range d.Hosts {
			hosts = append(hosts, h.HostID)
			var names []string
			for _, u := range h.Updates {
				names = append(names, u.Name)
				if u.Class != "critical" {
					t.Errorf("window %d host %s: %s is %s, not critical", i, h.Hostname, u.Name, u.Class)
				}
			}
			if !slices.Equal(names, []string{"git", "openssl"}) {
				t.Errorf("window %d host %s: updates %v, want git and openssl", i, h.Hostname, names)
			}
		}
		slices.Sort(hosts)
		if !slices.Equal(hosts, prod) {
			t.Errorf("window %d: hosts %v, want the prod hosts %v", i, hosts, prod)
		}
	}
}

// TestExceptionsApprovalsCLI requests exceptions as an operator, refuses
// self-approval and approval without the right, approves and rejects as
// an approver, and sees the work queue and SLA take the exception in; then
// approves a deployment a policy's scheduler proposed.
func TestExceptionsApprovalsCLI(t *testing.T) {
	fl := startPolicyFleet(t)
	op, ap, admin := fl.operator, fl.approver, fl.admin

	// A policy whose window is always open: the scheduler proposes a
	// deployment needing approval at one of its next passes (at the latest
	// at the next minute's opening).
	nowPolicy := writeFile(t, filepath.Join(t.TempDir(), "now.yaml"), `name: staging now
enabled: true
selector: {labels: [staging]}
windows: [{cron: "* * * * *", duration: 1h, zone: UTC}]
`)
	fl.cli(t, op, "policies", "create", "-f", nowPolicy)

	out := fl.cli(t, op, "exceptions", "create", "--advisory", "PB-CRIT-1", "--reason", "TLS terminates at the proxy; openssl is not exposed", "--expires", "30d")
	if !strings.Contains(out, "requested exception 1 (pending) of advisory PB-CRIT-1") {
		t.Fatalf("exceptions create said %q", out)
	}
	// The operator may not decide at all; the admin not on their own request.
	_, _, err := runCLI(t, op, "exceptions", "approve", "1", "--comment", "fine by me")
	if err == nil || !strings.Contains(err.Error(), "server answered 403") {
		t.Fatalf("the requester approving: err %v, want a 403", err)
	}
	_, _, err = runCLI(t, admin, "exceptions", "create", "--package", "curl", "--group", "legacy", "--reason", "legacy group is being retired",
		"--expires", "2099-01-01")
	if err == nil || !strings.Contains(err.Error(), "expires_at: at most two years ahead") {
		t.Fatalf("an exception expiring in 2099: err %v, want a refusal", err)
	}
	fl.cli(t, admin, "exceptions", "create", "--package", "curl", "--group", "legacy", "--reason", "legacy group is being retired", "--expires",
		time.Now().AddDate(0, 2, 0).UTC().Format(time.DateOnly))
	_, _, err = runCLI(t, admin, "exceptions", "approve", "2", "--comment", "mine")
	if err == nil || !strings.Contains(err.Error(), "server answered 403") || !strings.Contains(err.Error(), "may not approve or reject it") {
		t.Fatalf("the admin approving their own request: err %v, want a 403 saying so", err)
	}
	if _, _, err := runCLI(t, op, "exceptions", "approve", "1"); err == nil || !strings.Contains(err.Error(), "comment") {
		t.Errorf("approve without --comment: err %v", err)
	}
	if _, _, err := runCLI(t, op, "exceptions", "create", "--advisory", "X", "--reason", "long enough reason", "--expires", "soon"); err == nil ||
		exitCode(err) != exitUsage {
		t.Errorf("exceptions create --expires soon: err %v, want a usage error", err)
	}

	var pending apiv1.Approvals
	fl.cliJSON(t, ap, &pending, "approvals", "ls")
	if len(pending.Exceptions) != 2 {
		t.Fatalf("approvals ls: %d pending exceptions, want 2: %+v", len(pending.Exceptions), pending)
	}
	if out := fl.cli(t, ap, "exceptions", "approve", "1", "--comment", "compensating control verified"); out != "exception 1 is active\n" {
		t.Fatalf("exceptions approve said %q", out)
	}
	if out := fl.cli(t, ap, "approvals", "reject", "exception", "2", "--comment", "fix curl instead"); out != "exception 2 is rejected\n" {
		t.Fatalf("approvals reject exception said %q", out)
	}
	out = fl.cli(t, op, "exceptions", "ls")
	if !strings.Contains(squash(out), "1 active PB-CRIT-1") || strings.Contains(out, "curl") {
		t.Fatalf("exceptions ls:\n%s", out)
	}
	var all []patchbay.Exception
	fl.cliJSON(t, op, &all, "exceptions", "ls", "--all")
	if len(all) != 2 || all[0].State != patchbay.ExceptionRejected || all[1].State != patchbay.ExceptionActive {
		t.Fatalf("exceptions ls --all: %+v", all)
	}

	// The queue and the SLA take the exception in: openssl fixes nothing
	// left, and its findings count as excepted.
	fl.waitQueue(t, "openssl's fix excepted", func(us []patchbay.HostUpdate) bool {
		n := 0
		for _, u := range us {
			if u.Name == "openssl" && slices.Equal(u.Excepted, []string{"PB-CRIT-1"}) && len(u.Fixes) == 0 && u.Class != "critical" {
				n++
			}
		}
		return n == 4
	})
	var rep []patchbay.SLAReport
	fl.cliJSON(t, op, &rep, "sla")
	got := map[string][2]int{}
	for _, r := range rep {
		got[r.Owner] = [2]int{r.Open, r.Excepted}
	}
	if got["team-web"] != [2]int{5, 3} || got["team-db"] != [2]int{2, 1} {
		t.Errorf("sla after the exception: %v; want team-web 5 open 3 excepted, team-db 2 and 1", got)
	}
	if out := fl.cli(t, op, "exceptions", "revoke", "1"); out != "exception 1 is revoked\n" {
		t.Errorf("exceptions revoke said %q", out)
	}

	var waiting apiv1.Approvals
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline) && len(waiting.Deployments) == 0; time.Sleep(200 * time.Millisecond) {
		fl.cliJSON(t, ap, &waiting, "approvals", "ls")
	}
	if len(waiting.Deployments) != 1 {
		t.Fatalf("no deployment awaiting approval within 90 s: %+v\nserver log:\n%s", waiting, fl.ts.stderr)
	}
	id := itoa(waiting.Deployments[0].ID)
	if out := squash(fl.cli(t, ap, "approvals", "ls")); !strings.Contains(out, "deployment "+id) || !strings.Contains(out, "staging now") {
		t.Errorf("approvals ls (table):\n%s", out)
	}
	var ds []patchbay.Deployment
	fl.cliJSON(t, op, &ds, "deployments", "ls", "--policy", "staging now", "--state", "awaiting_approval")
	if len(ds) != 1 || itoa(ds[0].ID) != id || ds[0].HostCount != 1 {
		t.Fatalf("deployments ls --policy --state: %+v", ds)
	}
	out = squash(fl.cli(t, op, "deployments", "show", id))
	for _, want := range []string{"state: awaiting_approval (needs_approval)", "requested by: the policy's scheduler",
		"all " + itoa(fl.hosts["stage-1"]) + " stage-1", "openssl:amd64", "curl:amd64", "PB-HIGH-1"} {
		if !strings.Contains(out, want) {
			t.Errorf("deployments show lacks %q:\n%s", want, out)
		}
	}
	if _, _, err := runCLI(t, op, "approvals", "approve", "deployment", id, "--comment", "go"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("an operator approving a deployment: err %v, want a 403", err)
	}
	if out := fl.cli(t, ap, "approvals", "approve", "deployment", id, "--comment", "staging may go"); out != "deployment "+id+" is approved: approved by ann\n" {
		t.Errorf("approvals approve deployment said %q", out)
	}
	fl.cliJSON(t, op, &ds, "deployments", "ls", "--state", "approved")
	if len(ds) != 1 || itoa(ds[0].ID) != id {
		t.Errorf("deployments ls --state approved: %+v", ds)
	}
	if out := squash(fl.cli(t, op, "deployments", "show", id)); !strings.Contains(out, "approved: by ann at ") {
		t.Errorf("deployments show after approval:\n%s", out)
	}
	if _, _, err := runCLI(t, op, "deployments", "ls", "--state", "done"); err == nil || exitCode(err) != exitUsage {
		t.Errorf("deployments ls --state done: err %v, want a usage error", err)
	}
}
