package sim

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/protocol"
)

// DefaultJobDuration is the mean simulated duration of an install when
// PackageManager names none.
const DefaultJobDuration = 2 * time.Minute

// PackageManager is the simulated fleet's package manager. It decides a
// job's outcome from its seed, the job's id and attempt and the host's
// image alone, so that a run repeats exactly: whether an install fails (and
// how far it got), how long it took, and whether it needed a reboot. It
// never touches a real package.
type PackageManager struct {
	Seed uint64
	// FailRate is the chance that an install fails, by image name
	// (fleet.Image.Name: "debian-12", "rocky-9"...); DefaultFailRate is
	// the chance for images it does not name. Fetches and rollbacks do
	// not fail.
	FailRate        map[string]float64
	DefaultFailRate float64
	// FailHost, when set, limits failures to the hosts it accepts (by
	// fleet index): a test fails one ring's hosts and no other.
	FailHost func(host int) bool
	// RebootRate is the chance that an install needs a reboot, by image
	// name, and DefaultRebootRate for the others. The host reboots when
	// the job's reboot rule says so (always, or if-required and needed).
	RebootRate        map[string]float64
	DefaultRebootRate float64
	// Duration is the mean simulated duration of an install by image name,
	// and DefaultDuration for the others (DefaultJobDuration when zero);
	// an install takes between half and one and a half times it, a fetch
	// a quarter of that, a rollback half. Without Wait it only sets the
	// result's times: a job finishes when it is run, having started its
	// duration before (a result never comes from the future, whose times
	// the server would trust).
	Duration        map[string]time.Duration
	DefaultDuration time.Duration
	// Wait bounds how long running a job really takes: the simulated
	// duration, at most Wait; the job finishes after that wait. Zero does
	// not wait.
	Wait time.Duration
}

// Outcome is what running a job did: the result to report, the package
// versions now installed (to lay over the host's inventory), and how long
// to wait before reporting.
type Outcome struct {
	Result    protocol.JobResult
	Installed []protocol.PackageVersion
	Wait      time.Duration
}

// Random streams of one job, so that its draws are independent.
const (
	drawFail = iota + 1
	drawHalf
	drawReboot
	drawDuration
	drawReason
)

// draw returns a number in [0, 1) decided by the seed, the job and stream.
func (pm *PackageManager) draw(job protocol.Job, stream uint64) float64 {
	x := pm.Seed ^ uint64(job.ID)*0x9e3779b97f4a7c15 ^ uint64(job.Attempt)*0xbf58476d1ce4e5b9 ^ stream*0x94d049bb133111eb
	// splitmix64's finaliser: every input bit reaches every output bit.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

func rateOf(m map[string]float64, def float64, image string) float64 {
	if r, ok := m[image]; ok {
		return r
	}
	return def
}

// failReasons are what a failed install says, as dpkg and apt would.
var failReasons = []string{
	"dpkg: error processing package %[1]s (--configure): installed %[1]s package post-installation script subprocess returned error exit status 1",
	"E: Sub-process /usr/bin/dpkg returned an error code (1) while configuring %[1]s",
	"%[1]s: unit failed to start after the upgrade (post-install check)",
}

// Run runs job on host (its fleet index) of image, begun at now; the
// result's Finished is now plus Outcome.Wait. installed returns the version
// of a package the host has now ("" when it has none).
//
// An install that succeeds leaves every action's version installed and
// reports healthy. One that fails got through a drawn number of its
// actions first: those are at their target, the rest as they were (a half
// state a rollback repairs). A fetch changes nothing. A rollback installs
// its actions' versions (the versions from before). A job whose StartBy
// has passed is refused, untouched.
func (pm *PackageManager) Run(host int, image string, job protocol.Job, installed func(name, arch string) string, now time.Time) Outcome {
	mean, ok := pm.Duration[image]
	if !ok {
		mean = pm.DefaultDuration
	}
	if mean <= 0 {
		mean = DefaultJobDuration
	}
	switch job.Kind {
	case protocol.JobFetch:
		mean /= 4
	case protocol.JobRollback:
		mean /= 2
	}
	d := time.Duration(float64(mean) * (0.5 + pm.draw(job, drawDuration))).Round(time.Millisecond)
	wait := min(d, max(pm.Wait, 0))
	r := protocol.JobResult{Attempt: job.Attempt, Started: now.Add(wait - d), Finished: now.Add(wait)}
	before := make([]protocol.PackageVersion, len(job.Actions))
	for i, a := range job.Actions {
		before[i] = protocol.PackageVersion{Name: a.Name, Arch: a.Arch, Version: installed(a.Name, a.Arch)}
	}
	r.Before = before
	out := Outcome{Wait: wait}
	if !job.StartBy.IsZero() && now.After(job.StartBy) {
		r.Status, r.Reason, r.Started, r.Finished, r.After = protocol.JobRefused, "the window ended before the job began", now, now, before
		out.Wait = 0
		out.Result = r
		return out
	}
	var log strings.Builder
	switch job.Kind {
	case protocol.JobFetch:
		r.Status, r.After = protocol.JobSucceeded, before
		for i, a := range job.Actions {
			fmt.Fprintf(&log, "Get %s %s (%s), kept %s\n", a.Name, a.Version, a.Arch, before[i].Version)
		}
	case protocol.JobInstall, protocol.JobRollback:
		done := len(job.Actions)
		fail := job.Kind == protocol.JobInstall && len(job.Actions) > 0 && (pm.FailHost == nil || pm.FailHost(host)) &&
			pm.draw(job, drawFail) < rateOf(pm.FailRate, pm.DefaultFailRate, image)
		if fail {
			done = int(math.Floor(pm.draw(job, drawHalf) * float64(len(job.Actions))))
		}
		r.After = make([]protocol.PackageVersion, len(job.Actions))
		for i, a := range job.Actions {
			r.After[i] = before[i]
			if i < done {
				r.After[i].Version = a.Version
				out.Installed = append(out.Installed, r.After[i])
				fmt.Fprintf(&log, "Setting up %s (%s) ...\n", a.Name, a.Version)
			}
		}
		switch {
		case fail:
			name := job.Actions[done].Name
			r.Status = protocol.JobFailed
			r.Reason = fmt.Sprintf(failReasons[int(pm.draw(job, drawReason)*float64(len(failReasons)))], name)
			fmt.Fprintln(&log, r.Reason)
		case job.Kind == protocol.JobRollback:
			r.Status = protocol.JobSucceeded
		default:
			r.Status = protocol.JobHealthy
			need := pm.draw(job, drawReboot) < rateOf(pm.RebootRate, pm.DefaultRebootRate, image)
			if job.Reboot.Mode == patchbay.RebootAlways || job.Reboot.Mode == patchbay.RebootIfRequired && need {
				boot := r.Finished
				r.Rebooted, r.BootTime = true, &boot
				fmt.Fprintln(&log, "Rebooting: the update requires it")
			}
		}
	default:
		r.Status, r.Reason, r.After = protocol.JobRefused, fmt.Sprintf("unknown job kind %q", job.Kind), before
	}
	r.Output = log.String()
	if len(r.Output) > protocol.MaxJobOutput {
		r.Output = r.Output[len(r.Output)-protocol.MaxJobOutput:]
	}
	out.Result = r
	return out
}
