package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/store"
)

// r7Fleet is a running emergency deployment of hello 1.1 on n hosts in
// one ring of at most maxParallel at once, with the hosts' tokens; the
// hosts of fetched have fetched ahead, the others never polled (offline).
type r7Fleet struct {
	f      *fixture
	id     int64
	hosts  []int64
	tokens map[int64]string
}

func r7Running(t *testing.T, n, maxParallel int, fetched func(i int) bool) *r7Fleet {
	t.Helper()
	f := newFixture(t, store.SQLite)
	s, ctx := f.store, context.Background()
	_, secret, err := s.CreateEnrollSecret(ctx, "system", store.NewEnrollSecret{Name: "r7"})
	if err != nil {
		t.Fatal(err)
	}
	d := &patchbay.Deployment{Name: "hello 1.1", State: patchbay.DeploymentApproved, Reason: patchbay.ReasonApproved, Emergency: true,
		Windows: []patchbay.WindowSpec{}, Rings: []patchbay.Ring{{RingSpec: patchbay.RingSpec{Name: "all", MaxParallel: maxParallel, FailureThreshold: "100%"}, Hosts: n}}}
	fl := &r7Fleet{f: f, tokens: map[int64]string{}}
	for i := range n {
		e, err := s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: secret, Facts: protocol.Facts{Hostname: fmt.Sprintf("r7-%d", i),
			MachineID: fmt.Sprintf("%032d", i+100)}})
		if err != nil {
			t.Fatal(err)
		}
		fl.hosts, fl.tokens[e.HostID] = append(fl.hosts, e.HostID), e.HostToken
		d.Hosts = append(d.Hosts, patchbay.DeploymentHost{HostID: e.HostID, Updates: []patchbay.PlannedUpdate{
			{Ecosystem: "deb", Name: "hello", Arch: "all", FromVersion: "1.0", ToVersion: "1.1", Class: "security"}}})
	}
	if err := s.CreateDeployment(ctx, "user:op", d); err != nil {
		t.Fatal(err)
	}
	fl.id = d.ID
	fl.apply(t, store.RolloutChange{FromState: patchbay.DeploymentApproved, FromReason: patchbay.ReasonApproved,
		State: patchbay.DeploymentScheduled, Reason: patchbay.ReasonProposed, MakeJobs: true})
	for i, h := range fl.hosts {
		if fetched(i) {
			for _, j := range fl.poll(t, h, 0, nil).Jobs {
				fl.result(t, h, j, protocol.JobSucceeded)
			}
		}
	}
	fl.apply(t, store.RolloutChange{FromState: patchbay.DeploymentScheduled, FromReason: patchbay.ReasonProposed,
		State: patchbay.DeploymentRunning, Reason: patchbay.ReasonStarted, ResetProgress: true})
	return fl
}

func (fl *r7Fleet) apply(t *testing.T, c store.RolloutChange) {
	t.Helper()
	c.ID, c.Actor = fl.id, "rollout"
	if err := fl.f.store.ApplyRollout(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}

func (fl *r7Fleet) poll(t *testing.T, host int64, wait int, holding []int64) protocol.PollResponse {
	t.Helper()
	body, _ := json.Marshal(protocol.PollRequest{WaitSeconds: wait, Holding: holding})
	w := fl.f.do(t, "POST", protocol.PathJobsPoll, fl.tokens[host], string(body), false)
	var res protocol.PollResponse
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &res) != nil {
		t.Errorf("poll of host %d: %d %s", host, w.Code, w.Body)
	}
	return res
}

func (fl *r7Fleet) result(t *testing.T, host int64, j protocol.Job, status protocol.JobStatus) {
	t.Helper()
	body, _ := json.Marshal(protocol.JobResult{Attempt: j.Attempt, Status: status, Started: time.Now(), Finished: time.Now(),
		Before: []protocol.PackageVersion{{Name: "hello", Arch: "all", Version: "1.0"}},
		After:  []protocol.PackageVersion{{Name: "hello", Arch: "all", Version: "1.1"}}})
	if w := fl.f.do(t, "POST", protocol.JobResultPath(j.ID), fl.tokens[host], string(body), false); w.Code != http.StatusOK {
		t.Fatalf("result of job %d: %d %s", j.ID, w.Code, w.Body)
	}
}

// TestReview7NoReleaseWithJobHandedOut: a host took its rollback job, and
// the answer was lost (a connection cut); the deployment then ended
// rolled_back past its progress deadline, the host counted as offline.
// When the host comes back, its poll is offered the rollback again and,
// in the same answer, told to release the deployment's files: the agent
// deletes the kept files first, then runs the rollback, which finds
// nothing to restore. The host stays at the version rolled back.
func TestReview7NoReleaseWithJobHandedOut(t *testing.T) {
	fl := r7Running(t, 1, 0, func(int) bool { return true })
	h := fl.hosts[0]
	js := fl.poll(t, h, 0, nil).Jobs
	if len(js) != 1 || js[0].Kind != protocol.JobInstall {
		t.Fatalf("host got %+v, want its install", js)
	}
	fl.result(t, h, js[0], protocol.JobFailed)
	fl.apply(t, store.RolloutChange{FromState: patchbay.DeploymentRunning, FromReason: patchbay.ReasonStarted,
		State: patchbay.DeploymentHalted, Reason: patchbay.ReasonRollingBack, RollbackRing: true})
	if js := fl.poll(t, h, 0, nil).Jobs; len(js) != 1 || js[0].Kind != protocol.JobRollback {
		t.Fatalf("host got %+v, want its rollback", js) // the answer the host never read
	}
	fl.apply(t, store.RolloutChange{FromState: patchbay.DeploymentHalted, FromReason: patchbay.ReasonRollingBack,
		State: patchbay.DeploymentRolledBack, Reason: patchbay.ReasonRolledBack, SkipPending: true})

	res := fl.poll(t, h, 0, []int64{fl.id})
	if len(res.Jobs) != 1 || res.Jobs[0].Kind != protocol.JobRollback {
		t.Fatalf("host back online got %+v, want its rollback offered again", res.Jobs)
	}
	if slices.Contains(res.Release, fl.id) {
		t.Errorf("the answer hands out deployment %d's rollback and releases its files (release %v): the rollback runs without them", fl.id, res.Release)
	}
}

// TestReview7SlotWakesWaitingHost: hosts offline through the window keep
// their install jobs pending, and being the oldest pending they were the
// only ones a freed slot woke: the host actually waiting for the slot
// found it at its poll's next look, five seconds later, every time.
func TestReview7SlotWakesWaitingHost(t *testing.T) {
	const n = 7 // hosts 1-5 offline
	fl := r7Running(t, n, 1, func(i int) bool { return i == 0 || i == n-1 })
	first := fl.poll(t, fl.hosts[0], 0, nil).Jobs
	if len(first) != 1 || first[0].Kind != protocol.JobInstall {
		t.Fatalf("first host got %+v, want its install", first)
	}
	got := make(chan []protocol.Job, 1)
	go func() { got <- fl.poll(t, fl.hosts[n-1], 20, nil).Jobs }()
	time.Sleep(300 * time.Millisecond) // the last host waits for the slot
	start := time.Now()
	fl.result(t, fl.hosts[0], first[0], protocol.JobHealthy)
	select {
	case js := <-got:
		if len(js) != 1 || js[0].Kind != protocol.JobInstall {
			t.Fatalf("the waiting host got %+v, want its install", js)
		}
		t.Logf("picked up %s after the slot freed", time.Since(start).Round(time.Millisecond))
	case <-time.After(3 * time.Second): // under the 5 s look a waiting poll takes unwoken
		t.Fatal("the freed slot woke the offline hosts, not the one waiting for it")
	}
}
