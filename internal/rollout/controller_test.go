package rollout_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/rollout"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/store/storetest"
)

// fleetOf enrolls n hosts and returns their ids.
func fleetOf(t *testing.T, s *store.Store, n int) []int64 {
	t.Helper()
	ctx := context.Background()
	_, secret, err := s.CreateEnrollSecret(ctx, "user:admin", store.NewEnrollSecret{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i := range n {
		e, err := s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: secret, Facts: protocol.Facts{Hostname: fmt.Sprintf("h%02d", i),
			MachineID: fmt.Sprintf("m%02d", i), OSRelease: map[string]string{"ID": "debian", "VERSION_ID": "12"}, ProtocolVersion: protocol.Version}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.HostID)
	}
	return ids
}

// proposed stores an approved deployment of hello 1.1 on hosts: the first
// two in a pilot ring (threshold 0), the rest in a ring allowed 1 failure,
// both with a window open now.
func proposed(t *testing.T, s *store.Store, hosts []int64, soak string) int64 {
	return proposedWith(t, s, hosts, func(d *patchbay.Deployment) {
		d.Rings[0].SoakTime = soak
	})
}

// proposedWith is proposed, changed by edit before it is stored.
func proposedWith(t *testing.T, s *store.Store, hosts []int64, edit func(*patchbay.Deployment)) int64 {
	t.Helper()
	opened := time.Now().UTC().Add(-5 * time.Minute)
	d := &patchbay.Deployment{Name: "hello 1.1", State: patchbay.DeploymentApproved, Reason: patchbay.ReasonApproved, AutoRollback: true,
		Windows: dailyWindow(opened, "2h"),
		Rings: []patchbay.Ring{{RingSpec: patchbay.RingSpec{Name: "pilot", Count: 2}, Hosts: 2},
			{RingSpec: patchbay.RingSpec{Name: "rest", FailureThreshold: "1", MaxParallel: 2}, Hosts: len(hosts) - 2}}}
	for i, h := range hosts {
		ring := 0
		if i >= 2 {
			ring = 1
		}
		d.Hosts = append(d.Hosts, patchbay.DeploymentHost{HostID: h, Ring: ring, Updates: []patchbay.PlannedUpdate{
			{Ecosystem: "deb", Name: "hello", Arch: "all", FromVersion: "1.0", ToVersion: "1.1", Class: "security"}}})
	}
	edit(d)
	if err := s.CreateDeployment(context.Background(), "user:op", d); err != nil {
		t.Fatal(err)
	}
	return d.ID
}

// agent claims host's due jobs and reports each with status.
func agent(t *testing.T, s *store.Store, host int64, status func(protocol.Job) protocol.JobStatus) []protocol.Job {
	t.Helper()
	ctx := context.Background()
	jobs, err := s.ClaimJobs(ctx, host, time.Now(), 16, func(store.JobCandidate) (time.Time, bool) { return time.Now().Add(time.Hour), true })
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		st := status(j)
		before := []protocol.PackageVersion{{Name: "hello", Arch: "all", Version: "1.0"}}
		after := []protocol.PackageVersion{{Name: "hello", Arch: "all", Version: j.Actions[0].Version}}
		if _, err := s.RecordJobResult(ctx, host, j.ID, protocol.JobResult{Attempt: j.Attempt, Status: st, Before: before, After: after,
			Started: time.Now(), Finished: time.Now()}); err != nil {
			t.Fatalf("host %d job %d: %v", host, j.ID, err)
		}
	}
	return jobs
}

func healthy(protocol.Job) protocol.JobStatus { return protocol.JobHealthy }

func state(t *testing.T, s *store.Store, id int64) (patchbay.DeploymentState, patchbay.StateReason) {
	t.Helper()
	d, err := s.Deployment(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d.State, d.Reason
}

// TestRolloutPilotThenHalt tells the deployment's story on a real store:
// the pilot ring succeeds, the next ring halts at its threshold and orders
// its failed hosts back, and the rollback ends the deployment rolled back;
// no host outside the failing ring ever started.
func TestRolloutPilotThenHalt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		hosts := fleetOf(t, s, 6)
		id := proposed(t, s, hosts, "")
		c := rollout.NewController(s, rollout.Options{Holder: "test"})
		step := func() rollout.Decision {
			t.Helper()
			d, err := c.Step(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		if d := step(); d.State != patchbay.DeploymentScheduled {
			t.Fatalf("approved → %s, want scheduled", d.State)
		}
		// Fetch jobs go out at once; install jobs wait for running.
		for _, h := range hosts {
			if js := agent(t, s, h, succeeded); len(js) != 1 || js[0].Kind != protocol.JobFetch {
				t.Fatalf("host %d got %+v, want its fetch job only", h, js)
			}
		}
		if d := step(); d.State != patchbay.DeploymentRunning {
			t.Fatalf("scheduled in an open window → %s, want running", d.State)
		}
		// Ring "rest" hosts get nothing while the pilot runs.
		if js := agent(t, s, hosts[3], healthy); len(js) != 0 {
			t.Fatalf("a host of the second ring got %+v during the pilot", js)
		}
		for _, h := range hosts[:2] {
			if js := agent(t, s, h, healthy); len(js) != 1 || js[0].Kind != protocol.JobInstall {
				t.Fatalf("pilot host %d got %+v", h, js)
			}
		}
		if d := step(); d.State != patchbay.DeploymentRunning || d.Current != 1 {
			t.Fatalf("pilot done → %+v, want ring 1 running", d)
		}
		// max_parallel 2: two hosts at a time; both fail: over the
		// threshold of 1.
		type claimed struct {
			host int64
			job  protocol.Job
		}
		var got []claimed
		for _, h := range hosts[2:] {
			js, err := s.ClaimJobs(ctx, h, time.Now(), 16, func(store.JobCandidate) (time.Time, bool) { return time.Now().Add(time.Hour), true })
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range js {
				got = append(got, claimed{h, j})
			}
		}
		for _, c := range got {
			if _, err := s.RecordJobResult(ctx, c.host, c.job.ID, protocol.JobResult{Attempt: c.job.Attempt, Status: protocol.JobFailed, Reason: "postinst failed",
				Before: []protocol.PackageVersion{{Name: "hello", Arch: "all", Version: "1.0"}}, Started: time.Now(), Finished: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		if len(got) != 2 {
			t.Fatalf("%d hosts of ring rest started at once, want max_parallel 2", len(got))
		}
		d := step()
		if d.State != patchbay.DeploymentHalted || d.Reason != patchbay.ReasonRollingBack {
			t.Fatalf("two failures over a threshold of 1 → %+v, want halted, rolling back", d)
		}
		// The failed hosts get rollback jobs to 1.0; the others nothing.
		var rolled int
		for _, h := range hosts {
			js := agent(t, s, h, healthy)
			for _, j := range js {
				if j.Kind != protocol.JobRollback || j.Actions[0].Version != "1.0" {
					t.Fatalf("host %d got %+v while rolling back", h, j)
				}
				rolled++
			}
		}
		if rolled != 2 {
			t.Fatalf("%d rollback jobs, want 2 (the failed hosts)", rolled)
		}
		if d := step(); d.State != patchbay.DeploymentRolledBack {
			t.Fatalf("after the rollbacks → %+v, want rolled back", d)
		}
		jobs, err := s.Jobs(ctx, id, patchbay.JobInstall)
		if err != nil {
			t.Fatal(err)
		}
		started := 0
		for _, j := range jobs {
			if j.HandedAt != nil {
				started++
			}
		}
		if started != 4 {
			t.Fatalf("%d install jobs were handed out, want 4 (pilot 2, the failing 2); the rest never start", started)
		}
		evs, _ := s.ListAudit(ctx, patchbay.AuditFilter{ObjectType: "deployment", Limit: 100})
		if len(evs) < 4 {
			t.Fatalf("audit holds %d deployment events, want every transition", len(evs))
		}
	})
}

// TestRolloutResultsIdempotent: a result sent twice counts once, one for
// an older attempt changes nothing, and another host cannot report a job
// that is not its own.
func TestRolloutResultsIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		hosts := fleetOf(t, s, 3)
		id := proposed(t, s, hosts, "")
		c := rollout.NewController(s, rollout.Options{Holder: "test"})
		if _, err := c.Step(ctx, id); err != nil {
			t.Fatal(err)
		}
		js, err := s.ClaimJobs(ctx, hosts[0], time.Now(), 16, func(store.JobCandidate) (time.Time, bool) { return time.Now().Add(time.Hour), true })
		if err != nil || len(js) != 1 {
			t.Fatalf("claim = %+v, %v", js, err)
		}
		r := protocol.JobResult{Attempt: 1, Status: protocol.JobSucceeded, Started: time.Now(), Finished: time.Now()}
		if _, err := s.RecordJobResult(ctx, hosts[1], js[0].ID, r); patchbay.ErrorCodeOf(err) != patchbay.ENotFound {
			t.Fatalf("another host's report: %v, want not found", err)
		}
		for range 2 {
			if _, err := s.RecordJobResult(ctx, hosts[0], js[0].ID, r); err != nil {
				t.Fatalf("report (twice): %v", err)
			}
		}
		old := r
		old.Attempt = 0
		if _, err := s.RecordJobResult(ctx, hosts[0], js[0].ID, old); err == nil {
			t.Fatal("a result of attempt 0 was accepted")
		}
		stale := r
		stale.Attempt, stale.Status = 2, protocol.JobFailed
		if _, err := s.RecordJobResult(ctx, hosts[0], js[0].ID, stale); err == nil {
			t.Fatal("a result of another attempt was accepted")
		}
		all, _ := s.Jobs(ctx, id, patchbay.JobFetch)
		if all[0].State != patchbay.JobSucceeded {
			t.Fatalf("the fetch job is %s, want succeeded", all[0].State)
		}
	})
}

// TestRolloutActions: a person pauses, resumes, and cancels; a halted
// deployment resumed accepts its failures.
func TestRolloutActions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		hosts := fleetOf(t, s, 4)
		id := proposed(t, s, hosts, "")
		c := rollout.NewController(s, rollout.Options{Holder: "test"})
		c.Step(ctx, id)
		c.Step(ctx, id)
		if st, _ := state(t, s, id); st != patchbay.DeploymentRunning {
			t.Fatalf("state %s, want running", st)
		}
		if _, err := c.Act(ctx, id, rollout.Pause, "user:op"); err != nil {
			t.Fatal(err)
		}
		if js := agent(t, s, hosts[0], healthy); len(js) != 1 || js[0].Kind != protocol.JobFetch {
			t.Fatalf("a paused deployment handed out %+v; want only the fetch job", js)
		}
		if _, err := c.Act(ctx, id, rollout.Promote, "user:op"); patchbay.ErrorCodeOf(err) != patchbay.EConflict {
			t.Fatalf("promote while paused: %v, want conflict", err)
		}
		tr, err := c.Act(ctx, id, rollout.Resume, "user:op")
		if err != nil {
			t.Fatal(err)
		}
		if tr.State != patchbay.DeploymentScheduled {
			t.Errorf("the resume answered %s, but stored scheduled", tr.State)
		}
		// Paused before any host started: resumed, it is scheduled again,
		// and runs at the next decision since its window is open.
		if st, _ := state(t, s, id); st != patchbay.DeploymentScheduled {
			t.Fatalf("resumed before anything started: %s, want scheduled", st)
		}
		c.Step(ctx, id)
		// The pilot's first host fails: threshold 0 halts.
		agent(t, s, hosts[0], func(protocol.Job) protocol.JobStatus { return protocol.JobFailed })
		c.Step(ctx, id)
		if st, reason := state(t, s, id); st != patchbay.DeploymentHalted {
			t.Fatalf("after a pilot failure: %s (%s), want halted", st, reason)
		}
		if _, err := c.Act(ctx, id, rollout.Cancel, "user:op"); err != nil {
			t.Fatal(err)
		}
		jobs, _ := s.Jobs(ctx, id, patchbay.JobInstall)
		for _, j := range jobs {
			if j.State == patchbay.JobPending {
				t.Fatalf("job %d still pending after cancel", j.ID)
			}
		}
		if _, err := c.Act(ctx, id, rollout.Resume, "user:op"); patchbay.ErrorCodeOf(err) != patchbay.EConflict {
			t.Fatalf("resume a cancelled deployment: %v, want conflict", err)
		}
	})
}

// TestRolloutDeadlineSkipsOffline: a host that never takes its jobs is
// skipped at the deployment's deadline, saying why, and the rollout
// completes without it.
func TestRolloutDeadlineSkipsOffline(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		hosts := fleetOf(t, s, 3)
		id := proposedWith(t, s, hosts, func(d *patchbay.Deployment) {
			past := time.Now().Add(-time.Minute)
			d.Deadline = &past
			oneRing(d)
		})
		c := rollout.NewController(s, rollout.Options{Holder: "test"})
		c.Step(ctx, id) // scheduled
		for _, h := range hosts[:2] {
			agent(t, s, h, succeeded) // fetch
		}
		c.Step(ctx, id) // running
		for _, h := range hosts[:2] {
			agent(t, s, h, healthy) // install
		}
		for range 3 {
			if _, err := c.Step(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if st, reason := state(t, s, id); st != patchbay.DeploymentCompleted {
			t.Fatalf("past its deadline with one host offline: %s (%s), want completed", st, reason)
		}
		jobs, err := s.Jobs(ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		skipped := 0
		for _, j := range jobs {
			if j.HostID == hosts[2] {
				if j.State != patchbay.JobSkipped || !strings.Contains(j.Reason, "deadline") {
					t.Fatalf("the offline host's %s job: %s (%q), want skipped for the deadline", j.Kind, j.State, j.Reason)
				}
				skipped++
			}
		}
		if skipped != 2 {
			t.Fatalf("the offline host has %d skipped jobs, want its fetch and install", skipped)
		}
	})
}

// TestRolloutManualStart: a deployment made with manual start fetches
// ahead once approved and waits, its window open, until a person starts
// it; then its first ring runs.
func TestRolloutManualStart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		hosts := fleetOf(t, s, 3)
		id := proposedWith(t, s, hosts, func(d *patchbay.Deployment) { d.ManualStart = true })
		c := rollout.NewController(s, rollout.Options{Holder: "test"})
		for range 3 {
			if _, err := c.Step(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if st, reason := state(t, s, id); st != patchbay.DeploymentScheduled || reason != patchbay.ReasonAwaitingStart {
			t.Fatalf("approved with manual start: %s (%s), want scheduled, awaiting its start", st, reason)
		}
		if js := agent(t, s, hosts[0], healthy); len(js) != 1 || js[0].Kind != protocol.JobFetch {
			t.Fatalf("waiting for its start, host 0 got %+v; want only its fetch", js)
		}
		if js := agent(t, s, hosts[0], healthy); len(js) != 0 {
			t.Fatalf("waiting for its start, host 0 got %+v after its fetch; want nothing", js)
		}
		if _, err := c.Act(ctx, id, rollout.Start, "user:op"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Act(ctx, id, rollout.Start, "user:op"); patchbay.ErrorCodeOf(err) != patchbay.EConflict {
			t.Fatalf("started twice: %v, want conflict", err)
		}
		if _, err := c.Step(ctx, id); err != nil {
			t.Fatal(err)
		}
		if st, _ := state(t, s, id); st != patchbay.DeploymentRunning {
			t.Fatalf("started in its window: %s, want running", st)
		}
		if js := agent(t, s, hosts[0], healthy); len(js) != 1 || js[0].Kind != protocol.JobInstall {
			t.Fatalf("started, host 0 got %+v; want its install", js)
		}
	})
}

// TestRolloutOfflineGracePerRing: with an offline grace (what a policy's
// deadline_days sets), a host offline through its ring is skipped once the
// ring has been open that long, and the rollout goes on; the next ring
// gets its own grace, counted from its opening, not from the first's.
func TestRolloutOfflineGracePerRing(t *testing.T) {
	eachClocked(t, func(t *testing.T, s *store.Store, clock func() time.Time, later *time.Duration) {
		ctx := context.Background()
		hosts := fleetOf(t, s, 4)
		id := proposedWith(t, s, hosts, func(d *patchbay.Deployment) { d.OfflineGrace = int((30 * time.Minute) / time.Second) })
		c := rollout.NewController(s, rollout.Options{Holder: "test", Now: clock})
		step := stepper(t, c, id)
		jobOf := func(host int64) patchbay.Job { return installsOf(t, s, id)[host] }
		step() // scheduled: the online hosts fetch; hosts[1] never comes
		for _, h := range []int64{hosts[0], hosts[2], hosts[3]} {
			agent(t, s, h, healthy)
		}
		step() // running: the pilot ring opens
		agent(t, s, hosts[0], healthy)
		step()
		if j := jobOf(hosts[1]); j.State != patchbay.JobPending {
			t.Fatalf("offline pilot host within its grace: %s, want pending", j.State)
		}
		*later = 31 * time.Minute
		step() // the pilot's grace passed: hosts[1] skipped
		step() // the pilot is done: the next ring opens now
		if j := jobOf(hosts[1]); j.State != patchbay.JobSkipped || !strings.Contains(j.Reason, "offline grace") {
			t.Fatalf("offline pilot host past its grace: %s (%q), want skipped saying why", j.State, j.Reason)
		}
		if d, _ := s.Deployment(ctx, id); d.CurrentRing != 1 {
			t.Fatalf("after the pilot: ring %d, want the next ring open", d.CurrentRing)
		}
		agent(t, s, hosts[2], healthy) // hosts[3] is offline now
		*later = 51 * time.Minute      // 20 minutes into the second ring
		step()
		if j := jobOf(hosts[3]); j.State != patchbay.JobPending {
			t.Fatalf("offline host 20 minutes into its ring: %s (%q), want pending (its ring's grace is its own)", j.State, j.Reason)
		}
		*later = 62 * time.Minute
		step()
		step()
		if j := jobOf(hosts[3]); j.State != patchbay.JobSkipped {
			t.Fatalf("offline host past its ring's grace: %s, want skipped", j.State)
		}
		if st, reason := state(t, s, id); st != patchbay.DeploymentCompleted {
			t.Fatalf("every ring done but its offline hosts: %s (%s), want completed", st, reason)
		}
	})
}
