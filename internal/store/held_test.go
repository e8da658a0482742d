package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/store/storetest"
)

// TestReleasedDeployments: an agent keeps a deployment's package files
// while it runs and, once completed, through its retention; a cancelled
// deployment, one past its retention and one never stored are released.
func TestReleasedDeployments(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		running, _ := r6Running(t, s, 1, 0)
		completed, _ := r6Running(t, s, 1, 0)
		cancelled, _ := r6Running(t, s, 1, 0)
		now := time.Now()
		apply(t, s, store.RolloutChange{ID: completed, FromState: patchbay.DeploymentRunning, FromReason: patchbay.ReasonStarted,
			State: patchbay.DeploymentCompleted, Reason: patchbay.ReasonCompleted, SkipPending: true, KeepUntil: now.Add(14 * 24 * time.Hour), Actor: "rollout"})
		apply(t, s, store.RolloutChange{ID: cancelled, FromState: patchbay.DeploymentRunning, FromReason: patchbay.ReasonStarted,
			State: patchbay.DeploymentCancelled, Reason: patchbay.ReasonCancelled, SkipPending: true, Actor: "user:op"})
		held := []int64{running, completed, cancelled, 999999}
		got, err := s.ReleasedDeployments(ctx, held, now)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int64{cancelled, 999999}; !slices.Equal(got, want) {
			t.Errorf("released now: %v, want %v (the cancelled one and the unknown one)", got, want)
		}
		got, err = s.ReleasedDeployments(ctx, held, now.Add(15*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if want := []int64{completed, cancelled, 999999}; !slices.Equal(got, want) {
			t.Errorf("released after the retention: %v, want %v", got, want)
		}
		if got, err := s.ReleasedDeployments(ctx, nil, now); err != nil || got != nil {
			t.Errorf("nothing held: %v, %v", got, err)
		}
	})
}

// TestJobPage: a deployment's jobs page by id, filtered by kind, state and
// host, without their output unless asked.
func TestJobPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		id, hosts := r6Running(t, s, 5, 0)
		js := claim(t, s, hosts[0], nil)
		if len(js) != 1 {
			t.Fatalf("claimed %d", len(js))
		}
		if _, err := s.RecordJobResult(ctx, hosts[0], js[0].ID, protocolResult(js[0], "the output")); err != nil {
			t.Fatal(err)
		}
		var all []patchbay.Job
		var cursor int64
		for pages := 0; ; pages++ {
			page, next, err := s.JobPage(ctx, id, patchbay.JobFilter{Limit: 3, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > 3 || pages > 5 {
				t.Fatalf("page of %d, %d pages", len(page), pages)
			}
			all = append(all, page...)
			if next == 0 {
				break
			}
			cursor = next
		}
		if len(all) != 10 || !slices.IsSortedFunc(all, func(a, b patchbay.Job) int { return int(a.ID - b.ID) }) {
			t.Fatalf("%d jobs over the pages (want 10: a fetch and an install for 5 hosts), in id order", len(all))
		}
		for _, j := range all {
			if j.Output != "" {
				t.Errorf("job %d carries its output unasked", j.ID)
			}
		}
		page, _, err := s.JobPage(ctx, id, patchbay.JobFilter{Kind: patchbay.JobInstall, State: patchbay.JobHealthy, HostID: hosts[0], Output: true})
		if err != nil || len(page) != 1 || page[0].ID != js[0].ID || page[0].Output != "the output" {
			t.Fatalf("host 0's healthy install with output: %+v, %v", page, err)
		}
		if page, _, err := s.JobPage(ctx, id, patchbay.JobFilter{Kind: patchbay.JobInstall, State: patchbay.JobPending}); err != nil || len(page) != 4 {
			t.Fatalf("pending installs: %d, %v; want 4", len(page), err)
		}
	})
}

func protocolResult(j protocol.Job, output string) protocol.JobResult {
	return protocol.JobResult{Attempt: j.Attempt, Status: protocol.JobHealthy, Output: output, Started: time.Now(), Finished: time.Now(),
		After: []protocol.PackageVersion{{Name: "hello", Arch: "all", Version: "1.1"}}}
}

// TestJobEcosystemAndRingHealth: a job carries its packages' ecosystem
// (it said "deb" for every host), and a ring's own minimum healthy time
// wins over the deployment's.
func TestJobEcosystemAndRingHealth(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		secret := enrollSecret(t, s, store.NewEnrollSecret{})
		e, err := s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: secret, Facts: facts("rocky-1", "rockym01")})
		if err != nil {
			t.Fatal(err)
		}
		d := &patchbay.Deployment{Name: "openssl", State: patchbay.DeploymentApproved, Reason: patchbay.ReasonApproved, Emergency: true,
			Windows: []patchbay.WindowSpec{}, Checks: patchbay.HostChecks{MinHealthySeconds: 60},
			Rings: []patchbay.Ring{{RingSpec: patchbay.RingSpec{Name: "pilot", MinHealthy: "15m"}, Hosts: 1}},
			Hosts: []patchbay.DeploymentHost{{HostID: e.HostID, Updates: []patchbay.PlannedUpdate{
				{Ecosystem: "rpm", Name: "openssl", Arch: "x86_64", FromVersion: "1:3.0.7-24.el9", ToVersion: "1:3.0.7-25.el9", Class: "security"}}}}}
		if err := s.CreateDeployment(ctx, "user:op", d); err != nil {
			t.Fatal(err)
		}
		apply(t, s, store.RolloutChange{ID: d.ID, FromState: patchbay.DeploymentApproved, FromReason: patchbay.ReasonApproved,
			State: patchbay.DeploymentRunning, Reason: patchbay.ReasonStarted, MakeJobs: true, Actor: "rollout"})
		fetch := claim(t, s, e.HostID, nil)
		if len(fetch) != 1 || fetch[0].Ecosystem != "rpm" {
			t.Fatalf("fetch job %+v, want one of ecosystem rpm", fetch)
		}
		report(t, s, e.HostID, fetch[0], protocol.JobSucceeded, time.Now())
		install := claim(t, s, e.HostID, nil)
		if len(install) != 1 || install[0].Ecosystem != "rpm" || install[0].MinHealthySeconds != 15*60 {
			t.Fatalf("install job %+v, want ecosystem rpm and the ring's 900 s of health", install)
		}
	})
}

// TestPolicyAuthorDoesNotApproveItsProposals: a deployment a policy
// proposed has no requester; the author of that policy version may not
// approve it (who wrote what gets deployed does not approve it too),
// another approver may.
func TestPolicyAuthorDoesNotApproveItsProposals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		author, err := s.CreateUser(ctx, "system", "pat", patchbay.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		other, err := s.CreateUser(ctx, "system", "ann", patchbay.RoleApprover)
		if err != nil {
			t.Fatal(err)
		}
		pol, err := s.CreatePolicy(ctx, "user:pat", author.ID, patchbay.Policy{Name: "prod", Enabled: true,
			Windows: []patchbay.WindowSpec{{Cron: "0 2 * * 6", Duration: "3h", Zone: "UTC"}}, Rings: []patchbay.RingSpec{{Name: "all"}},
			Reboot: patchbay.RebootRule{Mode: patchbay.RebootNever}, SLA: patchbay.DefaultSLA()})
		if err != nil {
			t.Fatal(err)
		}
		secret := enrollSecret(t, s, store.NewEnrollSecret{})
		e, err := s.Enroll(ctx, protocol.EnrollRequest{EnrollSecret: secret, Facts: facts("prod-1", "prodm01")})
		if err != nil {
			t.Fatal(err)
		}
		d := &patchbay.Deployment{Name: "prod, window", State: patchbay.DeploymentAwaitingApproval, Reason: patchbay.ReasonNeedsApprove,
			PolicyID: &pol.ID, PolicyVersion: pol.Version, Windows: pol.Windows, Rings: []patchbay.Ring{{RingSpec: patchbay.RingSpec{Name: "all"}, Hosts: 1}},
			Hosts: []patchbay.DeploymentHost{{HostID: e.HostID, Updates: []patchbay.PlannedUpdate{
				{Ecosystem: "deb", Name: "openssl", Arch: "amd64", FromVersion: "3.0.11-1~deb12u1", ToVersion: "3.0.11-1~deb12u2", Class: "security"}}}}}
		if err := s.CreateDeployment(ctx, "scheduler", d); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DecideDeployment(ctx, "user:pat", author, d.ID, patchbay.Approve, "looks fine"); patchbay.ErrorCodeOf(err) != patchbay.EForbidden {
			t.Fatalf("the policy's author approving its proposal: %v, want forbidden", err)
		}
		// A version written by someone else since does not clear the
		// first author: the proposal's version holds their rules too.
		pol.Description = "reviewed"
		v2, err := s.UpdatePolicy(ctx, "user:ann", other.ID+1000, pol.ID, pol.Version, *pol)
		if err != nil {
			t.Fatal(err)
		}
		d.PolicyVersion = v2.Version
		d.Key = ""
		d.ID = 0
		if err := s.CreateDeployment(ctx, "scheduler", d); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DecideDeployment(ctx, "user:pat", author, d.ID, patchbay.Approve, "looks fine"); patchbay.ErrorCodeOf(err) != patchbay.EForbidden {
			t.Fatalf("the first author approving a later version's proposal: %v, want forbidden", err)
		}
		if got, err := s.DecideDeployment(ctx, "user:ann", other, d.ID, patchbay.Approve, "looks fine"); err != nil || got.State != patchbay.DeploymentApproved {
			t.Fatalf("another approver: %v, %v; want approved", got, err)
		}
	})
}
