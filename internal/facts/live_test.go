package facts

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/testtool"
)

// requireLinux skips a test that reads the live machine's /proc when not on
// Linux, unless PATCHBAY_TEST_REQUIRE_TOOLS is set: then it fails.
func requireLinux(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "linux" {
		return
	}
	testtool.SkipOrFail(t, "the live-machine test needs Linux, not "+runtime.GOOS)
}

// TestCollectLiveMachine collects this machine's facts twice: both
// plausible, and the boot time the same, so a server can tell a reboot by
// a changed boot time.
func TestCollectLiveMachine(t *testing.T) {
	requireLinux(t)
	ctx := context.Background()
	start := time.Now()
	a, errs := Collect(ctx, Options{AgentVersion: "test"})
	elapsed := time.Since(start)
	for _, err := range errs {
		var fe *Error
		// A container may have no machine id; everything else a Linux
		// machine has.
		if errors.As(err, &fe) && fe.Fact == "machine_id" {
			t.Logf("no machine id here: %v", err)
			continue
		}
		t.Errorf("Collect(/): %v", err)
	}
	t.Logf("facts of this machine in %v: %+v", elapsed, a)

	host, err := os.Hostname()
	if err != nil || a.Hostname != host {
		t.Errorf("hostname %q; os.Hostname says %q (%v)", a.Hostname, host, err)
	}
	if a.OSRelease["ID"] == "" || a.OSRelease["PRETTY_NAME"] == "" {
		t.Errorf("os-release %v: no ID or PRETTY_NAME", a.OSRelease)
	}
	if a.Kernel == "" || strings.ContainsAny(a.Kernel, " \n") {
		t.Errorf("kernel %q", a.Kernel)
	}
	if want := unameFromGOARCH(); a.Arch != want {
		t.Errorf("arch %q; GOARCH %s says %q", a.Arch, runtime.GOARCH, want)
	}
	if a.CPUs != runtime.NumCPU() || a.CPUs < 1 {
		t.Errorf("cpus %d; runtime.NumCPU %d", a.CPUs, runtime.NumCPU())
	}
	if a.MemoryBytes < 64<<20 || a.MemoryBytes > 1<<50 {
		t.Errorf("memory %d bytes", a.MemoryBytes)
	}
	now := time.Now()
	if a.UptimeSeconds <= 0 || a.BootTime.Before(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) || a.BootTime.After(now) {
		t.Errorf("uptime %d s, boot time %v", a.UptimeSeconds, a.BootTime)
	}
	// btime and uptime come from different files, rounded differently: they
	// agree to a few seconds unless the clock was stepped since boot.
	if d := now.Sub(a.BootTime) - time.Duration(a.UptimeSeconds)*time.Second; d < -5*time.Second || d > 5*time.Second {
		t.Logf("boot time %v and uptime %d s disagree by %v (clock stepped since boot?)", a.BootTime, a.UptimeSeconds, d)
	}
	if a.TimeZone == "" {
		t.Error("no time zone")
	}
	if a.AgentVersion != "test" || a.ProtocolVersion < 1 {
		t.Errorf("versions %q %d", a.AgentVersion, a.ProtocolVersion)
	}

	time.Sleep(1100 * time.Millisecond) // past a whole second of uptime
	b, _ := Collect(ctx, Options{AgentVersion: "test"})
	if !b.BootTime.Equal(a.BootTime) {
		t.Errorf("boot time %v, then %v: not stable", a.BootTime, b.BootTime)
	}
	if b.UptimeSeconds <= a.UptimeSeconds {
		t.Errorf("uptime %d, then %d, a second later", a.UptimeSeconds, b.UptimeSeconds)
	}
	if b.Hostname != a.Hostname || b.MachineID != a.MachineID || b.Kernel != a.Kernel {
		t.Errorf("facts changed between calls: %+v then %+v", a, b)
	}
}
