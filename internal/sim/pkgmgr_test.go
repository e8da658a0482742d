package sim

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
)

var t0 = time.Date(2026, 6, 1, 2, 0, 0, 0, time.UTC)

// installJob is job id's install of three packages from 1.0 to 1.1.
func installJob(id int64, attempt int) protocol.Job {
	return protocol.Job{ID: id, Attempt: attempt, Kind: protocol.JobInstall, Reboot: patchbay.RebootRule{Mode: patchbay.RebootIfRequired},
		Actions: []protocol.Action{{Name: "libc6", Arch: "amd64", Version: "1.1"}, {Name: "openssl", Arch: "amd64", Version: "1.1"},
			{Name: "zlib1g", Arch: "amd64", Version: "1.1"}}}
}

func atOnePointZero(string, string) string { return "1.0" }

// TestPackageManagerRepeats checks that an outcome is a function of the
// seed, the job's id and attempt and the image: the same inputs give the
// same result, and another seed gives other outcomes.
func TestPackageManagerRepeats(t *testing.T) {
	pm := &PackageManager{Seed: 42, DefaultFailRate: 0.3, DefaultRebootRate: 0.3}
	other := &PackageManager{Seed: 43, DefaultFailRate: 0.3, DefaultRebootRate: 0.3}
	differ := 0
	for id := int64(1); id <= 200; id++ {
		a := pm.Run(7, "debian-12", installJob(id, 1), atOnePointZero, t0)
		b := pm.Run(7, "debian-12", installJob(id, 1), atOnePointZero, t0)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("job %d run twice: %+v then %+v", id, a.Result, b.Result)
		}
		c := other.Run(7, "debian-12", installJob(id, 1), atOnePointZero, t0)
		if c.Result.Status != a.Result.Status || c.Result.Rebooted != a.Result.Rebooted || !c.Result.Finished.Equal(a.Result.Finished) {
			differ++
		}
	}
	if differ < 50 {
		t.Errorf("seeds 42 and 43 differ on %d of 200 jobs, want most", differ)
	}
}

// TestPackageManagerRates runs 20,000 installs per image and checks the
// share that fail and reboot and the mean duration against the configured
// ones, per image and with FailHost.
func TestPackageManagerRates(t *testing.T) {
	pm := &PackageManager{Seed: 1, FailRate: map[string]float64{"rocky-9": 0.5, "alpine-3.20": 0}, DefaultFailRate: 0.05,
		RebootRate: map[string]float64{"debian-12": 0.2}, DefaultDuration: time.Minute, Duration: map[string]time.Duration{"alpine-3.20": time.Hour}}
	const n = 20_000
	for _, tc := range []struct {
		image              string
		host               int
		failHost           func(int) bool
		wantFail, wantBoot float64
		mean               time.Duration
	}{
		{"debian-12", 1, nil, 0.05, 0.2, time.Minute},
		{"rocky-9", 1, nil, 0.5, 0, time.Minute},
		{"alpine-3.20", 1, nil, 0, 0, time.Hour},
		{"rocky-9", 1, func(h int) bool { return h == 1 }, 0.5, 0, time.Minute},
		{"rocky-9", 2, func(h int) bool { return h == 1 }, 0, 0, time.Minute},
	} {
		pm.FailHost = tc.failHost
		var failed, rebooted int
		var total time.Duration
		for id := int64(1); id <= n; id++ {
			out := pm.Run(tc.host, tc.image, installJob(id, 1), atOnePointZero, t0)
			r := out.Result
			switch r.Status {
			case protocol.JobFailed:
				failed++
			case protocol.JobHealthy:
			default:
				t.Fatalf("%s job %d: status %s", tc.image, id, r.Status)
			}
			if r.Rebooted {
				rebooted++
			}
			d := r.Finished.Sub(r.Started)
			if d < tc.mean/2 || d > tc.mean*3/2 {
				t.Fatalf("%s job %d took %s, want half to one and a half times its mean %s", tc.image, id, d, tc.mean)
			}
			total += d
		}
		// Four standard deviations of a binomial share: a wrong rate fails,
		// chance does not.
		for _, c := range []struct {
			what      string
			got, want float64
		}{{"failure", float64(failed) / n, tc.wantFail}, {"reboot", float64(rebooted) / n, tc.wantBoot * (1 - tc.wantFail)}} {
			if tol := 4 * math.Sqrt(c.want*(1-c.want)/n); math.Abs(c.got-c.want) > tol+1e-9 {
				t.Errorf("%s on host %d: %s share %.4f, want %.4f ± %.4f", tc.image, tc.host, c.what, c.got, c.want, tol)
			}
		}
		if mean := total / n; mean < tc.mean*97/100 || mean > tc.mean*103/100 {
			t.Errorf("%s: mean duration %s, want about %s", tc.image, mean, tc.mean)
		}
	}
}

// TestPackageManagerVersions checks the versions each kind of job reports
// and leaves: a success installs every target, a failure a prefix of them
// (a half state), a rollback the versions from before, a fetch nothing;
// and a job past its StartBy is refused untouched.
func TestPackageManagerVersions(t *testing.T) {
	pm := &PackageManager{Seed: 9, DefaultFailRate: 0.5}
	var ok, failed int
	for id := int64(1); id <= 400; id++ {
		job := installJob(id, 1)
		out := pm.Run(0, "debian-12", job, atOnePointZero, t0)
		r := out.Result
		if len(r.Before) != 3 || len(r.After) != 3 {
			t.Fatalf("job %d: before %v after %v, want three each", id, r.Before, r.After)
		}
		for i, a := range job.Actions {
			if r.Before[i] != (protocol.PackageVersion{Name: a.Name, Arch: a.Arch, Version: "1.0"}) {
				t.Fatalf("job %d: before[%d] = %+v, want %s at 1.0", id, i, r.Before[i], a.Name)
			}
		}
		switch r.Status {
		case protocol.JobHealthy:
			ok++
			for i, a := range job.Actions {
				if r.After[i].Version != a.Version || out.Installed[i] != r.After[i] {
					t.Fatalf("job %d succeeded: after %v, installed %v; want every target", id, r.After, out.Installed)
				}
			}
		case protocol.JobFailed:
			failed++
			done := len(out.Installed)
			if done >= 3 || r.Reason == "" || r.Rebooted {
				t.Fatalf("job %d failed with %d of 3 installed, reason %q, rebooted %v", id, done, r.Reason, r.Rebooted)
			}
			for i := range job.Actions {
				want := "1.0"
				if i < done {
					want = "1.1"
				}
				if r.After[i].Version != want {
					t.Fatalf("job %d failed after %d actions: after %v", id, done, r.After)
				}
			}
		default:
			t.Fatalf("job %d: status %s", id, r.Status)
		}
		// Rolling back what the failure left restores the versions from before.
		if r.Status == protocol.JobFailed {
			now := map[string]string{}
			for _, v := range r.After {
				now[v.Name] = v.Version
			}
			back := protocol.Job{ID: id + 10_000, Attempt: 1, Kind: protocol.JobRollback}
			for _, v := range r.Before {
				back.Actions = append(back.Actions, protocol.Action{Name: v.Name, Arch: v.Arch, Version: v.Version})
			}
			rb := pm.Run(0, "debian-12", back, func(name, _ string) string { return now[name] }, t0)
			if rb.Result.Status != protocol.JobSucceeded || !reflect.DeepEqual(rb.Result.After, r.Before) || !reflect.DeepEqual(rb.Result.Before, r.After) {
				t.Fatalf("rollback of job %d: %s, before %v after %v; want succeeded from %v back to %v", id, rb.Result.Status,
					rb.Result.Before, rb.Result.After, r.After, r.Before)
			}
		}
	}
	if ok == 0 || failed == 0 {
		t.Fatalf("%d succeeded, %d failed: want both", ok, failed)
	}

	fetch := installJob(1, 1)
	fetch.Kind = protocol.JobFetch
	out := pm.Run(0, "debian-12", fetch, atOnePointZero, t0)
	if out.Result.Status != protocol.JobSucceeded || len(out.Installed) != 0 || !reflect.DeepEqual(out.Result.After, out.Result.Before) {
		t.Errorf("fetch: %s, installed %v, after %v; want succeeded, nothing changed", out.Result.Status, out.Installed, out.Result.After)
	}
	late := installJob(1, 1)
	late.StartBy = t0.Add(-time.Second)
	out = pm.Run(0, "debian-12", late, atOnePointZero, t0)
	if out.Result.Status != protocol.JobRefused || len(out.Installed) != 0 {
		t.Errorf("install past its StartBy: %s, installed %v; want refused, nothing changed", out.Result.Status, out.Installed)
	}
	always := installJob(1, 1)
	always.Reboot.Mode = patchbay.RebootAlways
	pm.DefaultFailRate = 0
	out = pm.Run(0, "debian-12", always, atOnePointZero, t0)
	if !out.Result.Rebooted || !out.Result.BootTime.Equal(out.Result.Finished) {
		t.Errorf("reboot always: rebooted %v at %v, want a reboot when it finished", out.Result.Rebooted, out.Result.BootTime)
	}
	if err := out.Result.Validate(); err != nil {
		t.Errorf("the server would refuse the result %+v: %v", out.Result, err)
	}
}

// TestPackageManagerWait checks that Wait bounds the real wait and zero
// waits not at all, and that a result never finishes after it is sent.
func TestPackageManagerWait(t *testing.T) {
	pm := &PackageManager{DefaultDuration: time.Hour, Wait: 50 * time.Millisecond}
	if out := pm.Run(0, "debian-12", installJob(1, 1), atOnePointZero, t0); out.Wait != 50*time.Millisecond || !out.Result.Finished.Equal(t0.Add(out.Wait)) {
		t.Errorf("a job of about an hour with Wait 50 ms waits %s and finishes at %s", out.Wait, out.Result.Finished)
	}
	pm.Wait = 0
	if out := pm.Run(0, "debian-12", installJob(1, 1), atOnePointZero, t0); out.Wait != 0 || !out.Result.Finished.Equal(t0) ||
		out.Result.Started.After(t0.Add(-30*time.Minute)) {
		t.Errorf("without Wait, a job waits %s, runs %s to %s; want it finished at once, begun its duration before",
			out.Wait, out.Result.Started, out.Result.Finished)
	}
}
