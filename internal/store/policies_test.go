package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/store/storetest"
)

func samplePolicy(name string) patchbay.Policy {
	return patchbay.Policy{Name: name, Enabled: true, Priority: 10,
		Selector: patchbay.Selector{Labels: []string{"prod"}},
		Updates:  patchbay.UpdateRule{Classes: []string{"critical"}},
		Windows:  []patchbay.WindowSpec{{Cron: "0 2 * * 6", Duration: "3h", Zone: "Europe/Berlin"}},
		Rings:    []patchbay.RingSpec{{Name: "all"}},
		Reboot:   patchbay.RebootRule{Mode: patchbay.RebootIfRequired},
		SLA:      patchbay.SLADays{Critical: 7, High: 14, Medium: 30, Low: 90, Unknown: 30}}
}

// TestPolicyVersions: a change stores a new version, the old one stays
// readable, a stale base is refused, and each change is audited.
func TestPolicyVersions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		p, err := s.CreatePolicy(ctx, "user:op", 7, samplePolicy("prod-critical"))
		if err != nil || p.Version != 1 || p.ID == 0 {
			t.Fatalf("CreatePolicy = %+v, %v", p, err)
		}
		if _, err := s.CreatePolicy(ctx, "user:op", 7, samplePolicy("prod-critical")); patchbay.ErrorCodeOf(err) != patchbay.EConflict {
			t.Fatalf("duplicate name: %v, want conflict", err)
		}
		next := samplePolicy("prod-critical")
		next.SLA.Critical = 3
		p2, err := s.UpdatePolicy(ctx, "user:op", 8, p.ID, 1, next)
		if err != nil || p2.Version != 2 || p2.CreatedBy != 8 {
			t.Fatalf("UpdatePolicy = %+v, %v", p2, err)
		}
		if _, err := s.UpdatePolicy(ctx, "user:op", 8, p.ID, 1, next); patchbay.ErrorCodeOf(err) != patchbay.EConflict {
			t.Fatalf("stale base version: %v, want conflict", err)
		}
		old, err := s.Policy(ctx, p.ID, 1)
		if err != nil || old.SLA.Critical != 7 || old.Version != 1 {
			t.Fatalf("version 1 = %+v, %v", old, err)
		}
		cur, err := s.Policy(ctx, p.ID, 0)
		if err != nil || cur.SLA.Critical != 3 || cur.Version != 2 {
			t.Fatalf("current = %+v, %v", cur, err)
		}
		vs, err := s.PolicyVersions(ctx, p.ID)
		if err != nil || len(vs) != 2 {
			t.Fatalf("versions = %d, %v", len(vs), err)
		}
		if _, err := s.Policy(ctx, p.ID, 9); patchbay.ErrorCodeOf(err) != patchbay.ENotFound {
			t.Fatalf("missing version: %v", err)
		}
		off := samplePolicy("off")
		off.Enabled = false
		if _, err := s.CreatePolicy(ctx, "user:op", 7, off); err != nil {
			t.Fatal(err)
		}
		if ps, _ := s.Policies(ctx, patchbay.PolicyFilter{}); len(ps) != 1 {
			t.Fatalf("enabled policies = %d, want 1", len(ps))
		}
		if ps, _ := s.Policies(ctx, patchbay.PolicyFilter{All: true}); len(ps) != 2 {
			t.Fatalf("all policies = %d, want 2", len(ps))
		}
		evs, err := s.ListAudit(ctx, patchbay.AuditFilter{ObjectType: "policy", Limit: 100})
		if err != nil || len(evs) != 3 {
			t.Fatalf("audit events of policies = %d, %v; want 3", len(evs), err)
		}
	})
}

// TestExceptionApproval: nobody approves their own request; an approved
// exception lists as active until it expires; a revoked one stops.
func TestExceptionApproval(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		op, _ := s.CreateUser(ctx, "user:admin", "op", patchbay.RoleOperator)
		appr, _ := s.CreateUser(ctx, "user:admin", "appr", patchbay.RoleApprover)
		admin, _ := s.CreateUser(ctx, "user:admin", "boss", patchbay.RoleAdmin)
		now := time.Now()
		bad := []store.NewException{
			{Reason: "no scope at all, really", ExpiresAt: now.Add(time.Hour)},
			{Advisory: "DSA-1", Reason: "short", ExpiresAt: now.Add(time.Hour)},
			{Advisory: "DSA-1", Reason: "expiry in the past", ExpiresAt: now.Add(-time.Hour)},
			{Advisory: "DSA-1", Reason: "no expiry given here"},
			{Group: "bad group!", Reason: "a group that is no tag", ExpiresAt: now.Add(time.Hour)},
		}
		for _, b := range bad {
			if _, err := s.CreateException(ctx, "user:op", op.ID, b); patchbay.ErrorCodeOf(err) != patchbay.EUnprocessable {
				t.Errorf("CreateException(%+v) = %v, want unprocessable", b, err)
			}
		}
		x, err := s.CreateException(ctx, "user:op", op.ID, store.NewException{Advisory: "DSA-5532-1", Group: "web",
			Reason: "compensating WAF rule in place", ExpiresAt: now.Add(30 * 24 * time.Hour)})
		if err != nil || x.State != patchbay.ExceptionPending {
			t.Fatalf("CreateException = %+v, %v", x, err)
		}
		if active, _ := s.Exceptions(ctx, false); len(active) != 0 {
			t.Fatalf("a pending exception is listed as active")
		}
		if _, err := s.DecideException(ctx, "user:op", op, x.ID, patchbay.Approve, "mine"); patchbay.ErrorCodeOf(err) != patchbay.EForbidden {
			t.Fatalf("operator approving: %v, want forbidden", err)
		}
		if _, err := s.DecideException(ctx, "user:appr", appr, x.ID, patchbay.Approve, ""); patchbay.ErrorCodeOf(err) != patchbay.EUnprocessable {
			t.Fatalf("no comment: %v, want unprocessable", err)
		}
		got, err := s.DecideException(ctx, "user:appr", appr, x.ID, patchbay.Approve, "WAF rule verified")
		if err != nil || got.State != patchbay.ExceptionActive || got.Approval == nil || got.Approval.By != appr.ID {
			t.Fatalf("approve = %+v, %v", got, err)
		}
		if _, err := s.DecideException(ctx, "user:boss", admin, x.ID, patchbay.Reject, "late"); patchbay.ErrorCodeOf(err) != patchbay.EConflict {
			t.Fatalf("deciding twice: %v, want conflict", err)
		}
		if active, _ := s.Exceptions(ctx, false); len(active) != 1 || active[0].ID != x.ID || active[0].Approval == nil || active[0].Approval.ByName != "appr" {
			t.Fatalf("active = %+v", active)
		}
		if _, err := s.RevokeException(ctx, "user:op", x.ID); err != nil {
			t.Fatal(err)
		}
		if active, _ := s.Exceptions(ctx, false); len(active) != 0 {
			t.Fatalf("a revoked exception is still active")
		}
		if all, _ := s.Exceptions(ctx, true); len(all) != 1 || all[0].State != patchbay.ExceptionRevoked {
			t.Fatalf("all = %+v", all)
		}
	})
}

// TestScheduleIdempotent: committing the same proposals twice stores each
// deployment once; decisions follow the approval rules.
func TestScheduleIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		appr, _ := s.CreateUser(ctx, "user:admin", "appr", patchbay.RoleApprover)
		p, err := s.CreatePolicy(ctx, "user:op", appr.ID+1, samplePolicy("weekly")) // written by someone else
		if err != nil {
			t.Fatal(err)
		}
		start := time.Date(2026, 12, 12, 1, 0, 0, 0, time.UTC)
		end := start.Add(3 * time.Hour)
		mk := func() *patchbay.Deployment {
			return &patchbay.Deployment{Name: "weekly", Key: "policy:1:v:1::2026-12-12T01:00:00Z:approval",
				State: patchbay.DeploymentAwaitingApproval, Reason: patchbay.ReasonNeedsApprove, PolicyID: &p.ID, PolicyVersion: 1,
				WindowStart: &start, WindowEnd: &end, Windows: p.Windows, Rings: []patchbay.Ring{{RingSpec: patchbay.RingSpec{Name: "all"}, Hosts: 2}},
				Hosts: []patchbay.DeploymentHost{
					{HostID: 11, Updates: []patchbay.PlannedUpdate{{Ecosystem: "deb", Name: "openssl", Arch: "amd64", FromVersion: "3.0.11-1~deb12u1", ToVersion: "3.0.11-1~deb12u2", Class: "critical", Fixes: []string{"DSA-5532-1"}}}},
					{HostID: 12, Updates: []patchbay.PlannedUpdate{{Ecosystem: "deb", Name: "openssl", Arch: "amd64", FromVersion: "3.0.11-1~deb12u1", ToVersion: "3.0.11-1~deb12u2", Class: "critical"}}},
				}}
		}
		sc := store.Schedule{Deployments: []*patchbay.Deployment{mk()}, Marks: []store.ScheduleMark{{PolicyID: p.ID, Mark: end}},
			Missed: []string{"policy 1 window 2026-12-05"}}
		n, err := s.CommitSchedule(ctx, "scheduler", sc)
		if err != nil || n != 1 {
			t.Fatalf("first commit created %d, %v", n, err)
		}
		again := store.Schedule{Deployments: []*patchbay.Deployment{mk()}, Marks: []store.ScheduleMark{{PolicyID: p.ID, Mark: end}}}
		if n, err := s.CommitSchedule(ctx, "scheduler", again); err != nil || n != 0 || again.Deployments[0].ID != sc.Deployments[0].ID {
			t.Fatalf("second commit created %d (id %d vs %d), %v", n, again.Deployments[0].ID, sc.Deployments[0].ID, err)
		}
		marks, err := s.ScheduleMarks(ctx)
		if err != nil || len(marks) != 1 || !marks[0].Mark.Equal(end) {
			t.Fatalf("marks = %+v, %v", marks, err)
		}
		ds, err := s.Deployments(ctx, patchbay.DeploymentFilter{States: []patchbay.DeploymentState{patchbay.DeploymentAwaitingApproval}})
		if err != nil || len(ds) != 1 || ds[0].HostCount != 2 {
			t.Fatalf("awaiting = %+v, %v", ds, err)
		}
		d, err := s.Deployment(ctx, ds[0].ID)
		if err != nil || len(d.Hosts) != 2 || d.Hosts[0].Updates[0].Fixes[0] != "DSA-5532-1" || d.PolicyVersion != 1 || len(d.Rings) != 1 {
			t.Fatalf("deployment = %+v, %v", d, err)
		}
		got, err := s.DecideDeployment(ctx, "user:appr", appr, d.ID, patchbay.Approve, "looks right")
		if err != nil || got.State != patchbay.DeploymentApproved || got.Reason != patchbay.ReasonApproved || len(got.Approvals) != 1 {
			t.Fatalf("approve = %+v, %v", got, err)
		}
		if _, err := s.DecideDeployment(ctx, "user:appr", appr, d.ID, patchbay.Reject, "changed my mind"); patchbay.ErrorCodeOf(err) != patchbay.EConflict {
			t.Fatalf("second decision: %v, want conflict", err)
		}
		evs, _ := s.ListAudit(ctx, patchbay.AuditFilter{ObjectType: "deployment", Limit: 100})
		if len(evs) != 2 {
			t.Fatalf("deployment audit events = %d, want 2 (propose, approve)", len(evs))
		}
		missed, _ := s.ListAudit(ctx, patchbay.AuditFilter{ObjectType: "window", Limit: 100})
		if len(missed) != 1 {
			t.Fatalf("missed-window audit events = %d, want 1", len(missed))
		}
	})
}
