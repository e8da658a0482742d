package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/store"
)

// TestSlotFreedWakesWaitingHost: in a ring of at most one host at a time,
// the second host's long poll waits while the first installs; the first
// host's result frees the slot and wakes that poll at once. It used to be
// found at the poll's next look, up to five seconds later.
func TestSlotFreedWakesWaitingHost(t *testing.T) {
	f := newFixture(t, store.SQLite)
	s, ctx := f.store, context.Background()
	_, secret, err := s.CreateEnrollSecret(ctx, "system", store.NewEnrollSecret{Name: "wake"})
	if err != nil {
		t.Fatal(err)
	}
	d := &patchbay.Deployment{Name: "hello 1.1", State: patchbay.DeploymentApproved, Reason: patchbay.ReasonApproved, Emergency: true,
		Windows: []patchbay.WindowSpec{}, Rings: []patchbay.Ring{{RingSpec: patchbay.RingSpec{Name: "all", MaxParallel: 1, FailureThreshold: "50%"}, Hosts: 2}}}
	var hosts []int64
	tokens := map[int64]string{}
	for i := range 2 {
		e, err := s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: secret, Facts: protocol.Facts{Hostname: fmt.Sprintf("wake-%d", i),
			MachineID: fmt.Sprintf("%032d", i+7)}})
		if err != nil {
			t.Fatal(err)
		}
		hosts, tokens[e.HostID] = append(hosts, e.HostID), e.HostToken
		d.Hosts = append(d.Hosts, patchbay.DeploymentHost{HostID: e.HostID, Updates: []patchbay.PlannedUpdate{
			{Ecosystem: "deb", Name: "hello", Arch: "all", FromVersion: "1.0", ToVersion: "1.1", Class: "security"}}})
	}
	if err := s.CreateDeployment(ctx, "user:op", d); err != nil {
		t.Fatal(err)
	}
	apply := func(c store.RolloutChange) {
		t.Helper()
		if err := s.ApplyRollout(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	poll := func(host int64, wait int) []protocol.Job {
		t.Helper()
		w := f.do(t, "POST", protocol.PathJobsPoll, tokens[host], fmt.Sprintf(`{"wait_seconds": %d}`, wait), false)
		var res protocol.PollResponse
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &res) != nil {
			t.Errorf("poll of host %d: %d %s", host, w.Code, w.Body)
		}
		return res.Jobs
	}
	result := func(host int64, j protocol.Job, status protocol.JobStatus) {
		t.Helper()
		body, _ := json.Marshal(protocol.JobResult{Attempt: j.Attempt, Status: status, Started: time.Now(), Finished: time.Now(),
			After: []protocol.PackageVersion{{Name: "hello", Arch: "all", Version: "1.1"}}})
		if w := f.do(t, "POST", protocol.JobResultPath(j.ID), tokens[host], string(body), false); w.Code != http.StatusOK {
			t.Fatalf("result of job %d: %d %s", j.ID, w.Code, w.Body)
		}
	}
	apply(store.RolloutChange{ID: d.ID, FromState: patchbay.DeploymentApproved, FromReason: patchbay.ReasonApproved,
		State: patchbay.DeploymentScheduled, Reason: patchbay.ReasonProposed, MakeJobs: true, Actor: "rollout"})
	for _, h := range hosts {
		for _, j := range poll(h, 0) {
			result(h, j, protocol.JobSucceeded)
		}
	}
	apply(store.RolloutChange{ID: d.ID, FromState: patchbay.DeploymentScheduled, FromReason: patchbay.ReasonProposed,
		State: patchbay.DeploymentRunning, Reason: patchbay.ReasonStarted, ResetProgress: true, Actor: "rollout"})

	first := poll(hosts[0], 0)
	if len(first) != 1 || first[0].Kind != protocol.JobInstall {
		t.Fatalf("first host got %v, want its install", first)
	}
	got := make(chan []protocol.Job, 1)
	start := time.Now()
	go func() { got <- poll(hosts[1], 20) }()
	time.Sleep(300 * time.Millisecond) // the second host waits for the slot
	select {
	case js := <-got:
		t.Fatalf("the second host's poll answered %v while the ring's one slot was taken", js)
	default:
	}
	result(hosts[0], first[0], protocol.JobHealthy)
	select {
	case js := <-got:
		if len(js) != 1 || js[0].Kind != protocol.JobInstall {
			t.Fatalf("the second host got %v, want its install", js)
		}
		t.Logf("picked up %s after the poll began", time.Since(start).Round(time.Millisecond))
	case <-time.After(4 * time.Second): // under the 5 s look a waiting poll takes unwoken
		t.Fatal("the freed slot did not wake the waiting host's poll")
	}
}

// TestPollHoldingChecked: the deployments an agent says it holds files for
// are ids, and a bounded list.
func TestPollHoldingChecked(t *testing.T) {
	f := newFixture(t, store.SQLite)
	ids := make([]string, protocol.MaxHolding+1)
	for i := range ids {
		ids[i] = fmt.Sprint(i + 1)
	}
	for _, tc := range []struct {
		body string
		code int
	}{
		{`{"wait_seconds": 0, "holding": [0]}`, http.StatusUnprocessableEntity},
		{`{"wait_seconds": 0, "holding": [` + strings.Join(ids, ",") + `]}`, http.StatusRequestEntityTooLarge},
		{`{"wait_seconds": 0, "holding": [12345]}`, http.StatusOK},
	} {
		w := f.do(t, "POST", protocol.PathJobsPoll, f.hostToken, tc.body, false)
		if w.Code != tc.code {
			t.Errorf("poll %.60s…: %d %s, want %d", tc.body, w.Code, w.Body, tc.code)
		}
		if tc.code == http.StatusOK {
			var res protocol.PollResponse
			if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || len(res.Release) != 1 || res.Release[0] != 12345 {
				t.Errorf("a deployment never stored: release %v (%v), want it released", res.Release, err)
			}
		}
	}
}

// TestTransitionWakesItsHosts: a deployment's transition wakes the polls
// of its hosts (here, its ring starting), which answer at once with the
// job now due rather than at their next look.
func TestTransitionWakesItsHosts(t *testing.T) {
	f := newFixture(t, store.SQLite)
	s, ctx := f.store, context.Background()
	_, secret, err := s.CreateEnrollSecret(ctx, "system", store.NewEnrollSecret{Name: "wake"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: secret, Facts: protocol.Facts{Hostname: "wake-t", MachineID: fmt.Sprintf("%032d", 99)}})
	if err != nil {
		t.Fatal(err)
	}
	d := &patchbay.Deployment{Name: "hello 1.1", State: patchbay.DeploymentApproved, Reason: patchbay.ReasonApproved, Emergency: true,
		Windows: []patchbay.WindowSpec{}, Rings: []patchbay.Ring{{RingSpec: patchbay.RingSpec{Name: "all"}, Hosts: 1}},
		Hosts: []patchbay.DeploymentHost{{HostID: e.HostID, Updates: []patchbay.PlannedUpdate{
			{Ecosystem: "deb", Name: "hello", Arch: "all", FromVersion: "1.0", ToVersion: "1.1", Class: "security"}}}}}
	if err := s.CreateDeployment(ctx, "user:op", d); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyRollout(ctx, store.RolloutChange{ID: d.ID, FromState: patchbay.DeploymentApproved, FromReason: patchbay.ReasonApproved,
		State: patchbay.DeploymentScheduled, Reason: patchbay.ReasonProposed, MakeJobs: true, Actor: "rollout"}); err != nil {
		t.Fatal(err)
	}
	poll := func(wait int) []protocol.Job {
		w := f.do(t, "POST", protocol.PathJobsPoll, e.HostToken, fmt.Sprintf(`{"wait_seconds": %d}`, wait), false)
		var res protocol.PollResponse
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &res) != nil {
			t.Errorf("poll: %d %s", w.Code, w.Body)
		}
		return res.Jobs
	}
	fetch := poll(0)
	if len(fetch) != 1 {
		t.Fatalf("scheduled: %v, want the fetch", fetch)
	}
	body, _ := json.Marshal(protocol.JobResult{Attempt: 1, Status: protocol.JobSucceeded, Started: time.Now(), Finished: time.Now()})
	if w := f.do(t, "POST", protocol.JobResultPath(fetch[0].ID), e.HostToken, string(body), false); w.Code != http.StatusOK {
		t.Fatalf("fetch result: %d %s", w.Code, w.Body)
	}
	got := make(chan []protocol.Job, 1)
	go func() { got <- poll(20) }()
	time.Sleep(300 * time.Millisecond) // the poll waits: the install is not due while scheduled
	if err := s.ApplyRollout(ctx, store.RolloutChange{ID: d.ID, FromState: patchbay.DeploymentScheduled, FromReason: patchbay.ReasonProposed,
		State: patchbay.DeploymentRunning, Reason: patchbay.ReasonStarted, Actor: "rollout"}); err != nil {
		t.Fatal(err)
	}
	f.server.JobsChanged(d.ID)
	select {
	case js := <-got:
		if len(js) != 1 || js[0].Kind != protocol.JobInstall {
			t.Fatalf("after the ring started: %v, want the install", js)
		}
	case <-time.After(4 * time.Second): // under the 5 s look a waiting poll takes unwoken
		t.Fatal("the deployment's transition did not wake its host's poll")
	}
}
