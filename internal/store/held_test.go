package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
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
