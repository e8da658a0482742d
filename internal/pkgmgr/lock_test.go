//go:build linux

package pkgmgr

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// holdOFDLock takes a write lock on path the way dpkg and apt do (fcntl
// F_SETLK on the whole file), as an open file description lock, so that
// this process's own looks at the lock see it too; close the file to
// release it.
func holdOFDLock(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := syscall.FcntlFlock(f.Fd(), fOFDSetlk, &syscall.Flock_t{Type: syscall.F_WRLCK}); err != nil {
		t.Fatalf("lock %s: %v", path, err)
	}
	return f
}

// holdLockInProcess starts another process that holds a write lock on
// path exactly as dpkg does (a process-owned fcntl F_SETLK lock) until it
// is killed: a dpkg still running after the agent that started it was
// killed.
func holdLockInProcess(t *testing.T, path string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldLock$")
	cmd.Env = append(os.Environ(), "PATCHBAY_TEST_HOLD_LOCK="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("lock helper: %q, %v", line, err)
	}
	return cmd
}

// TestHelperHoldLock is the process holdLockInProcess starts; it does
// nothing in a test run.
func TestHelperHoldLock(t *testing.T) {
	path := os.Getenv("PATCHBAY_TEST_HOLD_LOCK")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &syscall.Flock_t{Type: syscall.F_WRLCK}); err != nil {
		t.Fatal(err)
	}
	fmt.Println("locked")
	time.Sleep(time.Minute)
	os.Exit(1) // never reached in a test: holdLockInProcess kills it
}

// TestAptLockContention holds dpkg's locks under the root, with apt's own
// locking on (no Debug::NoLocking): Install, InstallFiles and Download
// wait up to LockTimeout, then fail with ErrLocked having changed
// nothing, and go ahead once the lock is released.
func TestAptLockContention(t *testing.T) {
	t.Parallel()
	f := newStoryFixture(t, lib10, lib11, app10, app11)
	ctx := context.Background()
	if res, err := f.apt.Install(ctx, []Action{act("story-pb", "1.0"), act("storylib-pb", "1.0")}, InstallOptions{}); err != nil {
		t.Fatalf("Install 1.0: %v\n%s", err, res.Output)
	}
	admin := filepath.Join(f.Root, "var/lib/dpkg")
	upgrade := []Action{act("story-pb", "1.1")}
	a := *f.apt
	a.LockTimeout = time.Second

	t.Run("frontend lock", func(t *testing.T) {
		lock := holdOFDLock(t, filepath.Join(admin, "lock-frontend"))
		defer lock.Close()
		start := time.Now()
		res, err := a.Install(ctx, upgrade, InstallOptions{OnlyUpgrade: true})
		took := time.Since(start)
		if !errors.Is(err, ErrLocked) || !errors.Is(err, ReasonLocked) {
			t.Fatalf("Install with the frontend lock held = %v; want ErrLocked", err)
		}
		t.Logf("Install, frontend lock held: %v after %v", err, took.Round(time.Millisecond))
		if took < time.Second || took > 10*time.Second {
			t.Errorf("Install gave up after %v; want about LockTimeout (1s)", took)
		}
		if res.Packages[0].Reason != ReasonLocked {
			t.Errorf("story-pb: reason %q; want %q", res.Packages[0].Reason, ReasonLocked)
		}
		wantState(t, "story-pb", f.state(t, "story-pb"), "1.0", "installed")

		brief := a
		brief.LockTimeout = 300 * time.Millisecond
		deb := f.Deb(t, app11)
		if _, err := brief.InstallFiles(ctx, []string{deb, f.Deb(t, lib11)}); !errors.Is(err, ErrLocked) {
			t.Errorf("InstallFiles with the frontend lock held = %v; want ErrLocked", err)
		}
		if _, err := brief.Download(ctx, upgrade, t.TempDir()); !errors.Is(err, ErrLocked) {
			t.Errorf("Download with the frontend lock held = %v; want ErrLocked", err)
		}
		noWait := a
		noWait.LockTimeout = -1
		start = time.Now()
		if _, err := noWait.Install(ctx, upgrade, InstallOptions{}); !errors.Is(err, ErrLocked) || time.Since(start) > 5*time.Second {
			t.Errorf("Install with LockTimeout < 0 = %v after %v; want ErrLocked at once", err, time.Since(start))
		}
		wantState(t, "story-pb", f.state(t, "story-pb"), "1.0", "installed")
	})

	t.Run("database lock of a running dpkg", func(t *testing.T) {
		holder := holdLockInProcess(t, filepath.Join(admin, "lock"))
		_, err := a.Install(ctx, upgrade, InstallOptions{OnlyUpgrade: true})
		want := fmt.Sprintf("held by process %d", holder.Process.Pid)
		if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), want) {
			t.Fatalf("Install with the database lock held = %v; want ErrLocked, %q", err, want)
		}
		t.Logf("Install, database lock held: %v", err)

		// The other dpkg finishes while Install waits.
		go func() {
			time.Sleep(700 * time.Millisecond)
			holder.Process.Kill()
		}()
		patient := a
		patient.LockTimeout = time.Minute
		start := time.Now()
		res, err := patient.Install(ctx, upgrade, InstallOptions{OnlyUpgrade: true})
		took := time.Since(start)
		if err != nil {
			t.Fatalf("Install once the lock is released: %v\n%s", err, res.Output)
		}
		t.Logf("Install waited %v for the lock, then upgraded", took.Round(time.Millisecond))
		if took < 700*time.Millisecond {
			t.Errorf("Install took %v; it cannot have waited for the lock", took)
		}
		wantState(t, "story-pb", res.Packages[0].After, "1.1", "installed")
	})

	t.Run("InstallFiles waits", func(t *testing.T) {
		lock := holdOFDLock(t, filepath.Join(admin, "lock-frontend"))
		go func() {
			time.Sleep(500 * time.Millisecond)
			lock.Close()
		}()
		patient := a
		patient.LockTimeout = time.Minute
		start := time.Now()
		res, err := patient.InstallFiles(ctx, []string{f.Deb(t, app10)})
		if err != nil {
			t.Fatalf("InstallFiles once the lock is released: %v\n%s", err, res.Output)
		}
		if took := time.Since(start); took < 500*time.Millisecond {
			t.Errorf("InstallFiles took %v; it cannot have waited for the lock", took)
		}
		wantState(t, "story-pb", res.Packages[0].After, "1.0", "installed")
	})
}
