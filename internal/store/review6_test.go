package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/store/storetest"
)

// r6Hooks is a settable store fail point: tests run a second transaction
// from inside the first one there, to interleave them as concurrent
// servers or agents would.
type r6Hooks struct {
	mu   sync.Mutex
	fail func(name string)
}

func (h *r6Hooks) call(name string) {
	h.mu.Lock()
	f := h.fail
	h.mu.Unlock()
	if f != nil {
		f(name)
	}
}

func (h *r6Hooks) set(f func(name string)) { h.mu.Lock(); h.fail = f; h.mu.Unlock() }

// eachHooked runs fn on every engine with a fresh store whose fail point
// the test sets.
func eachHooked(t *testing.T, fn func(t *testing.T, s *store.Store, h *r6Hooks)) {
	for _, eng := range storetest.Engines() {
		t.Run(string(eng), func(t *testing.T) {
			t.Parallel()
			h := &r6Hooks{}
			s, err := store.Open(context.Background(), storetest.Location(t, eng), store.Options{FailPoint: h.call})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			fn(t, s, h)
		})
	}
}

// meanwhile runs f beside the transaction that calls it, as another
// server or agent would, and waits for it up to a moment: on SQLite (one
// writer) or behind a lock f only runs once the caller commits, and the
// caller must go on for that. done is closed when f returned.
func meanwhile(f func()) (done chan struct{}) {
	done = make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(400 * time.Millisecond):
	}
	return done
}

// r6Running stores a deployment of hello 1.1 on n hosts, all in one ring
// of at most maxParallel at once, with every host's fetch done, running.
func r6Running(t *testing.T, s *store.Store, n, maxParallel int) (int64, []int64) {
	t.Helper()
	ctx := context.Background()
	secret := enrollSecret(t, s, store.NewEnrollSecret{})
	d := &patchbay.Deployment{Name: "hello 1.1", State: patchbay.DeploymentApproved, Reason: patchbay.ReasonApproved, AutoRollback: true,
		Emergency: true, Windows: []patchbay.WindowSpec{},
		Rings: []patchbay.Ring{{RingSpec: patchbay.RingSpec{Name: "all", MaxParallel: maxParallel, FailureThreshold: "50%"}, Hosts: n}}}
	var hosts []int64
	for i := range n {
		e, err := s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: secret, Facts: facts(fmt.Sprintf("r6-%02d", i), fmt.Sprintf("r6m%02d", i))})
		if err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, e.HostID)
		d.Hosts = append(d.Hosts, patchbay.DeploymentHost{HostID: e.HostID, Ring: 0, Updates: []patchbay.PlannedUpdate{
			{Ecosystem: "deb", Name: "hello", Arch: "all", FromVersion: "1.0", ToVersion: "1.1", Class: "security"}}})
	}
	if err := s.CreateDeployment(ctx, "user:op", d); err != nil {
		t.Fatal(err)
	}
	apply(t, s, store.RolloutChange{ID: d.ID, FromState: patchbay.DeploymentApproved, FromReason: patchbay.ReasonApproved,
		State: patchbay.DeploymentScheduled, Reason: patchbay.ReasonProposed, MakeJobs: true, Actor: "rollout"})
	for _, h := range hosts {
		for _, j := range claim(t, s, h, nil) {
			report(t, s, h, j, protocol.JobSucceeded, time.Now())
		}
	}
	apply(t, s, store.RolloutChange{ID: d.ID, FromState: patchbay.DeploymentScheduled, FromReason: patchbay.ReasonProposed,
		State: patchbay.DeploymentRunning, Reason: patchbay.ReasonStarted, ResetProgress: true, Actor: "rollout"})
	return d.ID, hosts
}

func apply(t *testing.T, s *store.Store, c store.RolloutChange) {
	t.Helper()
	if err := s.ApplyRollout(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}

// claim claims host's due jobs; may, when set, runs for each candidate
// before it is let through.
func claim(t *testing.T, s *store.Store, host int64, may func(store.JobCandidate)) []protocol.Job {
	t.Helper()
	jobs, err := s.ClaimJobs(context.Background(), host, time.Now(), 16, func(c store.JobCandidate) (time.Time, bool) {
		if may != nil {
			may(c)
		}
		return time.Now().Add(time.Hour), true
	})
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

func report(t *testing.T, s *store.Store, host int64, j protocol.Job, status protocol.JobStatus, finished time.Time) {
	t.Helper()
	before := []protocol.PackageVersion{{Name: "hello", Arch: "all", Version: "1.0"}}
	after := []protocol.PackageVersion{{Name: "hello", Arch: "all", Version: "1.1"}}
	if _, err := s.RecordJobResult(context.Background(), host, j.ID, protocol.JobResult{Attempt: j.Attempt, Status: status,
		Before: before, After: after, Started: finished, Finished: finished}); err != nil {
		t.Fatalf("host %d job %d: %v", host, j.ID, err)
	}
}

// installs returns the deployment's install jobs by id.
func installs(t *testing.T, s *store.Store, id int64) map[int64]patchbay.Job {
	t.Helper()
	js, err := s.Jobs(context.Background(), id, patchbay.JobInstall)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]patchbay.Job{}
	for _, j := range js {
		out[j.ID] = j
	}
	return out
}

// TestReview6ClaimMaxParallelConcurrent: two agents polling at once must
// not both take the ring's last parallel slot. On PostgreSQL each claim
// counted the ring's running jobs in its own transaction, neither saw the
// other's uncommitted claim, and both started: max_parallel 1, two hosts
// patching.
func TestReview6ClaimMaxParallelConcurrent(t *testing.T) {
	eachHooked(t, func(t *testing.T, s *store.Store, h *r6Hooks) {
		id, hosts := r6Running(t, s, 2, 1)
		var second []protocol.Job
		var done chan struct{}
		h.set(func(name string) {
			if name != "claim-commit" || done != nil {
				return
			}
			done = meanwhile(func() {
				js, err := s.ClaimJobs(context.Background(), hosts[1], time.Now(), 16,
					func(store.JobCandidate) (time.Time, bool) { return time.Now().Add(time.Hour), true })
				if err != nil {
					t.Error(err)
				}
				second = js
			})
		})
		first := claim(t, s, hosts[0], nil)
		if done == nil {
			t.Fatal("the first claim took nothing")
		}
		<-done
		h.set(nil)
		if len(first)+len(second) != 1 {
			t.Errorf("with max_parallel 1, the two hosts got %d and %d install jobs", len(first), len(second))
		}
		running := 0
		for _, j := range installs(t, s, id) {
			if j.State == patchbay.JobRunning {
				running++
			}
		}
		if running != 1 {
			t.Errorf("%d install jobs running, max_parallel 1", running)
		}
	})
}

// TestReviewClaimAfterCancel: a deployment cancelled while an agent's
// claim was reading its jobs must not hand the agent a job the cancel
// skipped. The claim's UPDATE matched no row (the job was no longer
// pending) and the job went out anyway: the host installed packages for a
// cancelled deployment, and its result was refused as stale.
func TestReview6ClaimAfterCancel(t *testing.T) {
	eachHooked(t, func(t *testing.T, s *store.Store, h *r6Hooks) {
		id, hosts := r6Running(t, s, 1, 0)
		var done chan struct{}
		var cancelErr error
		got := claim(t, s, hosts[0], func(c store.JobCandidate) {
			if done != nil {
				return
			}
			done = meanwhile(func() {
				cancelErr = s.ApplyRollout(context.Background(), store.RolloutChange{ID: id, FromState: patchbay.DeploymentRunning,
					FromReason: patchbay.ReasonStarted, State: patchbay.DeploymentCancelled, Reason: patchbay.ReasonCancelled,
					SkipPending: true, Actor: "user:op"})
			})
		})
		<-done
		if cancelErr != nil {
			t.Fatal(cancelErr)
		}
		all := installs(t, s, id)
		for _, j := range got {
			if db := all[j.ID]; db.State != patchbay.JobRunning || db.Attempt != j.Attempt {
				t.Errorf("job %d handed out, but stored as %s (attempt %d)", j.ID, db.State, db.Attempt)
			}
		}
	})
}

// TestReview6ConcurrentRolloutChanges: a person's action and the
// controller's decision taken from the same state at once: exactly one
// holds. On PostgreSQL both read "running", both passed the check and both
// wrote, the later one overwriting the other: a cancelled deployment came
// back as halted (and could be resumed), its skipped jobs skipped.
func TestReview6ConcurrentRolloutChanges(t *testing.T) {
	eachHooked(t, func(t *testing.T, s *store.Store, h *r6Hooks) {
		id, _ := r6Running(t, s, 2, 0)
		ctx := context.Background()
		var done chan struct{}
		var haltErr error
		h.set(func(name string) {
			if name != "rollout-commit" || done != nil {
				return
			}
			done = meanwhile(func() {
				haltErr = s.ApplyRollout(ctx, store.RolloutChange{ID: id, FromState: patchbay.DeploymentRunning, FromReason: patchbay.ReasonStarted,
					State: patchbay.DeploymentHalted, Reason: patchbay.ReasonThreshold, Detail: "ring all failed", Actor: "rollout"})
			})
		})
		cancelErr := s.ApplyRollout(ctx, store.RolloutChange{ID: id, FromState: patchbay.DeploymentRunning, FromReason: patchbay.ReasonStarted,
			State: patchbay.DeploymentCancelled, Reason: patchbay.ReasonCancelled, SkipPending: true, Actor: "user:op"})
		<-done
		h.set(nil)
		if (cancelErr == nil) == (haltErr == nil) {
			t.Fatalf("cancel: %v; halt: %v; want exactly one to hold", cancelErr, haltErr)
		}
		d, err := s.Deployment(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := patchbay.DeploymentCancelled
		if cancelErr != nil {
			want = patchbay.DeploymentHalted
		}
		if d.State != want {
			t.Errorf("deployment is %s, want %s (cancel: %v; halt: %v)", d.State, want, cancelErr, haltErr)
		}
	})
}

// TestReview6FinishedIsServerTime: a ring's finishing time, from which
// its soak time counts, must be the server's, not the agent's clock. An
// agent whose clock ran a year ahead kept the ring soaking for a year (a
// deployment that never ends); one behind cut the soak short.
func TestReview6FinishedIsServerTime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		id, hosts := r6Running(t, s, 1, 0)
		before := time.Now()
		for _, j := range claim(t, s, hosts[0], nil) {
			report(t, s, hosts[0], j, protocol.JobHealthy, time.Now().Add(365*24*time.Hour))
		}
		v, err := s.Rollout(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if f := v.Finished[0]; f.Before(before.Add(-time.Second)) || f.After(time.Now().Add(time.Second)) {
			t.Errorf("ring finished at %s by the agent's clock; the server's is %s", f, time.Now())
		}
	})
}

// TestReview6FailureWhileRollingBack: a ring crossed its threshold and its
// failed hosts were ordered back while another host of the ring was still
// installing; that host then failed too. It must be rolled back like the
// others (it was left at the broken version: rollback jobs were only made
// for the hosts failed at the moment of the halt).
func TestReview6FailureWhileRollingBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		id, hosts := r6Running(t, s, 2, 0)
		a := claim(t, s, hosts[0], nil)
		b := claim(t, s, hosts[1], nil)
		if len(a) != 1 || len(b) != 1 {
			t.Fatalf("claims: %v, %v", a, b)
		}
		report(t, s, hosts[0], a[0], protocol.JobFailed, time.Now())
		apply(t, s, store.RolloutChange{ID: id, FromState: patchbay.DeploymentRunning, FromReason: patchbay.ReasonStarted,
			State: patchbay.DeploymentHalted, Reason: patchbay.ReasonRollingBack, RollbackRing: true, Actor: "rollout"})
		report(t, s, hosts[1], b[0], protocol.JobFailed, time.Now())
		js, err := s.Jobs(context.Background(), id, patchbay.JobRollback)
		if err != nil {
			t.Fatal(err)
		}
		back := map[int64]bool{}
		for _, j := range js {
			back[j.HostID] = true
		}
		for _, h := range hosts {
			if !back[h] {
				t.Errorf("host %d failed while the deployment rolled back and has no rollback job (%d rollback jobs)", h, len(js))
			}
		}
	})
}

// TestReview6RetryForgetsForgiven: failures a person accepted by resuming
// stop being failures once those hosts are retried; if they fail again,
// that counts. The accepted count stayed, so as many new failures of the
// retried hosts passed the ring's threshold unseen.
func TestReview6RetryForgetsForgiven(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		id, hosts := r6Running(t, s, 2, 0)
		for _, h := range hosts {
			for _, j := range claim(t, s, h, nil) {
				report(t, s, h, j, protocol.JobFailed, time.Now())
			}
		}
		apply(t, s, store.RolloutChange{ID: id, FromState: patchbay.DeploymentRunning, FromReason: patchbay.ReasonStarted,
			State: patchbay.DeploymentHalted, Reason: patchbay.ReasonThreshold, Actor: "rollout"})
		apply(t, s, store.RolloutChange{ID: id, FromState: patchbay.DeploymentHalted, FromReason: patchbay.ReasonThreshold,
			State: patchbay.DeploymentRunning, Reason: patchbay.ReasonResumed, ForgiveRing: true, Actor: "user:op"})
		apply(t, s, store.RolloutChange{ID: id, FromState: patchbay.DeploymentRunning, FromReason: patchbay.ReasonResumed,
			State: patchbay.DeploymentHalted, Reason: patchbay.ReasonThreshold, Actor: "rollout"})
		apply(t, s, store.RolloutChange{ID: id, FromState: patchbay.DeploymentHalted, FromReason: patchbay.ReasonThreshold,
			State: patchbay.DeploymentRunning, Reason: patchbay.ReasonResumed, RetryRing: true, Actor: "user:op"})
		for _, h := range hosts {
			for _, j := range claim(t, s, h, nil) {
				report(t, s, h, j, protocol.JobFailed, time.Now())
			}
		}
		v, err := s.Rollout(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		failed := v.Counts[0][store.JobCount{Kind: patchbay.JobInstall, State: patchbay.JobFailed}]
		if failed != 2 || v.Forgiven[0] != 0 {
			t.Errorf("retried hosts failed again: %d failed, %d of them still accepted; want 2 and 0", failed, v.Forgiven[0])
		}
	})
}

// TestReview6MaxParallelCountsWatched: an install reported succeeded is
// still being watched for health (protocol.JobSucceeded); the ring's hosts
// are not done with it until it is healthy. max_parallel counted only the
// jobs still installing, so such a report let the next host start while
// the first one might still turn unhealthy.
func TestReview6MaxParallelCountsWatched(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		_, hosts := r6Running(t, s, 2, 1)
		a := claim(t, s, hosts[0], nil)
		if len(a) != 1 {
			t.Fatalf("first host got %v", a)
		}
		report(t, s, hosts[0], a[0], protocol.JobSucceeded, time.Now())
		if b := claim(t, s, hosts[1], nil); len(b) != 0 {
			t.Fatalf("max_parallel 1: the second host started while the first was still watched for health")
		}
		report(t, s, hosts[0], a[0], protocol.JobHealthy, time.Now())
		if b := claim(t, s, hosts[1], nil); len(b) != 1 {
			t.Fatalf("the first host is healthy; the second got %v", b)
		}
	})
}

// TestReview6RetryFetchFailed: a host whose fetch ahead failed (a mirror
// down) fails its install with that reason; once the cause is fixed, a
// person retries the ring's failed hosts. The install went back to
// pending but its fetch stayed failed, and an install is handed out only
// after its host's fetch succeeded: the host never got either job, and
// the ring stalled until the progress deadline halted it again.
func TestReview6RetryFetchFailed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		secret := enrollSecret(t, s, store.NewEnrollSecret{})
		e, err := s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: secret, Facts: facts("r6-fetch", "r6fetch")})
		if err != nil {
			t.Fatal(err)
		}
		host := e.HostID
		d := &patchbay.Deployment{Name: "hello 1.1", State: patchbay.DeploymentApproved, Reason: patchbay.ReasonApproved, Emergency: true,
			Windows: []patchbay.WindowSpec{}, Rings: []patchbay.Ring{{RingSpec: patchbay.RingSpec{Name: "all"}, Hosts: 1}},
			Hosts: []patchbay.DeploymentHost{{HostID: host, Updates: []patchbay.PlannedUpdate{
				{Ecosystem: "deb", Name: "hello", Arch: "all", FromVersion: "1.0", ToVersion: "1.1", Class: "security"}}}}}
		if err := s.CreateDeployment(ctx, "user:op", d); err != nil {
			t.Fatal(err)
		}
		apply(t, s, store.RolloutChange{ID: d.ID, FromState: patchbay.DeploymentApproved, FromReason: patchbay.ReasonApproved,
			State: patchbay.DeploymentScheduled, Reason: patchbay.ReasonProposed, MakeJobs: true, Actor: "rollout"})
		for _, j := range claim(t, s, host, nil) {
			report(t, s, host, j, protocol.JobFailed, time.Now())
		}
		apply(t, s, store.RolloutChange{ID: d.ID, FromState: patchbay.DeploymentScheduled, FromReason: patchbay.ReasonProposed,
			State: patchbay.DeploymentHalted, Reason: patchbay.ReasonThreshold, Actor: "rollout"})
		apply(t, s, store.RolloutChange{ID: d.ID, FromState: patchbay.DeploymentHalted, FromReason: patchbay.ReasonThreshold,
			State: patchbay.DeploymentRunning, Reason: patchbay.ReasonResumed, RetryRing: true, ResetProgress: true, Actor: "user:op"})
		got := claim(t, s, host, nil)
		if len(got) != 1 || got[0].Kind != protocol.JobFetch {
			t.Fatalf("after the retry the host got %+v; want its fetch again", got)
		}
		report(t, s, host, got[0], protocol.JobSucceeded, time.Now())
		if got := claim(t, s, host, nil); len(got) != 1 || got[0].Kind != protocol.JobInstall {
			t.Fatalf("after the fetch the host got %+v; want its install", got)
		}
	})
}

// TestRefusedAfterTheEnd: an agent that refuses a job (its window ended
// before it could start) after the deployment was cancelled used to put
// the job back to pending under a new attempt, in a deployment that hands
// nothing out any more: a job pending forever. It is skipped, saying why.
func TestRefusedAfterTheEnd(t *testing.T) {
	eachHooked(t, func(t *testing.T, s *store.Store, h *r6Hooks) {
		id, hosts := r6Running(t, s, 1, 0)
		got := claim(t, s, hosts[0], nil)
		if len(got) != 1 {
			t.Fatalf("claimed %d jobs, want the install", len(got))
		}
		apply(t, s, store.RolloutChange{ID: id, FromState: patchbay.DeploymentRunning, FromReason: patchbay.ReasonStarted,
			State: patchbay.DeploymentCancelled, Reason: patchbay.ReasonCancelled, SkipPending: true, Actor: "user:op"})
		report(t, s, hosts[0], got[0], protocol.JobRefused, time.Now())
		j := installs(t, s, id)[got[0].ID]
		if j.State != patchbay.JobSkipped || j.Attempt != got[0].Attempt || !strings.Contains(j.Reason, "refused by the agent") {
			t.Errorf("refused job of a cancelled deployment: %s at attempt %d (%q), want skipped at %d saying it was refused",
				j.State, j.Attempt, j.Reason, got[0].Attempt)
		}
	})
}

// TestRollbackAllCoversHostsMidInstall: a person orders the whole
// deployment back while a host is still installing; that host then
// succeeds. It used to stay at the new versions: rollback jobs were made
// for the hosts finished at the order, and a later success made none.
func TestRollbackAllCoversHostsMidInstall(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		id, hosts := r6Running(t, s, 3, 0)
		var got [][]protocol.Job
		for _, h := range hosts {
			js := claim(t, s, h, nil)
			if len(js) != 1 {
				t.Fatalf("host %d claimed %d jobs, want its install", h, len(js))
			}
			got = append(got, js)
		}
		report(t, s, hosts[0], got[0][0], protocol.JobHealthy, time.Now())
		apply(t, s, store.RolloutChange{ID: id, FromState: patchbay.DeploymentRunning, FromReason: patchbay.ReasonStarted,
			State: patchbay.DeploymentHalted, Reason: patchbay.ReasonRollingBack, RollbackAll: true, SkipPending: true, Actor: "user:op"})
		report(t, s, hosts[1], got[1][0], protocol.JobSucceeded, time.Now())
		report(t, s, hosts[2], got[2][0], protocol.JobFailed, time.Now())
		js, err := s.Jobs(context.Background(), id, patchbay.JobRollback)
		if err != nil {
			t.Fatal(err)
		}
		back := map[int64]bool{}
		for _, j := range js {
			back[j.HostID] = true
		}
		for i, h := range hosts {
			if !back[h] {
				t.Errorf("host %d (%s) changed by the deployment has no rollback job after a person ordered all back", h, []string{"healthy before the order", "succeeded after", "failed after"}[i])
			}
		}
		if len(js) != len(hosts) {
			t.Errorf("%d rollback jobs for %d hosts", len(js), len(hosts))
		}
	})
}

// TestLostInstallAfterTheEnd: an install handed out whose answer was lost
// is offered again; in a deployment cancelled meanwhile, it is offered with
// its start already past, so an agent that never got it refuses it (and
// it is skipped) rather than installing for a cancelled deployment.
func TestLostInstallAfterTheEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		id, hosts := r6Running(t, s, 1, 0)
		got := claim(t, s, hosts[0], nil) // the answer is lost
		if len(got) != 1 {
			t.Fatalf("claimed %d jobs, want the install", len(got))
		}
		apply(t, s, store.RolloutChange{ID: id, FromState: patchbay.DeploymentRunning, FromReason: patchbay.ReasonStarted,
			State: patchbay.DeploymentCancelled, Reason: patchbay.ReasonCancelled, SkipPending: true, Actor: "user:op"})
		again := claim(t, s, hosts[0], nil)
		if len(again) != 1 || again[0].ID != got[0].ID || again[0].StartBy.After(time.Now()) {
			t.Fatalf("offered again after the cancel: %+v; want the same job with its start past", again)
		}
	})
}
