package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/store"
)

// TestReleaseDeadLeases: a server starting on SQLite gives up the leases
// a killed server of this host held (its process is gone), so it need not
// wait them out, and leaves those of a live process and of other hosts.
func TestReleaseDeadLeases(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Location{Engine: store.SQLite, Path: filepath.Join(t.TempDir(), "p.db")}, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	host := hostnameOr("server")
	for name, holder := range map[string]string{
		"rollout": fmt.Sprintf("%s:%d", host, gone.Process.Pid),
		"planner": fmt.Sprintf("%s:%d", host, os.Getppid()), // alive
		"matcher": fmt.Sprintf("elsewhere:%d", gone.Process.Pid),
	} {
		if ok, err := st.TakeLease(ctx, name, holder, time.Minute); err != nil || !ok {
			t.Fatalf("take %s: %v %v", name, ok, err)
		}
	}
	releaseDeadLeases(ctx, st, slog.New(slog.DiscardHandler), host)
	got, err := st.LeaseHolders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["rollout"]; ok || len(got) != 2 {
		t.Errorf("leases after the start: %v; want the dead process's rollout lease released, the others kept", got)
	}
}
