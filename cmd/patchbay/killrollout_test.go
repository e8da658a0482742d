package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/apiv1"
	"github.com/patchbay/patchbay/internal/client"
	"github.com/patchbay/patchbay/internal/fleet"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/sim"
	"github.com/patchbay/patchbay/internal/store"
)

// TestKillRolloutCompletes runs a 3-ring deployment of 200 simulated
// hosts' updates while the server is SIGKILLed at seeded points (before a
// claim, a result or a rollout transition commits) and started again on
// the same data: every job is run once per attempt and reported, and the
// deployment ends completed.
func TestKillRolloutCompletes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real server process")
	}
	checkCompleted(t, runKillRollout(t, killRolloutCase{hosts: 200, seed: 11, kills: 5}))
}

// TestKillRolloutCompletesLong is the same with 1,000 hosts and 25 kills,
// through each ring; it runs when PATCHBAY_BENCH_KILL is set
// (bench/kill-rollout.sh sets it).
func TestKillRolloutCompletesLong(t *testing.T) {
	if os.Getenv("PATCHBAY_BENCH_KILL") == "" {
		t.Skip("set PATCHBAY_BENCH_KILL=1 (or run bench/kill-rollout.sh) for 1,000 hosts and 25 kills")
	}
	r := runKillRollout(t, killRolloutCase{hosts: 1000, seed: 31, kills: 25, points: longKillPoints, spread: 40})
	checkCompleted(t, r)
	checkKillsFired(t, r, 25)
}

// longKillPoints are the long runs' fail points: the next rollout
// transition, then four claims and four results killed, each within the
// case's spread, so that the kills go on through each ring.
var longKillPoints = []string{"rollout-commit@1", "claim-commit", "result-commit", "claim-commit", "result-commit",
	"claim-commit", "result-commit", "claim-commit", "result-commit"}

// checkCompleted checks a rollout that nothing failed: it completed, and
// every host fetched and installed once, with no rollback.
func checkCompleted(t *testing.T, r killRolloutResult) {
	t.Helper()
	if r.final.State != patchbay.DeploymentCompleted {
		t.Fatalf("deployment ended %s (%s: %s), want completed", r.final.State, r.final.Reason, r.final.Detail)
	}
	for _, j := range r.jobs {
		want := patchbay.JobHealthy
		if j.Kind == patchbay.JobFetch {
			want = patchbay.JobSucceeded
		}
		if j.State != want || j.Attempt != 1 || j.Kind == patchbay.JobRollback {
			t.Errorf("job %d (%s, host %s, ring %d): %s at attempt %d, want %s at 1", j.ID, j.Kind, j.Hostname, j.Ring, j.State, j.Attempt, want)
		}
	}
	if got, want := len(r.jobs), 2*r.final.HostCount; got != want {
		t.Errorf("%d jobs for %d hosts, want a fetch and an install each", got, r.final.HostCount)
	}
}

// TestKillRolloutHaltsAndRollsBack is the same with debian-12 hosts of the
// second ring failing half their installs: the ring crosses its 5%
// threshold, the deployment halts and rolls the failed hosts back to the
// versions they had, and no host of the third ring starts — through
// kills as well.
func TestKillRolloutHaltsAndRollsBack(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real server process")
	}
	checkRolledBack(t, runKillRollout(t, killRolloutCase{hosts: 200, seed: 23, kills: 4, failImage: "debian-12", failRing: 1, failRate: 0.5}))
}

// TestKillRolloutHaltsLong is the same with 1,000 hosts and 21 kills: the
// claims and results are killed within their first 20, so that the
// second ring's eight kills come before its halt, the 19th (a rollout
// transition) is most often the halt itself, and the last two fall in the
// rollback; it runs when PATCHBAY_BENCH_KILL is set (bench/kill-rollout.sh
// sets it).
func TestKillRolloutHaltsLong(t *testing.T) {
	if os.Getenv("PATCHBAY_BENCH_KILL") == "" {
		t.Skip("set PATCHBAY_BENCH_KILL=1 (or run bench/kill-rollout.sh) for 1,000 hosts and 21 kills")
	}
	r := runKillRollout(t, killRolloutCase{hosts: 1000, seed: 37, kills: 21, failImage: "debian-12", failRing: 1, failRate: 0.5,
		points: longKillPoints, spread: 20})
	checkRolledBack(t, r)
	checkKillsFired(t, r, 21)
}

// checkKillsFired fails a long run whose deployment ended before most of
// its kills fired: it would pass without having killed through the rings.
func checkKillsFired(t *testing.T, r killRolloutResult, kills int) {
	t.Helper()
	if len(r.fired)*5 < kills*4 {
		t.Errorf("%d of %d kills fired before the deployment ended (%s), want at least 4 in 5", len(r.fired), kills, strings.Join(r.fired, ", "))
	}
}

// checkRolledBack checks a rollout whose second ring failed: it halted and
// rolled back exactly the hosts that failed, to the versions they had,
// and no host of the third ring started.
func checkRolledBack(t *testing.T, r killRolloutResult) {
	t.Helper()
	if r.final.State != patchbay.DeploymentRolledBack {
		t.Fatalf("deployment ended %s (%s: %s), want rolled back", r.final.State, r.final.Reason, r.final.Detail)
	}
	installs := map[int64]patchbay.Job{}
	var failed, ringHosts int
	for _, j := range r.jobs {
		if j.Kind != patchbay.JobInstall {
			continue
		}
		installs[j.HostID] = j
		switch j.Ring {
		case 0:
			if j.State != patchbay.JobHealthy {
				t.Errorf("pilot host %s: install %s, want healthy", j.Hostname, j.State)
			}
		case 1:
			ringHosts++
			if j.State == patchbay.JobFailed {
				failed++
			}
		case 2:
			if j.HandedAt != nil || (j.State != patchbay.JobPending && j.State != patchbay.JobSkipped) {
				t.Errorf("third-ring host %s started: install %s, handed at %v", j.Hostname, j.State, j.HandedAt)
			}
		}
	}
	if failed*100 <= 5*ringHosts {
		t.Fatalf("%d of %d second-ring installs failed: not over the 5%% threshold, the test proves nothing", failed, ringHosts)
	}
	rolledBack := 0
	back := map[int64]bool{}
	for _, j := range r.jobs {
		if j.Kind != patchbay.JobRollback {
			continue
		}
		back[j.HostID] = true
		in := installs[j.HostID]
		if in.State != patchbay.JobFailed || in.Ring != 1 {
			t.Errorf("host %s rolled back, but its install was %s in ring %d", j.Hostname, in.State, in.Ring)
			continue
		}
		if j.State != patchbay.JobSucceeded {
			t.Errorf("host %s: rollback %s, want succeeded", j.Hostname, j.State)
		}
		// The rollback left every package the install touched at its
		// version from before.
		after := map[string]string{}
		for _, v := range j.After {
			after[v.Name] = v.Version
		}
		for _, v := range in.Before {
			if after[v.Name] != v.Version {
				t.Errorf("host %s: %s at %q after the rollback, was %q before the install", j.Hostname, v.Name, after[v.Name], v.Version)
			}
		}
		rolledBack++
	}
	for _, in := range installs {
		if in.State == patchbay.JobFailed && !back[in.HostID] {
			t.Errorf("host %s failed its install (finished %v) and was never ordered back: was it still patching when the ring halted?",
				in.Hostname, in.FinishedAt)
		}
	}
	for k, run := range r.runs {
		if run.kind == patchbay.JobInstall && run.ring == 2 {
			t.Errorf("the simulated host %d ran install job %d of the third ring", run.host, k.id)
		}
	}
	t.Logf("%d of %d second-ring installs failed; %d rolled back", failed, ringHosts, rolledBack)
}

// TestSimJobFlags checks how `patchbay sim` reads its job flags.
func TestSimJobFlags(t *testing.T) {
	pm, err := simOptions{jobs: true, seed: 4, failRates: []string{"debian-12=0.2", "0.05", "rocky-9=1"},
		rebootRates: []string{"alpine-3.20=0"}, jobDurations: []string{"ubuntu-22.04=5m"}}.packageManager()
	if err != nil {
		t.Fatal(err)
	}
	if pm.Seed != 4 || pm.DefaultFailRate != 0.05 || pm.FailRate["debian-12"] != 0.2 || pm.FailRate["rocky-9"] != 1 || len(pm.FailRate) != 2 ||
		pm.DefaultRebootRate != 0.1 || pm.RebootRate["alpine-3.20"] != 0 || len(pm.RebootRate) != 1 ||
		pm.DefaultDuration != sim.DefaultJobDuration || pm.Duration["ubuntu-22.04"] != 5*time.Minute || len(pm.Duration) != 1 {
		t.Errorf("package manager %+v", pm)
	}
	if pm, err := (simOptions{}).packageManager(); pm != nil || err != nil {
		t.Errorf("without --jobs: %+v, %v; want none", pm, err)
	}
	for _, args := range [][]string{
		{"--jobs", "--fail-rate", "debian-13=0.1"},
		{"--jobs", "--fail-rate", "1.5"},
		{"--jobs", "--fail-rate", "debian-12=lots"},
		{"--jobs", "--job-duration", "0s"},
		{"--jobs", "--job-duration", "rocky-9=soon"},
		{"--fail-rate", "0.1"},
	} {
		_, errOut, err := runCLI(t, map[string]string{"HOME": t.TempDir()}, append([]string{"sim", "--server", "http://127.0.0.1:1", "--enroll-secret", "x"}, args...)...)
		if err == nil || !strings.Contains(err.Error()+errOut, "--") {
			t.Errorf("sim %s: %v %s; want a usage error", strings.Join(args, " "), err, errOut)
		}
	}
}

// killRolloutCase is a kill test's fleet and its failures: installs on
// failImage hosts of ring failRing fail at failRate.
type killRolloutCase struct {
	hosts     int
	seed      uint64
	kills     int
	failImage string
	failRing  int
	failRate  float64
	// points are the fail points the kills take in turn (by default two
	// claims and two results between rollout transitions; a point given
	// as NAME@N keeps its N), and spread the most claims or results a
	// kill lets through after a start (by default hosts/8). A
	// rollout-commit kill waits for the next transition (rollout-commit@2
	// for the one after), so a whole ring's jobs may run under it: a long
	// run needs more, shorter, claim and result kills between
	// transitions for its kills to fire before the deployment ends.
	points []string
	spread int
}

// runKey names one attempt of a job.
type runKey struct {
	id      int64
	attempt int
}

// simRun is what the simulated fleet did with one attempt of a job.
type simRun struct {
	host, count int
	kind        patchbay.JobKind
	ring        int
	status      protocol.JobStatus
}

// killRolloutResult is how a kill test's rollout ended.
type killRolloutResult struct {
	final patchbay.Deployment
	jobs  []patchbay.Job
	runs  map[runKey]*simRun
	fired []string // the fail points that killed the server, in order
}

// runKillRollout enrolls c.hosts simulated hosts, has an operator make a
// deployment of all their updates in three rings (10 hosts, 30%, the rest;
// 5% threshold each; automatic rollback) inside a window open now, and an
// approver approve it; then runs the fleet with jobs while it kills the
// server c.kills times at seeded fail points, starting it again on the
// same data each time, until the deployment ends. It checks what every
// kill test needs: each job handed out was run by its host exactly once
// per attempt, and the server holds that run's result.
func runKillRollout(t *testing.T, c killRolloutCase) killRolloutResult {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	ctx := context.Background()
	srv := &rolloutServer{t: t, bin: bin, dataDir: t.TempDir(), addr: freeAddr(t)}
	admin := srv.start("", "--plan-interval", "200ms", "--match-interval", "200ms")
	ac, _ := client.New(client.Options{Server: srv.url(), Token: admin, Timeout: 10 * time.Second})
	env := map[string]string{"HOME": srv.dataDir, "PATCHBAY_SERVER": srv.url(), "PATCHBAY_TOKEN": admin}
	userClient := func(name, role string) *client.Client {
		if out, errOut, err := runCLI(t, env, "users", "create", name, "--role", role); err != nil {
			t.Fatalf("users create %s: %v %s%s", name, err, out, errOut)
		}
		out, errOut, err := runCLI(t, env, "tokens", "create", "--name", "kill test", "--user", name)
		if err != nil {
			t.Fatalf("tokens create: %v %s", err, errOut)
		}
		uc, _ := client.New(client.Options{Server: srv.url(), Token: strings.TrimSpace(out), Timeout: 10 * time.Second})
		return uc
	}
	operator, approver := userClient("olga", "operator"), userClient("ann", "approver")

	// The fleet enrolls and uploads its inventories, and the planner puts
	// their updates in the work queue.
	fl, err := fleet.NewFleet(c.seed, c.hosts, fleet.Options{ChangeRate: -1})
	if err != nil {
		t.Fatal(err)
	}
	es, err := ac.CreateEnrollSecret(ctx, apiv1.CreateEnrollSecretRequest{Name: "kill rollout"})
	if err != nil {
		t.Fatal(err)
	}
	tokens := make([]string, c.hosts)
	var stats sim.Stats
	if err := sim.Run(ctx, sim.Config{Client: ac.WithToken(""), Fleet: fl, EnrollSecret: es.Secret, CheckIns: 1, Workers: 16, Tokens: tokens}, &stats); err != nil ||
		stats.Uploads.Load() != int64(c.hosts) {
		t.Fatalf("enrolling the fleet: %v; %s", err, &stats)
	}
	index := map[string]int{} // hostname → fleet index
	for i := range c.hosts {
		index[fl.Host(i).Facts.Hostname] = i
	}
	hosts := allHosts(t, ac)
	if len(hosts) != c.hosts {
		t.Fatalf("%d hosts listed, want %d", len(hosts), c.hosts)
	}
	var ids []int64
	for _, h := range hosts {
		ids = append(ids, h.ID)
	}
	waitForQueue(t, ac, hosts, 30*time.Second+time.Duration(c.hosts)*50*time.Millisecond)
	opened := time.Now().UTC().Add(-5 * time.Minute)
	auto := true
	d, err := operator.CreateDeployment(ctx, apiv1.CreateDeploymentRequest{Name: "kill test", Hosts: ids, AutoRollback: &auto,
		Windows: []patchbay.WindowSpec{{Cron: fmt.Sprintf("%d %d * * *", opened.Minute(), opened.Hour()), Duration: "2h", Zone: "UTC"}},
		Rings: []patchbay.RingSpec{{Name: "pilot", Count: 10, FailureThreshold: "5%"}, {Name: "early", Percent: 30, FailureThreshold: "5%"},
			{Name: "rest", FailureThreshold: "5%"}}})
	if err != nil {
		t.Fatal(err)
	}
	if d.HostCount != c.hosts || len(d.Rings) != 3 || d.Rings[0].Hosts != 10 || d.Rings[1].Hosts != (30*c.hosts+99)/100 {
		t.Fatalf("deployment of %d hosts in rings %+v; want all %d in 10, 30%%, the rest", d.HostCount, d.Rings, c.hosts)
	}
	ringOf := map[int64]int{} // host id → ring
	failHosts := map[int]bool{}
	for _, h := range d.Hosts {
		ringOf[h.HostID] = h.Ring
		if i := index[h.Hostname]; h.Ring == c.failRing && fl.Host(i).Image.Name == c.failImage {
			failHosts[i] = true
		}
	}
	srv.stop(syscall.SIGTERM)

	// The fleet runs its jobs through the kills, remembering every run.
	var mu sync.Mutex
	runs := map[runKey]*simRun{}
	hostIDs := map[int]int64{}
	for _, h := range hosts {
		hostIDs[index[h.Hostname]] = h.ID
	}
	pm := &sim.PackageManager{Seed: c.seed, DefaultRebootRate: 0.2, FailHost: func(i int) bool { return failHosts[i] }}
	if c.failImage != "" {
		pm.FailRate = map[string]float64{c.failImage: c.failRate}
	}
	simCtx, stopSim := context.WithCancel(ctx)
	simDone := make(chan error, 1)
	var jobStats sim.Stats
	go func() {
		simDone <- sim.Run(simCtx, sim.Config{Client: ac.WithToken("").WithTimeout(5 * time.Second), Fleet: fl, EnrollSecret: es.Secret,
			Tokens: tokens, Interval: 250 * time.Millisecond, Ramp: 250 * time.Millisecond, Workers: 32, Jobs: pm,
			OnJob: func(r sim.JobRun) {
				mu.Lock()
				defer mu.Unlock()
				k := runKey{r.Job.ID, r.Job.Attempt}
				if runs[k] == nil {
					runs[k] = &simRun{host: r.Host, kind: r.Job.Kind, ring: ringOf[hostIDs[r.Host]], status: r.Result.Status}
				}
				runs[k].count++
			}}, &jobStats)
	}()
	var stopOnce sync.Once
	stop := func() { stopOnce.Do(func() { stopSim(); <-simDone }) }
	defer stop()

	rng := rand.New(rand.NewPCG(c.seed, 0x6b696c6c))
	points, spread := c.points, c.spread
	if points == nil {
		points = []string{"rollout-commit", "claim-commit", "result-commit", "claim-commit", "result-commit", "rollout-commit"}
	}
	if spread == 0 {
		spread = c.hosts / 8
	}
	var final patchbay.Deployment
	done := func() bool {
		got, err := ac.Deployment(ctx, d.ID)
		if err != nil {
			return false
		}
		final = got
		return !got.State.Active() || got.State == patchbay.DeploymentHalted && got.Reason != patchbay.ReasonRollingBack
	}
	// 40 s for 200 hosts, on two shared vCPUs with the build done: the
	// fleet's jobs take the server's one SQLite writer in turn, so the
	// budget grows with the hosts.
	budget := time.Duration(c.hosts/5) * time.Second
	rolloutBegan := time.Now()
	deadline := rolloutBegan.Add(budget)
	var fired []string
	approved := false
	for k := 0; ; k++ {
		fp := ""
		if k < c.kills {
			name := points[k%len(points)]
			n := 1 + rng.IntN(spread)
			if name == "rollout-commit" {
				n = 1 + rng.IntN(2)
			}
			fp = fmt.Sprintf("%s@%d", name, n)
			if strings.Contains(name, "@") {
				fp = name // its N fixed
			}
		}
		srv.start(fp)
		if !approved {
			// The server may die before it answers (the approval nudges
			// the controller, which may hit the fail point at once): ask
			// again until the deployment is past awaiting approval.
			_, err := approver.DecideDeployment(ctx, d.ID, apiv1.DecisionRequest{Decision: patchbay.Approve, Comment: "kill test"})
			got, gerr := ac.Deployment(ctx, d.ID)
			approved = err == nil || gerr == nil && got.State != patchbay.DeploymentAwaitingApproval
		}
		for !srv.dead() && !done() && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if !srv.dead() {
			break
		}
		fired = append(fired, fp)
		srv.releaseLease()
	}
	if time.Now().After(deadline) {
		t.Errorf("the deployment did not end within %s: %s (%s: %s); the sim: %s", budget, final.State, final.Reason, final.Detail, &jobStats)
	}
	rolloutTook := time.Since(rolloutBegan)
	t.Logf("kills at %s; deployment %s (%s); sim: %s", strings.Join(fired, ", "), final.State, final.Detail, &jobStats)
	if len(fired) < 2 {
		t.Errorf("only %d of %d kills fired before the deployment ended: the test did not exercise restarts", len(fired), c.kills)
	}
	jobs, err := ac.DeploymentJobs(ctx, d.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	stop()

	// Each job handed out ran once per attempt, and the server holds what
	// that run reported; none other ran at all.
	mu.Lock()
	defer mu.Unlock()
	executions := 0
	for _, run := range runs {
		executions += run.count
	}
	// One line for bench/kill-rollout.sh to keep.
	t.Logf("kill rollout: %d hosts, %d of %d kills, %d jobs, %d runs of %d job attempts, rollout %s, wall %s, deployment %s",
		c.hosts, len(fired), c.kills, len(jobs), executions, len(runs), rolloutTook.Round(100*time.Millisecond),
		time.Since(began).Round(100*time.Millisecond), final.State)
	seen := map[runKey]bool{}
	for _, j := range jobs {
		k := runKey{j.ID, j.Attempt}
		run := runs[k]
		switch j.State {
		case patchbay.JobPending, patchbay.JobSkipped:
			for a := 1; a <= j.Attempt; a++ {
				if runs[runKey{j.ID, a}] != nil {
					t.Errorf("job %d (%s, host %s) is %s, but the host ran attempt %d", j.ID, j.Kind, j.Hostname, j.State, a)
				}
			}
		case patchbay.JobRunning:
			if run == nil {
				t.Errorf("job %d (%s, host %s) was handed out and is still running, but its host never received it: "+
					"the server lost the answer to a claim that committed, and never hands the job again", j.ID, j.Kind, j.Hostname)
			} else {
				t.Errorf("job %d (%s, host %s) is still running, though its host ran it and reported %s", j.ID, j.Kind, j.Hostname, run.status)
			}
		default:
			switch {
			case run == nil:
				t.Errorf("job %d (%s, host %s) is %s at attempt %d, but the host never ran that attempt", j.ID, j.Kind, j.Hostname, j.State, j.Attempt)
			case run.count != 1:
				t.Errorf("job %d attempt %d ran %d times on host %s, want once", j.ID, j.Attempt, run.count, j.Hostname)
			case string(run.status) != string(j.State):
				t.Errorf("job %d attempt %d: the host reported %s, the server holds %s", j.ID, j.Attempt, run.status, j.State)
			}
			seen[k] = true
		}
	}
	for k, run := range runs {
		if !seen[k] && run.status != protocol.JobRefused {
			t.Errorf("the host %d ran job %d attempt %d (%s), which the server does not hold as finished", run.host, k.id, k.attempt, run.kind)
		}
	}
	return killRolloutResult{final: final, jobs: jobs, runs: runs, fired: fired}
}

// allHosts lists every host, a page at a time (the API gives at most
// 1,000 a page).
func allHosts(t *testing.T, ac *client.Client) []patchbay.Host {
	t.Helper()
	var hosts []patchbay.Host
	q := client.HostQuery{Limit: 250}
	for {
		page, err := ac.Hosts(context.Background(), q)
		if err != nil {
			t.Fatalf("hosts after %d (cursor %q): %v", len(hosts), q.Cursor, err)
		}
		hosts = append(hosts, page.Items...)
		if page.NextCursor == "" {
			return hosts
		}
		q.Cursor = page.NextCursor
	}
}

// waitForQueue waits until the planner has put each host's updates in the
// work queue, failing the test after budget. The planner takes the fleet
// in passes, so each round asks only after the hosts not yet seen there.
func waitForQueue(t *testing.T, ac *client.Client, hosts []patchbay.Host, budget time.Duration) {
	t.Helper()
	pending := slices.Clone(hosts)
	deadline := time.Now().Add(budget)
	for {
		pending = slices.DeleteFunc(pending, func(h patchbay.Host) bool {
			q, err := ac.Updates(context.Background(), client.UpdateQuery{HostID: h.ID, Limit: 1})
			return err == nil && len(q.Items) > 0
		})
		if len(pending) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for every host's updates in the work queue: %d of %d have none, such as %s",
				budget, len(pending), len(hosts), pending[0].Hostname)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// rolloutServer is a `patchbay server` process that a kill test starts,
// kills and starts again on one address and data directory, so the
// simulated fleet finds it where it was.
type rolloutServer struct {
	t                      *testing.T
	bin, dataDir, addr     string
	cmd                    *exec.Cmd
	exited                 chan struct{}
	adminToken, lastHolder string
}

func (s *rolloutServer) url() string { return "http://" + s.addr }

// start starts the server with PATCHBAY_FAILPOINT=failPoint (none when
// empty) and args, and returns the admin token its first start prints.
func (s *rolloutServer) start(failPoint string, args ...string) string {
	t := s.t
	t.Helper()
	cmd := exec.Command(s.bin, append([]string{"server", "--listen", s.addr, "--data-dir", s.dataDir, "--log-level", "error"}, args...)...)
	cmd.Env = []string{"HOME=" + s.dataDir}
	if failPoint != "" {
		cmd.Env = append(cmd.Env, "PATCHBAY_FAILPOINT="+failPoint)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	sc := bufio.NewScanner(stdout)
	listening := false
	for !listening && sc.Scan() {
		if m := tokenRE.FindString(sc.Text()); m != "" {
			s.adminToken = m
		}
		listening = listeningRE.MatchString(sc.Text())
	}
	if !listening {
		t.Fatalf("server (fail point %q) did not start listening on %s", failPoint, s.addr)
	}
	go func() {
		for sc.Scan() {
		}
	}()
	s.cmd, s.exited = cmd, exited
	s.lastHolder = fmt.Sprintf("%s:%d", hostnameOr("server"), cmd.Process.Pid)
	return s.adminToken
}

// dead reports whether the server process has ended.
func (s *rolloutServer) dead() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// stop signals the server and waits for it to end.
func (s *rolloutServer) stop(sig syscall.Signal) {
	s.cmd.Process.Signal(sig)
	<-s.exited
}

// releaseLease gives up the rollout controller's lease that the killed
// server held, as a supervisor that knows the process is gone would: the
// next server would otherwise wait out the lease's 15 s before it steps
// the deployment again. This test is about what a kill leaves behind, not
// about how long a successor waits.
func (s *rolloutServer) releaseLease() {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Location{Engine: store.SQLite, Path: filepath.Join(s.dataDir, store.DefaultSQLiteFile)}, store.Options{})
	if err != nil {
		s.t.Fatal(err)
	}
	defer st.Close()
	if err := st.ReleaseLease(ctx, "rollout", s.lastHolder); err != nil {
		s.t.Fatal(err)
	}
}

// freeAddr returns a loopback address with a port free now, for a server
// that must come back on the same one after each kill.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
