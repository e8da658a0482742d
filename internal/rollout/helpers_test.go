package rollout_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
	"github.com/patchbay/patchbay/internal/rollout"
	"github.com/patchbay/patchbay/internal/store"
	"github.com/patchbay/patchbay/internal/store/storetest"
)

// clockedStore opens a store on eng whose clock, and the controller's, is
// moved by *later.
func clockedStore(t *testing.T, eng store.Engine, later *time.Duration) (*store.Store, func() time.Time) {
	t.Helper()
	clock := func() time.Time { return time.Now().Add(*later) }
	s, err := store.Open(context.Background(), storetest.Location(t, eng), store.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, clock
}

// eachClocked runs fn on each engine's store (clockedStore): fn moves the
// store's and the controller's clock by setting *later.
func eachClocked(t *testing.T, fn func(t *testing.T, s *store.Store, clock func() time.Time, later *time.Duration)) {
	for _, eng := range storetest.Engines() {
		t.Run(string(eng), func(t *testing.T) {
			var later time.Duration
			s, clock := clockedStore(t, eng, &later)
			fn(t, s, clock, &later)
		})
	}
}

// installsOf returns deployment id's install jobs by host.
func installsOf(t *testing.T, s *store.Store, id int64) map[int64]patchbay.Job {
	t.Helper()
	js, err := s.Jobs(context.Background(), id, patchbay.JobInstall)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]patchbay.Job{}
	for _, j := range js {
		out[j.HostID] = j
	}
	return out
}

// succeeded reports a job done (a fetch; an install still watched).
func succeeded(protocol.Job) protocol.JobStatus { return protocol.JobSucceeded }

// oneRing puts all of d's hosts in one ring, "all".
func oneRing(d *patchbay.Deployment) {
	d.Rings = []patchbay.Ring{{RingSpec: patchbay.RingSpec{Name: "all"}, Hosts: len(d.Hosts)}}
	for i := range d.Hosts {
		d.Hosts[i].Ring = 0
	}
}

// dailyWindow is a window opening every day at opened's time (UTC).
func dailyWindow(opened time.Time, duration string) []patchbay.WindowSpec {
	opened = opened.UTC()
	return []patchbay.WindowSpec{{Cron: fmt.Sprintf("%d %d * * *", opened.Minute(), opened.Hour()), Duration: duration, Zone: "UTC"}}
}

// stepper returns a function deciding deployment id once with c.
func stepper(t *testing.T, c *rollout.Controller, id int64) func() {
	return func() {
		t.Helper()
		if _, err := c.Step(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
}
