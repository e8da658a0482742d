package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunHook: only a root-owned hook, in a root-owned directory neither
// writable by others, named by a plain file name, runs, within its
// timeout, and only when the agent allows hooks.
func TestRunHook(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("hooks must be owned by root; the test makes them, which needs root")
	}
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "hooks.d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(dir, name), mode)
	}
	write("ok", "echo checked", 0o755)
	write("fails", "echo nope; exit 3", 0o755)
	write("open", "echo anyone could have written me", 0o777)
	write("slow", "sleep 5", 0o755)
	h := LocalHost{HooksDir: dir, AllowHooks: true, HookTimeout: 500 * time.Millisecond}
	if out, err := h.RunHook(ctx, "ok"); err != nil || !strings.Contains(out, "checked") {
		t.Fatalf("ok = %q, %v", out, err)
	}
	for name, want := range map[string]string{
		"fails":   "exit status 3",
		"open":    "writable by group or others",
		"slow":    "did not finish within",
		"../ok":   "not a hook name",
		"-rf":     "not a hook name",
		"missing": "no such file",
	} {
		if _, err := h.RunHook(ctx, name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("hook %q: %v; want an error containing %q", name, err, want)
		}
	}
	if _, err := (LocalHost{HooksDir: dir}).RunHook(ctx, "ok"); err == nil || !strings.Contains(err.Error(), "--allow-hooks") {
		t.Errorf("hooks not allowed: %v", err)
	}
	os.Chmod(dir, 0o777)
	if _, err := h.RunHook(ctx, "ok"); err == nil || !strings.Contains(err.Error(), "writable") {
		t.Errorf("a world-writable hooks directory: %v", err)
	}
}

func TestServiceNameRefused(t *testing.T) {
	if _, err := (LocalHost{}).ServiceActive(context.Background(), "--now; reboot"); err == nil {
		t.Fatal("a unit name with spaces and dashes first was accepted")
	}
}
