package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/agent"
	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/protocol"
)

// fakePM is a host's package manager in memory. Its archive holds only the
// newest version of each package, as a distribution's does; Fetch keeps
// the files of the versions installed before, and Restore reinstalls from
// those files alone.
type fakePM struct {
	mu        sync.Mutex
	installed map[string]string // name → version
	archive   map[string]string // name → the one version the archive holds
	files     map[string]bool   // "name=version" package files downloaded or kept
	broken    []string          // half-configured packages
	calls     []string          // "install openssl=V", in order
	// failInstall makes an install leave its packages half-configured, as
	// a failing postinst does; hook, when set, runs before Install and
	// Restore (op "install" or "restore").
	failInstall bool
	hook        func(ctx context.Context, op string) error
}

func newFakePM(installed, archive map[string]string) *fakePM {
	return &fakePM{installed: installed, archive: archive, files: map[string]bool{}}
}

func (pm *fakePM) Versions(ctx context.Context, actions []protocol.Action) ([]protocol.PackageVersion, error) {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	out := make([]protocol.PackageVersion, len(actions))
	for i, a := range actions {
		out[i] = protocol.PackageVersion{Name: a.Name, Arch: a.Arch, Version: pm.installed[a.Name]}
	}
	return out, nil
}

func (pm *fakePM) Fetch(ctx context.Context, actions []protocol.Action, before []protocol.PackageVersion) (string, error) {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	for _, a := range actions {
		if pm.archive[a.Name] != a.Version {
			return "", fmt.Errorf("E: Version '%s' for '%s' was not found", a.Version, a.Name)
		}
		pm.files[a.Name+"="+a.Version] = true
	}
	for _, b := range before {
		if b.Version != "" {
			pm.files[b.Name+"="+b.Version] = true // the installed version's .deb, kept for a rollback
		}
	}
	return "fetched", nil
}

func (pm *fakePM) Install(ctx context.Context, actions []protocol.Action) (string, error) {
	return pm.change(ctx, "install", actions)
}

func (pm *fakePM) Restore(ctx context.Context, actions []protocol.Action) (string, error) {
	return pm.change(ctx, "restore", actions)
}

func (pm *fakePM) change(ctx context.Context, op string, actions []protocol.Action) (string, error) {
	if pm.hook != nil {
		if err := pm.hook(ctx, op); err != nil {
			return "", err
		}
	}
	pm.mu.Lock()
	defer pm.mu.Unlock()
	for _, a := range actions {
		key := a.Name + "=" + a.Version
		pm.calls = append(pm.calls, op+" "+key)
		if !pm.files[key] && (op == "restore" || pm.archive[a.Name] != a.Version) {
			return "", fmt.Errorf("no package file for %s", key)
		}
		pm.installed[a.Name] = a.Version
		pm.broken = slices.DeleteFunc(pm.broken, func(n string) bool { return n == a.Name })
		if op == "install" && pm.failInstall {
			pm.broken = append(pm.broken, a.Name)
			return "Setting up " + key + " ...\n", fmt.Errorf("installed %s package post-installation script subprocess returned error exit status 1", a.Name)
		}
	}
	return op + " done", nil
}

func (pm *fakePM) Broken(ctx context.Context) ([]string, error) {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	return slices.Clone(pm.broken), nil
}

func (pm *fakePM) WaitIdle(ctx context.Context) error { return ctx.Err() }

func (pm *fakePM) state() (version string, calls []string, broken []string) {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	return pm.installed["openssl"], slices.Clone(pm.calls), slices.Clone(pm.broken)
}

// fakeAgent is a host's agent in-process: it long-polls for jobs with the
// host's token, runs them with agent.Executor over a fakePM, and reports
// them, while online.
type fakeAgent struct {
	name   string
	api    *client.Client
	x      *agent.Executor
	pm     *fakePM
	online atomic.Bool
	polls  atomic.Int64 // polls answered
	// offlineAfterFetch takes the host offline once it reported its fetch
	// job; fetched is set then.
	offlineAfterFetch bool
	fetched           atomic.Bool
	mu                sync.Mutex
	got               []protocol.Job
}

func newFakeAgent(t *testing.T, fl *policyFleet, name string) *fakeAgent {
	t.Helper()
	j, err := agent.OpenJournal(filepath.Join(t.TempDir(), "jobs"))
	if err != nil {
		t.Fatal(err)
	}
	api, err := client.New(client.Options{Server: fl.ts.url, Token: fl.tokens[name]})
	if err != nil {
		t.Fatal(err)
	}
	pm := newFakePM(map[string]string{"openssl": pkgOpenSSL.from}, map[string]string{"openssl": pkgOpenSSL.to})
	a := &fakeAgent{name: name, api: api, pm: pm, x: &agent.Executor{Journal: j, PM: pm}}
	a.online.Store(true)
	return a
}

func (a *fakeAgent) run(ctx context.Context, t *testing.T) {
	for ctx.Err() == nil {
		if !a.online.Load() {
			sleepCtx(ctx, 20*time.Millisecond)
			continue
		}
		res, err := a.api.PollJobs(ctx, time.Second)
		if err != nil {
			if ctx.Err() == nil {
				t.Logf("%s: poll: %v", a.name, err)
				sleepCtx(ctx, 100*time.Millisecond)
			}
			continue
		}
		a.polls.Add(1)
		for _, job := range res.Jobs {
			a.mu.Lock()
			a.got = append(a.got, job)
			a.mu.Unlock()
			r, err := a.x.Run(ctx, job)
			if err == nil {
				_, err = a.api.ReportJob(ctx, job.ID, r)
			}
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("%s: job %d (%s): %v", a.name, job.ID, job.Kind, err)
				}
				continue
			}
			a.x.Journal.Remove(job.ID, job.Attempt)
			if job.Kind == protocol.JobFetch && a.offlineAfterFetch {
				a.online.Store(false)
				a.fetched.Store(true)
			}
		}
	}
}

// kinds lists the kinds of the jobs the agent received, in order.
func (a *fakeAgent) kinds() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, j := range a.got {
		out = append(out, string(j.Kind))
	}
	return out
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// waitUntil polls ok every 20 ms until it holds, ctx ends or 30 s pass.
func waitUntil(ctx context.Context, what string, ok func() bool) error {
	for deadline := time.Now().Add(30 * time.Second); !ok(); sleepCtx(ctx, 20*time.Millisecond) {
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("not %s within 30 s", what)
		}
	}
	return nil
}

// waitDeployment polls deployments show -o json until ok holds.
func (fl *policyFleet) waitDeployment(t *testing.T, id, what string, ok func(deploymentView) bool) deploymentView {
	t.Helper()
	var v deploymentView
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if fl.cliJSON(t, fl.operator, &v, "deployments", "show", id); ok(v) {
			return v
		}
	}
	t.Fatalf("deployment %s: not %s within 60 s; it is %s (%s): %s\nprogress %+v\nserver log:\n%s", id, what, v.State, v.Reason, v.Detail, v.Progress, fl.ts.stderr)
	return v
}

// TestDeployRolloutHaltsAndRollsBack tells the story through the
// server, the API and the CLI, with the hosts' agents in-process: openssl
// goes to web-1 (ring pilot), then to web-2 and db-1 (ring rest, no
// failure allowed). web-1 succeeds; web-2 is offline when the rest ring
// opens; db-1's install breaks, so the deployment halts and db-1 goes
// back to its exact previous version from the file its agent kept,
// although the archive no longer holds it. web-2, back online while the
// deployment is halted, is given nothing.
func TestDeployRolloutHaltsAndRollsBack(t *testing.T) {
	fl := startPolicyFleet(t)
	op, ap := fl.operator, fl.approver
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })

	agents := map[string]*fakeAgent{}
	for _, name := range []string{"web-1", "web-2", "db-1"} {
		agents[name] = newFakeAgent(t, fl, name)
	}
	web1, web2, db1 := agents["web-1"], agents["web-2"], agents["db-1"]
	web2.offlineAfterFetch = true
	// web-1 installs once web-2 went offline, so that web-2 is offline
	// when the rest ring opens; db-1 rolls back once web-2, back online
	// while the deployment is halted, polled.
	web1.pm.hook = func(ctx context.Context, op string) error {
		return waitUntil(ctx, "web-2 fetched and offline", web2.fetched.Load)
	}
	var web2Back atomic.Int64
	db1.pm.failInstall = true
	db1.pm.hook = func(ctx context.Context, op string) error {
		if op != "restore" {
			return nil
		}
		return waitUntil(ctx, "web-2 polled while halted", func() bool { n := web2Back.Load(); return n > 0 && web2.polls.Load() >= n })
	}
	for _, a := range agents {
		wg.Go(func() { a.run(ctx, t) })
	}

	// The operator makes it: pilot is the first host, rest the others; a
	// window opened five minutes ago, UTC.
	opened := time.Now().UTC().Add(-5 * time.Minute)
	out := fl.cli(t, op, "deployments", "create", "--name", "openssl on prod", "--host", "web-1", "--host", itoa(fl.hosts["web-2"]),
		"--host", "db-1", "--package", "openssl", "--ring", "pilot:count=1", "--ring", "rest,threshold=0", "--reboot", "never",
		"--window", fmt.Sprintf("%d %d * * *;2h;UTC", opened.Minute(), opened.Hour()))
	if !strings.HasPrefix(out, `created deployment 1 "openssl on prod" (awaiting_approval): 3 hosts in rings pilot 1, rest 2`) {
		t.Fatalf("deployments create said %q", out)
	}
	_, _, err := runCLI(t, op, "deployments", "approve", "1", "--comment", "mine")
	if err == nil || !strings.Contains(err.Error(), "server answered 403") {
		t.Fatalf("the operator approving: err %v, want a 403", err)
	}
	if out := fl.cli(t, ap, "deployments", "approve", "1", "--comment", "pilot first, then the rest"); out != "deployment 1 is approved: approved by ann\n" {
		t.Fatalf("deployments approve said %q", out)
	}

	// Watch it to its end, as a person would.
	var watchOut bytes.Buffer
	watchErr := make(chan error, 1)
	go func() {
		wctx, stop := context.WithTimeout(ctx, 90*time.Second)
		defer stop()
		watchErr <- run(wctx, []string{"patchbay", "deployments", "watch", "1", "--every", "100ms"}, mapEnv(op), strings.NewReader(""), &watchOut, &bytes.Buffer{})
	}()

	v := fl.waitDeployment(t, "1", "halted", func(v deploymentView) bool { return v.State == patchbay.DeploymentHalted })
	if v.Reason != patchbay.ReasonRollingBack || !strings.Contains(v.Detail, `ring "rest": 1 of 2 hosts failed, more than its threshold 0`) ||
		v.CurrentRing != 1 || v.Progress[0].Succeeded != 1 || v.Progress[1].Failed != 1 || v.Progress[1].RollingBack != 1 {
		t.Fatalf("halted: %s (%s) %q, ring %d, progress %+v", v.State, v.Reason, v.Detail, v.CurrentRing, v.Progress)
	}
	for _, c := range []struct{ action, want string }{
		{"resume", "cannot resume a deployment while it rolls back"},
		{"retry", "cannot retry a deployment while it rolls back"},
		{"rollback", "the deployment is already rolling back"},
		{"promote", "cannot promote a deployment that is halted (only when running)"},
	} {
		if _, _, err := runCLI(t, op, "deployments", c.action, "1"); err == nil || !strings.Contains(err.Error(), "409: "+c.want) {
			t.Errorf("deployments %s while rolling back: err %v, want a 409 saying %q", c.action, err, c.want)
		}
	}
	web2Back.Store(web2.polls.Load() + 1)
	web2.online.Store(true)

	select {
	case err = <-watchErr:
	case <-time.After(100 * time.Second):
		t.Fatal("deployments watch did not end")
	}
	if err == nil || !strings.Contains(err.Error(), "deployment 1 is rolled_back (rolled_back): 1 host back at their previous versions") {
		t.Errorf("deployments watch: err %v, want it to end saying the deployment rolled back\n%s", err, watchOut.String())
	}
	// web-2's install, never handed out, is pending or skipped.
	restDone := regexp.MustCompile(`rest: [12]/2 done, 1 failed, 1 (pending|skipped), 1 rolled back\n`)
	if out := watchOut.String(); !strings.Contains(out, "ring 1/2 pilot: 1/1 done, 0 failed\n") || !strings.Contains(out, "deployment 1 is halted (rolling_back)") ||
		!restDone.MatchString(out) {
		t.Errorf("deployments watch printed:\n%s", out)
	}

	// The jobs: web-1 patched, db-1 failed and rolled back to its exact
	// previous version, web-2 never started.
	var jobs []patchbay.Job
	fl.cliJSON(t, op, &jobs, "deployments", "jobs", "1")
	byHost := map[string]map[patchbay.JobKind]patchbay.Job{}
	for _, j := range jobs {
		if byHost[j.Hostname] == nil {
			byHost[j.Hostname] = map[patchbay.JobKind]patchbay.Job{}
		}
		byHost[j.Hostname][j.Kind] = j
	}
	old, target := []patchbay.PackageVersion{{Name: "openssl", Arch: "amd64", Version: pkgOpenSSL.from}}, pkgOpenSSL.to
	pilot := byHost["web-1"][patchbay.JobInstall]
	if pilot.State != patchbay.JobHealthy || pilot.Ring != 0 || !slices.Equal(pilot.Before, old) || pilot.After[0].Version != target {
		t.Errorf("web-1's install: %+v", pilot)
	}
	failed, back := byHost["db-1"][patchbay.JobInstall], byHost["db-1"][patchbay.JobRollback]
	if failed.State != patchbay.JobFailed || !strings.Contains(failed.Reason, "post-installation script") || !strings.Contains(failed.Reason, "left broken: openssl") ||
		!slices.Equal(failed.Before, old) {
		t.Errorf("db-1's install: %+v", failed)
	}
	if back.State != patchbay.JobHealthy || len(back.Actions) != 1 || back.Actions[0].Version != pkgOpenSSL.from || !slices.Equal(back.After, old) {
		t.Errorf("db-1's rollback: %+v", back)
	}
	if never := byHost["web-2"][patchbay.JobInstall]; never.HandedAt != nil || never.State.Final() && never.State != patchbay.JobSkipped {
		t.Errorf("web-2's install was handed out or ran: %+v", never)
	}
	if _, ok := byHost["web-2"][patchbay.JobRollback]; ok || len(byHost["web-1"]) != 2 || len(jobs) != 7 {
		t.Errorf("jobs: want a fetch and an install per host and db-1's rollback alone: %+v", jobs)
	}
	// The rest ring started only once the pilot had finished.
	if h := failed.HandedAt; h == nil || pilot.FinishedAt == nil || h.Before(*pilot.FinishedAt) {
		t.Errorf("db-1's install handed at %v, before web-1's finished at %v", h, pilot.FinishedAt)
	}
	if got := web2.kinds(); !slices.Equal(got, []string{"fetch"}) || web2.polls.Load() < web2Back.Load() {
		t.Errorf("web-2 received %v (polls %d), want only its fetch job although it polled while halted", got, web2.polls.Load())
	}
	for name, want := range map[string]string{"web-1": target, "web-2": pkgOpenSSL.from, "db-1": pkgOpenSSL.from} {
		version, calls, broken := agents[name].pm.state()
		if version != want || len(broken) > 0 {
			t.Errorf("%s has openssl %s (broken %v, calls %v), want %s", name, version, broken, calls, want)
		}
	}
	if _, calls, _ := db1.pm.state(); !slices.Equal(calls, []string{"install openssl=" + target, "restore openssl=" + pkgOpenSSL.from}) ||
		db1.pm.archive["openssl"] != target {
		t.Errorf("db-1's package manager was asked %v; its archive holds %s", calls, db1.pm.archive["openssl"])
	}
	out = squash(fl.cli(t, op, "deployments", "jobs", "1", "--kind", "rollback"))
	if !strings.Contains(out, "HOST RING KIND ATTEMPT STATE BEFORE→AFTER REASON") || strings.Count(out, "\n") != 2 ||
		!strings.Contains(out, "db-1 rest rollback 1 healthy openssl "+target+"→"+pkgOpenSSL.from) {
		t.Errorf("deployments jobs --kind rollback:\n%s", out)
	}
	if out := squash(fl.cli(t, op, "deployments", "jobs", "1")); !strings.Contains(out, "db-1 rest install 1 failed openssl "+pkgOpenSSL.from+"→"+target) {
		t.Errorf("deployments jobs:\n%s", out)
	}

	v = fl.waitDeployment(t, "1", "rolled back", func(v deploymentView) bool { return v.State == patchbay.DeploymentRolledBack })
	want := []ringProgress{{Ring: "pilot", Hosts: 1, Fetched: 1, Succeeded: 1}, {Ring: "rest", Hosts: 2, Fetched: 2, Failed: 1, RolledBack: 1}}
	if len(v.Progress) == 2 {
		want[1].Pending, want[1].Skipped = v.Progress[1].Pending, v.Progress[1].Skipped
	}
	if !slices.Equal(v.Progress, want) || want[1].Pending+want[1].Skipped != 1 || v.Reason != patchbay.ReasonRolledBack {
		t.Errorf("deployments show -o json: %s (%s), progress %+v, want %+v", v.State, v.Reason, v.Progress, want)
	}
	out = squash(fl.cli(t, op, "deployments", "show", "1"))
	for _, want := range []string{"state: rolled_back (rolled_back): 1 host back at their previous versions", "current ring: 2. rest",
		"progress: pilot: 1/1 done, 0 failed", "approved: by ann at "} {
		if !strings.Contains(out, want) {
			t.Errorf("deployments show lacks %q:\n%s", want, out)
		}
	}
	if !restDone.MatchString(out) {
		t.Errorf("deployments show lacks the rest ring's progress:\n%s", out)
	}
	checkDeploymentAudit(t, fl, "1", "deployment.propose", "deployment.approve", "deployment.scheduled", "deployment.running", "deployment.halted", "deployment.rolled_back")
}

// checkDeploymentAudit checks that the audit trail holds deployment id's
// events with the actions want in this order (others may come between),
// and that each transition starts where the one before it ended.
func checkDeploymentAudit(t *testing.T, fl *policyFleet, id string, want ...string) []patchbay.AuditEvent {
	t.Helper()
	var events []patchbay.AuditEvent
	fl.cliJSON(t, fl.admin, &events, "audit", "ls", "--object", "deployment:"+id)
	type side struct {
		State   string `json:"state"`
		Comment string `json:"comment"`
	}
	var actions []string
	var prev side
	for i, ev := range events {
		var before, after side
		json.Unmarshal(ev.Before, &before)
		json.Unmarshal(ev.After, &after)
		if i > 0 && before.State != prev.State {
			t.Errorf("audit event %d (%s) starts from %q, but the one before ended in %q", ev.Seq, ev.Action, before.State, prev.State)
		}
		if ev.Action == "deployment.approve" && (ev.Actor != "user:ann" || after.Comment == "") {
			t.Errorf("the approval's audit event: %s by %s, comment %q", ev.Action, ev.Actor, after.Comment)
		}
		prev, actions = after, append(actions, ev.Action)
	}
	rest := actions
	for _, w := range want {
		i := slices.Index(rest, w)
		if i < 0 {
			t.Fatalf("audit ls --object deployment:%s: no %s in order in %v", id, w, actions)
		}
		rest = rest[i+1:]
	}
	return events
}

// TestDeployPauseResumeCancel moves a deployment whose window has not
// opened through pause, resume and cancel, each refused in the wrong
// state with the server's reason; makes one from a file; and makes an
// emergency deployment, which the audit trail says loudly.
func TestDeployPauseResumeCancel(t *testing.T) {
	fl := startPolicyFleet(t)
	op, ap := fl.operator, fl.approver
	stage := itoa(fl.hosts["stage-1"])
	later := time.Now().UTC().Add(12 * time.Hour)
	dir := t.TempDir()

	bad := writeFile(t, filepath.Join(dir, "bad.yaml"), "name: curl later\nhosts: ["+stage+"]\nring: []\n")
	if _, _, err := runCLI(t, op, "deployments", "create", "-f", bad); err == nil || !strings.Contains(err.Error(), "bad.yaml:3:1: ring: ") ||
		!strings.Contains(err.Error(), "a deployment request has no such field") {
		t.Errorf("create -f with an unknown field: err %v, want one naming the file, line and field", err)
	}
	file := writeFile(t, filepath.Join(dir, "curl.yaml"), fmt.Sprintf(`name: curl on staging, later
hosts: [%s]
packages: [curl]
rings: [{name: all, failure_threshold: "1"}]
windows: [{cron: "%d %d * * *", duration: 1h, zone: UTC}]
reboot: {mode: never}
`, stage, later.Minute(), later.Hour()))
	if _, _, err := runCLI(t, op, "deployments", "create", "-f", file, "--name", "x"); err == nil || exitCode(err) != exitUsage || !strings.Contains(err.Error(), "drop --name") {
		t.Errorf("create -f with --name: err %v, want a usage error", err)
	}
	for _, args := range [][]string{{"--ring", "pilot:count=x"}, {"--ring", "a:count=1,label=b"}, {"--ring", "a,speed=2"}, {"--window", "0 2 * * *"}, {"--reboot", "sometimes"}} {
		if _, _, err := runCLI(t, op, append([]string{"deployments", "create", "--name", "x", "--host", stage}, args...)...); err == nil || exitCode(err) != exitUsage {
			t.Errorf("create %v: err %v, want a usage error", args, err)
		}
	}
	if _, _, err := runCLI(t, op, "deployments", "create", "--name", "x", "--host", "nosuchhost"); err == nil || !strings.Contains(err.Error(), `--host "nosuchhost": no active host`) {
		t.Errorf("create --host nosuchhost: err %v", err)
	}
	if _, _, err := runCLI(t, op, "deployments", "create", "--name", "x", "--host", stage); err == nil || !strings.Contains(err.Error(), "422: windows: at least one window is required") {
		t.Errorf("create without a window: err %v, want the server's 422", err)
	}
	var d patchbay.Deployment
	var ds []patchbay.Deployment
	fl.cliJSON(t, op, &ds, "deployments", "create", "-f", file)
	if d = ds[0]; len(ds) != 1 || d.State != patchbay.DeploymentAwaitingApproval || d.HostCount != 1 || !d.AutoRollback {
		t.Fatalf("create -f: %+v", ds)
	}
	id := itoa(d.ID)
	act := func(action, want string) {
		t.Helper()
		out, _, err := runCLI(t, op, "deployments", action, id)
		if got := out + fmt.Sprint(err); !strings.Contains(got, want) {
			t.Errorf("deployments %s %s: %s; want %q", action, id, got, want)
		}
	}
	act("pause", "409: cannot pause a deployment that is awaiting_approval (only when scheduled, running)")
	fl.cli(t, ap, "deployments", "approve", id, "--comment", "fine, tonight")
	fl.waitDeployment(t, id, "scheduled", func(v deploymentView) bool { return v.State == patchbay.DeploymentScheduled })
	act("resume", "409: cannot resume a deployment that is scheduled (only when paused, halted)")
	act("promote", "409: cannot promote a deployment that is scheduled (only when running)")
	act("pause", "deployment "+id+" is paused (paused): paused by user:olga")
	act("pause", "409: cannot pause a deployment that is paused")
	out, _, err := runCLI(t, op, "deployments", "watch", id)
	if err != nil || !strings.Contains(out, "deployment "+id+" is paused (paused): paused by user:olga; continue it with patchbay deployments resume "+id) {
		t.Errorf("deployments watch of a paused deployment: %v\n%s", err, out)
	}
	var res struct{ State patchbay.DeploymentState }
	fl.cliJSON(t, op, &res, "deployments", "resume", id)
	if res.State != patchbay.DeploymentScheduled && res.State != patchbay.DeploymentRunning {
		t.Errorf("deployments resume -o json: %+v", res)
	}
	act("cancel", "deployment "+id+" is cancelled (cancelled): cancelled by user:olga")
	for _, a := range []string{"cancel", "rollback", "resume", "submit"} {
		act(a, "409: cannot "+a+" a deployment that is cancelled (only when ")
	}
	var jobs []patchbay.Job
	fl.cliJSON(t, op, &jobs, "deployments", "jobs", id)
	if len(jobs) != 2 || jobs[0].State != patchbay.JobSkipped || jobs[1].State != patchbay.JobSkipped {
		t.Errorf("jobs of the cancelled deployment: %+v, want its fetch and install skipped", jobs)
	}
	if _, _, err := runCLI(t, op, "deployments", "watch", id); err == nil || !strings.Contains(err.Error(), "deployment "+id+" is cancelled (cancelled)") {
		t.Errorf("deployments watch of a cancelled deployment: err %v", err)
	}
	checkDeploymentAudit(t, fl, id, "deployment.propose", "deployment.approve", "deployment.scheduled", "deployment.paused", "deployment.scheduled", "deployment.cancelled")

	// Patch now: no window, an approver still decides, and says no.
	out = fl.cli(t, op, "deployments", "create", "--name", "patch now", "--label", "staging", "--package", "openssl", "--emergency")
	if !strings.HasPrefix(out, "created EMERGENCY deployment 2 \"patch now\" (awaiting_approval): 1 host in rings all 1") {
		t.Errorf("create --emergency said %q", out)
	}
	if out := squash(fl.cli(t, op, "deployments", "show", "2")); !strings.Contains(out, "emergency: yes") || !strings.Contains(out, "EMERGENCY: skips maintenance windows") {
		t.Errorf("deployments show of the emergency deployment:\n%s", out)
	}
	if out := fl.cli(t, ap, "deployments", "reject", "2", "--comment", "not a zero-day"); out != "deployment 2 is cancelled: rejected by ann\n" {
		t.Errorf("deployments reject said %q", out)
	}
	if events := checkDeploymentAudit(t, fl, "2", "deployment.propose-emergency", "deployment.reject"); events[0].Actor != "user:olga" {
		t.Errorf("the emergency proposal's actor: %s", events[0].Actor)
	}
}

func TestDeployParseRing(t *testing.T) {
	for _, c := range []struct {
		in   string
		want patchbay.RingSpec
		err  string
	}{
		{"rest", patchbay.RingSpec{Name: "rest"}, ""},
		{"pilot:count=1", patchbay.RingSpec{Name: "pilot", Count: 1}, ""},
		{"canary:label=canary,soak=1h,manual", patchbay.RingSpec{Name: "canary", Label: "canary", SoakTime: "1h", ManualPromotion: true}, ""},
		{"ten:percent=10%,max_parallel=5,threshold=5%", patchbay.RingSpec{Name: "ten", Percent: 10, MaxParallel: 5, FailureThreshold: "5%"}, ""},
		{"rest,threshold=0", patchbay.RingSpec{Name: "rest", FailureThreshold: "0"}, ""},
		{"db:group=db", patchbay.RingSpec{Name: "db", Group: "db"}, ""},
		{":count=1", patchbay.RingSpec{}, "no name"},
		{"a:count=0", patchbay.RingSpec{}, `count="0": want a positive integer`},
		{"a:count=1,percent=5", patchbay.RingSpec{}, "at most one of count, percent, label and group"},
		{"a,soak=1h,soak=2h", patchbay.RingSpec{}, "soak given twice"},
		{"a:label=", patchbay.RingSpec{}, "label needs a value"},
		{"a,fast", patchbay.RingSpec{}, `unknown "fast"`},
		{"a,manual=no", patchbay.RingSpec{}, "manual takes no value"},
	} {
		got, err := parseRing(c.in)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("parseRing(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || exitCode(err) != exitUsage):
			t.Errorf("parseRing(%q): err %v, want a usage error saying %q", c.in, err, c.err)
		}
	}
}

// TestDeployWatchBars draws a rollout as a terminal shows it: a bar per
// ring, the pilot's finished one left above the next.
func TestDeployWatchBars(t *testing.T) {
	var out bytes.Buffer
	w := &watcher{w: &out, bars: true}
	d := patchbay.Deployment{ID: 7, State: patchbay.DeploymentRunning, Reason: patchbay.ReasonStarted, Rings: []patchbay.Ring{{Hosts: 1}, {Hosts: 2}}}
	steps := []struct {
		reason  patchbay.StateReason
		current int
		rings   []ringProgress
	}{
		{patchbay.ReasonStarted, 0, []ringProgress{{Ring: "pilot", Hosts: 1, Running: 1}, {Ring: "rest", Hosts: 2, Pending: 2}}},
		{patchbay.ReasonPromoted, 1, []ringProgress{{Ring: "pilot", Hosts: 1, Succeeded: 1}, {Ring: "rest", Hosts: 2, Pending: 1, Running: 1}}},
		{patchbay.ReasonRollingBack, 1, []ringProgress{{Ring: "pilot", Hosts: 1, Succeeded: 1}, {Ring: "rest", Hosts: 2, Failed: 1, Pending: 1}}},
	}
	for _, s := range steps {
		d.Reason, d.CurrentRing = s.reason, s.current
		w.update(d, s.rings)
	}
	w.endBar()
	got := out.String()
	for _, want := range []string{"deployment 7 is running (started)", "deployment 7 is running (promoted)", "ring 1/2 pilot", "(1/1",
		"ring 2/2 rest, 1 failed", "(1/2"} {
		if !strings.Contains(got, want) {
			t.Errorf("the bars lack %q:\n%q", want, got)
		}
	}
	if regexp.MustCompile(`pilot[^\r\n]*/2\)`).MatchString(got) || !strings.HasSuffix(got, "\n") || strings.HasSuffix(got, "\n\n") ||
		strings.Count(got, "deployment 7 is") != 3 {
		t.Errorf("the bars:\n%q", got)
	}
}

// TestJobWaitingOffline: a pending job says its host is offline once the
// host has not been seen for a while, and nothing while it is around.
func TestJobWaitingOffline(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	for _, tc := range []struct {
		j    patchbay.Job
		want string
	}{
		{patchbay.Job{State: patchbay.JobPending, HostLastSeen: ago(3 * time.Hour)}, "host offline: last seen 3h0m0s ago"},
		{patchbay.Job{State: patchbay.JobPending}, "host offline: never seen"},
		{patchbay.Job{State: patchbay.JobPending, HostLastSeen: ago(time.Minute)}, ""},
		{patchbay.Job{State: patchbay.JobRunning, HostLastSeen: ago(3 * time.Hour)}, ""},
	} {
		if got := waiting(tc.j, now); got != tc.want {
			t.Errorf("%s job, host seen %v: %q, want %q", tc.j.State, tc.j.HostLastSeen, got, tc.want)
		}
	}
}
