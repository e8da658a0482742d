package agent

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/protocol"
)

func TestStateFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	st, err := LoadState(dir)
	if err != nil || st.HostToken != "" {
		t.Fatalf("LoadState of a missing dir = %+v, %v; want empty", st, err)
	}
	want := State{Server: "https://pb.example:8443", HostID: 7, HostToken: "pbh_x"}
	if err := SaveState(dir, want); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, stateFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode %v (%v), want 0600: it holds a credential", fi.Mode(), err)
	}
	got, err := LoadState(dir)
	if err != nil || got != want {
		t.Fatalf("LoadState = %+v, %v; want %+v", got, err, want)
	}
	os.WriteFile(filepath.Join(dir, stateFile), []byte("{truncated"), 0o600)
	if _, err := LoadState(dir); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("LoadState of a corrupt file: err = %v", err)
	}
}

func TestBackoffAndJitter(t *testing.T) {
	a := &runner{cfg: Config{MaxBackoff: 5 * time.Minute, Rand: rand.New(rand.NewPCG(1, 2))}}
	for fails := range 40 {
		a.fails = fails
		bound := time.Second << min(fails, 20)
		if bound > a.cfg.MaxBackoff {
			bound = a.cfg.MaxBackoff
		}
		for range 50 {
			if d := a.backoff(); d <= 0 || d > bound+100*time.Millisecond {
				t.Fatalf("backoff after %d failures = %v, want within (0, %v]", fails, d, bound)
			}
		}
	}
	res := protocol.CheckInResponse{CheckInIntervalSeconds: 60}
	lo, hi := time.Hour, time.Duration(0)
	for range 1000 {
		d := a.interval(res)
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 54*time.Second || hi > 66*time.Second || hi-lo < 10*time.Second {
		t.Fatalf("intervals spread over [%v, %v], want about 54–66 s (±10%%)", lo, hi)
	}
	a.cfg.Interval = 5 * time.Second
	if d := a.interval(res); d < 4500*time.Millisecond || d > 5500*time.Millisecond {
		t.Fatalf("configured interval 5 s gave %v", d)
	}
}
