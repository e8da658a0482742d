//go:build linux

package pkgmgr

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Debian has no apk-tools, and no Alpine repository can be reached here,
// so ApkJobs is tested against a fake apk: this test binary run again as
// TestHelperFakeApk, through a two-line wrapper script. It checks that it
// gets exactly the argv a test expects, and answers as apk-tools 2.14
// does: it prints a capture of real apk's output from testdata/apk (see
// its README), exits with real apk's status, leaves the database real apk
// would leave (an installed database and world file from testdata/apk),
// writes the files apk fetch would download, and takes and respects apk's
// database lock the way apk does (flock on lib/apk/db/lock, waiting with
// --wait N and failing at once without it).

// fakeApkStep is one run of apk a test expects, and what the fake does.
type fakeApkStep struct {
	// Args are the exact arguments after the program; "{WAIT}" at the
	// end of one stands for --wait's number of seconds, which depends on
	// the clock.
	Args           []string
	Stdout, Stderr string // files in testdata/apk, replayed
	Exit           int
	// Files are what apk leaves under --root: a path there to the file
	// of testdata/apk to copy ("" removes it).
	Files map[string]string
	// Output are the package files apk fetch writes into --output.
	Output []string
	// Lock takes apk's database lock for the run, as apk add and apk del
	// do (apk fetch and apk policy only read).
	Lock bool
}

type fakeApkSpec struct {
	Testdata string
	Steps    []fakeApkStep
}

// newFakeApk writes the fake apk for steps and returns its path. When the
// test ends it checks that every step ran, with the argv expected.
func newFakeApk(t *testing.T, steps ...fakeApkStep) string {
	t.Helper()
	dir := t.TempDir()
	testdata, err := filepath.Abs(filepath.Join("testdata", "apk"))
	if err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(dir, "spec.json")
	b, err := json.Marshal(fakeApkSpec{Testdata: testdata, Steps: steps})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, spec, string(b))
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(dir, "apk")
	script := fmt.Sprintf("#!/bin/sh\nPATCHBAY_FAKE_APK=%s exec %s -test.run='^TestHelperFakeApk$' -- \"$@\"\n", shQuote(spec), shQuote(self))
	if err := os.WriteFile(prog, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if log, err := os.ReadFile(spec + ".log"); err == nil {
				t.Logf("fake apk ran:\n%s", log)
			}
		}
		if errs, err := os.ReadFile(spec + ".errors"); err == nil {
			t.Errorf("fake apk: %s", errs)
		}
		n, _ := os.ReadFile(spec + ".next")
		if ran, _ := strconv.Atoi(string(n)); ran != len(steps) {
			t.Errorf("fake apk: ran %d of the %d runs expected", ran, len(steps))
		}
	})
	return prog
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestHelperFakeApk is the fake apk newFakeApk writes; it does nothing in
// a test run.
func TestHelperFakeApk(t *testing.T) {
	spec := os.Getenv("PATCHBAY_FAKE_APK")
	if spec == "" {
		return
	}
	os.Exit(fakeApkMain(spec, flag.Args()))
}

// fakeApkMain runs the next step of spec for args and returns the exit
// status.
func fakeApkMain(specPath string, args []string) int {
	fail := func(format string, a ...any) int {
		msg := fmt.Sprintf(format, a...)
		f, err := os.OpenFile(specPath+".errors", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err == nil {
			fmt.Fprintln(f, msg)
			f.Close()
		}
		fmt.Fprintln(os.Stderr, "fake apk:", msg)
		return 98
	}
	b, err := os.ReadFile(specPath)
	if err != nil {
		return fail("%v", err)
	}
	var spec fakeApkSpec
	if err := json.Unmarshal(b, &spec); err != nil {
		return fail("%v", err)
	}
	n, _ := os.ReadFile(specPath + ".next")
	i, _ := strconv.Atoi(string(n))
	if err := os.WriteFile(specPath+".next", []byte(strconv.Itoa(i+1)), 0o644); err != nil {
		return fail("%v", err)
	}
	if f, err := os.OpenFile(specPath+".log", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err == nil {
		fmt.Fprintf(f, "apk %s\n", strings.Join(args, " "))
		f.Close()
	}
	if i >= len(spec.Steps) {
		return fail("run %d: apk %q, but only %d runs were expected", i+1, args, len(spec.Steps))
	}
	step := spec.Steps[i]
	if !fakeArgsMatch(args, step.Args) {
		return fail("run %d:\n got apk %q\nwant apk %q", i+1, args, step.Args)
	}
	root := optValue(args, "--root")
	if root == "" {
		return fail("run %d: no --root: the fake apk never touches /", i+1)
	}
	replay := func(name string, w *os.File) error {
		if name == "" {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(spec.Testdata, name))
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	if step.Lock {
		// apk_db_open: open lib/apk/db/lock and flock it, LOCK_NB; with
		// --wait N, say so and wait up to N seconds (alarm) for it.
		lock, err := os.OpenFile(filepath.Join(root, apkLockFile), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return fail("%v", err)
		}
		defer lock.Close()
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if errors.Is(err, syscall.EWOULDBLOCK) {
			wait, _ := strconv.Atoi(optValue(args, "--wait"))
			if wait <= 0 {
				replay("lock-held.stderr", os.Stderr)
				return 99
			}
			replay("lock-wait.stdout", os.Stdout)
			for end := time.Now().Add(time.Duration(wait) * time.Second); errors.Is(err, syscall.EWOULDBLOCK) && time.Now().Before(end); {
				time.Sleep(20 * time.Millisecond)
				err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			}
			if err != nil {
				replay("lock-wait.stderr", os.Stderr)
				return 99
			}
		} else if err != nil {
			return fail("%v", err)
		}
	}
	for path, src := range step.Files {
		dst := filepath.Join(root, path)
		if src == "" {
			os.Remove(dst)
			continue
		}
		b, err := os.ReadFile(filepath.Join(spec.Testdata, src))
		if err == nil {
			err = os.WriteFile(dst, b, 0o644)
		}
		if err != nil {
			return fail("%v", err)
		}
	}
	for _, name := range step.Output {
		dir := optValue(args, "--output")
		if err := os.WriteFile(filepath.Join(dir, name), []byte("fake apk package "+name+"\n"), 0o644); err != nil {
			return fail("%v", err)
		}
	}
	if err := replay(step.Stdout, os.Stdout); err != nil {
		return fail("%v", err)
	}
	if err := replay(step.Stderr, os.Stderr); err != nil {
		return fail("%v", err)
	}
	return step.Exit
}

func fakeArgsMatch(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if prefix, ok := strings.CutSuffix(want[i], "{WAIT}"); ok {
			rest, ok := strings.CutPrefix(got[i], prefix)
			if n, err := strconv.Atoi(rest); !ok || err != nil || n <= 0 {
				return false
			}
			continue
		}
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// optValue returns the value of apk's option opt in args, given as
// --opt=VALUE or --opt VALUE (getopt_long takes both).
func optValue(args []string, opt string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, opt+"="); ok {
			return v
		}
		if a == opt && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// apkArgs is the argv ApkJobs gives apk under root: the common options,
// --wait for a command that changes packages, then args.
func apkArgs(root string, change bool, args ...string) []string {
	argv := []string{"--root=" + root, "--no-interactive", "--no-progress"}
	if change {
		argv = append(argv, "--wait={WAIT}")
	}
	return append(argv, args...)
}

// newApkRoot makes a root holding apk's database: the installed database
// and world file of testdata/apk.
func newApkRoot(t *testing.T, installed, world string) string {
	t.Helper()
	root := t.TempDir()
	writeFile(t, filepath.Join(root, apkInstalledFile), string(readTestdata(t, "apk/"+installed)))
	writeFile(t, filepath.Join(root, apkWorldFile), string(readTestdata(t, "apk/"+world)))
	return root
}

// holdApkLock holds apk's database lock under root from another process,
// the way apk holds it (flock(1) takes the same flock LOCK_EX on
// lib/apk/db/lock), until the returned function or the test's end
// releases it.
func holdApkLock(t *testing.T, root string) (release func()) {
	t.Helper()
	path := filepath.Join(root, apkLockFile)
	cmd := exec.Command(lookTool(t, "flock"), "--exclusive", "--close", path, "sleep", "600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // flock and its sleep, by the group we started
			cmd.Wait()
		})
	}
	t.Cleanup(release)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if held, _, err := flockHeld(path); err == nil && held {
			return release
		}
		if time.Now().After(deadline) {
			msg, _ := bufio.NewReader(stderr).ReadString('\n')
			t.Fatalf("flock did not take %s: %s", path, msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
