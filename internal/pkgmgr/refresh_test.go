package pkgmgr

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/debtest"
)

func TestRefreshPolicyStale(t *testing.T) {
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		interval time.Duration
		last     time.Time
		want     bool
	}{
		{"never refreshed", 0, time.Time{}, true},
		{"an hour ago, daily", 0, now.Add(-time.Hour), false},
		{"just under a day", 0, now.Add(-DefaultRefreshInterval + time.Second), false},
		{"a day ago", 0, now.Add(-DefaultRefreshInterval), true},
		{"a week ago", 0, now.Add(-7 * 24 * time.Hour), true},
		{"hourly, two hours ago", time.Hour, now.Add(-2 * time.Hour), true},
		{"hourly, a minute ago", time.Hour, now.Add(-time.Minute), false},
		{"a minute in the future (clock skew)", 0, now.Add(time.Minute), false},
		{"a year in the future", 0, now.Add(365 * 24 * time.Hour), true},
		{"never refresh, never refreshed", -1, time.Time{}, false},
		{"never refresh, a year ago", -1, now.Add(-365 * 24 * time.Hour), false},
	}
	for _, tc := range tests {
		p := RefreshPolicy{Interval: tc.interval}
		if got := p.Stale(tc.last, now); got != tc.want {
			t.Errorf("%s: RefreshPolicy{Interval: %v}.Stale(%v, %v) = %v; want %v", tc.name, tc.interval, tc.last, now, got, tc.want)
		}
	}
}

// fakeRefresher counts refreshes and fails when told to.
type fakeRefresher struct {
	calls int
	err   error
}

func (f *fakeRefresher) Refresh(context.Context) error {
	f.calls++
	return f.err
}

func TestRefreshIfStale(t *testing.T) {
	ctx := context.Background()
	stamp := filepath.Join(t.TempDir(), "state", "apt-refresh.stamp")
	p := RefreshPolicy{Interval: time.Hour, Stamp: stamp}
	t0 := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

	if last, err := p.LastRefresh(); err != nil || !last.IsZero() {
		t.Fatalf("LastRefresh without a stamp = %v, %v; want the zero time", last, err)
	}
	failing := &fakeRefresher{err: errors.New("apt-get update: exit status 100")}
	if did, err := p.RefreshIfStale(ctx, failing, t0); did || err == nil || failing.calls != 1 {
		t.Fatalf("RefreshIfStale(failing) = %v, %v after %d calls", did, err, failing.calls)
	}
	if _, err := os.Stat(stamp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed refresh wrote the stamp (%v)", err)
	}

	r := &fakeRefresher{}
	for _, step := range []struct {
		at   time.Time
		want bool
	}{
		{t0, true},                        // never refreshed
		{t0.Add(30 * time.Minute), false}, // fresh
		{t0.Add(time.Hour), true},         // stale
		{t0.Add(90 * time.Minute), false},
	} {
		did, err := p.RefreshIfStale(ctx, r, step.at)
		if err != nil || did != step.want {
			t.Fatalf("RefreshIfStale at %v = %v, %v; want %v", step.at, did, err, step.want)
		}
	}
	if r.calls != 2 {
		t.Errorf("%d refreshes, want 2", r.calls)
	}
	if last, err := p.LastRefresh(); err != nil || !last.Equal(t0.Add(time.Hour)) {
		t.Errorf("LastRefresh = %v, %v; want %v", last, err, t0.Add(time.Hour))
	}
	if _, err := (RefreshPolicy{}).LastRefresh(); err == nil {
		t.Error("LastRefresh without a stamp path: no error")
	}
}

// Real apt through the policy: the first call refreshes (apt-get update
// fills the lists), the second does not.
func TestRefreshIfStaleApt(t *testing.T) {
	lookTool(t, "apt-get")
	root := debtest.NewRoot(t)
	a := &Apt{Root: root, NoLocking: true, SandboxUser: "root"}
	p := RefreshPolicy{Stamp: filepath.Join(t.TempDir(), "apt.stamp")}
	now := time.Now()
	for i, want := range []bool{true, false} {
		did, err := p.RefreshIfStale(context.Background(), a, now)
		if err != nil || did != want {
			t.Fatalf("call %d: RefreshIfStale = %v, %v; want %v", i+1, did, err, want)
		}
	}
}
