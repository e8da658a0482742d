package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/store/storetest"
)

// reviewClock is a settable store clock.
type reviewClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *reviewClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *reviewClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// eachClocked runs fn on every engine with a fresh store whose clock the
// test sets.
func eachClocked(t *testing.T, fn func(t *testing.T, s *store.Store, c *reviewClock)) {
	for _, eng := range storetest.Engines() {
		t.Run(string(eng), func(t *testing.T) {
			t.Parallel()
			c := &reviewClock{t: time.Now()}
			s, err := store.Open(context.Background(), storetest.Location(t, eng), store.Options{Now: c.now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			fn(t, s, c)
		})
	}
}

// TestReviewApproveExpiredException: a request whose expiry passed while
// it waited cannot be approved into an "active" exception that covers
// nothing; it can still be rejected, to clear it.
func TestReviewApproveExpiredException(t *testing.T) {
	eachClocked(t, func(t *testing.T, s *store.Store, c *reviewClock) {
		ctx := context.Background()
		op, _ := s.CreateUser(ctx, "user:admin", "op", patchbay.RoleOperator)
		appr, _ := s.CreateUser(ctx, "user:admin", "appr", patchbay.RoleApprover)
		x, err := s.CreateException(ctx, "user:op", op.ID, store.NewException{Advisory: "DSA-1", Reason: "accepted for one hour",
			ExpiresAt: c.now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		c.add(2 * time.Hour)
		got, err := s.DecideException(ctx, "user:appr", appr, x.ID, patchbay.Approve, "looks fine")
		if patchbay.ErrorCodeOf(err) != patchbay.EConflict {
			t.Fatalf("approving an expired request = %+v, %v; want a conflict", got, err)
		}
		if got, err := s.DecideException(ctx, "user:appr", appr, x.ID, patchbay.Reject, "too late"); err != nil || got.State != patchbay.ExceptionRejected {
			t.Fatalf("rejecting an expired request = %+v, %v", got, err)
		}
	})
}

// TestReviewConcurrentDecisions: two approvers deciding the same
// deployment, or the same exception, at once: exactly one decision holds,
// the other is refused, and one approval is recorded. (SQLite serialises
// writers; PostgreSQL's read committed let both read "awaiting" and both
// write.)
func TestReviewConcurrentDecisions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		p, err := s.CreatePolicy(ctx, "user:op", 1, samplePolicy("weekly"))
		if err != nil {
			t.Fatal(err)
		}
		op, _ := s.CreateUser(ctx, "user:admin", "op", patchbay.RoleOperator)
		a1, _ := s.CreateUser(ctx, "user:admin", "appr1", patchbay.RoleApprover)
		a2, _ := s.CreateUser(ctx, "user:admin", "appr2", patchbay.RoleApprover)
		for round := range 15 {
			d := &patchbay.Deployment{Name: "weekly", Key: fmt.Sprintf("policy:1:v:1::round-%d:approval", round),
				State: patchbay.DeploymentAwaitingApproval, Reason: patchbay.ReasonNeedsApprove, PolicyID: &p.ID, PolicyVersion: 1,
				Windows: p.Windows, Rings: []patchbay.Ring{{RingSpec: patchbay.RingSpec{Name: "all"}}},
				Hosts: []patchbay.DeploymentHost{{HostID: 11, Updates: []patchbay.PlannedUpdate{}}}}
			if _, err := s.CommitSchedule(ctx, "scheduler", store.Schedule{Deployments: []*patchbay.Deployment{d}}); err != nil {
				t.Fatal(err)
			}
			x, err := s.CreateException(ctx, "user:op", op.ID, store.NewException{Advisory: fmt.Sprintf("DSA-%d", round),
				Reason: "accepted while a fix is tested", ExpiresAt: time.Now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var dErrs, xErrs [2]error
			for i, who := range []*patchbay.User{a1, a2} {
				dec := []patchbay.Decision{patchbay.Approve, patchbay.Reject}[i]
				wg.Go(func() { _, dErrs[i] = s.DecideDeployment(ctx, "user:"+who.Name, who, d.ID, dec, "decided") })
				wg.Go(func() { _, xErrs[i] = s.DecideException(ctx, "user:"+who.Name, who, x.ID, dec, "decided") })
			}
			wg.Wait()
			for what, errs := range map[string][2]error{"deployment": dErrs, "exception": xErrs} {
				ok := 0
				for _, err := range errs {
					switch {
					case err == nil:
						ok++
					case patchbay.ErrorCodeOf(err) != patchbay.EConflict:
						t.Fatalf("round %d: deciding the %s: %v", round, what, err)
					}
				}
				if ok != 1 {
					t.Fatalf("round %d: %d concurrent decisions on one %s succeeded (%v), want exactly 1", round, ok, what, errs)
				}
			}
			got, err := s.Deployment(ctx, d.ID)
			if err != nil || len(got.Approvals) != 1 {
				t.Fatalf("round %d: deployment has %d decisions, %v; want 1", round, len(got.Approvals), err)
			}
		}
	})
}
