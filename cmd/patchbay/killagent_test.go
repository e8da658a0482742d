package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/debtest"
	"github.com/patchbay/patchbay/internal/pkgmgr"
)

// The package the agent kill tests deploy: 1.0 installed, 1.1 in the
// repository with a postinst that logs, then waits for the test.
var (
	killApp10 = debtest.Package{Name: "story-pb", Version: "1.0"}
	killApp11 = debtest.Package{Name: "story-pb", Version: "1.1", Gated: true}
)

// The postinst's log lines of the upgrade: begun, and let go on.
const (
	postinstBegun    = "story-pb 1.1 postinst configure 1.0\n"
	postinstReleased = "story-pb 1.1 postinst configure 1.0: released\n"
)

// TestAgentKilledMidInstall deploys story-pb 1.1 to a real agent process
// (`patchbay agent --jobs`) that runs the real apt-get and dpkg on a
// throwaway Debian root, and kills the agent while dpkg is in the middle
// of configuring the package (its postinst waits for the test). Whatever
// the kill left, the agent started again on the same state directory
// reports the job's true outcome, read from dpkg's database, exactly once,
// and never runs the install a second time.
func TestAgentKilledMidInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds patchbay and runs the real apt and dpkg under an agent it kills")
	}
	// The agent alone is killed: apt-get and dpkg, in its process group
	// but not killed with it, go on as orphans and finish the upgrade
	// (their output goes to a file, not to a pipe the dead agent no
	// longer reads, whose SIGPIPE would kill the postinst's next echo).
	// The agent, started again once they are done, reports it succeeded.
	t.Run("agent only, restarted after dpkg finished", func(t *testing.T) {
		t.Parallel()
		h := newKillHost(t)
		first := h.runs[0]
		first.kill(t, syscall.SIGKILL, false)
		h.wantGroupAlive(t, first, "after the agent alone was killed: dpkg must finish the upgrade by itself")
		h.f.Release(t, 10*time.Second)
		waitFor(t, 2*time.Minute, "the orphaned apt-get and dpkg to finish", func() bool { return !first.groupAlive() })
		if st := h.f.State(t, "story-pb"); st != (debtest.State{Version: "1.1", Status: "installed"}) {
			t.Fatalf("after the orphaned dpkg finished, story-pb is %s; want 1.1 installed\nscript log:\n%s", st, h.f.ScriptLog(t))
		}
		h.startAgent(t)
		job := h.waitInstallDone(t)
		h.wantSucceeded(t, job)
	})

	// The same, but the agent comes back while the orphaned dpkg is still
	// configuring: it waits for dpkg's locks, reporting nothing, and
	// judges the job only once dpkg is done.
	t.Run("agent only, restarted while dpkg still runs", func(t *testing.T) {
		t.Parallel()
		h := newKillHost(t)
		first := h.runs[0]
		first.kill(t, syscall.SIGKILL, false)
		h.wantGroupAlive(t, first, "after the agent alone was killed")
		second := h.startAgent(t)
		waitFor(t, time.Minute, "the restarted agent to find the interrupted job", func() bool {
			return strings.Contains(second.logs(t), "reading its outcome from the package database")
		})
		time.Sleep(2 * time.Second) // the agent waits on dpkg's locks meanwhile
		if job := h.installJob(t); job.State != patchbay.JobRunning {
			t.Fatalf("while the orphaned dpkg still configures story-pb, the server holds install job %d %s (%s); want running: "+
				"the agent must wait for dpkg before it judges", job.ID, job.State, job.Reason)
		}
		h.wantGroupAlive(t, first, "while the restarted agent waits")
		h.f.Release(t, 10*time.Second)
		job := h.waitInstallDone(t)
		h.wantSucceeded(t, job)
	})

	// The agent's whole process group is killed, apt-get and dpkg with
	// it: story-pb is left half-configured. The agent started again
	// reports the job failed, naming the package, and leaves it alone.
	t.Run("agent, apt-get and dpkg killed", func(t *testing.T) {
		t.Parallel()
		h := newKillHost(t)
		first := h.runs[0]
		first.kill(t, syscall.SIGKILL, true)
		waitFor(t, 30*time.Second, "every process of the agent's group to die", func() bool { return !first.groupAlive() })
		left := debtest.State{Version: "1.1", Status: "half-configured"}
		if st := h.f.State(t, "story-pb"); st != left {
			t.Fatalf("after dpkg was killed in story-pb's postinst, dpkg holds it %s; want %s", st, left)
		}
		h.startAgent(t)
		job := h.waitInstallDone(t)
		if job.State != patchbay.JobFailed || job.Attempt != 1 || !job.Recovered {
			t.Errorf("install job %d: %s at attempt %d, recovered %v; want failed at attempt 1, recovered", job.ID, job.State, job.Attempt, job.Recovered)
		}
		if !strings.Contains(job.Reason, "story-pb") || !strings.Contains(job.Reason, "half-configured") {
			t.Errorf("install job %d's reason %q does not name story-pb half-configured", job.ID, job.Reason)
		}
		if got := versionsOf(job.After); got != "story-pb=1.1" {
			t.Errorf("install job %d: versions after %s; want story-pb=1.1 (half-configured, as dpkg holds it)", job.ID, got)
		}
		d := h.waitDeployment(t, "halted", func(d patchbay.Deployment) bool { return d.State == patchbay.DeploymentHalted })
		if d.Reason != patchbay.ReasonThreshold {
			t.Errorf("deployment %d halted for %s (%s); want %s", d.ID, d.Reason, d.Detail, patchbay.ReasonThreshold)
		}
		h.wantReportedOnce(t, job, "failed")
		// The agent judged, and changed nothing: dpkg still holds the
		// package half-configured, and its postinst began once.
		status := debtest.Run(t, "", []string{"LC_ALL=C"}, "dpkg", "--admindir="+h.f.AdminDir(), "-s", "story-pb")
		if !strings.Contains(status, "Status: install ok half-configured\n") || !strings.Contains(status, "Version: 1.1\n") {
			t.Errorf("dpkg -s story-pb after the report:\n%s\nwant 1.1, half-configured", status)
		}
		if log := h.f.ScriptLog(t); strings.Count(log, postinstBegun) != 1 || strings.Contains(log, postinstReleased) {
			t.Errorf("script log:\n%s\nwant 1.1's postinst begun once and never finished: the install ran again", log)
		}
	})
}

// killHost is one host of an agent kill test: a Debian root with
// story-pb 1.0 installed and 1.1 in its repository, a real server in
// process, and the real agent binary run for the root as a process of
// its own group, killed and started again by the test.
type killHost struct {
	bin        string
	f          *debtest.Fixture
	ts         *testServer
	admin      *client.Client
	secret     string
	stateDir   string
	logDir     string
	runs       []*agentRun
	deployment int64
}

// newKillHost sets the host up and takes it to the instant the test
// kills at: the agent's dpkg is running story-pb 1.1's postinst, which
// waits on the fixture's gate.
func newKillHost(t *testing.T) *killHost {
	t.Helper()
	f := debtest.New(t, killApp10, killApp11)
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	apt := &pkgmgr.Apt{Root: f.Root, SandboxUser: "root"}
	if err := apt.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if res, err := apt.Install(ctx, []pkgmgr.Action{{Name: "story-pb", Version: "1.0"}}, pkgmgr.InstallOptions{}); err != nil {
		t.Fatalf("install story-pb 1.0: %v\n%s", err, res.Output)
	}
	for name, body := range map[string]string{
		"etc/os-release":            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n",
		"etc/machine-id":            "6b696c6c6167656e74000000000000aa\n",
		"proc/sys/kernel/hostname":  "killed-01\n",
		"proc/sys/kernel/osrelease": "6.1.0-28-amd64\n",
		"proc/sys/kernel/arch":      "x86_64\n",
		"proc/cpuinfo":              "processor\t: 0\n",
		"proc/meminfo":              "MemTotal:        2000000 kB\n",
		"proc/uptime":               "1000.00 900.00\n",
		"proc/stat":                 "btime 1733000000\n",
		"etc/timezone":              "Etc/UTC\n",
	} {
		debtest.WriteFile(t, filepath.Join(f.Root, name), body)
	}

	dir := t.TempDir()
	h := &killHost{bin: bin, f: f, stateDir: filepath.Join(dir, "agent-state"), logDir: dir}
	h.ts = startServer(t, filepath.Join(dir, "data"), nil, "--plan-interval", "200ms", "--match-interval", "200ms")
	adminEnv := map[string]string{"HOME": dir, "PATCHBAY_SERVER": h.ts.url, "PATCHBAY_TOKEN": h.ts.token}
	h.admin, _ = client.New(client.Options{Server: h.ts.url, Token: h.ts.token, Timeout: 10 * time.Second})
	operator, approver := killUser(t, adminEnv, "olga", "operator"), killUser(t, adminEnv, "ann", "approver")
	h.secret = strings.TrimSpace(cliOK(t, adminEnv, "enroll-secrets", "create", "--name", "kill agent"))

	h.startAgent(t)
	var hostID int64
	waitFor(t, time.Minute, "the agent to enroll and its story-pb 1.1 update to reach the work queue", func() bool {
		q, err := h.admin.Updates(ctx, client.UpdateQuery{Limit: 10})
		if err != nil {
			return false
		}
		for _, u := range q.Items {
			if u.Hostname == "killed-01" && u.Name == "story-pb" && u.FromVersion == "1.0" && u.ToVersion == "1.1" {
				hostID = u.HostID
				return true
			}
		}
		return false
	})

	opened := time.Now().UTC().Add(-5 * time.Minute)
	out := cliOK(t, operator, "deployments", "create", "--name", "story-pb 1.1", "--host", strconv.FormatInt(hostID, 10), "--package", "story-pb",
		"--reboot", "never", "--no-auto-rollback", "--window", fmt.Sprintf("%d %d * * *;2h;UTC", opened.Minute(), opened.Hour()))
	m := regexp.MustCompile(`^created deployment (\d+) .*\(awaiting_approval\): 1 host`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("deployments create said %q", out)
	}
	h.deployment, _ = strconv.ParseInt(m[1], 10, 64)
	cliOK(t, approver, "deployments", "approve", m[1], "--comment", "the kill test's upgrade")

	waitFor(t, 2*time.Minute, "story-pb 1.1's postinst to run", func() bool { return strings.Contains(f.ScriptLog(t), postinstBegun) })
	if job := h.installJob(t); job.State != patchbay.JobRunning || job.Attempt != 1 {
		t.Fatalf("install job %d is %s at attempt %d while its postinst runs; want running at 1", job.ID, job.State, job.Attempt)
	}
	return h
}

// killUser makes a user with role and returns the CLI environment of a
// token of theirs.
func killUser(t *testing.T, admin map[string]string, name, role string) map[string]string {
	t.Helper()
	cliOK(t, admin, "users", "create", name, "--role", role)
	token := strings.TrimSpace(cliOK(t, admin, "tokens", "create", "--name", "kill agent", "--user", name))
	return map[string]string{"HOME": t.TempDir(), "PATCHBAY_SERVER": admin["PATCHBAY_SERVER"], "PATCHBAY_TOKEN": token}
}

// cliOK runs the CLI in-process and fails the test when it fails.
func cliOK(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	out, errOut, err := runCLI(t, env, args...)
	if err != nil {
		t.Fatalf("patchbay %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// agentRun is one run of the agent process. It leads a process group of
// its own, which the apt-get and dpkg it starts join.
type agentRun struct {
	cmd    *exec.Cmd
	log    string // its standard output and error
	exited chan struct{}
}

// startAgent starts `patchbay agent --jobs` for the root on the host's
// state directory, logging at debug level to a file of its own.
func (h *killHost) startAgent(t *testing.T) *agentRun {
	t.Helper()
	r := &agentRun{log: filepath.Join(h.logDir, fmt.Sprintf("agent-%d.log", len(h.runs)+1)), exited: make(chan struct{})}
	logFile, err := os.Create(r.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	r.cmd = exec.Command(h.bin, "agent", "--server", h.ts.url, "--state-dir", h.stateDir, "--root", h.f.Root, "--jobs",
		"--interval", "1s", "--log-level", "debug")
	r.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + h.logDir, "PATCHBAY_ENROLL_SECRET=" + h.secret}
	// A file, not a pipe: nothing of the test's dies with the agent.
	r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
	// Its own group: the test can kill the agent with its children, and
	// a signal to the test's group does not reach it.
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.cmd.Wait(); close(r.exited) }()
	// Whatever the test left running: the agent, and the apt-get, dpkg
	// and postinst it started, orphaned or not.
	t.Cleanup(func() {
		syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.exited
		waitFor(t, 10*time.Second, "the killed agent's children to end", func() bool { return !r.groupAlive() })
		if t.Failed() {
			t.Logf("agent run %s:\n%s", filepath.Base(r.log), r.logs(t))
		}
	})
	h.runs = append(h.runs, r)
	return r
}

// kill sends sig to the agent, or to its whole process group, and waits
// for the agent to end.
func (r *agentRun) kill(t *testing.T, sig syscall.Signal, group bool) {
	t.Helper()
	pid := r.cmd.Process.Pid
	if group {
		pid = -pid
	}
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("kill %d: %v", pid, err)
	}
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("the agent did not end within 10 s of %v", sig)
	}
}

// groupAlive reports whether a process of the run's group is left (the
// agent's apt-get, dpkg or the postinst, once the agent is gone).
func (r *agentRun) groupAlive() bool {
	return !errors.Is(syscall.Kill(-r.cmd.Process.Pid, 0), syscall.ESRCH)
}

// logs returns what the run logged so far.
func (r *agentRun) logs(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(r.log)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantGroupAlive fails the test unless the killed agent's apt-get and
// dpkg still run.
func (h *killHost) wantGroupAlive(t *testing.T, r *agentRun, when string) {
	t.Helper()
	if !r.groupAlive() {
		t.Fatalf("no process of the agent's group is left %s (dpkg holds story-pb %s)\nscript log:\n%s",
			when, h.f.State(t, "story-pb"), h.f.ScriptLog(t))
	}
}

// installJob returns the deployment's install job.
func (h *killHost) installJob(t *testing.T) patchbay.Job {
	t.Helper()
	jobs, err := h.admin.DeploymentJobs(context.Background(), h.deployment, patchbay.JobInstall)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("deployment %d's install jobs: %+v, %v; want one", h.deployment, jobs, err)
	}
	return jobs[0]
}

// waitInstallDone waits for the install job's result to reach the
// server.
func (h *killHost) waitInstallDone(t *testing.T) patchbay.Job {
	t.Helper()
	var job patchbay.Job
	waitFor(t, 2*time.Minute, "the install job's result", func() bool {
		job = h.installJob(t)
		return job.State != patchbay.JobRunning && job.State != patchbay.JobPending
	})
	return job
}

// waitDeployment waits until ok holds of the deployment.
func (h *killHost) waitDeployment(t *testing.T, what string, ok func(patchbay.Deployment) bool) patchbay.Deployment {
	t.Helper()
	var d patchbay.Deployment
	waitFor(t, time.Minute, "deployment "+what, func() bool {
		var err error
		d, err = h.admin.Deployment(context.Background(), h.deployment)
		return err == nil && ok(d)
	})
	return d
}

// wantSucceeded checks a host the orphaned dpkg finished upgrading: the
// job healthy at its first attempt, recovered, 1.1 installed; the
// deployment completed; the postinst run once, to its end.
func (h *killHost) wantSucceeded(t *testing.T, job patchbay.Job) {
	t.Helper()
	if job.State != patchbay.JobHealthy || job.Attempt != 1 || !job.Recovered || job.Reason != "" {
		t.Errorf("install job %d: %s at attempt %d, recovered %v, reason %q; want healthy at attempt 1, recovered, no reason",
			job.ID, job.State, job.Attempt, job.Recovered, job.Reason)
	}
	if before, after := versionsOf(job.Before), versionsOf(job.After); before != "story-pb=1.0" || after != "story-pb=1.1" {
		t.Errorf("install job %d: versions %s → %s; want story-pb=1.0 → story-pb=1.1", job.ID, before, after)
	}
	h.waitDeployment(t, "completed", func(d patchbay.Deployment) bool { return d.State == patchbay.DeploymentCompleted })
	h.wantReportedOnce(t, job, "healthy")
	if st := h.f.State(t, "story-pb"); st != (debtest.State{Version: "1.1", Status: "installed"}) {
		t.Errorf("dpkg holds story-pb %s; want 1.1 installed", st)
	}
	if log := h.f.ScriptLog(t); strings.Count(log, postinstBegun) != 1 || strings.Count(log, postinstReleased) != 1 {
		t.Errorf("script log:\n%s\nwant 1.1's postinst begun once and finished once", log)
	}
}

// wantReportedOnce checks that the server was given the fetch job and the
// install job once each, and one result of each (the install's status);
// that no agent run reported the install twice; and that the agent
// forgot the job once the server had it.
func (h *killHost) wantReportedOnce(t *testing.T, job patchbay.Job, status string) {
	t.Helper()
	if n := metric(t, h.ts.url, "patchbay_jobs_handed_total"); n != "2" {
		t.Errorf("jobs handed to the agent: %s; want 2 (the fetch and the install, each once)", n)
	}
	if n := metric(t, h.ts.url, fmt.Sprintf(`patchbay_job_results_total{status=%q}`, status)); n != "1" {
		t.Errorf("%s job results the server took: %s; want 1", status, n)
	}
	reported := regexp.MustCompile(fmt.Sprintf(`msg="job reported" component=agent job=%d attempt=`, job.ID))
	n := 0
	for _, r := range h.runs {
		n += len(reported.FindAllString(r.logs(t), -1))
	}
	if n != 1 {
		t.Errorf("the agent reported install job %d %d times over its runs; want once", job.ID, n)
	}
	waitFor(t, 10*time.Second, "the agent to forget the reported job", func() bool {
		left, err := filepath.Glob(filepath.Join(h.stateDir, "jobs", "job-*.json"))
		return err == nil && len(left) == 0
	})
}

// versionsOf renders package versions as "name=version,…".
func versionsOf(vs []patchbay.PackageVersion) string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Name+"="+v.Version)
	}
	return strings.Join(out, ",")
}
